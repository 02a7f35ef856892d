//! Conversations and their members. Writes that depend on a conversation's members lock its row
//! first, so concurrent changes from several nodes see each other's effects (the size limit, the
//! last admin) instead of racing past them.

use confab_core::ids::direct_key;
use confab_core::rows::{kind_str, parse_kind, parse_role, ConversationRow, MemberRow, NewConversation};
use confab_core::rules::access::{self, Membership};
use confab_core::rules::direct::{self, DirectOpening};
use confab_core::rules::groups::{self, AdditionRows, RemovalRows};
use confab_core::store::{NewGroup, MAX_LISTED_PARTICIPANTS};
use confab_core::Result;
use confab_proto::{GroupSettings, Role};
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use super::{blocks, i, retention, u, users};
use crate::postgres::error::PgResult;

const CONVERSATION_COLUMNS: &str =
    "conversation_id, kind, name, only_admins_can_post, allow_member_invites, \
                                    created_at, last_sequence, member_count, retention_days, purged_up_to";
const MEMBER_COLUMNS: &str =
    "user_id, role, joined_at, last_read_sequence, last_delivered_sequence, muted_until";

fn conversation_from(r: &Row) -> ConversationRow {
    ConversationRow {
        conversation_id: r.get(0),
        kind: parse_kind(r.get(1)),
        name: r.get(2),
        settings: GroupSettings {
            only_admins_can_post: r.get(3),
            allow_member_invites: r.get(4),
            retention_days: r.get::<_, i32>(8).max(0) as u32,
        },
        created_at: r.get(5),
        last_sequence: u(r.get(6)),
        member_count: r.get::<_, i32>(7).max(0) as u32,
        purged_up_to: u(r.get(9)),
    }
}

fn member_from(r: &Row) -> MemberRow {
    MemberRow {
        user_id: r.get(0),
        role: parse_role(r.get(1)),
        joined_at: r.get(2),
        last_read_sequence: u(r.get(3)),
        last_delivered_sequence: u(r.get(4)),
        muted_until: r.get(5),
    }
}

pub(crate) async fn conversation<C: GenericClient>(c: &C, id: &str) -> Result<Option<ConversationRow>> {
    let sql = format!("SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE conversation_id = $1");
    Ok(c.query_opt(sql.as_str(), &[&id]).await.db()?.map(|r| conversation_from(&r)))
}

/// The conversation row, locked until the transaction ends.
pub(crate) async fn conversation_locked<C: GenericClient>(
    c: &C,
    id: &str,
) -> Result<Option<ConversationRow>> {
    let sql =
        format!("SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE conversation_id = $1 FOR UPDATE");
    Ok(c.query_opt(sql.as_str(), &[&id]).await.db()?.map(|r| conversation_from(&r)))
}

pub(crate) async fn member<C: GenericClient>(c: &C, id: &str, user: &str) -> Result<Option<MemberRow>> {
    let sql = format!("SELECT {MEMBER_COLUMNS} FROM members WHERE conversation_id = $1 AND user_id = $2");
    Ok(c.query_opt(sql.as_str(), &[&id, &user]).await.db()?.map(|r| member_from(&r)))
}

/// The member row, locked until the transaction ends (for marker moves).
pub(crate) async fn member_locked<C: GenericClient>(
    c: &C,
    id: &str,
    user: &str,
) -> Result<Option<MemberRow>> {
    let sql = format!(
        "SELECT {MEMBER_COLUMNS} FROM members WHERE conversation_id = $1 AND user_id = $2 FOR UPDATE"
    );
    Ok(c.query_opt(sql.as_str(), &[&id, &user]).await.db()?.map(|r| member_from(&r)))
}

pub(crate) async fn membership<C: GenericClient>(c: &C, id: &str, user: &str) -> Result<Membership> {
    let (conversation, member) = tokio::try_join!(conversation(c, id), member(c, id, user))?;
    access::membership(conversation, member)
}

async fn members_where<C: GenericClient>(
    c: &C,
    id: &str,
    order_and_limit: &str,
    limit: usize,
) -> Result<Vec<MemberRow>> {
    let sql = format!("SELECT {MEMBER_COLUMNS} FROM members WHERE conversation_id = $1 {order_and_limit}");
    let rows = c.query(sql.as_str(), &[&id, &(limit as i64)]).await.db()?;
    Ok(rows.iter().map(member_from).collect())
}

/// The first members in the rules' listing order (admins, then seniority), as many as are listed.
pub(crate) async fn listed_members<C: GenericClient>(c: &C, id: &str) -> Result<Vec<MemberRow>> {
    let order = "ORDER BY role = 'admin' DESC, joined_at, user_id LIMIT $2";
    members_where(c, id, order, MAX_LISTED_PARTICIPANTS).await
}

/// The two most senior members, which is all that succession needs to see.
async fn seniors<C: GenericClient>(c: &C, id: &str) -> Result<Vec<MemberRow>> {
    members_where(c, id, "ORDER BY joined_at, user_id LIMIT $2", 2).await
}

pub(crate) async fn admin_count<C: GenericClient>(c: &C, id: &str) -> Result<u32> {
    let row = c
        .query_one("SELECT COUNT(*) FROM members WHERE conversation_id = $1 AND role = 'admin'", &[&id])
        .await
        .db()?;
    Ok(row.get::<_, i64>(0).max(0) as u32)
}

/// Those of `users` who are members of `id`.
async fn members_among<C: GenericClient>(c: &C, id: &str, users: &[String]) -> Result<Vec<String>> {
    let rows = c
        .query("SELECT user_id FROM members WHERE conversation_id = $1 AND user_id = ANY($2)", &[&id, &users])
        .await
        .db()?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// Inserts `members` in one statement, however many there are.
async fn insert_members<C: GenericClient>(c: &C, id: &str, members: &[MemberRow]) -> Result<()> {
    let users: Vec<&str> = members.iter().map(|m| m.user_id.as_str()).collect();
    let roles: Vec<&str> = members.iter().map(|m| m.role.as_str()).collect();
    let joined: Vec<i64> = members.iter().map(|m| m.joined_at).collect();
    let read: Vec<i64> = members.iter().map(|m| i(m.last_read_sequence)).collect();
    let delivered: Vec<i64> = members.iter().map(|m| i(m.last_delivered_sequence)).collect();
    c.execute(
        "INSERT INTO members (conversation_id, user_id, role, joined_at, last_read_sequence, last_delivered_sequence)
         SELECT $1, * FROM UNNEST($2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::bigint[])",
        &[&id, &users, &roles, &joined, &read, &delivered],
    )
    .await
    .db()
    .map(|_| ())
}

/// Inserts the conversation row; `false` when a direct conversation of the same pair won a race.
async fn insert_conversation<C: GenericClient>(c: &C, new: &NewConversation) -> Result<bool> {
    let conv = &new.conversation;
    let inserted = c
        .execute(
            "INSERT INTO conversations (conversation_id, kind, name, direct_key, only_admins_can_post,
                                        allow_member_invites, created_at, last_sequence, last_activity_at, member_count,
                                        retention_days)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $7, $9, $10) ON CONFLICT (direct_key) DO NOTHING",
            &[
                &conv.conversation_id,
                &kind_str(conv.kind),
                &conv.name,
                &new.direct_key,
                &conv.settings.only_admins_can_post,
                &conv.settings.allow_member_invites,
                &conv.created_at,
                &i(conv.last_sequence),
                &(conv.member_count as i32),
                &retention(conv.settings.retention_days),
            ],
        )
        .await
        .db()?;
    if inserted == 0 {
        return Ok(false);
    }
    insert_members(c, &conv.conversation_id, &new.members).await?;
    Ok(true)
}

async fn set_member_count<C: GenericClient>(c: &C, id: &str, count: u32) -> Result<()> {
    c.execute(
        "UPDATE conversations SET member_count = $1 WHERE conversation_id = $2",
        &[&(count as i32), &id],
    )
    .await
    .db()
    .map(|_| ())
}

async fn direct_by_key<C: GenericClient>(c: &C, key: &str) -> Result<Option<String>> {
    let row =
        c.query_opt("SELECT conversation_id FROM conversations WHERE direct_key = $1", &[&key]).await.db()?;
    Ok(row.map(|r| r.get(0)))
}

pub(crate) async fn open_direct<C: GenericClient>(
    c: &C,
    a: &str,
    b: &str,
    new_id: &str,
    now: i64,
) -> Result<(String, bool)> {
    let key = direct_key(a, b);
    let (found, existing, blocking) =
        tokio::try_join!(users::existing(c, [a, b]), direct_by_key(c, &key), blocks::blocking(c, a, b))?;
    match direct::open(a, b, &found, existing, blocking, new_id, now)? {
        DirectOpening::Existing(id) => Ok((id, false)),
        DirectOpening::Create(new) => {
            if insert_conversation(c, &new).await? {
                return Ok((new.conversation.conversation_id, true));
            }
            // Another node created the pair's conversation since we looked: that one stands.
            let winner = direct_by_key(c, &key).await?;
            winner.map(|id| (id, false)).ok_or_else(|| {
                confab_core::Error::Unavailable("a concurrent direct conversation vanished; retry".into())
            })
        }
    }
}

pub(crate) async fn create_group<C: GenericClient>(c: &C, group: &NewGroup) -> Result<()> {
    let unchecked = groups::create(group)?;
    let found = users::existing(c, unchecked.user_ids()).await?;
    insert_conversation(c, &unchecked.with_users(&found)?).await.map(|_| ())
}

/// Ids of `user`'s conversations, most recently active first.
pub(crate) async fn ids_of<C: GenericClient>(c: &C, user: &str) -> Result<Vec<String>> {
    let rows = c
        .query(
            "SELECT c.conversation_id FROM members m JOIN conversations c ON c.conversation_id = m.conversation_id
             WHERE m.user_id = $1 ORDER BY c.last_activity_at DESC, c.conversation_id",
            &[&user],
        )
        .await
        .db()?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

pub(crate) async fn add_members<C: GenericClient>(
    c: &C,
    id: &str,
    actor: &str,
    user_ids: &[String],
    now: i64,
    max_group_size: u32,
) -> Result<Vec<String>> {
    let conversation = conversation_locked(c, id).await?;
    let (actor, already_members, existing_users) = tokio::try_join!(
        member(c, id, actor),
        members_among(c, id, user_ids),
        users::existing(c, user_ids.iter().map(String::as_str))
    )?;
    let rows = AdditionRows { conversation, actor, already_members, existing_users };
    let admission = groups::add(rows, user_ids, now, max_group_size)?;
    insert_members(c, id, &admission.added).await?;
    set_member_count(c, id, admission.member_count).await?;
    Ok(admission.user_ids())
}

pub(crate) async fn remove_member<C: GenericClient>(c: &C, id: &str, actor: &str, user: &str) -> Result<()> {
    let conversation = conversation_locked(c, id).await?;
    let (actor_row, target, admins, seniors) =
        tokio::try_join!(member(c, id, actor), member(c, id, user), admin_count(c, id), seniors(c, id))?;
    let rows = RemovalRows { conversation, actor: actor_row, target, admins, seniors };
    let removal = groups::remove(rows, actor, user)?;
    c.execute("DELETE FROM members WHERE conversation_id = $1 AND user_id = $2", &[&id, &removal.user_id])
        .await
        .db()?;
    set_member_count(c, id, removal.member_count).await?;
    if let Some(successor) = &removal.promote {
        c.execute(
            "UPDATE members SET role = $1 WHERE conversation_id = $2 AND user_id = $3",
            &[&Role::Admin.as_str(), &id, successor],
        )
        .await
        .db()?;
    }
    Ok(())
}

pub(crate) async fn member_ids<C: GenericClient>(c: &C, id: &str) -> Result<Vec<String>> {
    let rows = c.query("SELECT user_id FROM members WHERE conversation_id = $1", &[&id]).await.db()?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

pub(crate) async fn read_markers<C: GenericClient>(c: &C, id: &str) -> Result<Vec<(String, u64)>> {
    let rows = c
        .query("SELECT user_id, last_read_sequence FROM members WHERE conversation_id = $1", &[&id])
        .await
        .db()?;
    Ok(rows.iter().map(|r| (r.get(0), u(r.get(1)))).collect())
}
