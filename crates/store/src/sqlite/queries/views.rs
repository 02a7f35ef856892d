//! Reads that span entities and run inside one snapshot: a conversation as one member sees it
//! (row, listed members, last message) and offline sync (which conversations, and a page of each).

use confab_core::ids::now_millis;
use confab_core::rules::history;
use confab_core::rules::views;
use confab_core::store::HistoryCursor;
use confab_core::Result;
use confab_proto::{Conversation, SyncCursor, SyncResponse};
use rusqlite::Connection;

use super::{conversations, messages, updates};

/// A conversation as `viewer` sees it.
pub(crate) fn view(conn: &Connection, id: &str, viewer: &str) -> Result<Conversation> {
    let m = conversations::membership(conn, id, viewer)?;
    let last_message = messages::last(conn, id)?;
    let last_update = updates::last_update_sequence(conn, id)?;
    Ok(views::conversation(
        m,
        conversations::listed_members(conn, id)?,
        last_message,
        last_update,
        now_millis(),
    ))
}

pub(crate) fn sync(
    conn: &Connection,
    user: &str,
    cursors: &[SyncCursor],
    limit: u32,
    now: i64,
) -> Result<SyncResponse> {
    let mine = conversations::ids_of(conn, user)?;
    let plan = views::sync_plan(&mine, cursors);
    let mut conversations = Vec::with_capacity(plan.catch_up.len());
    for cursor in plan.catch_up {
        let id = &cursor.conversation_id;
        let m = conversations::membership(conn, id, user)?;
        let page = messages::page(
            conn,
            id,
            user,
            history::window(HistoryCursor::After(cursor.last_sequence), limit),
        )?;
        let changes = match views::update_window(cursor, limit) {
            Some(window) => Some(updates::changed_since(conn, id, &window)?),
            None => None,
        };
        let last_update = updates::last_update_sequence(conn, id)?;
        conversations.push(views::caught_up(&m, page, last_update, changes));
    }
    let new_conversations = plan.new.into_iter().map(|id| view(conn, id, user)).collect::<Result<_>>()?;
    Ok(SyncResponse { conversations, new_conversations, server_time: now })
}
