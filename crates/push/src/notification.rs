//! What a push delivers: the [`Notification`] the server builds per device, the [`Preview`]
//! setting that decides how much of the message it shows, the wire payload
//! ([`PushPayload`], defined in confab-proto) and the text a visible notification shows.

use base64::Engine as _;
use confab_proto::PushPayload;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::PushError;

/// Longest preview text sent, in characters: a notification shows a line or two, and every push
/// service caps the payload at about 4 KiB.
pub const PREVIEW_MAX_CHARS: usize = 500;
/// Longest sender or conversation name sent, in characters.
pub const NAME_MAX_CHARS: usize = 100;

/// How much of a message its notification shows.
///
/// The default is [`Preview::Hidden`]: FCM and APNs payloads are readable by Google and Apple (only
/// Web Push payloads are encrypted end to end), so nothing about the message leaves the server
/// unless the operator or the user chose so.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum Preview {
    /// Neither who wrote nor what: "New message". Written `none`.
    #[default]
    #[serde(rename = "none")]
    Hidden,
    /// The sender's and the conversation's names, not the text. Written `sender`.
    #[serde(rename = "sender")]
    Sender,
    /// Names and the beginning of the text. Written `full`.
    #[serde(rename = "full")]
    Full,
}

impl Preview {
    pub const ALL: [Preview; 3] = [Preview::Hidden, Preview::Sender, Preview::Full];

    /// The setting's name in configuration and JSON: `none`, `sender`, `full`.
    pub fn as_str(self) -> &'static str {
        match self {
            Preview::Hidden => "none",
            Preview::Sender => "sender",
            Preview::Full => "full",
        }
    }

    pub fn parse(s: &str) -> Option<Preview> {
        Preview::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

/// One push for one device: the newest message of a conversation and how many arrived since the
/// device's last push for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub conversation_id: String,
    /// A group's name, or the other member's for a direct conversation.
    pub conversation_title: Option<String>,
    pub message_id: String,
    pub sequence_number: u64,
    /// Messages since the last push for this device and conversation, this one included.
    pub count: u32,
    pub sender_name: Option<String>,
    /// The beginning of the message's text.
    pub preview: Option<String>,
    /// The app icon's badge (APNs), when the server counts unread conversations.
    pub badge: Option<u32>,
}

/// What a visible notification shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Alert {
    pub title: Option<String>,
    pub body: String,
}

impl Notification {
    /// The notification as `preview` allows it: [`Preview::Hidden`] drops the names and the text,
    /// [`Preview::Sender`] the text. Providers send whatever is left, so apply this before
    /// sending.
    pub fn with_preview(mut self, preview: Preview) -> Notification {
        match preview {
            Preview::Hidden => {
                self.conversation_title = None;
                self.sender_name = None;
                self.preview = None;
            }
            Preview::Sender => self.preview = None,
            Preview::Full => {}
        }
        self
    }

    /// The payload every provider carries (Web Push body, FCM `data`, APNs custom keys, webhook
    /// `notification`).
    pub fn payload(&self) -> PushPayload {
        PushPayload {
            conversation_id: self.conversation_id.clone(),
            message_id: self.message_id.clone(),
            sequence_number: self.sequence_number,
            count: self.count,
            sender_name: self.sender_name.clone(),
            preview: self.preview.clone(),
            title: self.conversation_title.clone(),
        }
    }

    /// The conversation's coalescing key: a newer push with the same key replaces an older one
    /// still queued at the push service (Web Push `Topic`, FCM `collapse_key`, APNs
    /// `apns-collapse-id`). 32 base64url characters of a hash, which fits every provider's limit
    /// and does not show the conversation id to anyone who sees only headers.
    pub fn collapse_key(&self) -> String {
        let digest = Sha256::new()
            .chain_update(b"confab-push collapse key\0")
            .chain_update(self.conversation_id.as_bytes())
            .finalize();
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..24])
    }

    /// "New message" or "N new messages": the text when the preview shows no text.
    pub(crate) fn generic_text(&self) -> String {
        if self.count > 1 {
            format!("{} new messages", self.count)
        } else {
            "New message".to_owned()
        }
    }

    /// The title and body of a visible notification, or `None` when it shows nothing about the
    /// message (no names, no text).
    pub(crate) fn alert(&self) -> Option<Alert> {
        if self.sender_name.is_none() && self.preview.is_none() && self.conversation_title.is_none() {
            return None;
        }
        let title = self.conversation_title.clone().or_else(|| self.sender_name.clone());
        let text = self.preview.clone().unwrap_or_else(|| self.generic_text());
        // In a group the title names the conversation, so the body says who wrote.
        let body = match (&self.sender_name, &title) {
            (Some(sender), Some(title)) if sender != title => format!("{sender}: {text}"),
            _ => text,
        };
        Some(Alert { title, body })
    }

    /// The request body `build` makes of this notification, shortened until it is at most `limit`
    /// bytes: first the text (halved until it fits, then dropped), then the names. A notification
    /// whose ids alone are too large is rejected.
    pub(crate) fn fit<F>(&self, limit: usize, build: F) -> Result<Vec<u8>, PushError>
    where
        F: Fn(&Notification) -> Result<Vec<u8>, PushError>,
    {
        let mut n = self.clone();
        n.preview = n.preview.map(|p| truncate_chars(&p, PREVIEW_MAX_CHARS));
        n.sender_name = n.sender_name.map(|s| truncate_chars(&s, NAME_MAX_CHARS));
        n.conversation_title = n.conversation_title.map(|s| truncate_chars(&s, NAME_MAX_CHARS));
        loop {
            let body = build(&n)?;
            if body.len() <= limit {
                return Ok(body);
            }
            if let Some(preview) = &n.preview {
                let chars = preview.chars().count();
                n.preview = (chars > 1).then(|| truncate_chars(preview, chars / 2));
            } else if n.sender_name.is_some() || n.conversation_title.is_some() {
                n.sender_name = None;
                n.conversation_title = None;
            } else {
                return Err(PushError::Rejected(format!("notification larger than {limit} bytes")));
            }
        }
    }
}

/// `s` cut to at most `max` characters, the last one an ellipsis when something was cut.
fn truncate_chars(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut cut: String = s.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn sample() -> Notification {
        Notification {
            conversation_id: "c1".into(),
            conversation_title: Some("Team".into()),
            message_id: "m9".into(),
            sequence_number: 42,
            count: 3,
            sender_name: Some("Alice".into()),
            preview: Some("Lunch at noon?".into()),
            badge: Some(5),
        }
    }

    #[test]
    fn preview_reads_and_writes_as_configured() {
        for p in Preview::ALL {
            assert_eq!(Preview::parse(p.as_str()), Some(p));
            assert_eq!(serde_json::to_string(&p).unwrap(), format!("\"{}\"", p.as_str()));
        }
        assert_eq!(Preview::parse("None"), None);
        assert_eq!(Preview::default(), Preview::Hidden);
    }

    #[test]
    fn the_preview_setting_drops_what_it_does_not_show() {
        let hidden = sample().with_preview(Preview::Hidden);
        assert_eq!((hidden.sender_name, hidden.preview, hidden.conversation_title), (None, None, None));
        let sender = sample().with_preview(Preview::Sender);
        assert_eq!(sender.sender_name.as_deref(), Some("Alice"));
        assert_eq!(sender.conversation_title.as_deref(), Some("Team"));
        assert_eq!(sender.preview, None);
        assert_eq!(sample().with_preview(Preview::Full), sample());
    }

    #[test]
    fn the_payload_is_the_protocol_shape() {
        let json = serde_json::to_value(sample().payload()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"conversationId": "c1", "messageId": "m9", "sequenceNumber": 42,
                "count": 3, "senderName": "Alice", "preview": "Lunch at noon?", "title": "Team"})
        );
        let json = serde_json::to_value(sample().with_preview(Preview::Hidden).payload()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"conversationId": "c1", "messageId": "m9", "sequenceNumber": 42, "count": 3})
        );
    }

    #[test]
    fn alerts_say_who_wrote_what_as_far_as_shown() {
        let a = sample().alert().unwrap();
        assert_eq!((a.title.as_deref(), a.body.as_str()), (Some("Team"), "Alice: Lunch at noon?"));
        let a = sample().with_preview(Preview::Sender).alert().unwrap();
        assert_eq!((a.title.as_deref(), a.body.as_str()), (Some("Team"), "Alice: 3 new messages"));
        let mut direct = sample();
        direct.conversation_title = Some("Alice".into());
        direct.count = 1;
        let a = direct.with_preview(Preview::Sender).alert().unwrap();
        assert_eq!((a.title.as_deref(), a.body.as_str()), (Some("Alice"), "New message"));
        assert_eq!(sample().with_preview(Preview::Hidden).alert(), None);
    }

    #[test]
    fn collapse_keys_are_short_stable_and_per_conversation() {
        let key = sample().collapse_key();
        assert_eq!(key.len(), 32);
        assert!(key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        assert_eq!(key, sample().collapse_key());
        let mut other = sample();
        other.conversation_id = "c2".into();
        assert_ne!(key, other.collapse_key());
    }

    #[test]
    fn fitting_shortens_the_text_then_the_names() {
        let mut n = sample();
        n.preview = Some("é".repeat(2000));
        let build = |n: &Notification| Ok(serde_json::to_vec(&n.payload()).unwrap());
        let body = n.fit(400, build).unwrap();
        assert!(body.len() <= 400);
        let payload: PushPayload = serde_json::from_slice(&body).unwrap();
        let preview = payload.preview.unwrap();
        assert!(preview.ends_with('…') && preview.starts_with("éé"));
        assert_eq!(payload.sender_name.as_deref(), Some("Alice"));

        let body = n.fit(90, build).unwrap();
        let payload: PushPayload = serde_json::from_slice(&body).unwrap();
        assert_eq!((payload.preview, payload.sender_name, payload.title), (None, None, None));

        assert!(matches!(n.fit(10, build), Err(PushError::Rejected(_))));
    }

    #[test]
    fn truncation_counts_characters_not_bytes() {
        assert_eq!(truncate_chars("héllo", 5), "héllo");
        assert_eq!(truncate_chars("héllo", 3), "hé…");
    }
}
