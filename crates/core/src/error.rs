//! The domain error. Each variant names a situation a user can act on; the gateway maps it to the
//! protocol's error code in one place ([`Error::code`]).

use confab_proto::ErrorCode;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    InvalidRequest(String),
    #[error("{0}")]
    InvalidMessage(String),
    #[error("{0}")]
    Unauthorized(String),
    /// Not a member, or not allowed by the conversation's settings. The text never describes the
    /// conversation itself.
    #[error("{0}")]
    Forbidden(String),
    /// The account is suspended (until `until`, ms since the epoch; `None`: until lifted).
    #[error("this account is suspended: {reason}")]
    Banned { reason: String, until: Option<i64> },
    #[error("conversation not found")]
    ConversationNotFound,
    #[error("user not found: {0}")]
    UserNotFound(String),
    #[error("message not found")]
    MessageNotFound,
    #[error("{0}")]
    NotFound(String),
    #[error("messageId already used for a different message")]
    DuplicateMessage,
    #[error("username is taken")]
    UsernameTaken,
    #[error("{0}")]
    PayloadTooLarge(String),
    /// A search ran past its time limit (`SearchRequest::time_limit`): it matched or read too much
    /// to answer in time, so asking again the same way would fail again.
    #[error(
        "the search took longer than this server allows ({limit_ms} ms): narrow it with more words, \
         a conversation, a sender or a time range"
    )]
    SearchTooBroad { limit_ms: u64 },
    #[error("rate limit exceeded")]
    RateLimited { retry_after_secs: u64 },
    /// A backend (storage, bus) is unreachable or failing; nothing was accepted.
    #[error("service unavailable: {0}")]
    Unavailable(String),
    /// A fault that is not the caller's and not an outage: a bug.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::InvalidRequest(_) | Error::SearchTooBroad { .. } => ErrorCode::InvalidRequest,
            Error::InvalidMessage(_) => ErrorCode::InvalidMessage,
            Error::Unauthorized(_) => ErrorCode::Unauthorized,
            Error::Forbidden(_) => ErrorCode::Forbidden,
            Error::Banned { .. } => ErrorCode::Banned,
            Error::ConversationNotFound => ErrorCode::ConversationNotFound,
            Error::UserNotFound(_) => ErrorCode::UserNotFound,
            Error::MessageNotFound => ErrorCode::MessageNotFound,
            Error::NotFound(_) => ErrorCode::NotFound,
            Error::DuplicateMessage => ErrorCode::DuplicateMessage,
            Error::UsernameTaken => ErrorCode::UsernameTaken,
            Error::PayloadTooLarge(_) => ErrorCode::PayloadTooLarge,
            Error::RateLimited { .. } => ErrorCode::RateLimited,
            Error::Unavailable(_) => ErrorCode::Unavailable,
            Error::Internal(_) => ErrorCode::InternalError,
        }
    }

    /// The protocol error body for this error.
    pub fn body(&self) -> confab_proto::ErrorBody {
        let mut body = confab_proto::ErrorBody::new(self.code(), self.to_string());
        match self {
            Error::RateLimited { retry_after_secs } => body.retry_after = Some(*retry_after_secs),
            Error::Banned { reason, until } => {
                body.ban = Some(confab_proto::BanNotice { reason: reason.clone(), until: *until })
            }
            _ => {}
        }
        body
    }

    pub fn not_member() -> Self {
        Error::Forbidden("not a member of this conversation".into())
    }
}
