//! TypeScript declarations of every type in `confab-proto`, generated with `ts-rs` from the Rust
//! definitions (serde's `rename_all`, tags and optional fields included) into one file,
//! `web/sdk/types/proto.d.ts`, which the web SDK and app are type-checked against (`tsc --noEmit`).
//!
//! This crate is the only one that turns on `confab-proto/ts`, so the server never compiles ts-rs.
//! It also writes the JSON Schema of the WebSocket frames ([`frame_schemas`], `confab-proto/schema`
//! with `schemars`) into `docs/schema/`, for clients in other languages.
//!
//! # Layout
//! - [`declarations`]: the text of `proto.d.ts`.
//! - `tests/declarations.rs`: fails when the committed file differs from it (drift), and when a
//!   serde type of `confab-proto` is missing from [`declarations`]. `CONFAB_UPDATE_TS=1 cargo test
//!   -p confab-proto-ts` rewrites the file instead.
//! - `tests/serde_agreement.rs`: the declarations match what serde writes for sample values
//!   (field names, optional fields, enum tags).
//! - `src/main.rs`: `cargo run -p confab-proto-ts` prints the declarations.
//! - [`frame_schemas`] and `tests/schemas.rs`: the JSON Schema files and their drift check (the
//!   same `CONFAB_UPDATE_TS=1` rewrites them).

use confab_proto::{admin, blocks, error, frames, groups, model, rest, server_api};
use ts_rs::{Config, TS};

/// Where the declarations are committed, relative to the workspace root.
pub const OUTPUT: &str = "web/sdk/types/proto.d.ts";

/// One declaration: the type's name and its `export type …` text.
fn decl<T: TS>(cfg: &Config) -> (String, String) {
    (T::name(cfg), format!("export {}", T::decl(cfg)))
}

/// Every exported type, in the order they appear in the file: (name, declaration).
pub fn types() -> Vec<(String, String)> {
    // u64/i64 are JSON numbers on the wire (sequence numbers and millisecond times stay far below
    // 2^53), so `number`, not ts-rs' default `bigint`.
    let cfg = Config::new().with_large_int("number");
    let cfg = &cfg;
    vec![
        // Any JSON value: message content as sent (the server validates it) and attachment metadata.
        decl::<serde_json::Value>(cfg),
        // error
        decl::<error::ErrorCode>(cfg),
        decl::<error::ErrorBody>(cfg),
        // model
        decl::<model::User>(cfg),
        decl::<model::ConversationType>(cfg),
        decl::<model::Role>(cfg),
        decl::<model::Participant>(cfg),
        decl::<model::GroupSettings>(cfg),
        decl::<model::Conversation>(cfg),
        decl::<model::Content>(cfg),
        decl::<model::AttachmentContent>(cfg),
        decl::<confab_proto::attachments::Attachment>(cfg),
        // push
        decl::<confab_proto::push::PushKind>(cfg),
        decl::<confab_proto::push::PushConfig>(cfg),
        decl::<confab_proto::push::WebPushKeys>(cfg),
        decl::<confab_proto::push::PushSubscriptionRequest>(cfg),
        decl::<confab_proto::push::PushSubscription>(cfg),
        decl::<confab_proto::push::PushSubscriptionList>(cfg),
        decl::<confab_proto::push::NotificationSettings>(cfg),
        decl::<confab_proto::push::PushPayload>(cfg),
        decl::<model::MessageStatus>(cfg),
        decl::<model::Reaction>(cfg),
        decl::<model::Message>(cfg),
        decl::<model::MessageAck>(cfg),
        decl::<model::PresenceStatus>(cfg),
        decl::<model::Presence>(cfg),
        // rest
        decl::<rest::RegisterRequest>(cfg),
        decl::<rest::RegistrationMode>(cfg),
        decl::<rest::RegistrationInfo>(cfg),
        decl::<rest::LoginRequest>(cfg),
        decl::<rest::ChangePasswordRequest>(cfg),
        decl::<rest::UpdateProfileRequest>(cfg),
        decl::<rest::Profile>(cfg),
        decl::<rest::AuthResponse>(cfg),
        decl::<rest::UsersResponse>(cfg),
        decl::<rest::CreateConversationRequest>(cfg),
        decl::<rest::CreateGroupRequest>(cfg),
        decl::<rest::AddMembersRequest>(cfg),
        decl::<rest::ConversationsResponse>(cfg),
        decl::<rest::SendMessageRequest>(cfg),
        decl::<rest::EditMessageRequest>(cfg),
        decl::<rest::HistoryResponse>(cfg),
        decl::<rest::SearchResult>(cfg),
        decl::<rest::SearchResponse>(cfg),
        decl::<rest::ReadRequest>(cfg),
        decl::<rest::ReadResponse>(cfg),
        decl::<rest::MessageReadResponse>(cfg),
        decl::<rest::SyncCursor>(cfg),
        decl::<rest::SyncRequest>(cfg),
        decl::<rest::SyncConversation>(cfg),
        decl::<rest::SyncResponse>(cfg),
        decl::<rest::ReceiptEntry>(cfg),
        decl::<rest::ReceiptsResponse>(cfg),
        // blocks and group management
        decl::<blocks::BlockedUser>(cfg),
        decl::<blocks::BlocksResponse>(cfg),
        decl::<groups::UpdateConversationRequest>(cfg),
        decl::<groups::SetRoleRequest>(cfg),
        // admin: reports and the administrators' API
        decl::<admin::ReportRequest>(cfg),
        decl::<admin::ReportStatus>(cfg),
        decl::<admin::ReportReceipt>(cfg),
        decl::<admin::Report>(cfg),
        decl::<admin::ReportsResponse>(cfg),
        decl::<admin::ResolveReportRequest>(cfg),
        decl::<admin::BanRequest>(cfg),
        decl::<admin::Ban>(cfg),
        decl::<admin::BanNotice>(cfg),
        decl::<admin::AdminUser>(cfg),
        decl::<admin::AdminUsersResponse>(cfg),
        decl::<admin::LiveConnection>(cfg),
        decl::<admin::UserSessionsResponse>(cfg),
        decl::<admin::AdminStats>(cfg),
        // the server API of application backends
        decl::<server_api::PublishRequest>(cfg),
        decl::<server_api::ServerCreateConversationRequest>(cfg),
        decl::<server_api::ServerAddMembersRequest>(cfg),
        decl::<server_api::ServerPresenceResponse>(cfg),
        // frames: client → server
        decl::<frames::SendPayload>(cfg),
        decl::<frames::UpToPayload>(cfg),
        decl::<frames::EditPayload>(cfg),
        decl::<frames::MessageRefPayload>(cfg),
        decl::<frames::ReactionPayload>(cfg),
        decl::<frames::ConversationRef>(cfg),
        decl::<frames::PresenceSubscribePayload>(cfg),
        decl::<frames::PresenceSetPayload>(cfg),
        decl::<frames::HeartbeatPayload>(cfg),
        decl::<frames::ClientFrame>(cfg),
        decl::<frames::ClientEnvelope>(cfg),
        // frames: server → client
        decl::<frames::ConnectedPayload>(cfg),
        decl::<frames::MessageUpdatedPayload>(cfg),
        decl::<frames::DeliveredPayload>(cfg),
        decl::<frames::ReadReceiptPayload>(cfg),
        decl::<frames::TypingPayload>(cfg),
        decl::<frames::PresenceBulkPayload>(cfg),
        decl::<frames::HeartbeatAckPayload>(cfg),
        decl::<frames::ServerFrame>(cfg),
        decl::<frames::ServerEnvelope>(cfg),
    ]
}

/// The complete text of `web/sdk/types/proto.d.ts`.
pub fn declarations() -> String {
    let mut out = String::from(
        "// Generated from the Rust wire types in crates/proto by crates/proto-ts (ts-rs). Do not edit:\n\
         // regenerate with `CONFAB_UPDATE_TS=1 cargo test -p confab-proto-ts`.\n",
    );
    for (_, decl) in types() {
        out.push('\n');
        out.push_str(decl.trim_end());
        out.push('\n');
    }
    out
}

/// The JSON Schema files of the WebSocket frames, relative to the workspace root, with their
/// text: what a client sends (`ClientFrame`) and what the server sends (`ServerEnvelope`).
pub fn frame_schemas() -> Vec<(&'static str, String)> {
    let pretty = |schema: schemars::Schema| {
        let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
        text.push('\n');
        text
    };
    vec![
        ("docs/schema/client-frame.schema.json", pretty(schemars::schema_for!(frames::ClientFrame))),
        ("docs/schema/server-frame.schema.json", pretty(schemars::schema_for!(frames::ServerEnvelope))),
    ]
}
