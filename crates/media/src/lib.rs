//! The bytes of attachments: where they are kept, what they are, and the thumbnails of images.
//! Who may read them, and which messages link them, is the store's business
//! (`confab_core::attachments`); this crate never sees users or conversations.
//!
//! # Layout
//! - [`blobs`]: the blob store, a local directory (the embedded default) or S3-compatible object
//!   storage for clusters, written as a stream and read by byte ranges.
//! - [`sniff`]: the content type from the first bytes, never from the client's word alone, and
//!   which types a browser may show inline.
//! - [`images`]: image sizes read from headers, and thumbnails decoded under limits that refuse
//!   decompression bombs.
//! - `s3_test_server` (feature `s3-test-server`): a real S3-compatible server for tests.

pub mod blobs;
pub mod images;
#[cfg(feature = "s3-test-server")]
pub mod s3_test_server;
pub mod sniff;

pub use blobs::{BlobStore, BlobWriter, ByteRange, MediaError};
