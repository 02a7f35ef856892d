//! Objects carried by both REST and WebSocket: users, conversations, messages, presence.

use serde::{Deserialize, Serialize};

/// A user as other users see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub user_id: String,
    pub username: String,
    pub display_name: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum ConversationType {
    Direct,
    Group,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
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
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct Participant {
    pub user_id: String,
    pub role: Role,
}

/// Group settings. Both flags default to `false`: only admins post-restrict when asked to, and only
/// admins invite unless members are allowed to. Direct conversations carry the defaults.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", default)]
pub struct GroupSettings {
    pub only_admins_can_post: bool,
    pub allow_member_invites: bool,
    /// Messages older than this many days are removed (0: the server's retention alone applies;
    /// when both are set, the shorter one wins).
    pub retention_days: u32,
}

/// A conversation as one member sees it (`lastReadSequence` and `unreadCount` are that member's).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
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
    /// The conversation's update sequence: how many changes to existing messages (edits,
    /// deletes, reactions) it has seen; 0 before the first.
    #[serde(default)]
    pub last_update_sequence: u64,
    /// The oldest sequence number still stored (0 while the conversation has no message).
    #[serde(default)]
    pub first_sequence: u64,
    /// Whether the viewer has silenced the conversation's push notifications (now).
    #[serde(default)]
    pub muted: bool,
    /// Until when (ms since the epoch); absent when muted until unmuted, or not muted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub muted_until: Option<i64>,
}

/// Message content: text, or an attachment reference with an optional caption (`image`, `video`,
/// `audio` or `file`: how clients show it); `deleted` is what a message deleted for everyone holds
/// (never accepted in a send or an edit).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Content {
    Text { text: String },
    Image(AttachmentContent),
    Video(AttachmentContent),
    Audio(AttachmentContent),
    File(AttachmentContent),
    Deleted,
}

impl Content {
    /// The text of a text message or the caption of an attachment message.
    pub fn text(&self) -> Option<&str> {
        match self {
            Content::Text { text } => Some(text),
            Content::Image(a) | Content::Video(a) | Content::Audio(a) | Content::File(a) => a.text.as_deref(),
            Content::Deleted => None,
        }
    }

    /// The attachment an attachment message links.
    pub fn attachment(&self) -> Option<&AttachmentContent> {
        match self {
            Content::Image(a) | Content::Video(a) | Content::Audio(a) | Content::File(a) => Some(a),
            Content::Text { .. } | Content::Deleted => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
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
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MessageStatus {
    Sent,
    Delivered,
    Read,
}

/// The reactions with one emoji on one message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct Reaction {
    pub emoji: String,
    /// How many users reacted with it (exact).
    pub count: u32,
    /// The first users to react with it, earliest first: at most 20 of them.
    pub user_ids: Vec<String>,
}

/// A message in its current state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
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
    /// The `messageId` of the message this one replies to, in the same conversation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
    /// The `sequenceNumber` of the message replied to (Confab extension: which one is meant even
    /// when two senders used the same `messageId`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to_sequence: Option<u64>,
    /// When the text was last edited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edited_at: Option<i64>,
    /// `true` for a message deleted for everyone (a tombstone: `content` is `{type: "deleted"}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted: Option<bool>,
    /// Reactions, in the order their first user added them; absent when there are none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reactions: Option<Vec<Reaction>>,
    /// The conversation's update sequence at this message's latest change (0: never changed).
    #[serde(default)]
    pub update_sequence: u64,
    /// When a disappearing message expires (it is a tombstone from then on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
}

impl Message {
    /// A message as first stored: no reply, never changed.
    pub fn new(
        message_id: String,
        conversation_id: String,
        sender_id: String,
        content: Content,
        sequence_number: u64,
        timestamp: i64,
    ) -> Message {
        Message {
            message_id,
            conversation_id,
            sender_id,
            content,
            sequence_number,
            timestamp,
            status: None,
            reply_to: None,
            reply_to_sequence: None,
            edited_at: None,
            deleted: None,
            reactions: None,
            update_sequence: 0,
            expires_at: None,
        }
    }

    pub fn is_deleted(&self) -> bool {
        self.deleted == Some(true)
    }
}

/// The reply to a send, REST or WebSocket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct MessageAck {
    pub message_id: String,
    pub conversation_id: String,
    pub sequence_number: u64,
    pub timestamp: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum PresenceStatus {
    Online,
    Away,
    Offline,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
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
            last_update_sequence: 0,
            first_sequence: 0,
            muted: false,
            muted_until: None,
        };
        let v = serde_json::to_value(&c).unwrap();
        assert_eq!(v["type"], "group");
        assert_eq!(v["participants"][0]["role"], "admin");
        assert_eq!(v["settings"]["onlyAdminsCanPost"], false);
        assert!(v.get("lastMessage").is_none());
        assert_eq!((v["lastUpdateSequence"].as_u64(), v["firstSequence"].as_u64()), (Some(0), Some(0)));
        assert_eq!((v["muted"].as_bool(), v.get("mutedUntil")), (Some(false), None));
    }

    #[test]
    fn a_tombstone_has_deleted_content_and_no_optional_fields() {
        let mut m = Message::new("m".into(), "c".into(), "u".into(), Content::Deleted, 4, 9);
        m.deleted = Some(true);
        m.update_sequence = 3;
        let v = serde_json::to_value(&m).unwrap();
        assert_eq!(v["content"], serde_json::json!({"type": "deleted"}));
        assert_eq!((v["deleted"].as_bool(), v["updateSequence"].as_u64()), (Some(true), Some(3)));
        for absent in ["replyTo", "editedAt", "reactions", "status"] {
            assert!(v.get(absent).is_none(), "{absent}");
        }
        let back: Message = serde_json::from_value(v).unwrap();
        assert_eq!(back, m);
        // A version-1 message (no update fields) still reads.
        let old: Message = serde_json::from_str(
            r#"{"messageId":"m","conversationId":"c","senderId":"u","content":{"type":"text","text":"hi"},"sequenceNumber":1,"timestamp":2}"#,
        )
        .unwrap();
        assert_eq!((old.update_sequence, old.reactions.is_none()), (0, true));
    }
}
