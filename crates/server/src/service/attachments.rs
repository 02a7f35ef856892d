//! Attachments: uploads streamed to the blob store (hashed, measured and typed from their bytes
//! on the way), downloads for those the store says may read them, thumbnails made off the
//! request path, and the collection of files no message links.

use std::sync::Arc;

use bytes::Bytes;
use confab_core::attachments::StoredAttachment;
use confab_core::ids::{new_id, now_millis};
use confab_core::rules::attachments::clean_filename;
use confab_core::store::SharedStore;
use confab_core::{Error, Result};
use confab_media::blobs::{original_key, thumbnail_key};
use confab_media::{images, sniff, BlobStore, ByteRange, MediaError};
use confab_proto::Attachment;
use futures_util::stream::{BoxStream, Stream, StreamExt};
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;

/// Leading bytes kept while an upload streams: enough for the type signature and for the header
/// of an image (JPEG metadata may put the size well past the first kilobytes).
const HEAD_BYTES: usize = 256 * 1024;
/// Thumbnails being made at once on a node (CPU-bound, on blocking threads).
const THUMBNAIL_WORKERS: usize = 1;
/// Attachments forgotten per collection pass.
const COLLECT_BATCH: u32 = 200;
/// Uploads streaming at once on a node, and per user: each holds a few MiB (its head and storage
/// parts), so these bound the memory uploads can take, and one user cannot take every slot.
const UPLOADS_PER_NODE: usize = 64;
const UPLOADS_PER_USER: usize = 4;

/// Who is uploading now: a slot per upload, refused (`429`) beyond the node's or the user's share.
#[derive(Default)]
struct UploadSlots {
    per_user: dashmap::DashMap<String, usize>,
    total: std::sync::atomic::AtomicUsize,
}

/// An upload's slot, given back when the upload ends however it ends.
struct UploadSlot {
    slots: Arc<UploadSlots>,
    user: String,
}

impl UploadSlots {
    fn take(self: &Arc<Self>, user: &str) -> Result<UploadSlot> {
        use std::sync::atomic::Ordering;
        let busy = Error::RateLimited { retry_after_secs: 1 };
        let mut mine = self.per_user.entry(user.to_string()).or_insert(0);
        if *mine >= UPLOADS_PER_USER {
            return Err(busy);
        }
        if self.total.fetch_add(1, Ordering::SeqCst) >= UPLOADS_PER_NODE {
            self.total.fetch_sub(1, Ordering::SeqCst);
            return Err(busy);
        }
        *mine += 1;
        Ok(UploadSlot { slots: self.clone(), user: user.to_string() })
    }
}

impl Drop for UploadSlot {
    fn drop(&mut self) {
        self.slots.total.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
        self.slots.per_user.remove_if_mut(&self.user, |_, n| {
            *n -= 1;
            *n == 0
        });
    }
}

/// What the client said about an upload; only hints (the bytes decide the type).
pub(crate) struct UploadHints {
    pub declared_type: Option<String>,
    pub filename: Option<String>,
    /// The length the request declared, refused at once when over the limit.
    pub declared_len: Option<u64>,
}

/// A download: the attachment, the bytes asked for, and how many there are.
pub(crate) struct Download {
    pub attachment: Attachment,
    /// `None`: the whole file.
    pub range: Option<ByteRange>,
    pub body: BoxStream<'static, std::result::Result<Bytes, MediaError>>,
}

#[derive(Clone)]
pub(crate) struct Attachments {
    store: SharedStore,
    blobs: BlobStore,
    max_bytes: u64,
    thumbnails: Arc<Semaphore>,
    uploads: Arc<UploadSlots>,
}

fn storage(e: MediaError) -> Error {
    match e {
        MediaError::NotFound => Error::NotFound("no such attachment".into()),
        other => Error::Unavailable(other.to_string()),
    }
}

/// A stored thumbnail; an empty one marks an image that could not be decoded.
fn made(thumbnail: Vec<u8>) -> Result<Vec<u8>> {
    if thumbnail.is_empty() {
        return Err(Error::NotFound("this image could not be decoded for a thumbnail".into()));
    }
    Ok(thumbnail)
}

fn too_large(max: u64) -> Error {
    Error::PayloadTooLarge(format!("attachments are limited to {max} bytes"))
}

impl Attachments {
    pub(crate) fn new(store: SharedStore, blobs: BlobStore, max_bytes: u64) -> Attachments {
        Attachments {
            store,
            blobs,
            max_bytes,
            thumbnails: Arc::new(Semaphore::new(THUMBNAIL_WORKERS)),
            uploads: Arc::default(),
        }
    }

    pub(crate) fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    /// Streams `body` to the blob store and records it as `uploader`'s. Over the size limit
    /// (declared or counted) it is `PayloadTooLarge` at once and nothing is kept; an interrupted
    /// body keeps nothing either. An image that can have a thumbnail gets one made in the
    /// background. A user may stream 4 uploads at once, a node 64: more are `RateLimited`.
    pub(crate) async fn upload<S>(
        &self,
        uploader: &str,
        hints: UploadHints,
        mut body: S,
    ) -> Result<Attachment>
    where
        S: Stream<Item = Result<Bytes>> + Unpin,
    {
        if hints.declared_len.is_some_and(|len| len > self.max_bytes) {
            return Err(too_large(self.max_bytes));
        }
        let _slot = self.uploads.take(uploader)?;
        let attachment_id = new_id().replace('-', "");
        let mut writer = self.blobs.writer(&original_key(&attachment_id));
        let mut hasher = Sha256::new();
        let mut head: Vec<u8> = Vec::new();
        let mut size: u64 = 0;
        while let Some(chunk) = body.next().await {
            let chunk = match chunk {
                Ok(chunk) => chunk,
                Err(e) => {
                    writer.abort().await;
                    return Err(e);
                }
            };
            size += chunk.len() as u64;
            if size > self.max_bytes {
                writer.abort().await;
                return Err(too_large(self.max_bytes));
            }
            hasher.update(&chunk);
            if head.len() < HEAD_BYTES {
                let take = chunk.len().min(HEAD_BYTES - head.len());
                head.extend_from_slice(&chunk[..take]);
            }
            if let Err(e) = writer.write(chunk).await {
                writer.abort().await;
                return Err(storage(e));
            }
        }
        writer.finish().await.map_err(storage)?;
        let content_type = sniff::content_type(&head, hints.declared_type.as_deref());
        let dimensions = images::dimensions(&content_type, &head);
        let has_thumbnail = dimensions.is_some_and(|(w, h)| images::thumbnailable(&content_type, w, h));
        let attachment = Attachment {
            attachment_id: attachment_id.clone(),
            content_type,
            size,
            filename: clean_filename(hints.filename.as_deref()),
            sha256: hex(&hasher.finalize()),
            created_at: now_millis(),
            width: dimensions.map(|d| d.0),
            height: dimensions.map(|d| d.1),
            has_thumbnail,
        };
        let stored = StoredAttachment { attachment, uploader_id: uploader.to_string() };
        let attachment = match self.store.create_attachment(stored).await {
            Ok(a) => a,
            Err(e) => {
                let _ = self.blobs.delete(&original_key(&attachment_id)).await;
                return Err(e);
            }
        };
        metrics::counter!(crate::metrics::ATTACHMENT_BYTES, "direction" => "upload").increment(size);
        if has_thumbnail {
            let this = self.clone();
            tokio::spawn(async move {
                if let Err(e) = this.make_thumbnail(&attachment_id).await {
                    tracing::warn!(attachment = %attachment_id, error = %e, "no thumbnail made");
                }
            });
        }
        Ok(attachment)
    }

    /// The attachment as `viewer` may see it (`NotFound` when they may not, as for an id that
    /// does not exist).
    pub(crate) async fn info(&self, viewer: &str, attachment_id: &str) -> Result<Attachment> {
        self.store.attachment(attachment_id, viewer).await
    }

    /// The bytes of an attachment [`info`](Self::info) gave, or `range` of them.
    pub(crate) async fn open(&self, attachment: Attachment, range: Option<ByteRange>) -> Result<Download> {
        let body = self.blobs.read(&original_key(&attachment.attachment_id), range).await.map_err(storage)?;
        metrics::counter!(crate::metrics::ATTACHMENT_BYTES, "direction" => "download")
            .increment(range.map_or(attachment.size, |r| r.end - r.start));
        Ok(Download { attachment, range, body })
    }

    /// The thumbnail (a JPEG) of an attachment [`info`](Self::info) gave; made now if it is not
    /// there yet (another node's upload, or a node that stopped before making it). `NotFound` for
    /// attachments that have none.
    pub(crate) async fn thumbnail(&self, attachment: &Attachment) -> Result<Vec<u8>> {
        if !attachment.has_thumbnail {
            return Err(Error::NotFound("this attachment has no thumbnail".into()));
        }
        match self.blobs.read_all(&thumbnail_key(&attachment.attachment_id), 16 << 20).await {
            Ok(bytes) => made(bytes),
            Err(MediaError::NotFound) => self.make_thumbnail(&attachment.attachment_id).await,
            Err(e) => Err(storage(e)),
        }
    }

    async fn make_thumbnail(&self, attachment_id: &str) -> Result<Vec<u8>> {
        let _permit =
            self.thumbnails.acquire().await.map_err(|_| Error::Unavailable("shutting down".into()))?;
        let original =
            self.blobs.read_all(&original_key(attachment_id), self.max_bytes).await.map_err(storage)?;
        let decoded = tokio::task::spawn_blocking(move || images::thumbnail(&original))
            .await
            .map_err(|e| Error::Internal(format!("thumbnail task: {e}")))?;
        // An image whose header promised a thumbnail but whose data does not decode: an empty
        // thumbnail says so to every later request, on every node, so it is decoded only once.
        let thumbnail = decoded.unwrap_or_default();
        self.blobs
            .put(&thumbnail_key(attachment_id), Bytes::from(thumbnail.clone()))
            .await
            .map_err(storage)?;
        made(thumbnail)
    }

    /// Forgets attachments no message links any more (or never did, after a day) and removes their
    /// bytes; returns how many. Bytes that cannot be removed now stay on storage and are logged.
    pub(crate) async fn collect(&self, now: i64) -> Result<u64> {
        let mut collected = 0u64;
        loop {
            let ids = self.store.collect_attachments(now, COLLECT_BATCH).await?;
            for id in &ids {
                for key in [original_key(id), thumbnail_key(id)] {
                    if let Err(e) = self.blobs.delete(&key).await {
                        tracing::warn!(%key, error = %e, "bytes of a collected attachment not removed");
                    }
                }
            }
            collected += ids.len() as u64;
            metrics::counter!(crate::metrics::ATTACHMENTS_COLLECTED).increment(ids.len() as u64);
            if ids.len() < COLLECT_BATCH as usize {
                return Ok(collected);
            }
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upload_slots_are_shared_fairly_and_given_back() {
        let slots = Arc::new(UploadSlots::default());
        let alice: Vec<_> = (0..UPLOADS_PER_USER).map(|_| slots.take("alice").unwrap()).collect();
        assert!(matches!(slots.take("alice"), Err(Error::RateLimited { .. })), "alice's share is taken");
        let others: Vec<_> = (0..UPLOADS_PER_NODE - UPLOADS_PER_USER)
            .map(|i| slots.take(&format!("user{}", i / UPLOADS_PER_USER)).unwrap())
            .collect();
        assert!(matches!(slots.take("late"), Err(Error::RateLimited { .. })), "the node's slots are taken");
        drop(alice);
        assert!(slots.take("late").is_ok(), "a finished upload frees its slot");
        drop(others);
        assert_eq!(slots.total.load(std::sync::atomic::Ordering::SeqCst), 0);
        assert!(slots.per_user.is_empty(), "no user is remembered once idle");
    }
}
