//! Objects carried by both REST and WebSocket: users, conversations, messages, presence.

use serde::{Deserialize, Serialize};

/// A user as other users see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub user_id: String,
    pub username: String,
    pub display_name: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "lowercase")]
pub enum ConversationType {
    Direct,
    Group,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    Member,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Member => "member",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct Participant {
    pub user_id: String,
    pub role: Role,
}

/// Group settings. Both default to `false`: only admins post-restrict when asked to, and only admins
/// invite unless members are allowed to. Direct conversations carry the defaults.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase", default)]
pub struct GroupSettings {
    pub only_admins_can_post: bool,
    pub allow_member_invites: bool,
}

/// A conversation as one member sees it (`lastReadSequence` and `unreadCount` are that member's).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct Conversation {
    pub conversation_id: String,
    #[serde(rename = "type")]
    pub kind: ConversationType,
    pub name: Option<String>,
    /// May be truncated for large groups; `memberCount` is always exact.
    pub participants: Vec<Participant>,
    pub member_count: u32,
    pub settings: GroupSettings,
    pub created_at: i64,
    pub last_sequence: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_message: Option<Message>,
    pub last_read_sequence: u64,
    pub unread_count: u64,
}

/// Message content: text, or an attachment reference with an optional caption.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Content {
    Text { text: String },
    Image(AttachmentContent),
    File(AttachmentContent),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct AttachmentContent {
    pub attachment_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<serde_json::Value>,
}

/// Delivery state of the caller's own messages in history and sync (a Confab extension of the
/// message object, absent on other members' messages).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MessageStatus {
    Sent,
    Delivered,
    Read,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct Message {
    pub message_id: String,
    pub conversation_id: String,
    pub sender_id: String,
    pub content: Content,
    pub sequence_number: u64,
    pub timestamp: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<MessageStatus>,
}

/// The reply to a send, REST or WebSocket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct MessageAck {
    pub message_id: String,
    pub conversation_id: String,
    pub sequence_number: u64,
    pub timestamp: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "lowercase")]
pub enum PresenceStatus {
    Online,
    Away,
    Offline,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct Presence {
    pub user_id: String,
    pub status: PresenceStatus,
    /// Last time the user was seen connected; `null` for a user never seen, or when either this
    /// user or the one told hides when they were last seen (`showLastSeen`).
    pub last_seen: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_is_tagged_by_type() {
        let text: Content = serde_json::from_str(r#"{"type":"text","text":"hi"}"#).unwrap();
        assert_eq!(text, Content::Text { text: "hi".into() });
        let image: Content =
            serde_json::from_str(r#"{"type":"image","attachmentId":"a1","metadata":{"w":3}}"#).unwrap();
        let Content::Image(a) = &image else { panic!("not an image: {image:?}") };
        assert_eq!(a.attachment_id, "a1");
        assert_eq!(
            serde_json::to_value(&image).unwrap(),
            serde_json::json!({"type":"image","attachmentId":"a1","metadata":{"w":3}})
        );
    }

    #[test]
    fn conversation_type_is_on_the_wire_as_type() {
        let c = Conversation {
            conversation_id: "c".into(),
            kind: ConversationType::Group,
            name: Some("g".into()),
            participants: vec![Participant { user_id: "u".into(), role: Role::Admin }],
            member_count: 1,
            settings: GroupSettings::default(),
            created_at: 1,
            last_sequence: 0,
            last_message: None,
            last_read_sequence: 0,
            unread_count: 0,
        };
        let v = serde_json::to_value(&c).unwrap();
        assert_eq!(v["type"], "group");
        assert_eq!(v["participants"][0]["role"], "admin");
        assert_eq!(v["settings"]["onlyAdminsCanPost"], false);
        assert!(v.get("lastMessage").is_none());
    }
}
