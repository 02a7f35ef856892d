//! Attachments: what `POST /api/v1/attachments` answers about an uploaded file.

use serde::{Deserialize, Serialize};

use crate::model::{AttachmentContent, Content};

/// An uploaded file, as its uploader and the members of conversations linking it see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct Attachment {
    pub attachment_id: String,
    /// What the bytes are, as the server read them (never the client's word alone): an upload
    /// whose bytes are no known type, or an active type such as HTML or SVG, is
    /// `application/octet-stream`.
    pub content_type: String,
    /// Bytes.
    pub size: u64,
    /// The name the uploader gave (`?filename=` or the multipart part's), cleaned of paths and
    /// control characters; `file` when none was given.
    pub filename: String,
    /// SHA-256 of the bytes, lower-case hex (also the download's `ETag`).
    pub sha256: String,
    pub created_at: i64,
    /// Pixel size of an image, read from its header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub width: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub height: Option<u32>,
    /// `GET /api/v1/attachments/{id}/thumbnail` serves a JPEG at most 320 px on its longer side.
    pub has_thumbnail: bool,
}

impl Attachment {
    /// The message content type that shows this file best: `image`, `video` or `audio` for those
    /// types, `file` for everything else.
    pub fn message_type(&self) -> &'static str {
        let kind = self.content_type.split('/').next().unwrap_or("");
        match kind {
            "image" if self.content_type != "image/svg+xml" => "image",
            "video" => "video",
            "audio" => "audio",
            _ => "file",
        }
    }

    /// Message content linking this upload, with `text` as its caption and the upload's answer as
    /// `metadata` (what Confab's clients show before they download anything: type, size, name,
    /// pixel size, whether there is a thumbnail). The metadata is the sender's word: the server
    /// checks only that the attachment is the sender's own upload.
    pub fn content(&self, text: Option<String>) -> Content {
        let linked = AttachmentContent {
            attachment_id: self.attachment_id.clone(),
            text,
            metadata: serde_json::to_value(self).ok(),
        };
        match self.message_type() {
            "image" => Content::Image(linked),
            "video" => Content::Video(linked),
            "audio" => Content::Audio(linked),
            _ => Content::File(linked),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dimensions_are_left_out_when_unknown() {
        let a = Attachment {
            attachment_id: "a".into(),
            content_type: "application/pdf".into(),
            size: 3,
            filename: "x.pdf".into(),
            sha256: "00".into(),
            created_at: 1,
            width: None,
            height: None,
            has_thumbnail: false,
        };
        let json = serde_json::to_value(&a).unwrap();
        assert_eq!(json["hasThumbnail"], false);
        assert!(json.get("width").is_none());
        assert_eq!(serde_json::from_value::<Attachment>(json).unwrap(), a);
    }

    #[test]
    fn content_follows_the_stored_type() {
        let a = |t: &str| Attachment {
            attachment_id: "a".into(),
            content_type: t.into(),
            size: 1,
            filename: "f".into(),
            sha256: "00".into(),
            created_at: 1,
            width: None,
            height: None,
            has_thumbnail: false,
        };
        assert!(matches!(a("image/png").content(None), Content::Image(_)));
        assert!(matches!(a("video/mp4").content(None), Content::Video(_)));
        assert!(matches!(a("audio/ogg").content(None), Content::Audio(_)));
        assert!(matches!(a("application/pdf").content(None), Content::File(_)));
        assert!(matches!(a("image/svg+xml").content(None), Content::File(_)));
        let Content::File(c) = a("application/octet-stream").content(Some("notes".into())) else { panic!() };
        assert_eq!((c.attachment_id.as_str(), c.text.as_deref()), ("a", Some("notes")));
        assert_eq!(c.metadata.unwrap()["contentType"], "application/octet-stream");
    }
}
