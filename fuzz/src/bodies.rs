//! Each request body as the services take it: the same rules in the same order, and properties of
//! what they accept.

use confab_core::{sync, validate};
use confab_proto::{
    AddMembersRequest, ChangePasswordRequest, Content, CreateConversationRequest, CreateGroupRequest,
    LoginRequest, RegisterRequest, SendMessageRequest, SyncRequest, UpdateProfileRequest,
};

use crate::names::{check_display_name, check_group_name};
use crate::{MAX_SYNC_CONVERSATIONS, MAX_TEXT_BYTES};

/// A username accepted once is accepted again as itself, and is made of the allowed characters.
pub fn check_username(raw: &str) -> Option<String> {
    let name = validate::username(raw).ok()?;
    assert!((3..=32).contains(&name.len()), "{name:?}");
    assert!(name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_.-".contains(&b)));
    assert_eq!(validate::username(&name).as_ref(), Ok(&name), "not idempotent");
    Some(name)
}

pub fn check_password(password: &str, username: &str) {
    if validate::password(password, username).is_ok() {
        assert!(password.chars().count() >= 8 && password.len() <= validate::MAX_PASSWORD_BYTES);
    }
}

/// Accepted content re-validates to itself once serialized, as it is stored and sent on.
pub fn check_content(raw: &serde_json::Value) {
    if let Ok(content) = validate::content(raw, MAX_TEXT_BYTES) {
        let text = match &content {
            Content::Text { text } => Some(text),
            Content::Image(a) | Content::Video(a) | Content::Audio(a) | Content::File(a) => a.text.as_ref(),
            Content::Deleted => panic!("a client's content was accepted as a tombstone"),
        };
        assert!(text.is_none_or(|t| t.len() <= MAX_TEXT_BYTES));
        let again = serde_json::to_value(&content).expect("content serializes");
        assert_eq!(validate::content(&again, MAX_TEXT_BYTES).as_ref(), Ok(&content), "not stable");
    }
}

pub fn check_ids(field: &str, ids: &[String]) {
    for id in ids {
        if validate::client_id(field, id).is_ok() {
            assert!(!id.is_empty() && id.len() <= validate::MAX_ID_LEN && id.is_ascii(), "{id:?}");
        }
    }
}

pub fn register(req: RegisterRequest) {
    if let Some(username) = check_username(&req.username) {
        check_password(&req.password, &username);
        check_display_name(req.display_name.as_deref(), &username);
    }
}

pub fn login(req: LoginRequest) {
    check_username(&req.username);
}

pub fn change_password(req: ChangePasswordRequest) {
    check_password(&req.new_password, "someone");
}

pub fn update_profile(req: UpdateProfileRequest) {
    if let Some(name) = req.display_name.as_deref() {
        check_display_name(Some(name), "someone");
    }
}

pub fn create_conversation(req: CreateConversationRequest) {
    check_ids("participantIds", &req.participant_ids);
}

pub fn create_group(req: CreateGroupRequest) {
    check_group_name(&req.name);
    check_ids("participantIds", &req.participant_ids);
}

pub fn add_members(req: AddMembersRequest) {
    check_ids("userIds", &req.user_ids);
}

pub fn send_message(req: SendMessageRequest) {
    if let Some(id) = &req.message_id {
        check_ids("messageId", std::slice::from_ref(id));
    }
    check_content(&req.content);
}

pub fn sync(req: SyncRequest) {
    if let Ok(plan) = sync::plan(&req, MAX_SYNC_CONVERSATIONS) {
        assert!(plan.cursors.len() <= MAX_SYNC_CONVERSATIONS);
    }
}
