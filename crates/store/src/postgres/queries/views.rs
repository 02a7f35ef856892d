//! Reads that span entities and run inside one snapshot: a conversation as one member sees it
//! (row, listed members, last message) and offline sync (which conversations, and a page of each).

use confab_core::ids::now_millis;
use confab_core::rules::{access, history, views};
use confab_core::store::HistoryCursor;
use confab_core::{Error, Result};
use confab_proto::{Conversation, SyncCursor, SyncResponse};
use deadpool_postgres::GenericClient;

use super::{conversations, messages, updates};

/// A conversation as `viewer` sees it (one round trip: the reads are pipelined).
pub(crate) async fn view<C: GenericClient>(c: &C, id: &str, viewer: &str) -> Result<Conversation> {
    let (conversation, member, listed, last, last_update) = tokio::try_join!(
        conversations::conversation(c, id),
        conversations::member(c, id, viewer),
        conversations::listed_members(c, id),
        messages::last(c, id),
        updates::last_update_sequence(c, id)
    )?;
    Ok(views::conversation(
        access::membership(conversation, member)?,
        listed,
        last,
        last_update,
        now_millis(),
    ))
}

pub(crate) async fn sync<C: GenericClient>(
    c: &C,
    user: &str,
    cursors: &[SyncCursor],
    limit: u32,
    now: i64,
) -> Result<SyncResponse> {
    let mine = conversations::ids_of(c, user).await?;
    let plan = views::sync_plan(&mine, cursors);
    // Every conversation's reads are pipelined on the one snapshot.
    let catch_up = plan.catch_up.into_iter().map(|cursor| async move {
        let id = &cursor.conversation_id;
        let window = history::window(HistoryCursor::After(cursor.last_sequence), limit);
        let changes = async {
            match views::update_window(cursor, limit) {
                Some(window) => updates::changed_since(c, id, &window).await.map(Some),
                None => Ok(None),
            }
        };
        let (m, page, changes, last_update) = tokio::try_join!(
            conversations::membership(c, id, user),
            messages::page(c, id, user, window),
            changes,
            updates::last_update_sequence(c, id)
        )?;
        Ok::<_, Error>(views::caught_up(&m, page, last_update, changes))
    });
    let new = plan.new.into_iter().map(|id| view(c, id, user));
    let (conversations, new_conversations) = tokio::try_join!(
        futures_util::future::try_join_all(catch_up),
        futures_util::future::try_join_all(new)
    )?;
    Ok(SyncResponse { conversations, new_conversations, server_time: now })
}
