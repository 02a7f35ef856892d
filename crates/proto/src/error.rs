//! The error body shared by REST responses and `error` frames.

use serde::{Deserialize, Serialize};

/// Every error code of the protocol. `INTERNAL_ERROR` is a Confab extension for faults that are
/// neither the client's nor a backend outage (a bug); clients treat it like `UNAVAILABLE`.
/// `BANNED` (403) answers a suspended account's login, token use and WebSocket upgrade.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorCode {
    InvalidRequest,
    InvalidMessage,
    Unauthorized,
    Forbidden,
    Banned,
    ConversationNotFound,
    UserNotFound,
    MessageNotFound,
    NotFound,
    DuplicateMessage,
    UsernameTaken,
    PayloadTooLarge,
    RateLimited,
    Unavailable,
    InternalError,
}

impl ErrorCode {
    /// The HTTP status a REST response carries for this code.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::InvalidRequest | ErrorCode::InvalidMessage => 400,
            ErrorCode::Unauthorized => 401,
            ErrorCode::Forbidden | ErrorCode::Banned => 403,
            ErrorCode::ConversationNotFound
            | ErrorCode::UserNotFound
            | ErrorCode::MessageNotFound
            | ErrorCode::NotFound => 404,
            ErrorCode::DuplicateMessage | ErrorCode::UsernameTaken => 409,
            ErrorCode::PayloadTooLarge => 413,
            ErrorCode::RateLimited => 429,
            ErrorCode::Unavailable => 503,
            ErrorCode::InternalError => 500,
        }
    }

    /// The code as it is spelled on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidRequest => "INVALID_REQUEST",
            ErrorCode::InvalidMessage => "INVALID_MESSAGE",
            ErrorCode::Unauthorized => "UNAUTHORIZED",
            ErrorCode::Forbidden => "FORBIDDEN",
            ErrorCode::Banned => "BANNED",
            ErrorCode::ConversationNotFound => "CONVERSATION_NOT_FOUND",
            ErrorCode::UserNotFound => "USER_NOT_FOUND",
            ErrorCode::MessageNotFound => "MESSAGE_NOT_FOUND",
            ErrorCode::NotFound => "NOT_FOUND",
            ErrorCode::DuplicateMessage => "DUPLICATE_MESSAGE",
            ErrorCode::UsernameTaken => "USERNAME_TAKEN",
            ErrorCode::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            ErrorCode::RateLimited => "RATE_LIMITED",
            ErrorCode::Unavailable => "UNAVAILABLE",
            ErrorCode::InternalError => "INTERNAL_ERROR",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `{"error": CODE, "message": "...", "retryAfter"?: seconds, "ban"?: {reason, until}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    pub error: ErrorCode,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
    /// With `BANNED`: why, and until when (a Confab extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub ban: Option<crate::admin::BanNotice>,
}

impl ErrorBody {
    pub fn new(error: ErrorCode, message: impl Into<String>) -> Self {
        Self { error, message: message.into(), retry_after: None, ban: None }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_serialize_as_documented() {
        let body = ErrorBody { retry_after: Some(2), ..ErrorBody::new(ErrorCode::RateLimited, "slow down") };
        let json = serde_json::to_string(&body).unwrap();
        assert_eq!(json, r#"{"error":"RATE_LIMITED","message":"slow down","retryAfter":2}"#);
        let code: ErrorCode = serde_json::from_str("\"CONVERSATION_NOT_FOUND\"").unwrap();
        assert_eq!(code, ErrorCode::ConversationNotFound);
        assert_eq!(code.as_str(), "CONVERSATION_NOT_FOUND");
        assert_eq!(ErrorCode::PayloadTooLarge.http_status(), 413);
        assert_eq!((ErrorCode::Banned.http_status(), ErrorCode::Banned.as_str()), (403, "BANNED"));
    }
}
