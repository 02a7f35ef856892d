//! One suite for every blob store backend: a local directory and S3 (a real S3-compatible server,
//! moto, started by the test).

use bytes::Bytes;
use confab_media::s3_test_server::S3TestServer;
use confab_media::{BlobStore, ByteRange, MediaError};
use futures_util::StreamExt;

async fn read(store: &BlobStore, key: &str, range: Option<ByteRange>) -> Result<Vec<u8>, MediaError> {
    let mut stream = store.read(key, range).await?;
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        out.extend_from_slice(&chunk?);
    }
    Ok(out)
}

/// Bytes that differ at every offset, so a misplaced part shows.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8 ^ (i / 251 % 256) as u8).collect()
}

async fn write_in_pieces(store: &BlobStore, key: &str, data: &[u8], piece: usize) {
    let mut writer = store.writer(key);
    for chunk in data.chunks(piece) {
        writer.write(Bytes::copy_from_slice(chunk)).await.expect("write");
    }
    writer.finish().await.expect("finish");
}

async fn suite(store: BlobStore) {
    // Small: one request; read whole and in ranges.
    write_in_pieces(&store, "attachments/aa/small", b"hello, attachments", 4).await;
    assert_eq!(store.size("attachments/aa/small").await.unwrap(), 18);
    assert_eq!(read(&store, "attachments/aa/small", None).await.unwrap(), b"hello, attachments");
    let range = ByteRange { start: 7, end: 18 };
    assert_eq!(read(&store, "attachments/aa/small", Some(range)).await.unwrap(), b"attachments");
    assert!(matches!(
        read(&store, "attachments/aa/small", Some(ByteRange { start: 5, end: 5 })).await,
        Err(MediaError::RangeNotSatisfiable)
    ));

    // Large: a multipart upload of several parts, written in network-sized pieces.
    let big = pattern(12 * 1024 * 1024 + 12_345);
    write_in_pieces(&store, "attachments/bb/big", &big, 64 * 1024).await;
    assert_eq!(store.size("attachments/bb/big").await.unwrap(), big.len() as u64);
    assert!(read(&store, "attachments/bb/big", None).await.unwrap() == big, "every byte in place");
    let tail = ByteRange { start: big.len() as u64 - 1000, end: big.len() as u64 };
    assert!(read(&store, "attachments/bb/big", Some(tail)).await.unwrap() == big[big.len() - 1000..]);
    assert_eq!(store.read_all("attachments/aa/small", 100).await.unwrap(), b"hello, attachments");
    assert!(store.read_all("attachments/bb/big", 1024).await.is_err(), "over the cap");

    // Empty files exist too.
    write_in_pieces(&store, "attachments/cc/empty", b"", 1).await;
    assert_eq!(store.size("attachments/cc/empty").await.unwrap(), 0);

    // Unknown keys, deletes (twice is fine).
    assert!(matches!(read(&store, "attachments/dd/missing", None).await, Err(MediaError::NotFound)));
    store.delete("attachments/aa/small").await.unwrap();
    store.delete("attachments/aa/small").await.unwrap();
    assert!(matches!(store.size("attachments/aa/small").await, Err(MediaError::NotFound)));

    // An abandoned upload, aborted or dropped, leaves nothing under its key.
    let mut aborted = store.writer("attachments/ee/aborted");
    aborted.write(Bytes::from(pattern(6 * 1024 * 1024))).await.unwrap();
    aborted.abort().await;
    assert!(matches!(store.size("attachments/ee/aborted").await, Err(MediaError::NotFound)));
    let mut dropped = store.writer("attachments/ee/dropped");
    dropped.write(Bytes::from(pattern(6 * 1024 * 1024))).await.unwrap();
    drop(dropped);
    assert!(matches!(store.size("attachments/ee/dropped").await, Err(MediaError::NotFound)));
}

/// The abort of a dropped writer runs on its own task: waits (boundedly) until `done` holds.
async fn eventually(mut done: impl FnMut() -> bool) {
    for _ in 0..500 {
        if done() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("not done within 5 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_directory_keeps_blobs() {
    let dir = tempfile::tempdir().unwrap();
    let store = BlobStore::open(None, dir.path(), &[]).unwrap();
    suite(store).await;
    // Nothing half-written is left behind in the directory either, once the dropped writer's
    // abort has run.
    let media = dir.path().join("media");
    eventually(|| walk(&media).len() == 2).await;
    let mut left = walk(&media);
    left.sort();
    assert_eq!(left, ["attachments/bb/big", "attachments/cc/empty"]);
}

fn walk(root: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path.strip_prefix(root).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_keeps_blobs() {
    let Some(s3) = S3TestServer::start() else { return };
    let store =
        BlobStore::open(Some(&s3.url("confab/test")), std::path::Path::new("/nonexistent"), &s3.overrides())
            .expect("S3 store");
    suite(store).await;
}

#[test]
fn media_urls_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    assert!(BlobStore::open(Some("ftp://x"), dir.path(), &[]).is_err());
    assert!(BlobStore::open(Some("s3://"), dir.path(), &[]).is_err());
    let bad = [("no_such_setting".to_string(), "1".to_string())];
    assert!(BlobStore::open(Some("s3://bucket"), dir.path(), &bad).is_err());
}
