//! Attachments: recorded after their bytes are stored, read by whoever may, collected when no
//! message links them. Links to messages are kept by the triggers of migration 0015.

use confab_core::attachments::{StoredAttachment, UnlinkedAttachment};
use confab_core::rules::attachments as rules;
use confab_core::{Error, Result};
use confab_proto::Attachment;
use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::sqlite::error::SqlResult;

const COLUMNS: &str =
    "a.attachment_id, a.content_type, a.size, a.filename, a.sha256, a.created_at, a.width, a.height, a.has_thumbnail, a.uploader_id";

fn stored_from(r: &Row<'_>) -> rusqlite::Result<StoredAttachment> {
    Ok(StoredAttachment {
        attachment: Attachment {
            attachment_id: r.get(0)?,
            content_type: r.get(1)?,
            size: r.get(2)?,
            filename: r.get(3)?,
            sha256: r.get(4)?,
            created_at: r.get(5)?,
            width: r.get(6)?,
            height: r.get(7)?,
            has_thumbnail: r.get(8)?,
        },
        uploader_id: r.get(9)?,
    })
}

pub(crate) fn create(conn: &Connection, stored: &StoredAttachment) -> Result<Attachment> {
    let a = &stored.attachment;
    conn.prepare_cached(
        "INSERT INTO attachments (attachment_id, uploader_id, content_type, size, filename, sha256,
                                  created_at, width, height, has_thumbnail)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )
    .and_then(|mut s| {
        s.execute(params![
            a.attachment_id,
            stored.uploader_id,
            a.content_type,
            a.size,
            a.filename,
            a.sha256,
            a.created_at,
            a.width,
            a.height,
            a.has_thumbnail
        ])
    })
    .db()?;
    Ok(a.clone())
}

/// The uploader of `attachment_id`, for an append's check.
pub(crate) fn uploader(conn: &Connection, attachment_id: &str) -> Result<Option<String>> {
    conn.prepare_cached("SELECT uploader_id FROM attachments WHERE attachment_id = ?1")
        .and_then(|mut s| s.query_row([attachment_id], |r| r.get(0)).optional())
        .db()
}

pub(crate) fn for_viewer(conn: &Connection, attachment_id: &str, viewer: &str) -> Result<Attachment> {
    let found = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS}, EXISTS (
                 SELECT 1 FROM attachment_links l
                 JOIN members m ON m.conversation_id = l.conversation_id AND m.user_id = ?2
                 WHERE l.attachment_id = a.attachment_id)
             FROM attachments a WHERE a.attachment_id = ?1"
        ))
        .and_then(|mut s| {
            s.query_row(params![attachment_id, viewer], |r| Ok((stored_from(r)?, r.get::<_, bool>(10)?)))
                .optional()
        })
        .db()?;
    match found {
        Some((stored, linked)) if rules::may_read(&stored.uploader_id, viewer, linked) => {
            Ok(stored.attachment)
        }
        _ => Err(Error::NotFound("no such attachment".into())),
    }
}

/// Candidates are attachments a link left (`maybe_unlinked`) and never-linked uploads past their
/// grace; one still linked is cleared of the flag, so no pass looks at it again.
pub(crate) fn collect(conn: &Connection, now: i64, limit: u32) -> Result<Vec<String>> {
    let candidates: Vec<(UnlinkedAttachment, bool)> = {
        let mut stmt = conn
            .prepare_cached(
                "SELECT attachment_id, created_at, first_linked_at,
                        EXISTS (SELECT 1 FROM attachment_links l WHERE l.attachment_id = a.attachment_id)
                 FROM attachments a WHERE attachment_id IN (
                     SELECT attachment_id FROM attachments WHERE maybe_unlinked = 1
                     UNION ALL
                     SELECT attachment_id FROM attachments WHERE first_linked_at IS NULL AND created_at <= ?1
                 ) LIMIT ?2",
            )
            .db()?;
        let rows = stmt
            .query_map(params![rules::grace_cutoff(now), limit], |r| {
                let unlinked = UnlinkedAttachment {
                    attachment_id: r.get(0)?,
                    created_at: r.get(1)?,
                    first_linked_at: r.get(2)?,
                };
                Ok((unlinked, r.get(3)?))
            })
            .db()?;
        rows.collect::<rusqlite::Result<_>>().db()?
    };
    let mut forgotten = Vec::new();
    for (unlinked, linked) in candidates {
        if linked {
            conn.prepare_cached("UPDATE attachments SET maybe_unlinked = 0 WHERE attachment_id = ?1")
                .and_then(|mut s| s.execute([&unlinked.attachment_id]))
                .db()?;
        } else if rules::is_garbage(&unlinked, now) {
            conn.prepare_cached("DELETE FROM attachments WHERE attachment_id = ?1")
                .and_then(|mut s| s.execute([&unlinked.attachment_id]))
                .db()?;
            forgotten.push(unlinked.attachment_id);
        }
    }
    Ok(forgotten)
}
