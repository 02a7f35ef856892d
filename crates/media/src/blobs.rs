//! The blob store: attachments' bytes and thumbnails, under keys derived from attachment ids.
//! A local directory (under the data dir) by default; S3-compatible object storage
//! (`s3://bucket/prefix`) for clusters, where every node must serve every file. Both are
//! [`object_store`] backends, so one code path (and one test suite) covers them.
//!
//! Writes stream: a [`BlobWriter`] holds at most one part in memory plus two in flight, and a file
//! smaller than one part is written with a single request.

use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::stream::{BoxStream, StreamExt};
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::prefix::PrefixStore;
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart};

#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error("no such file")]
    NotFound,
    #[error("the range is outside the file")]
    RangeNotSatisfiable,
    #[error("media storage: {0}")]
    Storage(String),
    #[error("media storage settings: {0}")]
    Config(String),
}

impl From<object_store::Error> for MediaError {
    fn from(e: object_store::Error) -> Self {
        match e {
            object_store::Error::NotFound { .. } => MediaError::NotFound,
            other => MediaError::Storage(other.to_string()),
        }
    }
}

pub type Result<T, E = MediaError> = std::result::Result<T, E>;

/// Bytes `start..end` (end exclusive) of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteRange {
    pub start: u64,
    pub end: u64,
}

/// Part size of local writes: small, since parts only bound memory there.
const LOCAL_PART: usize = 1 << 20;
/// Part size of S3 writes: the smallest S3 allows for every part but the last.
const S3_PART: usize = 5 << 20;
/// Parts being written at once.
const PARTS_IN_FLIGHT: usize = 2;

#[derive(Clone)]
pub struct BlobStore {
    inner: Arc<dyn ObjectStore>,
    part: usize,
    description: String,
    /// The directory of a local store: written files are fsync'd there, since an answered upload
    /// must survive a power cut as an acknowledged message does.
    local_root: Option<Arc<std::path::PathBuf>>,
}

impl std::fmt::Debug for BlobStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.description)
    }
}

/// Where an attachment's bytes are kept (ids are the server's: hex, no separators).
pub fn original_key(attachment_id: &str) -> String {
    format!("attachments/{}/{attachment_id}", shard(attachment_id))
}

/// Where an attachment's thumbnail is kept.
pub fn thumbnail_key(attachment_id: &str) -> String {
    format!("thumbnails/{}/{attachment_id}.jpg", shard(attachment_id))
}

/// Two characters of the id, so no directory holds every file.
fn shard(id: &str) -> &str {
    id.get(..2).unwrap_or("00")
}

impl BlobStore {
    /// `media_url`: `None` (or `file:PATH`) for a directory (`media` under `data_dir` by default),
    /// `s3://bucket[/prefix]` for S3-compatible storage configured from the standard AWS
    /// variables, with `overrides` (as `AmazonS3ConfigKey` names, e.g. `endpoint`) on top.
    pub fn open(
        media_url: Option<&str>,
        data_dir: &Path,
        overrides: &[(String, String)],
    ) -> Result<BlobStore> {
        match media_url {
            None => BlobStore::local(&data_dir.join("media")),
            Some(url) if url.starts_with("file:") => BlobStore::local(Path::new(&url["file:".len()..])),
            Some(url) if url.starts_with("s3://") => BlobStore::s3(url, overrides),
            Some(other) => Err(MediaError::Config(format!(
                "`{other}`: the media URL must be s3://bucket[/prefix] or file:PATH"
            ))),
        }
    }

    /// Files under `dir` (created if missing).
    pub fn local(dir: &Path) -> Result<BlobStore> {
        std::fs::create_dir_all(dir).map_err(|e| MediaError::Config(format!("{}: {e}", dir.display())))?;
        let fs = LocalFileSystem::new_with_prefix(dir)?.with_automatic_cleanup(true);
        Ok(BlobStore {
            inner: Arc::new(fs),
            part: LOCAL_PART,
            description: format!("directory {}", dir.display()),
            local_root: Some(Arc::new(dir.to_path_buf())),
        })
    }

    /// Objects in `url` (`s3://bucket[/prefix]`).
    pub fn s3(url: &str, overrides: &[(String, String)]) -> Result<BlobStore> {
        let rest = &url["s3://".len()..];
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(MediaError::Config(format!("`{url}` names no bucket")));
        }
        // object_store's HTTP client takes the process's rustls provider: Confab's is ring.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
        for (key, value) in overrides {
            let key: AmazonS3ConfigKey =
                key.parse().map_err(|e| MediaError::Config(format!("S3 setting `{key}`: {e}")))?;
            builder = builder.with_config(key, value);
        }
        let s3 = builder.build()?;
        let prefix = prefix.trim_matches('/');
        let inner: Arc<dyn ObjectStore> =
            if prefix.is_empty() { Arc::new(s3) } else { Arc::new(PrefixStore::new(s3, prefix)) };
        Ok(BlobStore { inner, part: S3_PART, description: format!("S3 {url}"), local_root: None })
    }

    /// Says where the bytes go (for logs).
    pub fn description(&self) -> &str {
        &self.description
    }

    /// A streaming write of `key`: nothing is visible under it until [`BlobWriter::finish`].
    pub fn writer(&self, key: &str) -> BlobWriter {
        BlobWriter {
            blobs: self.clone(),
            store: self.inner.clone(),
            path: ObjectPath::from(key),
            part: self.part,
            pending: Vec::new(),
            pending_len: 0,
            upload: None,
        }
    }

    /// Writes a small file in one request.
    pub async fn put(&self, key: &str, bytes: Bytes) -> Result<()> {
        self.inner.put(&ObjectPath::from(key), PutPayload::from(bytes)).await?;
        self.sync(key).await
    }

    /// On a local store, makes the file at `key` and its directory entry durable (S3 answers a
    /// write once it is durable).
    async fn sync(&self, key: &str) -> Result<()> {
        let Some(root) = self.local_root.clone() else { return Ok(()) };
        let path = root.join(key);
        tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            std::fs::File::open(&path)?.sync_all()?;
            if let Some(parent) = path.parent() {
                std::fs::File::open(parent)?.sync_all()?;
            }
            Ok(())
        })
        .await
        .map_err(|e| MediaError::Storage(format!("fsync: {e}")))?
        .map_err(|e| MediaError::Storage(format!("fsync {key}: {e}")))
    }

    /// The file's size.
    pub async fn size(&self, key: &str) -> Result<u64> {
        Ok(self.inner.head(&ObjectPath::from(key)).await?.size)
    }

    /// A stream of the file's bytes, or of `range` of them (which must lie within the file).
    pub async fn read(
        &self,
        key: &str,
        range: Option<ByteRange>,
    ) -> Result<BoxStream<'static, Result<Bytes, MediaError>>> {
        if let Some(r) = range {
            if r.start >= r.end {
                return Err(MediaError::RangeNotSatisfiable);
            }
        }
        if let Some(root) = &self.local_root {
            return read_local(&root.join(key), range).await;
        }
        let options =
            GetOptions { range: range.map(|r| GetRange::Bounded(r.start..r.end)), ..GetOptions::default() };
        let got = self.inner.get_opts(&ObjectPath::from(key), options).await.map_err(|e| match e {
            object_store::Error::NotFound { .. } => MediaError::NotFound,
            object_store::Error::NotModified { .. } | object_store::Error::Precondition { .. } => {
                MediaError::RangeNotSatisfiable
            }
            other => MediaError::Storage(other.to_string()),
        })?;
        Ok(got.into_stream().map(|chunk| chunk.map_err(MediaError::from)).boxed())
    }

    /// The whole file, if it is at most `max` bytes (`Storage` error otherwise).
    pub async fn read_all(&self, key: &str, max: u64) -> Result<Vec<u8>> {
        let mut stream = self.read(key, None).await?;
        let mut out = Vec::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk?;
            if (out.len() + chunk.len()) as u64 > max {
                return Err(MediaError::Storage(format!("{key} is over {max} bytes")));
            }
            out.extend_from_slice(&chunk);
        }
        Ok(out)
    }

    /// Removes the file; a file already gone is fine.
    pub async fn delete(&self, key: &str) -> Result<()> {
        match self.inner.delete(&ObjectPath::from(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

/// Bytes read from a local file per chunk sent: object_store's own local reads go 8 KiB at a
/// time, which made downloads cost twice the CPU of uploads.
const LOCAL_READ_CHUNK: usize = 256 * 1024;

/// A local file (or `range` of it) as a stream of large chunks.
async fn read_local(
    path: &Path,
    range: Option<ByteRange>,
) -> Result<BoxStream<'static, Result<Bytes, MediaError>>> {
    use tokio::io::{AsyncReadExt, AsyncSeekExt};
    let mut file = match tokio::fs::File::open(path).await {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(MediaError::NotFound),
        Err(e) => return Err(MediaError::Storage(format!("{}: {e}", path.display()))),
    };
    let size = file.metadata().await.map_err(|e| MediaError::Storage(e.to_string()))?.len();
    let (start, end) = match range {
        Some(r) if r.start >= size => return Err(MediaError::RangeNotSatisfiable),
        Some(r) => (r.start, r.end.min(size)),
        None => (0, size),
    };
    file.seek(std::io::SeekFrom::Start(start)).await.map_err(|e| MediaError::Storage(e.to_string()))?;
    let stream = futures_util::stream::try_unfold((file, end - start), |(mut file, left)| async move {
        if left == 0 {
            return Ok(None);
        }
        let want = LOCAL_READ_CHUNK.min(usize::try_from(left).unwrap_or(LOCAL_READ_CHUNK));
        let mut buffer = bytes::BytesMut::zeroed(want);
        let read = file.read(&mut buffer).await.map_err(|e| MediaError::Storage(e.to_string()))?;
        if read == 0 {
            return Err(MediaError::Storage("the file ended early".into()));
        }
        buffer.truncate(read);
        Ok(Some((buffer.freeze(), (file, left - read as u64))))
    });
    Ok(stream.boxed())
}

/// A file being written. Bytes are held until a whole part is there; a file that never fills
/// one is written by [`finish`](BlobWriter::finish) in a single request, a larger one as a
/// multipart upload. Dropped unfinished (a client that went away), the upload is aborted.
pub struct BlobWriter {
    blobs: BlobStore,
    store: Arc<dyn ObjectStore>,
    path: ObjectPath,
    part: usize,
    pending: Vec<Bytes>,
    pending_len: usize,
    upload: Option<WriteMultipart>,
}

impl BlobWriter {
    pub async fn write(&mut self, bytes: Bytes) -> Result<()> {
        if self.upload.is_none() {
            self.pending_len += bytes.len();
            self.pending.push(bytes);
            if self.pending_len < self.part {
                return Ok(());
            }
            let upload = self.store.put_multipart(&self.path).await?;
            let mut writer = WriteMultipart::new_with_chunk_size(upload, self.part);
            for held in self.pending.drain(..) {
                writer.put(held);
            }
            self.pending_len = 0;
            self.upload = Some(writer);
            return Ok(());
        }
        if let Some(upload) = self.upload.as_mut() {
            upload.wait_for_capacity(PARTS_IN_FLIGHT).await?;
            upload.put(bytes);
        }
        Ok(())
    }

    /// Makes the file visible under its key, durably.
    pub async fn finish(mut self) -> Result<()> {
        match self.upload.take() {
            Some(upload) => {
                upload.finish().await?;
            }
            None => {
                let payload: PutPayload = std::mem::take(&mut self.pending).into_iter().collect();
                self.store.put(&self.path, payload).await?;
            }
        }
        self.blobs.sync(self.path.as_ref()).await
    }

    /// Gives up: nothing is left under the key.
    pub async fn abort(mut self) {
        if let Some(upload) = self.upload.take() {
            if let Err(e) = upload.abort().await {
                tracing::warn!(error = %e, "aborting an upload failed");
            }
        }
    }
}

impl Drop for BlobWriter {
    fn drop(&mut self) {
        if let Some(upload) = self.upload.take() {
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn(async move {
                    let _ = upload.abort().await;
                });
            }
        }
    }
}
