//! Conversations and their members.

use confab_core::ids::direct_key;
use confab_core::rows::{kind_str, parse_kind, parse_role, ConversationRow, MemberRow, NewConversation};
use confab_core::rules::access::{self, Membership};
use confab_core::rules::direct::{self, DirectOpening};
use confab_core::rules::groups::{self, AdditionRows, RemovalRows};
use confab_core::store::{NewGroup, MAX_LISTED_PARTICIPANTS};
use confab_core::Result;
use confab_proto::{GroupSettings, Role};
use rusqlite::{params, Connection, OptionalExtension, Row};

use super::{blocks, users};
use crate::sqlite::error::SqlResult;

const CONVERSATION_COLUMNS: &str =
    "conversation_id, kind, name, only_admins_can_post, allow_member_invites, \
                                    created_at, last_sequence, member_count, retention_days, purged_up_to";
const MEMBER_COLUMNS: &str =
    "user_id, role, joined_at, last_read_sequence, last_delivered_sequence, muted_until";

fn conversation_from(r: &Row<'_>) -> rusqlite::Result<ConversationRow> {
    let kind: String = r.get(1)?;
    Ok(ConversationRow {
        conversation_id: r.get(0)?,
        kind: parse_kind(&kind),
        name: r.get(2)?,
        settings: GroupSettings {
            only_admins_can_post: r.get(3)?,
            allow_member_invites: r.get(4)?,
            retention_days: r.get(8)?,
        },
        created_at: r.get(5)?,
        last_sequence: r.get(6)?,
        member_count: r.get(7)?,
        purged_up_to: r.get(9)?,
    })
}

fn member_from(r: &Row<'_>) -> rusqlite::Result<MemberRow> {
    let role: String = r.get(1)?;
    Ok(MemberRow {
        user_id: r.get(0)?,
        role: parse_role(&role),
        joined_at: r.get(2)?,
        last_read_sequence: r.get(3)?,
        last_delivered_sequence: r.get(4)?,
        muted_until: r.get(5)?,
    })
}

pub(crate) fn conversation(conn: &Connection, id: &str) -> Result<Option<ConversationRow>> {
    conn.prepare_cached(&format!(
        "SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE conversation_id = ?1"
    ))
    .and_then(|mut s| s.query_row([id], conversation_from).optional())
    .db()
}

pub(crate) fn member(conn: &Connection, id: &str, user: &str) -> Result<Option<MemberRow>> {
    conn.prepare_cached(&format!(
        "SELECT {MEMBER_COLUMNS} FROM members WHERE conversation_id = ?1 AND user_id = ?2"
    ))
    .and_then(|mut s| s.query_row([id, user], member_from).optional())
    .db()
}

pub(crate) fn membership(conn: &Connection, id: &str, user: &str) -> Result<Membership> {
    access::membership(conversation(conn, id)?, member(conn, id, user)?)
}

fn members_where(conn: &Connection, id: &str, order_and_limit: &str, limit: usize) -> Result<Vec<MemberRow>> {
    let sql = format!("SELECT {MEMBER_COLUMNS} FROM members WHERE conversation_id = ?1 {order_and_limit}");
    let mut stmt = conn.prepare_cached(&sql).db()?;
    let rows = stmt.query_map(params![id, limit as i64], member_from).db()?;
    rows.collect::<rusqlite::Result<Vec<_>>>().db()
}

/// The first members in the rules' listing order (admins, then seniority), as many as are listed.
pub(crate) fn listed_members(conn: &Connection, id: &str) -> Result<Vec<MemberRow>> {
    let order = "ORDER BY role = 'admin' DESC, joined_at, user_id LIMIT ?2";
    members_where(conn, id, order, MAX_LISTED_PARTICIPANTS)
}

/// The two most senior members, which is all that succession needs to see.
fn seniors(conn: &Connection, id: &str) -> Result<Vec<MemberRow>> {
    members_where(conn, id, "ORDER BY joined_at, user_id LIMIT ?2", 2)
}

pub(crate) fn admin_count(conn: &Connection, id: &str) -> Result<u32> {
    conn.prepare_cached("SELECT COUNT(*) FROM members WHERE conversation_id = ?1 AND role = 'admin'")
        .and_then(|mut s| s.query_row([id], |r| r.get(0)))
        .db()
}

/// Those of `users` who are members of `id`.
fn members_among(conn: &Connection, id: &str, users: &[String]) -> Result<Vec<String>> {
    let mut stmt =
        conn.prepare_cached("SELECT 1 FROM members WHERE conversation_id = ?1 AND user_id = ?2").db()?;
    let mut found = Vec::new();
    for user in users {
        if stmt.exists([id, user]).db()? {
            found.push(user.clone());
        }
    }
    Ok(found)
}

fn insert_member(conn: &Connection, id: &str, m: &MemberRow) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO members (conversation_id, user_id, role, joined_at, last_read_sequence, last_delivered_sequence)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )
    .and_then(|mut s| {
        s.execute(params![
            id,
            m.user_id,
            m.role.as_str(),
            m.joined_at,
            m.last_read_sequence,
            m.last_delivered_sequence
        ])
    })
    .db()
    .map(|_| ())
}

fn insert_conversation(conn: &Connection, new: &NewConversation) -> Result<()> {
    let c = &new.conversation;
    conn.prepare_cached(
        "INSERT INTO conversations (conversation_id, kind, name, direct_key, only_admins_can_post,
                                    allow_member_invites, created_at, last_sequence, last_activity_at, member_count,
                                    retention_days)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?7, ?9, ?10)",
    )
    .and_then(|mut s| {
        s.execute(params![
            c.conversation_id,
            kind_str(c.kind),
            c.name,
            new.direct_key,
            c.settings.only_admins_can_post,
            c.settings.allow_member_invites,
            c.created_at,
            c.last_sequence,
            c.member_count,
            c.settings.retention_days
        ])
    })
    .db()?;
    for m in &new.members {
        insert_member(conn, &c.conversation_id, m)?;
    }
    Ok(())
}

fn set_member_count(conn: &Connection, id: &str, count: u32) -> Result<()> {
    conn.prepare_cached("UPDATE conversations SET member_count = ?1 WHERE conversation_id = ?2")
        .and_then(|mut s| s.execute(params![count, id]))
        .db()
        .map(|_| ())
}

pub(crate) fn open_direct(
    conn: &Connection,
    a: &str,
    b: &str,
    new_id: &str,
    now: i64,
) -> Result<(String, bool)> {
    let found = users::existing(conn, [a, b])?;
    let existing: Option<String> = conn
        .prepare_cached("SELECT conversation_id FROM conversations WHERE direct_key = ?1")
        .and_then(|mut s| s.query_row([direct_key(a, b)], |r| r.get(0)).optional())
        .db()?;
    let blocking = blocks::blocking(conn, a, b)?;
    match direct::open(a, b, &found, existing, blocking, new_id, now)? {
        DirectOpening::Existing(id) => Ok((id, false)),
        // The single writer serializes openings, so no other insert can race this one.
        DirectOpening::Create(new) => {
            insert_conversation(conn, &new)?;
            Ok((new.conversation.conversation_id, true))
        }
    }
}

pub(crate) fn create_group(conn: &Connection, group: &NewGroup) -> Result<()> {
    let unchecked = groups::create(group)?;
    let found = users::existing(conn, unchecked.user_ids())?;
    insert_conversation(conn, &unchecked.with_users(&found)?)
}

/// Ids of `user`'s conversations, most recently active first.
pub(crate) fn ids_of(conn: &Connection, user: &str) -> Result<Vec<String>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT c.conversation_id FROM members m JOIN conversations c ON c.conversation_id = m.conversation_id
             WHERE m.user_id = ?1 ORDER BY c.last_activity_at DESC, c.conversation_id",
        )
        .db()?;
    let rows = stmt.query_map([user], |r| r.get(0)).db()?;
    rows.collect::<rusqlite::Result<Vec<String>>>().db()
}

pub(crate) fn add_members(
    conn: &Connection,
    id: &str,
    actor: &str,
    user_ids: &[String],
    now: i64,
    max_group_size: u32,
) -> Result<Vec<String>> {
    let rows = AdditionRows {
        conversation: conversation(conn, id)?,
        actor: member(conn, id, actor)?,
        already_members: members_among(conn, id, user_ids)?,
        existing_users: users::existing(conn, user_ids.iter().map(String::as_str))?,
    };
    let admission = groups::add(rows, user_ids, now, max_group_size)?;
    for m in &admission.added {
        insert_member(conn, id, m)?;
    }
    set_member_count(conn, id, admission.member_count)?;
    Ok(admission.user_ids())
}

pub(crate) fn remove_member(conn: &Connection, id: &str, actor: &str, user: &str) -> Result<()> {
    let rows = RemovalRows {
        conversation: conversation(conn, id)?,
        actor: member(conn, id, actor)?,
        target: member(conn, id, user)?,
        admins: admin_count(conn, id)?,
        seniors: seniors(conn, id)?,
    };
    let removal = groups::remove(rows, actor, user)?;
    conn.prepare_cached("DELETE FROM members WHERE conversation_id = ?1 AND user_id = ?2")
        .and_then(|mut s| s.execute([id, &removal.user_id]))
        .db()?;
    set_member_count(conn, id, removal.member_count)?;
    if let Some(successor) = &removal.promote {
        conn.prepare_cached("UPDATE members SET role = ?1 WHERE conversation_id = ?2 AND user_id = ?3")
            .and_then(|mut s| s.execute(params![Role::Admin.as_str(), id, successor]))
            .db()?;
    }
    Ok(())
}

pub(crate) fn member_ids(conn: &Connection, id: &str) -> Result<Vec<String>> {
    let mut stmt = conn.prepare_cached("SELECT user_id FROM members WHERE conversation_id = ?1").db()?;
    let rows = stmt.query_map([id], |r| r.get(0)).db()?;
    rows.collect::<rusqlite::Result<Vec<String>>>().db()
}

pub(crate) fn read_markers(conn: &Connection, id: &str) -> Result<Vec<(String, u64)>> {
    let mut stmt = conn
        .prepare_cached("SELECT user_id, last_read_sequence FROM members WHERE conversation_id = ?1")
        .db()?;
    let rows = stmt.query_map([id], |r| Ok((r.get(0)?, r.get(1)?))).db()?;
    rows.collect::<rusqlite::Result<Vec<_>>>().db()
}
