//! Attachments end to end: uploads (raw and multipart), member-only downloads with ranges and
//! validators, thumbnails, safe headers, limits and hostile input, on the embedded default and on
//! S3 (a real S3-compatible server), and in a cluster where every node serves every file.

use std::io::Cursor;
use std::time::Duration;

use confab_client::ClientError;
use confab_media::s3_test_server::S3TestServer;
use confab_proto::{Attachment, ErrorCode, ServerFrame};
use sha2::{Digest, Sha256};

use crate::harness::*;
use crate::services::*;

fn png(width: u32, height: u32) -> Vec<u8> {
    let image =
        image::RgbImage::from_fn(width, height, |x, y| image::Rgb([(x % 256) as u8, (y % 256) as u8, 90]));
    let mut out = Vec::new();
    image::DynamicImage::ImageRgb8(image)
        .write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

fn not_found(e: ClientError) -> bool {
    e.code() == Some(ErrorCode::NotFound)
}

/// Ann shares a photo in a group: Bob sees the message live with its metadata, downloads the
/// same bytes and a thumbnail; an outsider, and Bob once the message is deleted, get `404`.
async fn a_photo_is_shared_with_members_only(server_url: &str) {
    let ann = register(server_url, "ann").await;
    let bob = register(server_url, "bob").await;
    let eve = register(server_url, "eve").await;
    let group = ann.api.create_group("photos", std::slice::from_ref(&bob.id), None).await.unwrap();
    let mut bob_ws = bob.connect("bob-phone").await;

    let photo = png(800, 600);
    let progress = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = progress.clone();
    let uploaded = ann
        .api
        .upload_attachment_with_progress(photo.clone(), "image/png", "beach.png", move |sent, total| {
            seen.lock().unwrap().push((sent, total));
        })
        .await
        .expect("upload");
    assert_eq!(
        (uploaded.content_type.as_str(), uploaded.size, uploaded.filename.as_str()),
        ("image/png", photo.len() as u64, "beach.png")
    );
    assert_eq!((uploaded.width, uploaded.height, uploaded.has_thumbnail), (Some(800), Some(600), true));
    assert_eq!(uploaded.sha256, sha256(&photo));
    assert_eq!(progress.lock().unwrap().last(), Some(&(photo.len() as u64, photo.len() as u64)));

    // Not shared yet: only Ann reads it.
    assert_eq!(ann.api.download_attachment(&uploaded.attachment_id).await.unwrap(), photo);
    assert!(not_found(bob.api.download_attachment(&uploaded.attachment_id).await.unwrap_err()));

    let ack = ann.api.send_attachment(&group.conversation_id, &uploaded, Some("the beach")).await.unwrap();
    let live = bob_ws
        .wait_for(Duration::from_secs(10), "the photo message", |f| match &f.frame {
            ServerFrame::MessageNew(m) if m.message_id == ack.message_id => Some(m.clone()),
            _ => None,
        })
        .await
        .unwrap();
    let confab_proto::Content::Image(content) = &live.content else {
        panic!("not an image: {:?}", live.content)
    };
    assert_eq!(content.text.as_deref(), Some("the beach"));
    let meta: Attachment = serde_json::from_value(content.metadata.clone().unwrap()).unwrap();
    assert_eq!(meta, uploaded, "the message carries what the upload answered");

    assert_eq!(bob.api.download_attachment(&uploaded.attachment_id).await.unwrap(), photo);
    let thumb = bob.api.attachment_thumbnail(&uploaded.attachment_id).await.unwrap();
    let decoded = image::load_from_memory(&thumb).unwrap();
    assert_eq!((decoded.width(), decoded.height()), (320, 240));
    let tail = bob.api.download_attachment_range(&uploaded.attachment_id, 100, 200).await.unwrap();
    assert_eq!(tail, photo[100..200]);

    // Outsiders learn nothing: the same answer as for an id that does not exist.
    assert!(not_found(eve.api.download_attachment(&uploaded.attachment_id).await.unwrap_err()));
    assert!(not_found(eve.api.attachment_thumbnail(&uploaded.attachment_id).await.unwrap_err()));
    assert!(not_found(eve.api.download_attachment("0123456789abcdef").await.unwrap_err()));
    // Bob cannot pass Ann's upload off as his own.
    let stolen = bob.api.send_attachment(&group.conversation_id, &uploaded, None).await.unwrap_err();
    assert_eq!(stolen.code(), Some(ErrorCode::InvalidMessage));

    ann.api.delete_message(&group.conversation_id, &ack.message_id, None).await.unwrap();
    assert!(not_found(bob.api.download_attachment(&uploaded.attachment_id).await.unwrap_err()));
    assert!(not_found(bob.api.attachment_thumbnail(&uploaded.attachment_id).await.unwrap_err()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_photo_is_shared_with_members_only_on_the_embedded_store() {
    let server = TestServer::start().await;
    a_photo_is_shared_with_members_only(&server.url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_photo_is_shared_with_members_only_on_s3() {
    let Some(s3) = S3TestServer::start() else { return };
    let server = TestServer::start_with(|c| {
        c.media.url = Some(s3.url("e2e"));
        c.media.s3_overrides = s3.overrides();
    })
    .await;
    a_photo_is_shared_with_members_only(&server.url).await;
}

/// Raw HTTP, as a browser or another client would send it.
async fn raw_upload(
    url: &str,
    token: &str,
    content_type: &str,
    name: &str,
    body: Vec<u8>,
) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{url}/api/v1/attachments?filename={name}"))
        .bearer_auth(token)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn downloads_are_never_run_by_a_browser_and_resume_by_range() {
    let server = TestServer::start().await;
    let ann = register(&server.url, "ann").await;
    let http = reqwest::Client::new();
    let page = b"<html><script>alert(document.cookie)</script></html>".to_vec();
    let response = raw_upload(&server.url, &ann.token, "image/png", "cat.png", page.clone()).await;
    assert_eq!(response.status(), 201);
    let disguised: Attachment = response.json().await.unwrap();
    assert_eq!(disguised.content_type, "application/octet-stream", "the bytes decide, not the client");
    assert!(!disguised.has_thumbnail && disguised.width.is_none());

    let url = format!("{}/api/v1/attachments/{}", server.url, disguised.attachment_id);
    let got = http.get(&url).bearer_auth(&ann.token).send().await.unwrap();
    assert_eq!(got.status(), 200);
    let h = got.headers();
    assert_eq!(h["content-type"], "application/octet-stream");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert!(h["content-security-policy"].to_str().unwrap().contains("sandbox"));
    assert_eq!(h["content-disposition"], "attachment; filename=\"cat.png\"");
    assert_eq!(h["content-length"], page.len().to_string().as_str());
    let etag = h["etag"].to_str().unwrap().to_string();
    assert_eq!(etag, format!("\"{}\"", sha256(&page)));
    assert_eq!(got.bytes().await.unwrap(), page);

    // Images are shown inline; everything else is a download.
    let photo = png(10, 10);
    let image: Attachment =
        raw_upload(&server.url, &ann.token, "application/octet-stream", "x.bin", photo.clone())
            .await
            .json()
            .await
            .unwrap();
    assert_eq!(image.content_type, "image/png");
    let inline = http
        .get(format!("{}/api/v1/attachments/{}", server.url, image.attachment_id))
        .bearer_auth(&ann.token)
        .send()
        .await
        .unwrap();
    assert_eq!(inline.headers()["content-disposition"], "inline; filename=\"x.bin\"");

    // Validators and ranges.
    let again = http.get(&url).bearer_auth(&ann.token).header("if-none-match", &etag).send().await.unwrap();
    assert_eq!(again.status(), 304);
    let part = http.get(&url).bearer_auth(&ann.token).header("range", "bytes=6-13").send().await.unwrap();
    assert_eq!(part.status(), 206);
    assert_eq!(part.headers()["content-range"], format!("bytes 6-13/{}", page.len()).as_str());
    assert_eq!(part.bytes().await.unwrap(), page[6..14]);
    let outside = http.get(&url).bearer_auth(&ann.token).header("range", "bytes=9999-").send().await.unwrap();
    assert_eq!(outside.status(), 416);
    assert_eq!(outside.headers()["content-range"], format!("bytes */{}", page.len()).as_str());
    let stale = http
        .get(&url)
        .bearer_auth(&ann.token)
        .header("range", "bytes=0-3")
        .header("if-range", "\"another-version\"")
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), 200, "a range for another version gets the whole file");

    // Multipart, as a browser form sends it; the part's file name wins.
    let form = reqwest::multipart::Form::new().text("note", "ignored").part(
        "file",
        reqwest::multipart::Part::bytes(b"hello".to_vec())
            .file_name("../../etc/notes.txt")
            .mime_str("text/plain")
            .unwrap(),
    );
    let posted = http
        .post(format!("{}/api/v1/attachments", server.url))
        .bearer_auth(&ann.token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), 201);
    let notes: Attachment = posted.json().await.unwrap();
    assert_eq!(
        (notes.filename.as_str(), notes.content_type.as_str(), notes.size),
        ("notes.txt", "text/plain; charset=utf-8", 5)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_uploads_get_clear_errors_and_keep_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start_in(dir.path(), |c| c.media.max_attachment_bytes = 10_000).await;
    let ann = register(&server.url, "ann").await;
    let http = reqwest::Client::new();
    let upload_url = format!("{}/api/v1/attachments", server.url);

    // Declared too large: refused before any byte is read.
    let declared = raw_upload(&server.url, &ann.token, "image/png", "big.png", vec![7; 20_000]).await;
    assert_eq!(declared.status(), 413);
    assert_eq!(declared.json::<serde_json::Value>().await.unwrap()["error"], "PAYLOAD_TOO_LARGE");
    // No length declared (chunked): refused once the count passes the limit.
    let chunks = futures_util::stream::iter((0..20).map(|_| Ok::<_, std::io::Error>(vec![1u8; 1000])));
    let streamed = http
        .post(&upload_url)
        .bearer_auth(&ann.token)
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .unwrap();
    assert_eq!(streamed.status(), 413);
    // Exactly the limit is fine.
    assert_eq!(
        raw_upload(&server.url, &ann.token, "text/plain", "ok.txt", vec![b'a'; 10_000]).await.status(),
        201
    );

    // No token, a bad token, a form without a file, a form that is not one.
    let anonymous = http.post(&upload_url).body("x").send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    let forged = http.post(&upload_url).bearer_auth("not-a-token").body("x").send().await.unwrap();
    assert_eq!(forged.status(), 401);
    let no_file = reqwest::multipart::Form::new().text("other", "x");
    let empty_form = http.post(&upload_url).bearer_auth(&ann.token).multipart(no_file).send().await.unwrap();
    assert_eq!(empty_form.status(), 400);
    assert_eq!(empty_form.json::<serde_json::Value>().await.unwrap()["error"], "INVALID_REQUEST");
    let broken = http
        .post(&upload_url)
        .bearer_auth(&ann.token)
        .header("content-type", "multipart/form-data; boundary=zzz")
        .body("--zzz\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nunterminated")
        .send()
        .await
        .unwrap();
    assert_eq!(broken.status(), 400);

    // Unknown attachments, and a message naming one, are answered as the protocol says.
    let group = ann.api.create_group("g", &[], None).await.unwrap();
    let bogus = serde_json::json!({"type": "image", "attachmentId": "nope"});
    let refused = ann.api.send_message(&group.conversation_id, None, bogus).await.unwrap_err();
    assert_eq!(refused.code(), Some(ErrorCode::InvalidMessage));

    // Only the accepted upload's bytes are on disk: refused ones left nothing behind.
    let mut files = Vec::new();
    let mut stack = vec![dir.path().join("media")];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                files.push(path);
            }
        }
    }
    assert_eq!(files.len(), 1, "{files:?}");
    server.shutdown().await;
}

/// Many users upload at once (each as many at a time as a user may), in small pieces and large:
/// every upload is stored whole, under its own id, with its own checksum.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_uploads_keep_every_byte_in_its_own_file() {
    let server = TestServer::start().await;
    let users = register_many(&server.url, "up", 4).await;
    let mut tasks = Vec::new();
    for (i, user) in users.iter().enumerate() {
        for j in 0..4 {
            let api = user.api.clone();
            let body: Vec<u8> =
                (0..(3_000_000 * (j % 2) + 1_000 * (i + 1))).map(|k| (k * 7 + i + j) as u8).collect();
            tasks.push(tokio::spawn(async move {
                let a = api
                    .upload_attachment(body.clone(), "application/octet-stream", "blob.bin")
                    .await
                    .unwrap();
                (a, body)
            }));
        }
    }
    let mut ids = std::collections::HashSet::new();
    for (i, task) in tasks.into_iter().enumerate() {
        let (attachment, body) = task.await.unwrap();
        assert_eq!((attachment.size, attachment.sha256.clone()), (body.len() as u64, sha256(&body)));
        assert!(ids.insert(attachment.attachment_id.clone()));
        let owner = &users[i / 4];
        assert_eq!(owner.api.download_attachment(&attachment.attachment_id).await.unwrap(), body);
    }
}

/// Two nodes on PostgreSQL, Redis and S3: a file uploaded through one is downloaded through the
/// other by a member connected there, with its thumbnail made by whichever node is asked first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_node_serves_every_attachment() {
    if !available().await {
        return;
    }
    let Some(s3) = S3TestServer::start() else { return };
    let iso = Isolation::shared();
    let (_dir, path) = temp_path();
    let env: Vec<(String, String)> = [
        ("AWS_ENDPOINT_URL", s3.endpoint.as_str()),
        ("AWS_ALLOW_HTTP", "true"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "confab-test"),
        ("AWS_SECRET_ACCESS_KEY", "confab-test-secret"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let mut args = iso.args();
    args.extend(["--media-url".to_string(), s3.url(&iso.prefix)]);
    let nodes: Vec<ServerProcess> =
        (0..2).map(|i| ServerProcess::spawn_with_env(&path.join(format!("node{i}")), &args, &env)).collect();
    let ann = register(&nodes[0].url, "ann").await;
    let bob = register(&nodes[1].url, "bob").await;
    let direct = ann.api.open_direct(&bob.id).await.unwrap().0;
    let photo = png(1200, 300);
    let uploaded = ann.api.upload_attachment(photo.clone(), "image/png", "wide.png").await.unwrap();
    ann.api.send_attachment(&direct.conversation_id, &uploaded, None).await.unwrap();
    assert_eq!(bob.api.download_attachment(&uploaded.attachment_id).await.unwrap(), photo, "through node 1");
    let thumb =
        image::load_from_memory(&bob.api.attachment_thumbnail(&uploaded.attachment_id).await.unwrap())
            .unwrap();
    assert_eq!((thumb.width(), thumb.height()), (320, 80));
}
