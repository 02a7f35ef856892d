//! WebSocket frames: `{type, id?, payload}` JSON text frames in both directions.
//!
//! Both directions serialize through serde's adjacent tagging (`type` + `payload`) with the request
//! `id` beside them, and parse through [`ClientEnvelope::parse`] / [`ServerEnvelope::parse`], which
//! read the envelope once and the payload by type, so an error can say exactly what was wrong and
//! still echo the request `id`.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::error::{ErrorBody, ErrorCode};
use crate::model::{Conversation, Message, MessageAck, Presence, PresenceStatus};
use crate::rest::{SyncRequest, SyncResponse};

/// `message.send`: `messageId` is the client's idempotency key, scoped to the sender (another
/// sender's message with the same id is a different message); the server makes one when absent.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct SendPayload {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    pub conversation_id: String,
    pub content: serde_json::Value,
    /// The `messageId` of a message of the same conversation this one replies to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
    /// A disappearing message: it expires this many seconds after it is stored (1 s to 1 year).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in_seconds: Option<u64>,
}

/// `message.edit`: the new content of the caller's own message.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct EditPayload {
    pub conversation_id: String,
    pub message_id: String,
    pub content: serde_json::Value,
}

/// `message.delete`: one message of a conversation. `senderId` (Confab extension) names the
/// sender when several senders' messages there share the `messageId`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct MessageRefPayload {
    pub conversation_id: String,
    pub message_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender_id: Option<String>,
}

/// `reaction.add` / `reaction.remove`; `senderId` as in [`MessageRefPayload`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ReactionPayload {
    pub conversation_id: String,
    pub message_id: String,
    pub emoji: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender_id: Option<String>,
}

/// `message.received` / `message.read`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct UpToPayload {
    pub conversation_id: String,
    pub up_to_sequence: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ConversationRef {
    pub conversation_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct PresenceSubscribePayload {
    pub user_ids: Vec<String>,
}

/// `presence.set` (Confab extension): an idle client reports `away`, and `online` when active again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct PresenceSetPayload {
    pub status: PresenceStatus,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct HeartbeatPayload {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<i64>,
}

/// Frames a client sends.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "type", content = "payload")]
pub enum ClientFrame {
    #[serde(rename = "message.send")]
    MessageSend(SendPayload),
    #[serde(rename = "message.received")]
    MessageReceived(UpToPayload),
    #[serde(rename = "message.read")]
    MessageRead(UpToPayload),
    #[serde(rename = "message.edit")]
    MessageEdit(EditPayload),
    #[serde(rename = "message.delete")]
    MessageDelete(MessageRefPayload),
    #[serde(rename = "reaction.add")]
    ReactionAdd(ReactionPayload),
    #[serde(rename = "reaction.remove")]
    ReactionRemove(ReactionPayload),
    #[serde(rename = "typing.start")]
    TypingStart(ConversationRef),
    #[serde(rename = "typing.stop")]
    TypingStop(ConversationRef),
    #[serde(rename = "presence.subscribe")]
    PresenceSubscribe(PresenceSubscribePayload),
    #[serde(rename = "presence.set")]
    PresenceSet(PresenceSetPayload),
    #[serde(rename = "sync")]
    Sync(SyncRequest),
    #[serde(rename = "heartbeat")]
    Heartbeat(HeartbeatPayload),
}

/// A client frame with its optional request id.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ClientEnvelope {
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub id: Option<String>,
    #[serde(flatten)]
    pub frame: ClientFrame,
}

/// Why a frame could not be read: the protocol error to send back, with the `id` if one was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameError {
    pub id: Option<String>,
    pub body: ErrorBody,
}

#[derive(Deserialize)]
struct RawEnvelope<'a> {
    #[serde(rename = "type")]
    kind: Option<String>,
    /// Kept as raw JSON so a numeric id is echoed digit for digit (a `Number` would round anything
    /// past 2^64, or past 2^53 through `f64`).
    #[serde(borrow, default)]
    id: Option<&'a RawValue>,
    #[serde(borrow, default)]
    payload: Option<&'a RawValue>,
}

/// Reads the envelope once; `payload` is parsed later by type.
fn read_envelope(text: &str) -> Result<(Option<String>, String, Option<&RawValue>), FrameError> {
    let invalid = |id: Option<String>, message: String| FrameError {
        id,
        body: ErrorBody::new(ErrorCode::InvalidRequest, message),
    };
    let raw: RawEnvelope<'_> =
        serde_json::from_str(text).map_err(|e| invalid(None, format!("malformed JSON frame: {e}")))?;
    let id = match raw.id.map(RawValue::get) {
        None | Some("null") => None,
        Some(text) if text.starts_with('"') => Some(
            serde_json::from_str::<String>(text)
                .map_err(|e| invalid(None, format!("malformed frame `id`: {e}")))?,
        ),
        // A numeric id is echoed back as the number's text, exactly as sent, rather than refused.
        Some(text) if text.starts_with(|c: char| c == '-' || c.is_ascii_digit()) => Some(text.to_string()),
        Some(_) => return Err(invalid(None, "frame `id` must be a string".into())),
    };
    let Some(kind) = raw.kind else {
        return Err(invalid(id, "frame has no `type`".into()));
    };
    Ok((id, kind, raw.payload))
}

fn payload<T: serde::de::DeserializeOwned>(
    id: &Option<String>,
    kind: &str,
    raw: Option<&RawValue>,
    default_when_absent: Option<T>,
) -> Result<T, FrameError> {
    let parsed = match (raw, default_when_absent) {
        (None, Some(default)) => Ok(default),
        (None, None) => serde_json::from_str("{}"),
        (Some(raw), _) => serde_json::from_str(raw.get()),
    };
    parsed.map_err(|e| FrameError {
        id: id.clone(),
        body: ErrorBody::new(ErrorCode::InvalidRequest, format!("invalid `{kind}` payload: {e}")),
    })
}

impl ClientEnvelope {
    /// Parses a client text frame. Unknown types, malformed JSON and bad payloads become
    /// `INVALID_REQUEST` errors that echo the request id when it could be read.
    pub fn parse(text: &str) -> Result<ClientEnvelope, FrameError> {
        let (id, kind, raw) = read_envelope(text)?;
        let frame = match kind.as_str() {
            "message.send" => ClientFrame::MessageSend(payload(&id, &kind, raw, None)?),
            "message.received" => ClientFrame::MessageReceived(payload(&id, &kind, raw, None)?),
            "message.read" => ClientFrame::MessageRead(payload(&id, &kind, raw, None)?),
            "message.edit" => ClientFrame::MessageEdit(payload(&id, &kind, raw, None)?),
            "message.delete" => ClientFrame::MessageDelete(payload(&id, &kind, raw, None)?),
            "reaction.add" => ClientFrame::ReactionAdd(payload(&id, &kind, raw, None)?),
            "reaction.remove" => ClientFrame::ReactionRemove(payload(&id, &kind, raw, None)?),
            "typing.start" => ClientFrame::TypingStart(payload(&id, &kind, raw, None)?),
            "typing.stop" => ClientFrame::TypingStop(payload(&id, &kind, raw, None)?),
            "presence.subscribe" => ClientFrame::PresenceSubscribe(payload(&id, &kind, raw, None)?),
            "presence.set" => ClientFrame::PresenceSet(payload(&id, &kind, raw, None)?),
            "sync" => ClientFrame::Sync(payload(&id, &kind, raw, Some(SyncRequest::default()))?),
            "heartbeat" => {
                ClientFrame::Heartbeat(payload(&id, &kind, raw, Some(HeartbeatPayload::default()))?)
            }
            other => {
                return Err(FrameError {
                    id,
                    body: ErrorBody::new(ErrorCode::InvalidRequest, format!("unknown frame type `{other}`")),
                })
            }
        };
        Ok(ClientEnvelope { id, frame })
    }

    pub fn new(id: Option<String>, frame: ClientFrame) -> Self {
        Self { id, frame }
    }

    /// The request id of a frame that will not be processed (e.g. one over the size limit), if
    /// its envelope can be read at all.
    pub fn peek_id(text: &str) -> Option<String> {
        read_envelope(text).ok().and_then(|(id, _, _)| id)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("client frames always serialize")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ConnectedPayload {
    pub connection_id: String,
    pub user_id: String,
    pub device_id: String,
    pub server_time: i64,
    pub heartbeat_interval: u64,
    pub resume_token: String,
}

/// `message.updated`: a message in its current state after an edit, a delete or a reaction change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct MessageUpdatedPayload {
    pub message: Message,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct DeliveredPayload {
    pub conversation_id: String,
    pub message_ids: Vec<String>,
    pub delivered_to: String,
    pub up_to_sequence: u64,
    pub timestamp: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ReadReceiptPayload {
    pub conversation_id: String,
    pub read_up_to_sequence: u64,
    pub read_by: String,
    pub timestamp: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct TypingPayload {
    pub conversation_id: String,
    pub user_id: String,
    pub is_typing: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct PresenceBulkPayload {
    pub presences: Vec<Presence>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct HeartbeatAckPayload {
    pub server_time: i64,
}

/// Frames the server sends.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "type", content = "payload")]
pub enum ServerFrame {
    #[serde(rename = "connected")]
    Connected(ConnectedPayload),
    #[serde(rename = "message.ack")]
    MessageAck(MessageAck),
    #[serde(rename = "message.new")]
    MessageNew(Message),
    #[serde(rename = "message.updated")]
    MessageUpdated(MessageUpdatedPayload),
    #[serde(rename = "message.delivered")]
    MessageDelivered(DeliveredPayload),
    #[serde(rename = "message.read_receipt")]
    MessageReadReceipt(ReadReceiptPayload),
    #[serde(rename = "typing.update")]
    TypingUpdate(TypingPayload),
    #[serde(rename = "presence.bulk")]
    PresenceBulk(PresenceBulkPayload),
    #[serde(rename = "presence.update")]
    PresenceUpdate(Presence),
    #[serde(rename = "conversation.updated")]
    ConversationUpdated(Conversation),
    #[serde(rename = "sync.result")]
    SyncResult(SyncResponse),
    #[serde(rename = "heartbeat.ack")]
    HeartbeatAck(HeartbeatAckPayload),
    #[serde(rename = "error")]
    Error(ErrorBody),
}

/// A server frame with the id of the request it answers, if any.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ServerEnvelope {
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub id: Option<String>,
    #[serde(flatten)]
    pub frame: ServerFrame,
}

impl ServerEnvelope {
    pub fn new(id: Option<String>, frame: ServerFrame) -> Self {
        Self { id, frame }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("server frames always serialize")
    }

    /// Parses a server text frame (used by clients). `Ok(None)` for a frame type this version
    /// does not know, which clients ignore so servers can add frames.
    pub fn parse(text: &str) -> Result<Option<ServerEnvelope>, FrameError> {
        let (id, kind, raw) = read_envelope(text)?;
        let frame = match kind.as_str() {
            "connected" => ServerFrame::Connected(payload(&id, &kind, raw, None)?),
            "message.ack" => ServerFrame::MessageAck(payload(&id, &kind, raw, None)?),
            "message.new" => ServerFrame::MessageNew(payload(&id, &kind, raw, None)?),
            "message.updated" => ServerFrame::MessageUpdated(payload(&id, &kind, raw, None)?),
            "message.delivered" => ServerFrame::MessageDelivered(payload(&id, &kind, raw, None)?),
            "message.read_receipt" => ServerFrame::MessageReadReceipt(payload(&id, &kind, raw, None)?),
            "typing.update" => ServerFrame::TypingUpdate(payload(&id, &kind, raw, None)?),
            "presence.bulk" => ServerFrame::PresenceBulk(payload(&id, &kind, raw, None)?),
            "presence.update" => ServerFrame::PresenceUpdate(payload(&id, &kind, raw, None)?),
            "conversation.updated" => ServerFrame::ConversationUpdated(payload(&id, &kind, raw, None)?),
            "sync.result" => ServerFrame::SyncResult(payload(&id, &kind, raw, None)?),
            "heartbeat.ack" => ServerFrame::HeartbeatAck(payload(&id, &kind, raw, None)?),
            "error" => ServerFrame::Error(payload(&id, &kind, raw, None)?),
            _ => return Ok(None),
        };
        Ok(Some(ServerEnvelope { id, frame }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_frames_round_trip() {
        let frame = ClientEnvelope::new(
            Some("r1".into()),
            ClientFrame::MessageSend(SendPayload {
                message_id: Some("m1".into()),
                conversation_id: "c1".into(),
                content: serde_json::json!({"type": "text", "text": "hi"}),
                reply_to: None,
                expires_in_seconds: None,
            }),
        );
        let json = frame.to_json();
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(value["type"], "message.send");
        assert_eq!(value["id"], "r1");
        assert_eq!(value["payload"]["conversationId"], "c1");
        let parsed = ClientEnvelope::parse(&json).unwrap();
        assert_eq!(parsed.id.as_deref(), Some("r1"));
        assert!(matches!(parsed.frame, ClientFrame::MessageSend(p) if p.message_id.as_deref() == Some("m1")));
    }

    #[test]
    fn bad_frames_name_the_problem_and_keep_the_id() {
        let err = ClientEnvelope::parse("{not json").unwrap_err();
        assert_eq!(err.body.error, ErrorCode::InvalidRequest);
        assert_eq!(err.id, None);

        let err = ClientEnvelope::parse(r#"{"type":"bogus","id":"7","payload":{}}"#).unwrap_err();
        assert_eq!(err.id.as_deref(), Some("7"));
        assert!(err.body.message.contains("unknown frame type"), "{}", err.body.message);

        let err = ClientEnvelope::parse(r#"{"type":"message.read","id":8,"payload":{"conversationId":1}}"#)
            .unwrap_err();
        assert_eq!(err.id.as_deref(), Some("8"));
        assert!(err.body.message.contains("message.read"), "{}", err.body.message);
    }

    #[test]
    fn numeric_ids_are_echoed_exactly_as_sent() {
        for (sent, echoed) in [
            ("123456789012345678901234567890", "123456789012345678901234567890"),
            ("9007199254740993", "9007199254740993"),
            ("-18446744073709551617", "-18446744073709551617"),
            ("1.5", "1.5"),
            ("\"a\\u0062\"", "ab"),
        ] {
            let frame = format!(r#"{{"type":"heartbeat","id":{sent}}}"#);
            let parsed = ClientEnvelope::parse(&frame).unwrap();
            assert_eq!(parsed.id.as_deref(), Some(echoed), "{sent}");
            assert_eq!(ClientEnvelope::peek_id(&frame).as_deref(), Some(echoed));
        }
        assert_eq!(ClientEnvelope::parse(r#"{"type":"heartbeat","id":null}"#).unwrap().id, None);
        let err = ClientEnvelope::parse(r#"{"type":"heartbeat","id":[1]}"#).unwrap_err();
        assert!(err.body.message.contains("`id`"), "{}", err.body.message);
    }

    #[test]
    fn lifecycle_frames_parse_by_type() {
        let edit = ClientEnvelope::parse(
            r#"{"type":"message.edit","id":"e","payload":{"conversationId":"c","messageId":"m","content":{"type":"text","text":"x"}}}"#,
        )
        .unwrap();
        assert!(matches!(edit.frame, ClientFrame::MessageEdit(p) if p.message_id == "m"));
        let delete = ClientEnvelope::parse(
            r#"{"type":"message.delete","payload":{"conversationId":"c","messageId":"m","senderId":"s"}}"#,
        )
        .unwrap();
        assert!(matches!(delete.frame, ClientFrame::MessageDelete(p) if p.sender_id.as_deref() == Some("s")));
        for kind in ["reaction.add", "reaction.remove"] {
            let frame = format!(
                r#"{{"type":"{kind}","payload":{{"conversationId":"c","messageId":"m","emoji":"👍"}}}}"#
            );
            let parsed = ClientEnvelope::parse(&frame).unwrap();
            assert!(matches!(
                parsed.frame,
                ClientFrame::ReactionAdd(ref p) | ClientFrame::ReactionRemove(ref p) if p.emoji == "👍"
            ));
        }
        let err =
            ClientEnvelope::parse(r#"{"type":"reaction.add","id":"r","payload":{"conversationId":"c"}}"#)
                .unwrap_err();
        assert_eq!(err.id.as_deref(), Some("r"));
    }

    #[test]
    fn heartbeat_payload_may_be_omitted() {
        let parsed = ClientEnvelope::parse(r#"{"type":"heartbeat"}"#).unwrap();
        assert!(matches!(parsed.frame, ClientFrame::Heartbeat(_)));
    }

    #[test]
    fn server_frames_round_trip_and_unknown_types_are_skipped() {
        let frame = ServerEnvelope::new(
            Some("x".into()),
            ServerFrame::HeartbeatAck(HeartbeatAckPayload { server_time: 5 }),
        );
        let json = frame.to_json();
        assert_eq!(json, r#"{"id":"x","type":"heartbeat.ack","payload":{"serverTime":5}}"#);
        let parsed = ServerEnvelope::parse(&json).unwrap().unwrap();
        assert!(matches!(parsed.frame, ServerFrame::HeartbeatAck(p) if p.server_time == 5));
        assert!(ServerEnvelope::parse(r#"{"type":"future.frame","payload":{}}"#).unwrap().is_none());
    }
}
