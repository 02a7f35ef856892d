//! Input rules shared by every transport: what a username, password, group name, message id and
//! message content may be.

use confab_proto::{AttachmentContent, Content};
use serde_json::Value;

use crate::error::{Error, Result};

/// Longest accepted client-chosen id (`messageId`, `deviceId`).
pub const MAX_ID_LEN: usize = 128;
/// Longest display or group name, in characters.
pub const MAX_NAME_CHARS: usize = 100;
/// Largest attachment `metadata`, serialized.
pub const MAX_METADATA_BYTES: usize = 4096;
/// Passwords longer than this are refused before hashing, so hashing cost stays bounded.
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// Lower-cases and checks a username: 3–32 of `[a-z0-9_.-]`, unique regardless of case.
pub fn username(raw: &str) -> Result<String> {
    let name = raw.trim().to_ascii_lowercase();
    let ok_len = (3..=32).contains(&name.len());
    let ok_chars = name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_.-".contains(&b));
    if ok_len && ok_chars {
        Ok(name)
    } else {
        Err(Error::InvalidRequest("username must be 3-32 characters of a-z, 0-9, '_', '.', '-'".into()))
    }
}

pub fn password(raw: &str) -> Result<()> {
    if raw.chars().count() < 8 {
        return Err(Error::InvalidRequest("password must be at least 8 characters".into()));
    }
    if raw.len() > MAX_PASSWORD_BYTES {
        return Err(Error::InvalidRequest(format!("password must be at most {MAX_PASSWORD_BYTES} bytes")));
    }
    Ok(())
}

/// A display name: trimmed, defaulting to the username, at most [`MAX_NAME_CHARS`] characters.
pub fn display_name(raw: Option<&str>, username: &str) -> Result<String> {
    let name = raw.map(str::trim).filter(|s| !s.is_empty()).unwrap_or(username);
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(Error::InvalidRequest(format!(
            "displayName must be at most {MAX_NAME_CHARS} characters"
        )));
    }
    Ok(name.to_string())
}

pub fn group_name(raw: &str) -> Result<String> {
    let name = raw.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err(Error::InvalidRequest(format!("group name must be 1-{MAX_NAME_CHARS} characters")));
    }
    Ok(name.to_string())
}

/// A client-chosen id (`messageId`, `deviceId`): 1–128 printable ASCII characters.
pub fn client_id(field: &str, raw: &str) -> Result<()> {
    let ok = !raw.is_empty() && raw.len() <= MAX_ID_LEN && raw.bytes().all(|b| b.is_ascii_graphic());
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidRequest(format!("{field} must be 1-{MAX_ID_LEN} printable ASCII characters")))
    }
}

/// Parses and checks message content. Unknown types and empty text are `INVALID_MESSAGE`; text
/// longer than `max_text_bytes` is `PAYLOAD_TOO_LARGE`.
pub fn content(raw: &Value, max_text_bytes: usize) -> Result<Content> {
    let invalid = |m: &str| Error::InvalidMessage(m.to_string());
    let obj = raw.as_object().ok_or_else(|| invalid("content must be an object with a `type`"))?;
    let kind =
        obj.get("type").and_then(Value::as_str).ok_or_else(|| invalid("content needs a string `type`"))?;
    let text_field = |required: bool| -> Result<Option<String>> {
        match obj.get("text") {
            None | Some(Value::Null) if !required => Ok(None),
            None | Some(Value::Null) => Err(invalid("text content needs `text`")),
            Some(Value::String(s)) => {
                if s.len() > max_text_bytes {
                    return Err(Error::PayloadTooLarge(format!("text is over {max_text_bytes} bytes")));
                }
                if required && s.trim().is_empty() {
                    return Err(invalid("text must not be empty"));
                }
                Ok(Some(s.clone()))
            }
            Some(_) => Err(invalid("`text` must be a string")),
        }
    };
    match kind {
        "text" => Ok(Content::Text { text: text_field(true)?.unwrap_or_default() }),
        "image" | "file" => {
            let attachment_id = obj
                .get("attachmentId")
                .and_then(Value::as_str)
                .ok_or_else(|| invalid("attachment content needs a string `attachmentId`"))?;
            client_id("attachmentId", attachment_id).map_err(|e| invalid(&e.to_string()))?;
            let metadata = match obj.get("metadata") {
                None | Some(Value::Null) => None,
                Some(m @ Value::Object(_)) => {
                    if m.to_string().len() > MAX_METADATA_BYTES {
                        return Err(Error::PayloadTooLarge(format!(
                            "metadata is over {MAX_METADATA_BYTES} bytes"
                        )));
                    }
                    Some(m.clone())
                }
                Some(_) => return Err(invalid("`metadata` must be an object")),
            };
            let attachment = AttachmentContent {
                attachment_id: attachment_id.to_string(),
                text: text_field(false)?,
                metadata,
            };
            Ok(if kind == "image" { Content::Image(attachment) } else { Content::File(attachment) })
        }
        other => Err(invalid(&format!("unknown content type `{other}`"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use confab_proto::ErrorCode;
    use serde_json::json;

    #[test]
    fn usernames_are_case_insensitive_and_restricted() {
        assert_eq!(username("Alice_1").unwrap(), "alice_1");
        assert!(username("al").is_err());
        assert!(username("a b c").is_err());
        assert!(username(&"x".repeat(33)).is_err());
        assert!(username("ok.name-2").is_ok());
    }

    #[test]
    fn passwords_need_eight_characters() {
        assert!(password("short").is_err());
        assert!(password("long enough").is_ok());
    }

    #[test]
    fn content_rules() {
        assert_eq!(
            content(&json!({"type":"text","text":"hi"}), 10).unwrap(),
            Content::Text { text: "hi".into() }
        );
        assert_eq!(
            content(&json!({"type":"text","text":"  "}), 10).unwrap_err().code(),
            ErrorCode::InvalidMessage
        );
        assert_eq!(content(&json!({"type":"video"}), 10).unwrap_err().code(), ErrorCode::InvalidMessage);
        assert_eq!(content(&json!("hi"), 10).unwrap_err().code(), ErrorCode::InvalidMessage);
        assert_eq!(
            content(&json!({"type":"text","text":"x".repeat(11)}), 10).unwrap_err().code(),
            ErrorCode::PayloadTooLarge
        );
        let image = content(&json!({"type":"image","attachmentId":"a1","text":"cap"}), 10).unwrap();
        assert!(matches!(image, Content::Image(a) if a.text.as_deref() == Some("cap")));
        assert_eq!(content(&json!({"type":"file"}), 10).unwrap_err().code(), ErrorCode::InvalidMessage);
    }
}
