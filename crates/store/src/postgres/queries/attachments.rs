//! Attachments: recorded after their bytes are stored, read by whoever may, collected when no
//! message links them. Links to messages are kept by the triggers of migration 0012.

use confab_core::attachments::{StoredAttachment, UnlinkedAttachment};
use confab_core::rules::attachments as rules;
use confab_core::{Error, Result};
use confab_proto::Attachment;
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use crate::postgres::error::PgResult;

const COLUMNS: &str =
    "a.attachment_id, a.content_type, a.size, a.filename, a.sha256, a.created_at, a.width, a.height, a.has_thumbnail, a.uploader_id";

fn stored_from(r: &Row) -> StoredAttachment {
    let size: i64 = r.get(2);
    let dimension = |i: usize| r.get::<_, Option<i32>>(i).and_then(|v| u32::try_from(v).ok());
    StoredAttachment {
        attachment: Attachment {
            attachment_id: r.get(0),
            content_type: r.get(1),
            size: u64::try_from(size).unwrap_or(0),
            filename: r.get(3),
            sha256: r.get(4),
            created_at: r.get(5),
            width: dimension(6),
            height: dimension(7),
            has_thumbnail: r.get(8),
        },
        uploader_id: r.get(9),
    }
}

pub(crate) async fn create<C: GenericClient>(c: &C, stored: &StoredAttachment) -> Result<Attachment> {
    let a = &stored.attachment;
    let size = i64::try_from(a.size).map_err(|_| Error::InvalidRequest("attachment too large".into()))?;
    let dimension = |v: Option<u32>| v.and_then(|v| i32::try_from(v).ok());
    c.execute(
        "INSERT INTO attachments (attachment_id, uploader_id, content_type, size, filename, sha256,
                                  created_at, width, height, has_thumbnail)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        &[
            &a.attachment_id,
            &stored.uploader_id,
            &a.content_type,
            &size,
            &a.filename,
            &a.sha256,
            &a.created_at,
            &dimension(a.width),
            &dimension(a.height),
            &a.has_thumbnail,
        ],
    )
    .await
    .db()?;
    Ok(a.clone())
}

/// The uploader of `attachment_id`, for an append's check, locked until the append commits so
/// collection cannot remove the attachment under it.
pub(crate) async fn uploader<C: GenericClient>(c: &C, attachment_id: &str) -> Result<Option<String>> {
    let statement = c
        .prepare_cached("SELECT uploader_id FROM attachments WHERE attachment_id = $1 FOR SHARE")
        .await
        .db()?;
    let row = c.query_opt(&statement, &[&attachment_id]).await.db()?;
    Ok(row.map(|r| r.get(0)))
}

pub(crate) async fn for_viewer<C: GenericClient>(
    c: &C,
    attachment_id: &str,
    viewer: &str,
) -> Result<Attachment> {
    let sql = format!(
        "SELECT {COLUMNS}, EXISTS (
             SELECT 1 FROM attachment_links l
             JOIN members m ON m.conversation_id = l.conversation_id AND m.user_id = $2
             WHERE l.attachment_id = a.attachment_id)
         FROM attachments a WHERE a.attachment_id = $1"
    );
    let row = c.query_opt(&sql, &[&attachment_id, &viewer]).await.db()?;
    match row.map(|r| (stored_from(&r), r.get::<_, bool>(10))) {
        Some((stored, linked)) if rules::may_read(&stored.uploader_id, viewer, linked) => {
            Ok(stored.attachment)
        }
        _ => Err(Error::NotFound("no such attachment".into())),
    }
}

/// Runs inside a transaction. Candidates are attachments a link left (`maybe_unlinked`) and
/// never-linked uploads past their grace, locked `FOR UPDATE SKIP LOCKED` so nodes collecting at
/// once share the work; one still linked is cleared of the flag, so no pass looks at it again.
/// An append linking a candidate meanwhile holds it `FOR SHARE`, and the delete checks for links
/// again.
pub(crate) async fn collect<C: GenericClient>(c: &C, now: i64, limit: u32) -> Result<Vec<String>> {
    let rows = c
        .query(
            "SELECT attachment_id, created_at, first_linked_at,
                    EXISTS (SELECT 1 FROM attachment_links l WHERE l.attachment_id = a.attachment_id)
             FROM attachments a
             WHERE a.maybe_unlinked OR (a.first_linked_at IS NULL AND a.created_at <= $1)
             LIMIT $2 FOR UPDATE SKIP LOCKED",
            &[&rules::grace_cutoff(now), &i64::from(limit)],
        )
        .await
        .db()?;
    let mut linked = Vec::new();
    let mut garbage = Vec::new();
    for r in &rows {
        let unlinked =
            UnlinkedAttachment { attachment_id: r.get(0), created_at: r.get(1), first_linked_at: r.get(2) };
        if r.get::<_, bool>(3) {
            linked.push(unlinked.attachment_id);
        } else if rules::is_garbage(&unlinked, now) {
            garbage.push(unlinked.attachment_id);
        }
    }
    if !linked.is_empty() {
        c.execute("UPDATE attachments SET maybe_unlinked = FALSE WHERE attachment_id = ANY($1)", &[&linked])
            .await
            .db()?;
    }
    if garbage.is_empty() {
        return Ok(garbage);
    }
    let deleted = c
        .query(
            "DELETE FROM attachments a WHERE a.attachment_id = ANY($1)
               AND NOT EXISTS (SELECT 1 FROM attachment_links l WHERE l.attachment_id = a.attachment_id)
             RETURNING attachment_id",
            &[&garbage],
        )
        .await
        .db()?;
    Ok(deleted.iter().map(|r| r.get(0)).collect())
}
