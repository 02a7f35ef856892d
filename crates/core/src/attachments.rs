//! The storage boundary of attachments: who uploaded which file, and which messages link it.
//!
//! Guarantees every adapter gives, on top of those of [`crate::store`]:
//! - The links between attachments and messages are written in the same transaction as the
//!   message: an append links its attachment, and a delete, an expiry or a retention purge
//!   unlinks it, so access follows the messages with no window in between.
//! - An append that names an attachment is checked in its transaction against the attachment's
//!   uploader ([`crate::rules::attachments::may_link`]).
//! - Who may read an attachment, and when one is garbage, is decided by
//!   [`crate::rules::attachments`].
//!
//! The bytes themselves are not the store's: the server keeps them in a blob store and removes
//! them after [`AttachmentStore::collect_attachments`] forgot their attachment.

use async_trait::async_trait;
use confab_proto::Attachment;

use crate::error::Result;

/// An attachment as stored: the wire object and who uploaded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAttachment {
    pub attachment: Attachment,
    pub uploader_id: String,
}

/// What a collection pass reads of an attachment no message links any more.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnlinkedAttachment {
    pub attachment_id: String,
    pub created_at: i64,
    /// When a message first linked it; `None` if none ever did.
    pub first_linked_at: Option<i64>,
}

#[async_trait]
pub trait AttachmentStore: Send + Sync {
    /// Records an uploaded file whose bytes are already stored. Ids are the server's (unique).
    async fn create_attachment(&self, attachment: StoredAttachment) -> Result<Attachment>;
    /// The attachment, for `viewer`: its uploader, or a member of a conversation holding a message
    /// that links it ([`crate::rules::attachments::may_read`]). `NotFound` for everyone else,
    /// exactly as for an id that does not exist.
    async fn attachment(&self, attachment_id: &str, viewer: &str) -> Result<Attachment>;
    /// Forgets up to `limit` attachments that are garbage at `now`
    /// ([`crate::rules::attachments::is_garbage`]) and returns their ids, so the caller removes
    /// their bytes. An attachment linked again before it is forgotten is kept.
    async fn collect_attachments(&self, now: i64, limit: u32) -> Result<Vec<String>>;
}
