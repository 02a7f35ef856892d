//! SQL of the embedded store, grouped by entity. Every function takes a connection (the writer's
//! inside a transaction, or a reader's) and returns domain values.

use confab_core::store::{
    own_message_status, Appended, HistoryCursor, HistoryPage, MarkerMove, MessageRef, NewGroup, NewMessage,
    NewUser, ReadMove, Receipts, UserCredentials, MAX_LISTED_PARTICIPANTS,
};
use confab_core::{Error, Result};
use confab_proto::{
    Content, Conversation, ConversationType, GroupSettings, Message, Participant, Role, SyncConversation,
    SyncCursor, SyncResponse, User,
};
use rusqlite::{params, Connection, OptionalExtension, Row};

use super::error::SqlResult;

// ---- users ----

fn user_row(row: &Row<'_>) -> rusqlite::Result<User> {
    Ok(User { user_id: row.get(0)?, username: row.get(1)?, display_name: row.get(2)? })
}

pub(crate) fn create_user(conn: &Connection, user: &NewUser) -> Result<User> {
    let inserted = conn
        .prepare_cached(
            "INSERT INTO users (user_id, username, display_name, password_hash, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
        )
        .and_then(|mut s| {
            s.execute(params![
                user.user_id,
                user.username,
                user.display_name,
                user.password_hash,
                user.created_at
            ])
        })
        .db()?;
    if inserted == 0 {
        return Err(Error::UsernameTaken);
    }
    Ok(User {
        user_id: user.user_id.clone(),
        username: user.username.clone(),
        display_name: user.display_name.clone(),
    })
}

pub(crate) fn credentials(conn: &Connection, username: &str) -> Result<Option<UserCredentials>> {
    conn.prepare_cached(
        "SELECT user_id, username, display_name, password_hash FROM users WHERE username = ?1",
    )
    .and_then(|mut s| {
        s.query_row([username], |r| Ok(UserCredentials { user: user_row(r)?, password_hash: r.get(3)? }))
            .optional()
    })
    .db()
}

pub(crate) fn user(conn: &Connection, user_id: &str) -> Result<Option<User>> {
    conn.prepare_cached("SELECT user_id, username, display_name FROM users WHERE user_id = ?1")
        .and_then(|mut s| s.query_row([user_id], user_row).optional())
        .db()
}

fn require_user(conn: &Connection, user_id: &str) -> Result<()> {
    let exists = conn
        .prepare_cached("SELECT 1 FROM users WHERE user_id = ?1")
        .and_then(|mut s| s.exists([user_id]))
        .db()?;
    if exists {
        Ok(())
    } else {
        Err(Error::UserNotFound(user_id.to_string()))
    }
}

pub(crate) fn search_users(conn: &Connection, prefix: &str, limit: u32) -> Result<Vec<User>> {
    let prefix = prefix.trim().to_ascii_lowercase();
    // Usernames use only [a-z0-9_.-], all below '~', so [prefix, prefix + "~") is the prefix range.
    let upper = format!("{prefix}~");
    let mut stmt = conn
        .prepare_cached(
            "SELECT user_id, username, display_name FROM users
             WHERE username >= ?1 AND username < ?2 ORDER BY username LIMIT ?3",
        )
        .db()?;
    let rows = stmt.query_map(params![prefix, upper, limit], user_row).db()?;
    rows.collect::<rusqlite::Result<Vec<_>>>().db()
}

// ---- conversations ----

struct ConversationRow {
    kind: ConversationType,
    name: Option<String>,
    settings: GroupSettings,
    created_at: i64,
    last_sequence: u64,
    member_count: u32,
}

fn conversation_row(conn: &Connection, id: &str) -> Result<Option<ConversationRow>> {
    conn.prepare_cached(
        "SELECT kind, name, only_admins_can_post, allow_member_invites, created_at, last_sequence, member_count
         FROM conversations WHERE conversation_id = ?1",
    )
    .and_then(|mut s| {
        s.query_row([id], |r| {
            let kind: String = r.get(0)?;
            Ok(ConversationRow {
                kind: if kind == "direct" { ConversationType::Direct } else { ConversationType::Group },
                name: r.get(1)?,
                settings: GroupSettings { only_admins_can_post: r.get(2)?, allow_member_invites: r.get(3)? },
                created_at: r.get(4)?,
                last_sequence: r.get(5)?,
                member_count: r.get(6)?,
            })
        })
        .optional()
    })
    .db()
}

fn role_of(conn: &Connection, conversation_id: &str, user_id: &str) -> Result<Option<Role>> {
    let role: Option<String> = conn
        .prepare_cached("SELECT role FROM members WHERE conversation_id = ?1 AND user_id = ?2")
        .and_then(|mut s| s.query_row([conversation_id, user_id], |r| r.get(0)).optional())
        .db()?;
    Ok(role.map(|r| if r == "admin" { Role::Admin } else { Role::Member }))
}

/// The conversation row and the viewer's role: `ConversationNotFound` or `Forbidden` otherwise.
fn membership(conn: &Connection, conversation_id: &str, user_id: &str) -> Result<(ConversationRow, Role)> {
    let conv = conversation_row(conn, conversation_id)?.ok_or(Error::ConversationNotFound)?;
    let role = role_of(conn, conversation_id, user_id)?.ok_or_else(Error::not_member)?;
    Ok((conv, role))
}

pub(crate) fn require_member(conn: &Connection, conversation_id: &str, user_id: &str) -> Result<()> {
    membership(conn, conversation_id, user_id).map(|_| ())
}

/// Adds a member whose markers start at `markers`: someone joining late has nothing older to
/// receive or read, so older messages neither count as unread for them nor wait on their receipts.
fn insert_member(
    conn: &Connection,
    conversation_id: &str,
    user_id: &str,
    role: Role,
    now: i64,
    markers: u64,
) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO members (conversation_id, user_id, role, joined_at, last_read_sequence, last_delivered_sequence)
         VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
    )
    .and_then(|mut s| s.execute(params![conversation_id, user_id, role.as_str(), now, markers]))
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
    let key = confab_core::ids::direct_key(a, b);
    let existing: Option<String> = conn
        .prepare_cached("SELECT conversation_id FROM conversations WHERE direct_key = ?1")
        .and_then(|mut s| s.query_row([&key], |r| r.get(0)).optional())
        .db()?;
    if let Some(id) = existing {
        return Ok((id, false));
    }
    require_user(conn, a)?;
    require_user(conn, b)?;
    conn.prepare_cached(
        "INSERT INTO conversations (conversation_id, kind, direct_key, created_at, last_activity_at, member_count)
         VALUES (?1, 'direct', ?2, ?3, ?3, 2)",
    )
    .and_then(|mut s| s.execute(params![new_id, key, now]))
    .db()?;
    insert_member(conn, new_id, a, Role::Member, now, 0)?;
    insert_member(conn, new_id, b, Role::Member, now, 0)?;
    Ok((new_id.to_string(), true))
}

pub(crate) fn create_group(conn: &Connection, group: &NewGroup) -> Result<()> {
    let mut others: Vec<&str> =
        group.member_ids.iter().map(String::as_str).filter(|id| *id != group.creator_id).collect();
    others.sort_unstable();
    others.dedup();
    let size = others.len() + 1;
    if size > group.max_group_size as usize {
        return Err(Error::InvalidRequest(format!("a group has at most {} members", group.max_group_size)));
    }
    require_user(conn, &group.creator_id)?;
    for id in &others {
        require_user(conn, id)?;
    }
    conn.prepare_cached(
        "INSERT INTO conversations (conversation_id, kind, name, only_admins_can_post, allow_member_invites,
                                    created_at, last_activity_at, member_count)
         VALUES (?1, 'group', ?2, ?3, ?4, ?5, ?5, ?6)",
    )
    .and_then(|mut s| {
        s.execute(params![
            group.conversation_id,
            group.name,
            group.settings.only_admins_can_post,
            group.settings.allow_member_invites,
            group.created_at,
            size as i64
        ])
    })
    .db()?;
    insert_member(conn, &group.conversation_id, &group.creator_id, Role::Admin, group.created_at, 0)?;
    for id in others {
        insert_member(conn, &group.conversation_id, id, Role::Member, group.created_at, 0)?;
    }
    Ok(())
}

/// A conversation as `viewer` sees it.
pub(crate) fn conversation_view(
    conn: &Connection,
    conversation_id: &str,
    viewer: &str,
) -> Result<Conversation> {
    let conv = conversation_row(conn, conversation_id)?.ok_or(Error::ConversationNotFound)?;
    let last_read: u64 = conn
        .prepare_cached("SELECT last_read_sequence FROM members WHERE conversation_id = ?1 AND user_id = ?2")
        .and_then(|mut s| s.query_row([conversation_id, viewer], |r| r.get(0)).optional())
        .db()?
        .ok_or_else(Error::not_member)?;
    let mut stmt = conn
        .prepare_cached(
            "SELECT user_id, role FROM members WHERE conversation_id = ?1
             ORDER BY role = 'admin' DESC, joined_at, user_id LIMIT ?2",
        )
        .db()?;
    let participants = stmt
        .query_map(params![conversation_id, MAX_LISTED_PARTICIPANTS as i64], |r| {
            let role: String = r.get(1)?;
            Ok(Participant {
                user_id: r.get(0)?,
                role: if role == "admin" { Role::Admin } else { Role::Member },
            })
        })
        .db()?
        .collect::<rusqlite::Result<Vec<_>>>()
        .db()?;
    let last_message = if conv.last_sequence > 0 {
        messages_in_range(conn, conversation_id, conv.last_sequence - 1, conv.last_sequence)?.pop()
    } else {
        None
    };
    Ok(Conversation {
        conversation_id: conversation_id.to_string(),
        kind: conv.kind,
        name: conv.name,
        participants,
        member_count: conv.member_count,
        settings: conv.settings,
        created_at: conv.created_at,
        last_sequence: conv.last_sequence,
        last_message,
        last_read_sequence: last_read,
        unread_count: conv.last_sequence.saturating_sub(last_read),
    })
}

/// Ids of `user`'s conversations, most recently active first.
pub(crate) fn conversation_ids_of(conn: &Connection, user: &str) -> Result<Vec<String>> {
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
    conversation_id: &str,
    actor: &str,
    user_ids: &[String],
    now: i64,
    max_group_size: u32,
) -> Result<Vec<String>> {
    let (conv, role) = membership(conn, conversation_id, actor)?;
    if conv.kind == ConversationType::Direct {
        return Err(Error::Forbidden("members cannot be added to a direct conversation".into()));
    }
    if role != Role::Admin && !conv.settings.allow_member_invites {
        return Err(Error::Forbidden("only admins can add members to this group".into()));
    }
    let mut added: Vec<String> = Vec::new();
    for id in user_ids {
        if added.contains(id) || role_of(conn, conversation_id, id)?.is_some() {
            continue;
        }
        require_user(conn, id)?;
        added.push(id.clone());
    }
    if conv.member_count as usize + added.len() > max_group_size as usize {
        return Err(Error::InvalidRequest(format!("a group has at most {max_group_size} members")));
    }
    for id in &added {
        insert_member(conn, conversation_id, id, Role::Member, now, conv.last_sequence)?;
    }
    conn.prepare_cached(
        "UPDATE conversations SET member_count = member_count + ?1 WHERE conversation_id = ?2",
    )
    .and_then(|mut s| s.execute(params![added.len() as i64, conversation_id]))
    .db()?;
    Ok(added)
}

pub(crate) fn remove_member(conn: &Connection, conversation_id: &str, actor: &str, user: &str) -> Result<()> {
    let (conv, actor_role) = membership(conn, conversation_id, actor)?;
    if conv.kind == ConversationType::Direct {
        return Err(Error::Forbidden("members cannot leave or be removed from a direct conversation".into()));
    }
    if actor != user && actor_role != Role::Admin {
        return Err(Error::Forbidden("only admins can remove other members".into()));
    }
    let removed = conn
        .prepare_cached("DELETE FROM members WHERE conversation_id = ?1 AND user_id = ?2")
        .and_then(|mut s| s.execute([conversation_id, user]))
        .db()?;
    if removed == 0 {
        return Err(Error::NotFound("that user is not a member of this conversation".into()));
    }
    conn.prepare_cached(
        "UPDATE conversations SET member_count = member_count - 1 WHERE conversation_id = ?1",
    )
    .and_then(|mut s| s.execute([conversation_id]))
    .db()?;
    // A group is never left without an admin while it has members.
    conn.prepare_cached(
        "UPDATE members SET role = 'admin'
         WHERE conversation_id = ?1
           AND NOT EXISTS (SELECT 1 FROM members WHERE conversation_id = ?1 AND role = 'admin')
           AND user_id = (SELECT user_id FROM members WHERE conversation_id = ?1 ORDER BY joined_at, user_id LIMIT 1)",
    )
    .and_then(|mut s| s.execute([conversation_id]))
    .db()?;
    Ok(())
}

pub(crate) fn member_ids(conn: &Connection, conversation_id: &str) -> Result<Vec<String>> {
    let mut stmt = conn.prepare_cached("SELECT user_id FROM members WHERE conversation_id = ?1").db()?;
    let rows = stmt.query_map([conversation_id], |r| r.get(0)).db()?;
    rows.collect::<rusqlite::Result<Vec<String>>>().db()
}

pub(crate) fn read_markers(conn: &Connection, conversation_id: &str) -> Result<Vec<(String, u64)>> {
    let mut stmt = conn
        .prepare_cached("SELECT user_id, last_read_sequence FROM members WHERE conversation_id = ?1")
        .db()?;
    let rows = stmt.query_map([conversation_id], |r| Ok((r.get(0)?, r.get(1)?))).db()?;
    rows.collect::<rusqlite::Result<Vec<_>>>().db()
}

// ---- messages ----

fn message_row(row: &Row<'_>) -> rusqlite::Result<(Message, String)> {
    let content: String = row.get(3)?;
    let message = Message {
        conversation_id: row.get(0)?,
        sequence_number: row.get(1)?,
        message_id: row.get(2)?,
        content: Content::Text { text: String::new() },
        sender_id: row.get(4)?,
        timestamp: row.get(5)?,
        status: None,
    };
    Ok((message, content))
}

fn decode(rows: Vec<(Message, String)>) -> Result<Vec<Message>> {
    rows.into_iter()
        .map(|(mut m, content)| {
            m.content = serde_json::from_str(&content).map_err(|e| {
                Error::Internal(format!("stored content of {} is unreadable: {e}", m.message_id))
            })?;
            Ok(m)
        })
        .collect()
}

const MESSAGE_COLUMNS: &str = "conversation_id, sequence_number, message_id, content, sender_id, created_at";

/// Messages with `after < sequence <= up_to`, ascending.
fn messages_in_range(
    conn: &Connection,
    conversation_id: &str,
    after: u64,
    up_to: u64,
) -> Result<Vec<Message>> {
    let sql = format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages
         WHERE conversation_id = ?1 AND sequence_number > ?2 AND sequence_number <= ?3 ORDER BY sequence_number"
    );
    let mut stmt = conn.prepare_cached(&sql).db()?;
    let rows = stmt.query_map(params![conversation_id, after, up_to], message_row).db()?;
    decode(rows.collect::<rusqlite::Result<Vec<_>>>().db()?)
}

pub(crate) fn append(conn: &Connection, msg: &NewMessage, now: i64) -> Result<Appended> {
    let content_json =
        serde_json::to_string(&msg.content).map_err(|e| Error::Internal(format!("content encoding: {e}")))?;
    let existing = conn
        .prepare_cached(&format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE message_id = ?1"))
        .and_then(|mut s| s.query_row([&msg.message_id], message_row).optional())
        .db()?;
    if let Some(row) = existing {
        let original = decode(vec![row])?.remove(0);
        return msg.resend_of(original);
    }
    let (conv, role) = membership(conn, &msg.conversation_id, &msg.sender_id)?;
    if conv.settings.only_admins_can_post && role != Role::Admin {
        return Err(Error::Forbidden("only admins can post in this group".into()));
    }
    let sequence: u64 = conn
        .prepare_cached(
            "UPDATE conversations SET last_sequence = last_sequence + 1, last_activity_at = ?1
             WHERE conversation_id = ?2 RETURNING last_sequence",
        )
        .and_then(|mut s| s.query_row(params![now, msg.conversation_id], |r| r.get(0)))
        .db()?;
    conn.prepare_cached(
        "INSERT INTO messages (conversation_id, sequence_number, message_id, sender_id, content, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )
    .and_then(|mut s| {
        s.execute(params![msg.conversation_id, sequence, msg.message_id, msg.sender_id, content_json, now])
    })
    .db()?;
    // Writing a message means having received and read the conversation up to it.
    conn.prepare_cached(
        "UPDATE members SET last_read_sequence = MAX(last_read_sequence, ?1),
                            last_delivered_sequence = MAX(last_delivered_sequence, ?1)
         WHERE conversation_id = ?2 AND user_id = ?3",
    )
    .and_then(|mut s| s.execute(params![sequence, msg.conversation_id, msg.sender_id]))
    .db()?;
    Ok(Appended {
        message: Message {
            message_id: msg.message_id.clone(),
            conversation_id: msg.conversation_id.clone(),
            sender_id: msg.sender_id.clone(),
            content: msg.content.clone(),
            sequence_number: sequence,
            timestamp: now,
            status: None,
        },
        created: true,
    })
}

pub(crate) fn history(
    conn: &Connection,
    conversation_id: &str,
    viewer: &str,
    cursor: HistoryCursor,
    limit: u32,
) -> Result<HistoryPage> {
    require_member(conn, conversation_id, viewer)?;
    let fetch = limit as i64 + 1;
    let (sql, bound, ascending) = match cursor {
        HistoryCursor::Latest => (
            format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ?1 AND sequence_number < ?2 ORDER BY sequence_number DESC LIMIT ?3"),
            i64::MAX,
            false,
        ),
        HistoryCursor::Before(seq) => (
            format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ?1 AND sequence_number < ?2 ORDER BY sequence_number DESC LIMIT ?3"),
            i64::try_from(seq).unwrap_or(i64::MAX),
            false,
        ),
        HistoryCursor::After(seq) => (
            format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ?1 AND sequence_number > ?2 ORDER BY sequence_number ASC LIMIT ?3"),
            i64::try_from(seq).unwrap_or(i64::MAX),
            true,
        ),
    };
    let mut stmt = conn.prepare_cached(&sql).db()?;
    let rows = stmt.query_map(params![conversation_id, bound, fetch], message_row).db()?;
    let mut messages = decode(rows.collect::<rusqlite::Result<Vec<_>>>().db()?)?;
    let has_more = messages.len() > limit as usize;
    messages.truncate(limit as usize);
    if !ascending {
        messages.reverse();
    }
    set_statuses(conn, conversation_id, viewer, &mut messages)?;
    Ok(HistoryPage { messages, has_more })
}

pub(crate) fn locate_message(conn: &Connection, message_id: &str, viewer: &str) -> Result<(String, u64)> {
    conn.prepare_cached(
        "SELECT m.conversation_id, m.sequence_number FROM messages m
         JOIN members mb ON mb.conversation_id = m.conversation_id AND mb.user_id = ?2
         WHERE m.message_id = ?1",
    )
    .and_then(|mut s| s.query_row([message_id, viewer], |r| Ok((r.get(0)?, r.get(1)?))).optional())
    .db()?
    .ok_or(Error::MessageNotFound)
}

pub(crate) fn sync(
    conn: &Connection,
    user: &str,
    cursors: &[SyncCursor],
    limit: u32,
    now: i64,
) -> Result<SyncResponse> {
    let mine = conversation_ids_of(conn, user)?;
    let mut conversations = Vec::new();
    for cursor in cursors {
        if !mine.contains(&cursor.conversation_id) {
            continue;
        }
        let page =
            history(conn, &cursor.conversation_id, user, HistoryCursor::After(cursor.last_sequence), limit)?;
        let conv = conversation_row(conn, &cursor.conversation_id)?.ok_or(Error::ConversationNotFound)?;
        let last_read: u64 = conn
            .prepare_cached(
                "SELECT last_read_sequence FROM members WHERE conversation_id = ?1 AND user_id = ?2",
            )
            .and_then(|mut s| s.query_row([&cursor.conversation_id, user], |r| r.get(0)))
            .db()?;
        conversations.push(SyncConversation {
            conversation_id: cursor.conversation_id.clone(),
            messages: page.messages,
            has_more: page.has_more,
            last_sequence: conv.last_sequence,
            unread_count: conv.last_sequence.saturating_sub(last_read),
        });
    }
    let mut new_conversations = Vec::new();
    for id in &mine {
        if !cursors.iter().any(|c| &c.conversation_id == id) {
            new_conversations.push(conversation_view(conn, id, user)?);
        }
    }
    Ok(SyncResponse { conversations, new_conversations, server_time: now })
}

// ---- receipts ----

/// Fills `status` on `viewer`'s own messages from the other members' lowest markers.
fn set_statuses(
    conn: &Connection,
    conversation_id: &str,
    viewer: &str,
    messages: &mut [Message],
) -> Result<()> {
    if !messages.iter().any(|m| m.sender_id == viewer) {
        return Ok(());
    }
    let (delivered, read): (Option<u64>, Option<u64>) = conn
        .prepare_cached(
            "SELECT MIN(last_delivered_sequence), MIN(last_read_sequence) FROM members
             WHERE conversation_id = ?1 AND user_id != ?2",
        )
        .and_then(|mut s| s.query_row([conversation_id, viewer], |r| Ok((r.get(0)?, r.get(1)?))))
        .db()?;
    for m in messages.iter_mut().filter(|m| m.sender_id == viewer) {
        let seq = m.sequence_number;
        m.status = Some(own_message_status(seq, delivered, read));
    }
    Ok(())
}

#[derive(Clone, Copy)]
pub(crate) enum Marker {
    Delivered,
    Read,
}

/// Moves one marker of a member forward (clamped to the last sequence) and records the advance.
pub(crate) fn move_marker(
    conn: &Connection,
    conversation_id: &str,
    user: &str,
    marker: Marker,
    up_to: u64,
    at: i64,
) -> Result<MarkerMove> {
    let (conv, _) = membership(conn, conversation_id, user)?;
    let (select, update, kind) = match marker {
        Marker::Delivered => (
            "SELECT last_delivered_sequence FROM members WHERE conversation_id = ?1 AND user_id = ?2",
            "UPDATE members SET last_delivered_sequence = ?1 WHERE conversation_id = ?2 AND user_id = ?3",
            "delivered",
        ),
        Marker::Read => (
            "SELECT last_read_sequence FROM members WHERE conversation_id = ?1 AND user_id = ?2",
            "UPDATE members SET last_read_sequence = ?1 WHERE conversation_id = ?2 AND user_id = ?3",
            "read",
        ),
    };
    let previous: u64 = conn
        .prepare_cached(select)
        .and_then(|mut s| s.query_row([conversation_id, user], |r| r.get(0)))
        .db()?;
    let target = up_to.min(conv.last_sequence);
    if target <= previous {
        return Ok(MarkerMove { previous, current: previous });
    }
    conn.prepare_cached(update).and_then(|mut s| s.execute(params![target, conversation_id, user])).db()?;
    conn.prepare_cached(
        "INSERT INTO receipt_marks (conversation_id, user_id, kind, up_to_sequence, at) VALUES (?1, ?2, ?3, ?4, ?5)",
    )
    .and_then(|mut s| s.execute(params![conversation_id, user, kind, target, at]))
    .db()?;
    Ok(MarkerMove { previous, current: target })
}

pub(crate) fn mark_read(
    conn: &Connection,
    conversation_id: &str,
    user: &str,
    up_to: u64,
    at: i64,
) -> Result<ReadMove> {
    let read = move_marker(conn, conversation_id, user, Marker::Read, up_to, at)?;
    let delivered = move_marker(conn, conversation_id, user, Marker::Delivered, read.current, at)?;
    Ok(ReadMove { read, delivered })
}

pub(crate) fn messages_between(
    conn: &Connection,
    conversation_id: &str,
    after: u64,
    up_to: u64,
) -> Result<Vec<MessageRef>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT message_id, sender_id, sequence_number FROM messages
             WHERE conversation_id = ?1 AND sequence_number > ?2 AND sequence_number <= ?3 ORDER BY sequence_number",
        )
        .db()?;
    let rows = stmt
        .query_map(params![conversation_id, after, up_to], |r| {
            Ok(MessageRef { message_id: r.get(0)?, sender_id: r.get(1)?, sequence_number: r.get(2)? })
        })
        .db()?;
    rows.collect::<rusqlite::Result<Vec<_>>>().db()
}

pub(crate) fn receipts(
    conn: &Connection,
    conversation_id: &str,
    message_id: &str,
    viewer: &str,
) -> Result<Receipts> {
    require_member(conn, conversation_id, viewer)?;
    let (seq, sender): (u64, String) = conn
        .prepare_cached(
            "SELECT sequence_number, sender_id FROM messages WHERE message_id = ?1 AND conversation_id = ?2",
        )
        .and_then(|mut s| {
            s.query_row([message_id, conversation_id], |r| Ok((r.get(0)?, r.get(1)?))).optional()
        })
        .db()?
        .ok_or(Error::MessageNotFound)?;
    let marks = |kind: &str| -> Result<Vec<(String, i64)>> {
        let mut stmt = conn
            .prepare_cached(
                "SELECT user_id, MIN(at) FROM receipt_marks
                 WHERE conversation_id = ?1 AND kind = ?2 AND up_to_sequence >= ?3 AND user_id != ?4
                 GROUP BY user_id ORDER BY MIN(at), user_id",
            )
            .db()?;
        let rows = stmt
            .query_map(params![conversation_id, kind, seq, sender], |r| Ok((r.get(0)?, r.get(1)?)))
            .db()?;
        rows.collect::<rusqlite::Result<Vec<_>>>().db()
    };
    Ok(Receipts { delivered_to: marks("delivered")?, read_by: marks("read")? })
}

// ---- presence ----

pub(crate) fn touch_last_seen(conn: &Connection, user: &str, at: i64) -> Result<()> {
    conn.prepare_cached("UPDATE users SET last_seen = MAX(COALESCE(last_seen, 0), ?1) WHERE user_id = ?2")
        .and_then(|mut s| s.execute(params![at, user]))
        .db()
        .map(|_| ())
}

pub(crate) fn last_seen(conn: &Connection, users: &[String]) -> Result<Vec<(String, Option<i64>)>> {
    let mut stmt = conn.prepare_cached("SELECT last_seen FROM users WHERE user_id = ?1").db()?;
    let mut out = Vec::with_capacity(users.len());
    for user in users {
        let seen: Option<Option<i64>> = stmt.query_row([user], |r| r.get(0)).optional().db()?;
        if let Some(seen) = seen {
            out.push((user.clone(), seen));
        }
    }
    Ok(out)
}

pub(crate) fn contacts_of(conn: &Connection, user: &str, limit: u32) -> Result<Vec<String>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT DISTINCT other.user_id FROM members mine
             JOIN members other ON other.conversation_id = mine.conversation_id
             WHERE mine.user_id = ?1 AND other.user_id != ?1 LIMIT ?2",
        )
        .db()?;
    let rows = stmt.query_map(params![user, limit], |r| r.get(0)).db()?;
    rows.collect::<rusqlite::Result<Vec<String>>>().db()
}

// ---- settings ----

pub(crate) fn setting_or_init(conn: &Connection, key: &str, candidate: &str) -> Result<String> {
    conn.prepare_cached("INSERT INTO settings (key, value) VALUES (?1, ?2) ON CONFLICT DO NOTHING")
        .and_then(|mut s| s.execute([key, candidate]))
        .db()?;
    conn.prepare_cached("SELECT value FROM settings WHERE key = ?1")
        .and_then(|mut s| s.query_row([key], |r| r.get(0)))
        .db()
}
