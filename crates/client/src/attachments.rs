//! Attachments: uploads (with progress), downloads, thumbnails, and sending a message that links
//! an upload.

use bytes::Bytes;
use confab_proto::{Attachment, MessageAck, SendMessageRequest};
use futures_util::stream;
use reqwest::header::{CONTENT_TYPE, RANGE};
use reqwest::Method;

use crate::rest::encode;
use crate::{Client, ClientError, Result};

/// Bytes per piece of an upload body: how often progress is reported.
const PIECE: usize = 64 * 1024;

impl Client {
    /// Uploads `bytes` as a file named `filename`; `content_type` is only a hint (the server reads
    /// the type from the bytes).
    pub async fn upload_attachment(
        &self,
        bytes: Vec<u8>,
        content_type: &str,
        filename: &str,
    ) -> Result<Attachment> {
        self.upload_attachment_with_progress(bytes, content_type, filename, |_, _| {}).await
    }

    /// [`upload_attachment`](Self::upload_attachment), calling `progress(sent, total)` as the body
    /// goes out.
    pub async fn upload_attachment_with_progress(
        &self,
        bytes: Vec<u8>,
        content_type: &str,
        filename: &str,
        progress: impl Fn(u64, u64) + Send + Sync + 'static,
    ) -> Result<Attachment> {
        let total = bytes.len() as u64;
        let data = Bytes::from(bytes);
        let pieces: Vec<Bytes> =
            (0..data.len()).step_by(PIECE).map(|at| data.slice(at..(at + PIECE).min(data.len()))).collect();
        let mut sent = 0u64;
        let body = stream::iter(pieces.into_iter().map(move |piece| {
            sent += piece.len() as u64;
            progress(sent, total);
            Ok::<_, std::io::Error>(piece)
        }));
        let query: String = reqwest::Url::parse_with_params("http://x/", [("filename", filename)])
            .map(|u| u.query().unwrap_or_default().to_string())
            .unwrap_or_default();
        let request = self
            .request(Method::POST, &format!("/api/v1/attachments?{query}"))
            .header(CONTENT_TYPE, content_type)
            .header(reqwest::header::CONTENT_LENGTH, total)
            .body(reqwest::Body::wrap_stream(body));
        Ok(self.answer(request).await?.1)
    }

    /// The whole file.
    pub async fn download_attachment(&self, attachment_id: &str) -> Result<Vec<u8>> {
        let path = format!("/api/v1/attachments/{}", encode(attachment_id));
        self.bytes(self.request(Method::GET, &path)).await
    }

    /// Bytes `start..end` of the file (end exclusive).
    pub async fn download_attachment_range(
        &self,
        attachment_id: &str,
        start: u64,
        end: u64,
    ) -> Result<Vec<u8>> {
        let path = format!("/api/v1/attachments/{}", encode(attachment_id));
        let range = format!("bytes={start}-{}", end.saturating_sub(1));
        self.bytes(self.request(Method::GET, &path).header(RANGE, range)).await
    }

    /// The thumbnail of an image (a JPEG at most 320 px on its longer side).
    pub async fn attachment_thumbnail(&self, attachment_id: &str) -> Result<Vec<u8>> {
        let path = format!("/api/v1/attachments/{}/thumbnail", encode(attachment_id));
        self.bytes(self.request(Method::GET, &path)).await
    }

    /// Sends a message linking `attachment` (an upload of this client's user) with an optional
    /// caption, as the content type that suits the file ([`Attachment::content`]).
    pub async fn send_attachment(
        &self,
        conversation_id: &str,
        attachment: &Attachment,
        caption: Option<&str>,
    ) -> Result<MessageAck> {
        let content = attachment.content(caption.map(str::to_string));
        let body = SendMessageRequest {
            message_id: Some(uuid::Uuid::new_v4().to_string()),
            content: serde_json::to_value(&content).map_err(|e| ClientError::Protocol(e.to_string()))?,
            reply_to: None,
            expires_in_seconds: None,
        };
        let path = format!("/api/v1/conversations/{}/messages", encode(conversation_id));
        Ok(self.post(&path, &body).await?.1)
    }

    async fn bytes(&self, request: reqwest::RequestBuilder) -> Result<Vec<u8>> {
        let response = request.send().await?;
        let status = response.status();
        let bytes = response.bytes().await?;
        if !status.is_success() {
            return Err(crate::rest::api_error(status, &bytes));
        }
        Ok(bytes.to_vec())
    }
}
