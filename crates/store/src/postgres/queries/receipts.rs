//! Receipts of one message: who received and who read it, and when each first did, read from the
//! recorded marker advances.

use confab_core::rows::{FirstMark, MarkerKind};
use confab_core::rules::receipts;
use confab_core::store::Receipts;
use confab_core::{Error, Result};
use deadpool_postgres::GenericClient;

use super::{conversations, i, messages};
use crate::postgres::error::PgResult;

pub(crate) async fn receipts<C: GenericClient>(
    c: &C,
    id: &str,
    message_id: &str,
    viewer: &str,
) -> Result<Receipts> {
    let (conversation, member, message) = tokio::try_join!(
        conversations::conversation(c, id),
        conversations::member(c, id, viewer),
        messages::with_id_in(c, id, message_id, viewer)
    )?;
    let message = receipts::target(conversation, member, message_id, message)?;
    // Each member's earliest advance of each marker at or beyond the message.
    let rows = c
        .query(
            "SELECT user_id, kind, MIN(at) FROM receipt_marks
             WHERE conversation_id = $1 AND kind IN ('delivered', 'read') AND up_to_sequence >= $2
             GROUP BY user_id, kind",
            &[&id, &i(message.sequence_number)],
        )
        .await
        .db()?;
    let marks = rows
        .iter()
        .map(|r| {
            let kind: &str = r.get(1);
            let kind = MarkerKind::parse(kind)
                .ok_or_else(|| Error::Internal(format!("unknown receipt kind `{kind}`")))?;
            Ok(FirstMark { user_id: r.get(0), kind, at: r.get(2) })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(receipts::collect(&message, marks))
}
