//! SQL of the PostgreSQL store, grouped by entity. Functions take any client or transaction and
//! return domain values. Sequence numbers are BIGINT in the database and `u64` on the wire.

use confab_core::store::{
    own_message_status, Appended, HistoryCursor, HistoryPage, MarkerMove, MessageRef, NewGroup, NewMessage,
    NewUser, ReadMove, Receipts, UserCredentials, MAX_LISTED_PARTICIPANTS,
};
use confab_core::{Error, Result};
use confab_proto::{
    Content, Conversation, ConversationType, GroupSettings, Message, Participant, Role, SyncConversation,
    SyncCursor, SyncResponse, User,
};
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use super::error::PgResult;

fn u(v: i64) -> u64 {
    v.max(0) as u64
}

fn i(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

pub(crate) fn role(s: &str) -> Role {
    if s == "admin" {
        Role::Admin
    } else {
        Role::Member
    }
}

// ---- users ----

fn user_row(r: &Row) -> User {
    User { user_id: r.get(0), username: r.get(1), display_name: r.get(2) }
}

pub(crate) async fn create_user<C: GenericClient>(c: &C, user: &NewUser) -> Result<User> {
    let inserted = c
        .execute(
            "INSERT INTO users (user_id, username, display_name, password_hash, created_at)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
            &[&user.user_id, &user.username, &user.display_name, &user.password_hash, &user.created_at],
        )
        .await
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

pub(crate) async fn credentials<C: GenericClient>(c: &C, username: &str) -> Result<Option<UserCredentials>> {
    let row = c
        .query_opt(
            "SELECT user_id, username, display_name, password_hash FROM users WHERE username = $1",
            &[&username],
        )
        .await
        .db()?;
    Ok(row.map(|r| UserCredentials { user: user_row(&r), password_hash: r.get(3) }))
}

pub(crate) async fn user<C: GenericClient>(c: &C, user_id: &str) -> Result<Option<User>> {
    let row = c
        .query_opt("SELECT user_id, username, display_name FROM users WHERE user_id = $1", &[&user_id])
        .await
        .db()?;
    Ok(row.map(|r| user_row(&r)))
}

async fn require_user<C: GenericClient>(c: &C, user_id: &str) -> Result<()> {
    let row = c.query_opt("SELECT 1 FROM users WHERE user_id = $1", &[&user_id]).await.db()?;
    row.map(|_| ()).ok_or_else(|| Error::UserNotFound(user_id.to_string()))
}

pub(crate) async fn search_users<C: GenericClient>(c: &C, prefix: &str, limit: u32) -> Result<Vec<User>> {
    let prefix = prefix.trim().to_ascii_lowercase();
    let rows = c
        .query(
            "SELECT user_id, username, display_name FROM users
             WHERE left(username, char_length($1)) = $1 ORDER BY username COLLATE \"C\" LIMIT $2",
            &[&prefix, &(limit as i64)],
        )
        .await
        .db()?;
    Ok(rows.iter().map(user_row).collect())
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

async fn conversation_row<C: GenericClient>(c: &C, id: &str) -> Result<Option<ConversationRow>> {
    let row = c
        .query_opt(
            "SELECT kind, name, only_admins_can_post, allow_member_invites, created_at, last_sequence, member_count
             FROM conversations WHERE conversation_id = $1",
            &[&id],
        )
        .await
        .db()?;
    Ok(row.map(|r| {
        let kind: String = r.get(0);
        ConversationRow {
            kind: if kind == "direct" { ConversationType::Direct } else { ConversationType::Group },
            name: r.get(1),
            settings: GroupSettings { only_admins_can_post: r.get(2), allow_member_invites: r.get(3) },
            created_at: r.get(4),
            last_sequence: u(r.get(5)),
            member_count: r.get::<_, i32>(6).max(0) as u32,
        }
    }))
}

async fn role_of<C: GenericClient>(c: &C, conversation_id: &str, user_id: &str) -> Result<Option<Role>> {
    let row = c
        .query_opt(
            "SELECT role FROM members WHERE conversation_id = $1 AND user_id = $2",
            &[&conversation_id, &user_id],
        )
        .await
        .db()?;
    Ok(row.map(|r| role(r.get::<_, &str>(0))))
}

async fn membership<C: GenericClient>(
    c: &C,
    conversation_id: &str,
    user_id: &str,
) -> Result<(ConversationRow, Role)> {
    let conv = conversation_row(c, conversation_id).await?.ok_or(Error::ConversationNotFound)?;
    let role = role_of(c, conversation_id, user_id).await?.ok_or_else(Error::not_member)?;
    Ok((conv, role))
}

pub(crate) async fn require_member<C: GenericClient>(
    c: &C,
    conversation_id: &str,
    user_id: &str,
) -> Result<()> {
    membership(c, conversation_id, user_id).await.map(|_| ())
}

/// Adds a member whose markers start at `markers` (see the embedded store for why).
async fn insert_member<C: GenericClient>(
    c: &C,
    conversation_id: &str,
    user_id: &str,
    role: Role,
    now: i64,
    markers: u64,
) -> Result<()> {
    c.execute(
        "INSERT INTO members (conversation_id, user_id, role, joined_at, last_read_sequence, last_delivered_sequence)
         VALUES ($1, $2, $3, $4, $5, $5)",
        &[&conversation_id, &user_id, &role.as_str(), &now, &i(markers)],
    )
    .await
    .db()
    .map(|_| ())
}

pub(crate) async fn open_direct<C: GenericClient>(
    c: &C,
    a: &str,
    b: &str,
    new_id: &str,
    now: i64,
) -> Result<(String, bool)> {
    let key = confab_core::ids::direct_key(a, b);
    require_user(c, a).await?;
    require_user(c, b).await?;
    // Two nodes may race to create the same pair: the unique key lets exactly one insert win.
    let inserted = c
        .execute(
            "INSERT INTO conversations (conversation_id, kind, direct_key, created_at, last_activity_at, member_count)
             VALUES ($1, 'direct', $2, $3, $3, 2) ON CONFLICT (direct_key) DO NOTHING",
            &[&new_id, &key, &now],
        )
        .await
        .db()?;
    if inserted == 0 {
        let row = c
            .query_one("SELECT conversation_id FROM conversations WHERE direct_key = $1", &[&key])
            .await
            .db()?;
        return Ok((row.get(0), false));
    }
    insert_member(c, new_id, a, Role::Member, now, 0).await?;
    insert_member(c, new_id, b, Role::Member, now, 0).await?;
    Ok((new_id.to_string(), true))
}

pub(crate) async fn create_group<C: GenericClient>(c: &C, group: &NewGroup) -> Result<()> {
    let mut others: Vec<&str> =
        group.member_ids.iter().map(String::as_str).filter(|id| *id != group.creator_id).collect();
    others.sort_unstable();
    others.dedup();
    let size = others.len() + 1;
    if size > group.max_group_size as usize {
        return Err(Error::InvalidRequest(format!("a group has at most {} members", group.max_group_size)));
    }
    require_user(c, &group.creator_id).await?;
    for id in &others {
        require_user(c, id).await?;
    }
    c.execute(
        "INSERT INTO conversations (conversation_id, kind, name, only_admins_can_post, allow_member_invites,
                                    created_at, last_activity_at, member_count)
         VALUES ($1, 'group', $2, $3, $4, $5, $5, $6)",
        &[
            &group.conversation_id,
            &group.name,
            &group.settings.only_admins_can_post,
            &group.settings.allow_member_invites,
            &group.created_at,
            &(size as i32),
        ],
    )
    .await
    .db()?;
    insert_member(c, &group.conversation_id, &group.creator_id, Role::Admin, group.created_at, 0).await?;
    for id in others {
        insert_member(c, &group.conversation_id, id, Role::Member, group.created_at, 0).await?;
    }
    Ok(())
}

pub(crate) async fn conversation_view<C: GenericClient>(
    c: &C,
    conversation_id: &str,
    viewer: &str,
) -> Result<Conversation> {
    let conv = conversation_row(c, conversation_id).await?.ok_or(Error::ConversationNotFound)?;
    let last_read: u64 = c
        .query_opt(
            "SELECT last_read_sequence FROM members WHERE conversation_id = $1 AND user_id = $2",
            &[&conversation_id, &viewer],
        )
        .await
        .db()?
        .map(|r| u(r.get(0)))
        .ok_or_else(Error::not_member)?;
    let rows = c
        .query(
            "SELECT user_id, role FROM members WHERE conversation_id = $1
             ORDER BY role = 'admin' DESC, joined_at, user_id LIMIT $2",
            &[&conversation_id, &(MAX_LISTED_PARTICIPANTS as i64)],
        )
        .await
        .db()?;
    let participants =
        rows.iter().map(|r| Participant { user_id: r.get(0), role: role(r.get::<_, &str>(1)) }).collect();
    let last_message = if conv.last_sequence > 0 {
        messages_in_range(c, conversation_id, conv.last_sequence - 1, conv.last_sequence).await?.pop()
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

pub(crate) async fn conversation_ids_of<C: GenericClient>(c: &C, user: &str) -> Result<Vec<String>> {
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
    conversation_id: &str,
    actor: &str,
    user_ids: &[String],
    now: i64,
    max_group_size: u32,
) -> Result<Vec<String>> {
    // Lock the conversation row so concurrent additions on several nodes respect the size limit.
    c.execute("SELECT 1 FROM conversations WHERE conversation_id = $1 FOR UPDATE", &[&conversation_id])
        .await
        .db()?;
    let (conv, role) = membership(c, conversation_id, actor).await?;
    if conv.kind == ConversationType::Direct {
        return Err(Error::Forbidden("members cannot be added to a direct conversation".into()));
    }
    if role != Role::Admin && !conv.settings.allow_member_invites {
        return Err(Error::Forbidden("only admins can add members to this group".into()));
    }
    let mut added: Vec<String> = Vec::new();
    for id in user_ids {
        if added.contains(id) || role_of(c, conversation_id, id).await?.is_some() {
            continue;
        }
        require_user(c, id).await?;
        added.push(id.clone());
    }
    if conv.member_count as usize + added.len() > max_group_size as usize {
        return Err(Error::InvalidRequest(format!("a group has at most {max_group_size} members")));
    }
    for id in &added {
        insert_member(c, conversation_id, id, Role::Member, now, conv.last_sequence).await?;
    }
    c.execute(
        "UPDATE conversations SET member_count = member_count + $1 WHERE conversation_id = $2",
        &[&(added.len() as i32), &conversation_id],
    )
    .await
    .db()?;
    Ok(added)
}

pub(crate) async fn remove_member<C: GenericClient>(
    c: &C,
    conversation_id: &str,
    actor: &str,
    user: &str,
) -> Result<()> {
    c.execute("SELECT 1 FROM conversations WHERE conversation_id = $1 FOR UPDATE", &[&conversation_id])
        .await
        .db()?;
    let (conv, actor_role) = membership(c, conversation_id, actor).await?;
    if conv.kind == ConversationType::Direct {
        return Err(Error::Forbidden("members cannot leave or be removed from a direct conversation".into()));
    }
    if actor != user && actor_role != Role::Admin {
        return Err(Error::Forbidden("only admins can remove other members".into()));
    }
    let removed = c
        .execute(
            "DELETE FROM members WHERE conversation_id = $1 AND user_id = $2",
            &[&conversation_id, &user],
        )
        .await
        .db()?;
    if removed == 0 {
        return Err(Error::NotFound("that user is not a member of this conversation".into()));
    }
    c.execute(
        "UPDATE conversations SET member_count = member_count - 1 WHERE conversation_id = $1",
        &[&conversation_id],
    )
    .await
    .db()?;
    c.execute(
        "UPDATE members SET role = 'admin'
         WHERE conversation_id = $1
           AND NOT EXISTS (SELECT 1 FROM members WHERE conversation_id = $1 AND role = 'admin')
           AND user_id = (SELECT user_id FROM members WHERE conversation_id = $1 ORDER BY joined_at, user_id LIMIT 1)",
        &[&conversation_id],
    )
    .await
    .db()?;
    Ok(())
}

pub(crate) async fn member_ids<C: GenericClient>(c: &C, conversation_id: &str) -> Result<Vec<String>> {
    let rows =
        c.query("SELECT user_id FROM members WHERE conversation_id = $1", &[&conversation_id]).await.db()?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

pub(crate) async fn read_markers<C: GenericClient>(
    c: &C,
    conversation_id: &str,
) -> Result<Vec<(String, u64)>> {
    let rows = c
        .query(
            "SELECT user_id, last_read_sequence FROM members WHERE conversation_id = $1",
            &[&conversation_id],
        )
        .await
        .db()?;
    Ok(rows.iter().map(|r| (r.get(0), u(r.get(1)))).collect())
}

// ---- messages ----

const MESSAGE_COLUMNS: &str = "conversation_id, sequence_number, message_id, content, sender_id, created_at";

fn message_row(r: &Row) -> Result<Message> {
    let content: &str = r.get(3);
    let message_id: String = r.get(2);
    let content: Content = serde_json::from_str(content)
        .map_err(|e| Error::Internal(format!("stored content of {message_id} is unreadable: {e}")))?;
    Ok(Message {
        conversation_id: r.get(0),
        sequence_number: u(r.get(1)),
        message_id,
        content,
        sender_id: r.get(4),
        timestamp: r.get(5),
        status: None,
    })
}

async fn messages_in_range<C: GenericClient>(
    c: &C,
    conversation_id: &str,
    after: u64,
    up_to: u64,
) -> Result<Vec<Message>> {
    let sql = format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages
         WHERE conversation_id = $1 AND sequence_number > $2 AND sequence_number <= $3 ORDER BY sequence_number"
    );
    let rows = c.query(sql.as_str(), &[&conversation_id, &i(after), &i(up_to)]).await.db()?;
    rows.iter().map(message_row).collect()
}

/// What an append must know before writing, read in one round trip: an earlier message with the
/// same id, whether the conversation exists, and the sender's role in it.
pub(crate) struct AppendCheck {
    existing: Option<Message>,
    conversation_exists: bool,
    only_admins_can_post: bool,
    role: Option<Role>,
}

pub(crate) async fn check_append<C: GenericClient>(c: &C, msg: &NewMessage) -> Result<AppendCheck> {
    let sql = format!(
        "SELECT c.only_admins_can_post, m.role, e.* FROM (SELECT 1) one
         LEFT JOIN conversations c ON c.conversation_id = $2
         LEFT JOIN members m ON m.conversation_id = $2 AND m.user_id = $3
         LEFT JOIN (SELECT {MESSAGE_COLUMNS} FROM messages WHERE message_id = $1) e ON TRUE"
    );
    let row =
        c.query_one(sql.as_str(), &[&msg.message_id, &msg.conversation_id, &msg.sender_id]).await.db()?;
    let only_admins: Option<bool> = row.get(0);
    let role: Option<String> = row.get(1);
    let existing_id: Option<String> = row.get(4);
    let existing = match existing_id {
        None => None,
        Some(message_id) => {
            let content: &str = row.get(5);
            let content: Content = serde_json::from_str(content)
                .map_err(|e| Error::Internal(format!("stored content of {message_id} is unreadable: {e}")))?;
            Some(Message {
                conversation_id: row.get(2),
                sequence_number: u(row.get(3)),
                message_id,
                content,
                sender_id: row.get(6),
                timestamp: row.get(7),
                status: None,
            })
        }
    };
    Ok(AppendCheck {
        existing,
        conversation_exists: only_admins.is_some(),
        only_admins_can_post: only_admins.unwrap_or(false),
        role: role.as_deref().map(self::role),
    })
}

/// The domain outcome of a checked append: the original message for an identical retry, an error,
/// or `None` when it is to be written.
pub(crate) fn decide_append(msg: &NewMessage, check: AppendCheck) -> Option<Result<Appended>> {
    if let Some(original) = check.existing {
        return Some(msg.resend_of(original));
    }
    if !check.conversation_exists {
        return Some(Err(Error::ConversationNotFound));
    }
    match check.role {
        None => Some(Err(Error::not_member())),
        Some(role) if check.only_admins_can_post && role != Role::Admin => {
            Some(Err(Error::Forbidden("only admins can post in this group".into())))
        }
        Some(_) => None,
    }
}

/// Writes a checked append in one statement: the next sequence number (under the conversation
/// row's lock), the message, and the sender's own markers.
pub(crate) async fn write_append<C: GenericClient>(c: &C, msg: &NewMessage, now: i64) -> Result<Appended> {
    let content_json =
        serde_json::to_string(&msg.content).map_err(|e| Error::Internal(format!("content encoding: {e}")))?;
    let row = c
        .query_one(
            "WITH seq AS (
                 UPDATE conversations SET last_sequence = last_sequence + 1, last_activity_at = $1
                 WHERE conversation_id = $2 RETURNING last_sequence
             ), stored AS (
                 INSERT INTO messages (conversation_id, sequence_number, message_id, sender_id, content, created_at)
                 SELECT $2, last_sequence, $3, $4, $5, $1 FROM seq RETURNING sequence_number
             ), marked AS (
                 UPDATE members SET last_read_sequence = GREATEST(last_read_sequence, (SELECT sequence_number FROM stored)),
                                    last_delivered_sequence = GREATEST(last_delivered_sequence, (SELECT sequence_number FROM stored))
                 WHERE conversation_id = $2 AND user_id = $4
             )
             SELECT sequence_number FROM stored",
            &[&now, &msg.conversation_id, &msg.message_id, &msg.sender_id, &content_json],
        )
        .await
        .db()?;
    Ok(Appended {
        message: Message {
            message_id: msg.message_id.clone(),
            conversation_id: msg.conversation_id.clone(),
            sender_id: msg.sender_id.clone(),
            content: msg.content.clone(),
            sequence_number: u(row.get(0)),
            timestamp: now,
            status: None,
        },
        created: true,
    })
}

pub(crate) async fn history<C: GenericClient>(
    c: &C,
    conversation_id: &str,
    viewer: &str,
    cursor: HistoryCursor,
    limit: u32,
) -> Result<HistoryPage> {
    require_member(c, conversation_id, viewer).await?;
    let fetch = limit as i64 + 1;
    let (sql, bound, ascending) = match cursor {
        HistoryCursor::Latest => (
            format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = $1 AND sequence_number < $2 ORDER BY sequence_number DESC LIMIT $3"),
            i64::MAX,
            false,
        ),
        HistoryCursor::Before(seq) => (
            format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = $1 AND sequence_number < $2 ORDER BY sequence_number DESC LIMIT $3"),
            i(seq),
            false,
        ),
        HistoryCursor::After(seq) => (
            format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = $1 AND sequence_number > $2 ORDER BY sequence_number ASC LIMIT $3"),
            i(seq),
            true,
        ),
    };
    let rows = c.query(sql.as_str(), &[&conversation_id, &bound, &fetch]).await.db()?;
    let mut messages = rows.iter().map(message_row).collect::<Result<Vec<_>>>()?;
    let has_more = messages.len() > limit as usize;
    messages.truncate(limit as usize);
    if !ascending {
        messages.reverse();
    }
    set_statuses(c, conversation_id, viewer, &mut messages).await?;
    Ok(HistoryPage { messages, has_more })
}

pub(crate) async fn locate_message<C: GenericClient>(
    c: &C,
    message_id: &str,
    viewer: &str,
) -> Result<(String, u64)> {
    let row = c
        .query_opt(
            "SELECT m.conversation_id, m.sequence_number FROM messages m
             JOIN members mb ON mb.conversation_id = m.conversation_id AND mb.user_id = $2
             WHERE m.message_id = $1",
            &[&message_id, &viewer],
        )
        .await
        .db()?;
    row.map(|r| (r.get(0), u(r.get(1)))).ok_or(Error::MessageNotFound)
}

pub(crate) async fn sync<C: GenericClient>(
    c: &C,
    user: &str,
    cursors: &[SyncCursor],
    limit: u32,
    now: i64,
) -> Result<SyncResponse> {
    let mine = conversation_ids_of(c, user).await?;
    let mut conversations = Vec::new();
    for cursor in cursors {
        if !mine.contains(&cursor.conversation_id) {
            continue;
        }
        let page =
            history(c, &cursor.conversation_id, user, HistoryCursor::After(cursor.last_sequence), limit)
                .await?;
        let conv = conversation_row(c, &cursor.conversation_id).await?.ok_or(Error::ConversationNotFound)?;
        let last_read: u64 = c
            .query_one(
                "SELECT last_read_sequence FROM members WHERE conversation_id = $1 AND user_id = $2",
                &[&cursor.conversation_id, &user],
            )
            .await
            .db()
            .map(|r| u(r.get(0)))?;
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
            new_conversations.push(conversation_view(c, id, user).await?);
        }
    }
    Ok(SyncResponse { conversations, new_conversations, server_time: now })
}

// ---- receipts ----

async fn set_statuses<C: GenericClient>(
    c: &C,
    conversation_id: &str,
    viewer: &str,
    messages: &mut [Message],
) -> Result<()> {
    if !messages.iter().any(|m| m.sender_id == viewer) {
        return Ok(());
    }
    let row = c
        .query_one(
            "SELECT MIN(last_delivered_sequence), MIN(last_read_sequence) FROM members
             WHERE conversation_id = $1 AND user_id != $2",
            &[&conversation_id, &viewer],
        )
        .await
        .db()?;
    let delivered: Option<i64> = row.get(0);
    let read: Option<i64> = row.get(1);
    for m in messages.iter_mut().filter(|m| m.sender_id == viewer) {
        m.status = Some(own_message_status(m.sequence_number, delivered.map(u), read.map(u)));
    }
    Ok(())
}

#[derive(Clone, Copy)]
pub(crate) enum Marker {
    Delivered,
    Read,
}

pub(crate) async fn move_marker<C: GenericClient>(
    c: &C,
    conversation_id: &str,
    user: &str,
    marker: Marker,
    up_to: u64,
    at: i64,
) -> Result<MarkerMove> {
    let (conv, _) = membership(c, conversation_id, user).await?;
    let (select, update, kind) = match marker {
        Marker::Delivered => (
            "SELECT last_delivered_sequence FROM members WHERE conversation_id = $1 AND user_id = $2 FOR UPDATE",
            "UPDATE members SET last_delivered_sequence = $1 WHERE conversation_id = $2 AND user_id = $3",
            "delivered",
        ),
        Marker::Read => (
            "SELECT last_read_sequence FROM members WHERE conversation_id = $1 AND user_id = $2 FOR UPDATE",
            "UPDATE members SET last_read_sequence = $1 WHERE conversation_id = $2 AND user_id = $3",
            "read",
        ),
    };
    let previous = u(c.query_one(select, &[&conversation_id, &user]).await.db()?.get(0));
    let target = up_to.min(conv.last_sequence);
    if target <= previous {
        return Ok(MarkerMove { previous, current: previous });
    }
    c.execute(update, &[&i(target), &conversation_id, &user]).await.db()?;
    c.execute(
        "INSERT INTO receipt_marks (conversation_id, user_id, kind, up_to_sequence, at) VALUES ($1, $2, $3, $4, $5)",
        &[&conversation_id, &user, &kind, &i(target), &at],
    )
    .await
    .db()?;
    Ok(MarkerMove { previous, current: target })
}

pub(crate) async fn mark_read<C: GenericClient>(
    c: &C,
    conversation_id: &str,
    user: &str,
    up_to: u64,
    at: i64,
) -> Result<ReadMove> {
    let read = move_marker(c, conversation_id, user, Marker::Read, up_to, at).await?;
    let delivered = move_marker(c, conversation_id, user, Marker::Delivered, read.current, at).await?;
    Ok(ReadMove { read, delivered })
}

pub(crate) async fn messages_between<C: GenericClient>(
    c: &C,
    conversation_id: &str,
    after: u64,
    up_to: u64,
) -> Result<Vec<MessageRef>> {
    let rows = c
        .query(
            "SELECT message_id, sender_id, sequence_number FROM messages
             WHERE conversation_id = $1 AND sequence_number > $2 AND sequence_number <= $3 ORDER BY sequence_number",
            &[&conversation_id, &i(after), &i(up_to)],
        )
        .await
        .db()?;
    Ok(rows
        .iter()
        .map(|r| MessageRef { message_id: r.get(0), sender_id: r.get(1), sequence_number: u(r.get(2)) })
        .collect())
}

pub(crate) async fn receipts<C: GenericClient>(
    c: &C,
    conversation_id: &str,
    message_id: &str,
    viewer: &str,
) -> Result<Receipts> {
    require_member(c, conversation_id, viewer).await?;
    let row = c
        .query_opt(
            "SELECT sequence_number, sender_id FROM messages WHERE message_id = $1 AND conversation_id = $2",
            &[&message_id, &conversation_id],
        )
        .await
        .db()?
        .ok_or(Error::MessageNotFound)?;
    let (seq, sender): (i64, String) = (row.get(0), row.get(1));
    let mut out = Receipts::default();
    for (kind, list) in [("delivered", &mut out.delivered_to), ("read", &mut out.read_by)] {
        let rows = c
            .query(
                "SELECT user_id, MIN(at) FROM receipt_marks
                 WHERE conversation_id = $1 AND kind = $2 AND up_to_sequence >= $3 AND user_id != $4
                 GROUP BY user_id ORDER BY MIN(at), user_id",
                &[&conversation_id, &kind, &seq, &sender],
            )
            .await
            .db()?;
        *list = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    }
    Ok(out)
}

// ---- presence ----

pub(crate) async fn touch_last_seen<C: GenericClient>(c: &C, user: &str, at: i64) -> Result<()> {
    c.execute(
        "UPDATE users SET last_seen = GREATEST(COALESCE(last_seen, 0), $1) WHERE user_id = $2",
        &[&at, &user],
    )
    .await
    .db()
    .map(|_| ())
}

pub(crate) async fn last_seen<C: GenericClient>(
    c: &C,
    users: &[String],
) -> Result<Vec<(String, Option<i64>)>> {
    let rows =
        c.query("SELECT user_id, last_seen FROM users WHERE user_id = ANY($1)", &[&users]).await.db()?;
    let mut found: Vec<(String, Option<i64>)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    // Keep the caller's order.
    found.sort_by_key(|(id, _)| users.iter().position(|u| u == id));
    Ok(found)
}

pub(crate) async fn contacts_of<C: GenericClient>(c: &C, user: &str, limit: u32) -> Result<Vec<String>> {
    let rows = c
        .query(
            "SELECT DISTINCT other.user_id FROM members mine
             JOIN members other ON other.conversation_id = mine.conversation_id
             WHERE mine.user_id = $1 AND other.user_id != $1 LIMIT $2",
            &[&user, &(limit as i64)],
        )
        .await
        .db()?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

// ---- settings ----

pub(crate) async fn setting_or_init<C: GenericClient>(c: &C, key: &str, candidate: &str) -> Result<String> {
    c.execute(
        "INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        &[&key, &candidate],
    )
    .await
    .db()?;
    Ok(c.query_one("SELECT value FROM settings WHERE key = $1", &[&key]).await.db()?.get(0))
}
