//! Push notifications: subscriptions, mutes, and the pending pushes dispatchers claim. Messages
//! reach `push_outbox` through the trigger of migration 0013, in their own transaction. Nodes
//! expand and claim concurrently: rows one node holds are skipped by the others
//! (`FOR UPDATE SKIP LOCKED`), and the upsert serializes on the pending row.

use confab_core::push::{DuePush, PushClaim, PushDone, StoredPushSubscription};
use confab_core::rules::push as rules;
use confab_core::{Error, Result};
use confab_proto::{ConversationType, PushKind, PushSubscription};
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use super::{conversations, messages, users};
use crate::postgres::error::PgResult;

const COLUMNS: &str = "subscription_id, device_id, kind, created_at, user_id, endpoint, p256dh, auth, token";

fn subscription_from(r: &Row) -> StoredPushSubscription {
    StoredPushSubscription {
        subscription: PushSubscription {
            subscription_id: r.get(0),
            device_id: r.get(1),
            // The table's CHECK admits only the protocol's kinds.
            kind: PushKind::parse(r.get(2)).unwrap_or(PushKind::Webhook),
            created_at: r.get(3),
        },
        user_id: r.get(4),
        endpoint: r.get(5),
        p256dh: r.get(6),
        auth: r.get(7),
        token: r.get(8),
    }
}

pub(crate) async fn put<C: GenericClient>(c: &C, s: &StoredPushSubscription) -> Result<PushSubscription> {
    let sub = &s.subscription;
    // Serializes one user's subscribes: two at once cannot both pass the cap, nor both replace
    // the same device's subscription.
    c.execute("SELECT pg_advisory_xact_lock(hashtext('confab.push.' || $1))", &[&s.user_id]).await.db()?;
    // One per device and kind: the new one replaces the old (a browser re-subscribing gets new keys).
    c.execute(
        "DELETE FROM push_subscriptions WHERE user_id = $1 AND device_id = $2 AND kind = $3",
        &[&s.user_id, &sub.device_id, &sub.kind.as_str()],
    )
    .await
    .db()?;
    let held: i64 = c
        .query_one("SELECT COUNT(*) FROM push_subscriptions WHERE user_id = $1", &[&s.user_id])
        .await
        .db()?
        .get(0);
    rules::may_subscribe(u32::try_from(held).unwrap_or(u32::MAX))?;
    c.execute(
        "INSERT INTO push_subscriptions (subscription_id, user_id, device_id, kind, endpoint, p256dh, auth, token, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        &[
            &sub.subscription_id,
            &s.user_id,
            &sub.device_id,
            &sub.kind.as_str(),
            &s.endpoint,
            &s.p256dh,
            &s.auth,
            &s.token,
            &sub.created_at,
        ],
    )
    .await
    .db()?;
    Ok(sub.clone())
}

pub(crate) async fn list<C: GenericClient>(c: &C, user: &str) -> Result<Vec<PushSubscription>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM push_subscriptions WHERE user_id = $1 ORDER BY created_at, subscription_id"
    );
    let rows = c.query(sql.as_str(), &[&user]).await.db()?;
    Ok(rows.iter().map(|r| subscription_from(r).subscription).collect())
}

pub(crate) async fn delete<C: GenericClient>(c: &C, user: &str, id: &str) -> Result<()> {
    let n = c
        .execute("DELETE FROM push_subscriptions WHERE subscription_id = $1 AND user_id = $2", &[&id, &user])
        .await
        .db()?;
    if n == 0 {
        return Err(Error::NotFound("push subscription".into()));
    }
    Ok(())
}

pub(crate) async fn forget<C: GenericClient>(c: &C, id: &str) -> Result<()> {
    c.execute("DELETE FROM push_subscriptions WHERE subscription_id = $1", &[&id]).await.db()?;
    Ok(())
}

pub(crate) async fn set_muted<C: GenericClient>(
    c: &C,
    id: &str,
    user: &str,
    until: Option<i64>,
) -> Result<()> {
    let (conversation, member) =
        tokio::try_join!(conversations::conversation(c, id), conversations::member(c, id, user))?;
    confab_core::rules::access::membership(conversation, member)?;
    c.execute(
        "UPDATE members SET muted_until = $3 WHERE conversation_id = $1 AND user_id = $2",
        &[&id, &user, &until],
    )
    .await
    .db()?;
    Ok(())
}

/// Turns up to `limit` recorded messages into pending pushes: one per subscribed device of each
/// member but the sender who has not muted the conversation (at `now`), coalesced as
/// `confab_core::rules::push::due_at` says (the upsert is that rule in SQL, which the conformance
/// suite pins). Outbox rows another node is expanding are skipped.
async fn expand<C: GenericClient>(c: &C, claim: &PushClaim) -> Result<()> {
    let taken = c
        .query(
            "DELETE FROM push_outbox WHERE id IN
               (SELECT id FROM push_outbox ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED)
             RETURNING id, conversation_id, sequence_number",
            &[&i64::from(claim.limit)],
        )
        .await
        .db()?;
    let mut taken: Vec<(i64, String, i64)> = taken.iter().map(|r| (r.get(0), r.get(1), r.get(2))).collect();
    taken.sort_by_key(|t| t.0);
    for (_, conversation, sequence) in taken {
        c.execute(
            "INSERT INTO push_pending (user_id, device_id, conversation_id, count, sequence_number, due_at)
             SELECT DISTINCT s.user_id, s.device_id, msg.conversation_id, 1, msg.sequence_number, $3::BIGINT
             FROM messages msg
             JOIN members m ON m.conversation_id = msg.conversation_id AND m.user_id <> msg.sender_id
             JOIN push_subscriptions s ON s.user_id = m.user_id
             WHERE msg.conversation_id = $1 AND msg.sequence_number = $2 AND msg.deleted_at IS NULL
               AND (m.muted_until IS NULL OR m.muted_until <= $3)
             ON CONFLICT (user_id, device_id, conversation_id) DO UPDATE SET
               due_at = CASE WHEN push_pending.count > 0 THEN push_pending.due_at
                             WHEN push_pending.last_sent_at IS NULL THEN excluded.due_at
                             ELSE GREATEST(excluded.due_at, push_pending.last_sent_at + $4::BIGINT) END,
               count = push_pending.count + 1,
               sequence_number = GREATEST(push_pending.sequence_number, excluded.sequence_number)",
            &[&conversation, &sequence, &claim.now, &claim.coalesce_ms],
        )
        .await
        .db()?;
    }
    Ok(())
}

pub(crate) async fn claim<C: GenericClient>(c: &C, claim: &PushClaim) -> Result<Vec<DuePush>> {
    expand(c, claim).await?;
    // Rows with nothing waiting whose window is over (or that never sent) remember nothing useful.
    c.execute(
        "DELETE FROM push_pending WHERE count = 0 AND (last_sent_at IS NULL OR last_sent_at <= $1)",
        &[&claim.now.saturating_sub(claim.coalesce_ms)],
    )
    .await
    .db()?;
    let until = claim.now.saturating_add(claim.lease_ms);
    let due = c
        .query(
            "UPDATE push_pending p SET claimed_by = $3, claimed_until = $4
             FROM (SELECT user_id, device_id, conversation_id FROM push_pending
                   WHERE count > 0 AND due_at <= $1 AND claimed_until <= $1
                   ORDER BY due_at LIMIT $2 FOR UPDATE SKIP LOCKED) d
             WHERE p.user_id = d.user_id AND p.device_id = d.device_id AND p.conversation_id = d.conversation_id
             RETURNING p.user_id, p.device_id, p.conversation_id, p.count, p.sequence_number",
            &[&claim.now, &i64::from(claim.limit), &claim.node, &until],
        )
        .await
        .db()?;
    let mut pushes = Vec::with_capacity(due.len());
    for row in due {
        let (user, device, conversation): (String, String, String) = (row.get(0), row.get(1), row.get(2));
        let count = u32::try_from(row.get::<_, i32>(3)).unwrap_or(0);
        let sequence: i64 = row.get(4);
        let Some(message) = messages::at(c, &conversation, sequence.max(0) as u64).await? else {
            // Purged by retention since: nothing to push.
            let node = claim.node.clone();
            let given_up = PushDone {
                node,
                user_id: user,
                device_id: device,
                conversation_id: conversation,
                count,
                sent: false,
                now: claim.now,
                coalesce_ms: claim.coalesce_ms,
            };
            finish(c, &given_up).await?;
            continue;
        };
        let sql = format!(
            "SELECT {COLUMNS} FROM push_subscriptions WHERE user_id = $1 AND device_id = $2 ORDER BY kind"
        );
        let (sender, conv, subscriptions, unread) = tokio::try_join!(
            users::user(c, &message.sender_id),
            conversations::conversation(c, &conversation),
            async { c.query(sql.as_str(), &[&user, &device]).await.db() },
            unread(c, &user),
        )?;
        pushes.push(DuePush {
            user_id: user,
            device_id: device,
            conversation_id: conversation,
            count,
            message_id: message.message_id.clone(),
            sequence_number: message.sequence_number,
            sender_id: message.sender_id.clone(),
            sender_name: sender.map(|u| u.display_name).unwrap_or_default(),
            text: message.content.text().map(str::to_string),
            group_name: conv
                .filter(|c| c.kind == ConversationType::Group)
                .map(|c| c.name.unwrap_or_default()),
            unread,
            subscriptions: subscriptions.iter().map(subscription_from).collect(),
        });
    }
    Ok(pushes)
}

async fn unread<C: GenericClient>(c: &C, user: &str) -> Result<u64> {
    let row = c
        .query_one(
            "SELECT COALESCE(SUM(GREATEST(c.last_sequence - m.last_read_sequence, 0)), 0)::BIGINT FROM members m
             JOIN conversations c ON c.conversation_id = m.conversation_id WHERE m.user_id = $1",
            &[&user],
        )
        .await
        .db()?;
    Ok(row.get::<_, i64>(0).max(0) as u64)
}

pub(crate) async fn finish<C: GenericClient>(c: &C, done: &PushDone) -> Result<()> {
    c.execute(
        "UPDATE push_pending SET count = GREATEST(count - $4, 0),
                last_sent_at = CASE WHEN $5 THEN $6 ELSE last_sent_at END,
                due_at = CASE WHEN $5 THEN $6 + $7 ELSE due_at END,
                claimed_by = NULL, claimed_until = 0
         WHERE user_id = $1 AND device_id = $2 AND conversation_id = $3 AND claimed_by = $8",
        &[
            &done.user_id,
            &done.device_id,
            &done.conversation_id,
            &i32::try_from(done.count).unwrap_or(i32::MAX),
            &done.sent,
            &done.now,
            &done.coalesce_ms,
            &done.node,
        ],
    )
    .await
    .db()?;
    Ok(())
}
