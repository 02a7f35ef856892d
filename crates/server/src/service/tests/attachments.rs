//! Attachments through the service: bytes stored as they stream, refused over the limit with
//! nothing kept, thumbnails made in the background, and collection removing the bytes.

use bytes::Bytes;
use confab_core::ids::now_millis;
use confab_core::rules::attachments::UNLINKED_GRACE_MS;
use confab_core::Error;
use futures_util::stream;

use super::*;
use crate::config::MediaConfig;
use crate::service::UploadHints;

fn hints(name: &str) -> UploadHints {
    UploadHints { declared_type: None, filename: Some(name.into()), declared_len: None }
}

fn chunks(data: &[u8], piece: usize) -> impl futures_util::Stream<Item = confab_core::Result<Bytes>> + Unpin {
    let pieces: Vec<_> = data.chunks(piece).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
    stream::iter(pieces)
}

/// Every file under the test's media directory.
fn stored_files(t: &TestApp) -> Vec<String> {
    let root = t.dir.path().join("media");
    let mut out = Vec::new();
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path.strip_prefix(&root).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    out.sort();
    out
}

/// A 1×1 opaque PNG.
const DOT_PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52, 0x00,
    0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x02, 0x00, 0x00, 0x00, 0x90, 0x77, 0x53, 0xde, 0x00,
    0x00, 0x00, 0x0c, 0x49, 0x44, 0x41, 0x54, 0x08, 0xd7, 0x63, 0xf8, 0xcf, 0xc0, 0x00, 0x00, 0x03, 0x01,
    0x01, 0x00, 0x18, 0xdd, 0x8d, 0xb0, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60,
    0x82,
];

#[tokio::test]
async fn uploads_stream_to_storage_and_unlinked_ones_are_collected_bytes_and_all() {
    let t = TestApp::new(ServerConfig::default());
    t.user("alice").await;
    let attachments = t.app.attachments();
    let data: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
    let file = attachments.upload("alice", hints("data.bin"), chunks(&data, 10_000)).await.unwrap();
    assert_eq!((file.size, file.content_type.as_str()), (300_000, "application/octet-stream"));
    let image = attachments.upload("alice", hints("dot.png"), chunks(DOT_PNG, 7)).await.unwrap();
    assert_eq!((image.width, image.height, image.has_thumbnail), (Some(1), Some(1), true));
    let thumbnail = attachments.thumbnail(&image).await.unwrap();
    assert_eq!(&thumbnail[..2], &[0xff, 0xd8], "a JPEG");
    assert_eq!(stored_files(&t).len(), 3, "two files and a thumbnail: {:?}", stored_files(&t));

    // Nothing links them: kept for a day, then gone from the store and from storage.
    assert_eq!(attachments.collect(now_millis()).await.unwrap(), 0);
    assert_eq!(attachments.collect(now_millis() + UNLINKED_GRACE_MS + 1).await.unwrap(), 2);
    assert!(stored_files(&t).is_empty(), "{:?}", stored_files(&t));
    assert!(matches!(attachments.info("alice", &file.attachment_id).await, Err(Error::NotFound(_))));
}

/// A header that promises an image whose data does not decode: no thumbnail, and the failure is
/// remembered (an empty thumbnail), so later requests do not decode it again.
#[tokio::test]
async fn an_image_that_does_not_decode_is_tried_once() {
    let t = TestApp::new(ServerConfig::default());
    t.user("alice").await;
    let attachments = t.app.attachments();
    let broken = &DOT_PNG[..DOT_PNG.len() - 20];
    let image = attachments.upload("alice", hints("broken.png"), chunks(broken, 64)).await.unwrap();
    assert_eq!((image.width, image.has_thumbnail), (Some(1), true), "the header is fine");
    for _ in 0..3 {
        assert!(matches!(attachments.thumbnail(&image).await, Err(Error::NotFound(_))));
    }
    let marker =
        stored_files(&t).into_iter().find(|f| f.starts_with("thumbnails/")).expect("the failure is kept");
    assert_eq!(std::fs::metadata(t.dir.path().join("media").join(marker)).unwrap().len(), 0);
}

#[tokio::test]
async fn a_refused_or_interrupted_upload_keeps_nothing() {
    let config = ServerConfig {
        media: MediaConfig { max_attachment_bytes: 1_000, ..MediaConfig::default() },
        ..ServerConfig::default()
    };
    let t = TestApp::new(config);
    t.user("alice").await;
    let attachments = t.app.attachments();
    let declared = UploadHints { declared_len: Some(5_000), ..hints("big") };
    let refused = attachments.upload("alice", declared, chunks(&[0; 10], 10)).await.unwrap_err();
    assert!(matches!(refused, Error::PayloadTooLarge(_)));
    let counted = attachments.upload("alice", hints("big"), chunks(&[0; 5_000], 100)).await.unwrap_err();
    assert!(matches!(counted, Error::PayloadTooLarge(_)));
    let broken =
        stream::iter(vec![Ok(Bytes::from_static(b"abc")), Err(Error::InvalidRequest("reset".into()))]);
    let interrupted = attachments.upload("alice", hints("cut"), broken).await.unwrap_err();
    assert!(matches!(interrupted, Error::InvalidRequest(_)));
    assert!(stored_files(&t).is_empty(), "{:?}", stored_files(&t));
}
