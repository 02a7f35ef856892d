//! Push notifications: subscriptions, mutes, and the pending pushes a dispatcher claims. Messages
//! reach `push_outbox` through the trigger of migration 0016, in their own transaction.

use confab_core::push::{DuePush, PushClaim, PushDone, StoredPushSubscription};
use confab_core::rules::push as rules;
use confab_core::{Error, Result};
use confab_proto::{ConversationType, PushKind, PushSubscription};
use rusqlite::{params, Connection, OptionalExtension, Row};

use super::{conversations, messages, users};
use crate::sqlite::error::SqlResult;

const COLUMNS: &str = "subscription_id, device_id, kind, created_at, user_id, endpoint, p256dh, auth, token";

fn subscription_from(r: &Row<'_>) -> rusqlite::Result<StoredPushSubscription> {
    let kind: String = r.get(2)?;
    Ok(StoredPushSubscription {
        subscription: PushSubscription {
            subscription_id: r.get(0)?,
            device_id: r.get(1)?,
            // The table's CHECK admits only the protocol's kinds.
            kind: PushKind::parse(&kind).unwrap_or(PushKind::Webhook),
            created_at: r.get(3)?,
        },
        user_id: r.get(4)?,
        endpoint: r.get(5)?,
        p256dh: r.get(6)?,
        auth: r.get(7)?,
        token: r.get(8)?,
    })
}

pub(crate) fn put(conn: &Connection, s: &StoredPushSubscription) -> Result<PushSubscription> {
    let sub = &s.subscription;
    // One per device and kind: the new one replaces the old (a browser re-subscribing gets new keys).
    conn.prepare_cached("DELETE FROM push_subscriptions WHERE user_id = ?1 AND device_id = ?2 AND kind = ?3")
        .and_then(|mut st| st.execute(params![s.user_id, sub.device_id, sub.kind.as_str()]))
        .db()?;
    let held: u32 = conn
        .prepare_cached("SELECT COUNT(*) FROM push_subscriptions WHERE user_id = ?1")
        .and_then(|mut st| st.query_row([&s.user_id], |r| r.get(0)))
        .db()?;
    rules::may_subscribe(held)?;
    conn.prepare_cached(
        "INSERT INTO push_subscriptions (subscription_id, user_id, device_id, kind, endpoint, p256dh, auth, token, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )
    .and_then(|mut st| {
        st.execute(params![
            sub.subscription_id,
            s.user_id,
            sub.device_id,
            sub.kind.as_str(),
            s.endpoint,
            s.p256dh,
            s.auth,
            s.token,
            sub.created_at
        ])
    })
    .db()?;
    Ok(sub.clone())
}

pub(crate) fn list(conn: &Connection, user: &str) -> Result<Vec<PushSubscription>> {
    Ok(of(conn, "user_id = ?1 ORDER BY created_at, subscription_id", &[&user])?
        .into_iter()
        .map(|s| s.subscription)
        .collect())
}

fn of(conn: &Connection, filter: &str, args: &[&dyn rusqlite::ToSql]) -> Result<Vec<StoredPushSubscription>> {
    let sql = format!("SELECT {COLUMNS} FROM push_subscriptions WHERE {filter}");
    let mut st = conn.prepare_cached(&sql).db()?;
    let rows = st.query_map(args, subscription_from).db()?;
    rows.collect::<rusqlite::Result<Vec<_>>>().db()
}

pub(crate) fn delete(conn: &Connection, user: &str, id: &str) -> Result<()> {
    let n = conn
        .prepare_cached("DELETE FROM push_subscriptions WHERE subscription_id = ?1 AND user_id = ?2")
        .and_then(|mut st| st.execute(params![id, user]))
        .db()?;
    if n == 0 {
        return Err(Error::NotFound("push subscription".into()));
    }
    Ok(())
}

pub(crate) fn forget(conn: &Connection, id: &str) -> Result<()> {
    conn.prepare_cached("DELETE FROM push_subscriptions WHERE subscription_id = ?1")
        .and_then(|mut st| st.execute([id]))
        .db()?;
    Ok(())
}

pub(crate) fn set_muted(conn: &Connection, id: &str, user: &str, until: Option<i64>) -> Result<()> {
    conversations::membership(conn, id, user)?;
    conn.prepare_cached("UPDATE members SET muted_until = ?3 WHERE conversation_id = ?1 AND user_id = ?2")
        .and_then(|mut st| st.execute(params![id, user, until]))
        .db()?;
    Ok(())
}

/// Turns up to `limit` recorded messages into pending pushes: one per subscribed device of each
/// member but the sender who has not muted the conversation (at `now`), coalesced as
/// `confab_core::rules::push::due_at` says (the upsert below is that rule in SQL, tested by the
/// conformance suite against it).
fn expand(conn: &Connection, claim: &PushClaim) -> Result<()> {
    let recorded: Vec<(i64, String, i64)> = {
        let mut st = conn
            .prepare_cached(
                "SELECT id, conversation_id, sequence_number FROM push_outbox ORDER BY id LIMIT ?1",
            )
            .db()?;
        let rows = st.query_map([claim.limit], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).db()?;
        rows.collect::<rusqlite::Result<_>>().db()?
    };
    let mut upsert = conn
        .prepare_cached(
            "INSERT INTO push_pending (user_id, device_id, conversation_id, count, sequence_number, due_at)
             SELECT DISTINCT s.user_id, s.device_id, msg.conversation_id, 1, msg.sequence_number, ?3
             FROM messages msg
             JOIN members m ON m.conversation_id = msg.conversation_id AND m.user_id <> msg.sender_id
             JOIN push_subscriptions s ON s.user_id = m.user_id
             WHERE msg.conversation_id = ?1 AND msg.sequence_number = ?2 AND msg.deleted_at IS NULL
               AND (m.muted_until IS NULL OR m.muted_until <= ?3)
             ON CONFLICT (user_id, device_id, conversation_id) DO UPDATE SET
               due_at = CASE WHEN count > 0 THEN due_at
                             WHEN last_sent_at IS NULL THEN excluded.due_at
                             ELSE MAX(excluded.due_at, last_sent_at + ?4) END,
               count = count + 1,
               sequence_number = MAX(sequence_number, excluded.sequence_number)",
        )
        .db()?;
    let mut done = conn.prepare_cached("DELETE FROM push_outbox WHERE id = ?1").db()?;
    for (id, conversation, sequence) in recorded {
        upsert.execute(params![conversation, sequence, claim.now, claim.coalesce_ms]).db()?;
        done.execute([id]).db()?;
    }
    Ok(())
}

pub(crate) fn claim(conn: &Connection, claim: &PushClaim) -> Result<Vec<DuePush>> {
    expand(conn, claim)?;
    // Rows with nothing waiting whose window is over (or that never sent) remember nothing useful.
    conn.prepare_cached(
        "DELETE FROM push_pending WHERE count = 0 AND (last_sent_at IS NULL OR last_sent_at <= ?1)",
    )
    .and_then(|mut st| st.execute([claim.now.saturating_sub(claim.coalesce_ms)]))
    .db()?;
    let due: Vec<(String, String, String, u32, i64)> = {
        let mut st = conn
            .prepare_cached(
                "SELECT user_id, device_id, conversation_id, count, sequence_number FROM push_pending
                 WHERE count > 0 AND due_at <= ?1 AND claimed_until <= ?1 ORDER BY due_at LIMIT ?2",
            )
            .db()?;
        let rows = st
            .query_map(params![claim.now, claim.limit], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })
            .db()?;
        rows.collect::<rusqlite::Result<_>>().db()?
    };
    let mut mark = conn
        .prepare_cached(
            "UPDATE push_pending SET claimed_by = ?4, claimed_until = ?5
             WHERE user_id = ?1 AND device_id = ?2 AND conversation_id = ?3",
        )
        .db()?;
    let mut pushes = Vec::with_capacity(due.len());
    for (user, device, conversation, count, sequence) in due {
        let until = claim.now.saturating_add(claim.lease_ms);
        mark.execute(params![user, device, conversation, claim.node, until]).db()?;
        let Some(message) = messages::at(conn, &conversation, sequence.max(0) as u64)? else {
            // Purged by retention since: nothing to push.
            let (user_id, device_id, conversation_id) = (user, device, conversation);
            let node = claim.node.clone();
            let given_up = PushDone {
                node,
                user_id,
                device_id,
                conversation_id,
                count,
                sent: false,
                now: claim.now,
                coalesce_ms: claim.coalesce_ms,
            };
            finish(conn, &given_up)?;
            continue;
        };
        let sender_name = users::user(conn, &message.sender_id)?.map(|u| u.display_name).unwrap_or_default();
        let group_name = conversations::conversation(conn, &conversation)?
            .filter(|c| c.kind == ConversationType::Group)
            .map(|c| c.name.unwrap_or_default());
        let subscriptions = of(conn, "user_id = ?1 AND device_id = ?2 ORDER BY kind", &[&user, &device])?;
        pushes.push(DuePush {
            unread: unread(conn, &user)?,
            user_id: user,
            device_id: device,
            conversation_id: conversation,
            count,
            message_id: message.message_id.clone(),
            sequence_number: message.sequence_number,
            sender_id: message.sender_id.clone(),
            sender_name,
            text: message.content.text().map(str::to_string),
            group_name,
            subscriptions,
        });
    }
    Ok(pushes)
}

fn unread(conn: &Connection, user: &str) -> Result<u64> {
    let n: Option<i64> = conn
        .prepare_cached(
            "SELECT SUM(MAX(c.last_sequence - m.last_read_sequence, 0)) FROM members m
             JOIN conversations c ON c.conversation_id = m.conversation_id WHERE m.user_id = ?1",
        )
        .and_then(|mut st| st.query_row([user], |r| r.get(0)).optional())
        .db()?
        .flatten();
    Ok(n.unwrap_or(0).max(0) as u64)
}

pub(crate) fn finish(conn: &Connection, done: &PushDone) -> Result<()> {
    conn.prepare_cached(
        "UPDATE push_pending SET count = MAX(count - ?4, 0),
                last_sent_at = CASE WHEN ?5 THEN ?6 ELSE last_sent_at END,
                due_at = CASE WHEN ?5 THEN ?6 + ?7 ELSE due_at END,
                claimed_by = NULL, claimed_until = 0
         WHERE user_id = ?1 AND device_id = ?2 AND conversation_id = ?3 AND claimed_by = ?8",
    )
    .and_then(|mut st| {
        st.execute(params![
            done.user_id,
            done.device_id,
            done.conversation_id,
            done.count,
            done.sent,
            done.now,
            done.coalesce_ms,
            done.node
        ])
    })
    .db()?;
    Ok(())
}
