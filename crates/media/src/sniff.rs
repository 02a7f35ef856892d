//! Content types read from the bytes. A client's `Content-Type` is only a hint: what the server
//! records, and later sends back, is what the first bytes show, so an HTML page or an SVG with a
//! script uploaded as `image/png` is never served as something a browser runs.

/// How many leading bytes [`content_type`] looks at (every signature it knows fits).
pub const SNIFF_BYTES: usize = 8 * 1024;

/// What every download of an unrecognised or active type is served as.
pub const OCTET_STREAM: &str = "application/octet-stream";

/// Image types browsers show safely inline (no scripts, unlike SVG).
const INLINE_IMAGES: &[&str] =
    &["image/png", "image/jpeg", "image/gif", "image/webp", "image/avif", "image/bmp"];

/// The content type to record for a file that starts with `head`, given what the client declared.
/// A type recognised from the bytes wins, unless it is one a browser would run (HTML, XML, SVG,
/// scripts); text declared as `text/plain` that is valid UTF-8 stays text; everything else is
/// [`OCTET_STREAM`].
pub fn content_type(head: &[u8], declared: Option<&str>) -> String {
    if let Some(kind) = infer::get(head) {
        let mime = kind.mime_type();
        return if active(mime) { OCTET_STREAM.to_string() } else { mime.to_string() };
    }
    let declared = declared.map(|d| d.split(';').next().unwrap_or("").trim().to_ascii_lowercase());
    if declared.as_deref() == Some("text/plain") && utf8_prefix(head) {
        return "text/plain; charset=utf-8".to_string();
    }
    OCTET_STREAM.to_string()
}

/// Whether a download of `content_type` may be shown inline (`Content-Disposition: inline`):
/// images that cannot carry scripts, audio and video. Everything else is a download.
pub fn inline(content_type: &str) -> bool {
    INLINE_IMAGES.contains(&content_type)
        || content_type.starts_with("audio/")
        || content_type.starts_with("video/")
}

/// Types a browser would interpret as a document or a program.
fn active(mime: &str) -> bool {
    ["html", "xml", "svg", "javascript", "ecmascript", "x-shockwave-flash", "pdf+xml"]
        .iter()
        .any(|bad| mime.contains(bad))
}

/// Valid UTF-8, allowing the last character to be cut by the end of `head`.
fn utf8_prefix(head: &[u8]) -> bool {
    match std::str::from_utf8(head) {
        Ok(_) => true,
        Err(e) => e.error_len().is_none() && head.len() - e.valid_up_to() < 4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";

    #[test]
    fn the_bytes_decide_not_the_client() {
        assert_eq!(content_type(PNG, Some("application/pdf")), "image/png");
        assert_eq!(content_type(b"%PDF-1.7\n", Some("image/png")), "application/pdf");
        assert_eq!(content_type(b"<html><script>alert(1)</script>", Some("image/png")), OCTET_STREAM);
        assert_eq!(
            content_type(b"<svg xmlns=\"http://www.w3.org/2000/svg\">", Some("image/svg+xml")),
            OCTET_STREAM
        );
        assert_eq!(content_type(b"<?xml version=\"1.0\"?><svg/>", Some("image/svg+xml")), OCTET_STREAM);
        assert_eq!(content_type(b"\0\x01\x02", None), OCTET_STREAM);
    }

    #[test]
    fn plain_text_stays_text_only_when_declared_and_utf8() {
        assert_eq!(
            content_type("héllo".as_bytes(), Some("text/plain; charset=utf-8")),
            "text/plain; charset=utf-8"
        );
        assert_eq!(content_type(b"hello", Some("text/html")), OCTET_STREAM);
        assert_eq!(content_type(b"hello", None), OCTET_STREAM);
        assert_eq!(content_type(b"\xff\xfe bad", Some("text/plain")), OCTET_STREAM);
        let cut = &"é".as_bytes()[..1];
        assert!(utf8_prefix(cut), "a character cut by the end of the head is still text");
    }

    #[test]
    fn only_safe_media_is_shown_inline() {
        assert!(inline("image/png") && inline("video/mp4") && inline("audio/mpeg"));
        assert!(!inline("image/svg+xml") && !inline("text/plain; charset=utf-8") && !inline(OCTET_STREAM));
        assert!(!inline("application/pdf"));
    }
}
