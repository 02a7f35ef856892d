//! The declarations describe what serde actually writes: for sample values of the wire types, every
//! key serde writes is a declared field, every field serde leaves out is declared optional, and
//! tagged enums carry the tags serde writes.

use std::collections::BTreeMap;

use confab_proto::frames::*;
use confab_proto::*;
use serde_json::{json, Value};

/// The fields of a struct declaration `{ a: T, b?: U, }`: name -> optional.
fn fields(decl: &str) -> BTreeMap<String, bool> {
    let body = &decl[decl.find("= {").expect("a struct declaration") + 3..];
    let mut out = BTreeMap::new();
    let (mut depth, mut start) = (0i32, 0usize);
    let bytes = body.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'/' if body[i..].starts_with("/**") => {
                i += body[i..].find("*/").expect("closed doc comment") + 2;
                start = i;
                continue;
            }
            b'{' | b'(' | b'<' => depth += 1,
            b'}' | b')' | b'>' if depth > 0 => depth -= 1,
            b'}' => break,
            b',' if depth == 0 => {
                let field = body[start..i].trim();
                let (name, _) = field.split_once(':').unwrap_or_else(|| panic!("field `{field}`"));
                let name = name.trim().trim_matches('"');
                let optional = name.ends_with('?');
                out.insert(name.trim_end_matches('?').to_string(), optional);
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    out
}

fn declaration(name: &str) -> String {
    confab_proto_ts::types()
        .into_iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no declaration of {name}"))
        .1
}

/// `value` (serde's JSON of a `name`) agrees with the declaration of `name`.
fn agrees(name: &str, value: &Value) {
    let declared = fields(&declaration(name));
    let object = value.as_object().unwrap_or_else(|| panic!("{name} is not a JSON object: {value}"));
    for key in object.keys() {
        assert!(declared.contains_key(key), "{name}: serde writes `{key}`, not declared in {declared:?}");
    }
    for (field, optional) in &declared {
        if !object.contains_key(field) {
            assert!(optional, "{name}: `{field}` is required in TypeScript but serde left it out of {value}");
        }
    }
}

/// serde's JSON of a wire value.
macro_rules! json_of {
    ($value:expr) => {
        serde_json::to_value(&$value).expect("wire types serialize")
    };
}

fn message(status: Option<MessageStatus>) -> Message {
    let mut m = Message::new("m".into(), "c".into(), "u".into(), Content::Text { text: "hi".into() }, 1, 2);
    m.status = status;
    m
}

/// A message with every lifecycle field set.
fn changed_message() -> Message {
    let mut m = message(None);
    m.reply_to = Some("r".into());
    m.reply_to_sequence = Some(1);
    m.edited_at = Some(3);
    m.reactions =
        Some(vec![confab_proto::Reaction { emoji: "👍".into(), count: 2, user_ids: vec!["u".into()] }]);
    m.update_sequence = 4;
    m
}

fn conversation(last_message: Option<Message>) -> Conversation {
    Conversation {
        conversation_id: "c".into(),
        kind: ConversationType::Group,
        name: None,
        participants: vec![Participant { user_id: "u".into(), role: Role::Admin }],
        member_count: 1,
        settings: GroupSettings::default(),
        created_at: 1,
        last_sequence: 0,
        last_message,
        last_read_sequence: 0,
        unread_count: 0,
        last_update_sequence: 0,
        first_sequence: 0,
        muted: true,
        muted_until: Some(5),
    }
}

#[test]
fn structs_agree_with_serde() {
    agrees("Message", &json_of!(message(None)));
    agrees("Message", &json_of!(message(Some(MessageStatus::Read))));
    agrees("Message", &json_of!(changed_message()));
    agrees("Conversation", &json_of!(conversation(None)));
    agrees("Conversation", &json_of!(conversation(Some(message(None)))));
    agrees("GroupSettings", &json_of!(GroupSettings::default()));
    agrees("ErrorBody", &json_of!(ErrorBody::new(ErrorCode::Forbidden, "no")));
    agrees(
        "Presence",
        &json_of!(Presence { user_id: "u".into(), status: PresenceStatus::Away, last_seen: None }),
    );
    agrees(
        "AttachmentContent",
        &json_of!(AttachmentContent { attachment_id: "a".into(), text: None, metadata: None }),
    );
    agrees(
        "RegisterRequest",
        &json_of!(RegisterRequest {
            username: "a".into(),
            password: "b".into(),
            display_name: None,
            invite_code: None
        }),
    );
    agrees("SyncRequest", &json_of!(SyncRequest::default()));
    agrees("UpdateProfileRequest", &json_of!(UpdateProfileRequest::default()));
    agrees(
        "UpdateProfileRequest",
        &json_of!(UpdateProfileRequest { display_name: Some("a".into()), show_last_seen: Some(false) }),
    );
    agrees(
        "HistoryResponse",
        &json_of!(HistoryResponse { messages: vec![], has_more: false, next_cursor: None }),
    );
    agrees(
        "SendPayload",
        &json_of!(SendPayload {
            message_id: None,
            conversation_id: "c".into(),
            content: json!({"type": "text"}),
            reply_to: None,
            expires_in_seconds: None,
        }),
    );
    agrees(
        "SendPayload",
        &json_of!(SendPayload {
            message_id: None,
            conversation_id: "c".into(),
            content: json!({"type": "text"}),
            reply_to: Some("m".into()),
            expires_in_seconds: None,
        }),
    );
    agrees(
        "ConnectedPayload",
        &json_of!(ConnectedPayload {
            connection_id: "x".into(),
            user_id: "u".into(),
            device_id: "d".into(),
            server_time: 1,
            heartbeat_interval: 2,
            resume_token: "r".into(),
        }),
    );
    agrees("UpdateConversationRequest", &json_of!(UpdateConversationRequest::default()));
    agrees(
        "UpdateConversationRequest",
        &json_of!(UpdateConversationRequest {
            name: Some("n".into()),
            settings: json!({"onlyAdminsCanPost": true}).as_object().cloned(),
        }),
    );
    agrees("SetRoleRequest", &json_of!(SetRoleRequest { role: Role::Member }));
    let blocked = BlockedUser {
        user: User { user_id: "u".into(), username: "n".into(), display_name: "N".into() },
        blocked_at: 1,
    };
    agrees("BlockedUser", &json_of!(blocked));
    agrees("BlocksResponse", &json_of!(BlocksResponse { blocks: vec![blocked] }));
    // What a client may leave out on input is optional too.
    let register: RegisterRequest =
        serde_json::from_value(json!({"username": "a", "password": "b"})).unwrap();
    assert_eq!(register.display_name, None);
    assert!(fields(&declaration("RegisterRequest"))["displayName"], "displayName may be left out");
}

#[test]
fn tagged_enums_carry_the_tags_serde_writes() {
    let content = declaration("Content");
    for (value, variant) in [
        (serde_json::to_value(Content::Text { text: "t".into() }).unwrap(), "text"),
        (
            serde_json::to_value(Content::File(AttachmentContent {
                attachment_id: "a".into(),
                text: None,
                metadata: None,
            }))
            .unwrap(),
            "file",
        ),
        (serde_json::to_value(Content::Deleted).unwrap(), "deleted"),
    ] {
        assert_eq!(value["type"], variant);
        assert!(content.contains(&format!("\"type\": \"{variant}\"")), "{content}");
    }

    let server = declaration("ServerEnvelope");
    let frames = [
        ServerFrame::HeartbeatAck(HeartbeatAckPayload { server_time: 1 }),
        ServerFrame::MessageNew(message(None)),
        ServerFrame::MessageUpdated(confab_proto::frames::MessageUpdatedPayload {
            message: changed_message(),
        }),
        ServerFrame::MessageReadReceipt(ReadReceiptPayload {
            conversation_id: "c".into(),
            read_up_to_sequence: 1,
            read_by: "u".into(),
            timestamp: 1,
        }),
        ServerFrame::Error(ErrorBody::new(ErrorCode::RateLimited, "slow")),
    ];
    for frame in frames {
        let value: Value = serde_json::from_str(&ServerEnvelope::new(None, frame).to_json()).unwrap();
        assert!(value.get("id").is_none(), "`id` is left out when absent, so it is optional: {value}");
        let tag = value["type"].as_str().unwrap();
        assert!(server.contains(&format!("\"type\": \"{tag}\", \"payload\": ")), "{tag} in {server}");
    }
    assert!(server.starts_with("export type ServerEnvelope = { id?: string, }"), "{server}");

    let client = declaration("ClientFrame");
    let frame = ClientEnvelope::new(
        Some("r1".into()),
        ClientFrame::MessageRead(UpToPayload { conversation_id: "c".into(), up_to_sequence: 3 }),
    );
    let value: Value = serde_json::from_str(&frame.to_json()).unwrap();
    assert_eq!(value["type"], "message.read");
    assert!(client.contains("{ \"type\": \"message.read\", \"payload\": UpToPayload }"), "{client}");
    agrees("UpToPayload", &value["payload"]);
}
