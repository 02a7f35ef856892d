//! Attachments: what `POST /api/v1/attachments` answers about an uploaded file.

use serde::{Deserialize, Serialize};

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
}
