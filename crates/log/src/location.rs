//! Which log a node uses, picked from `--log-url` by [`LogLocation::resolve`] and connected by
//! [`open`].

use std::sync::Arc;

use confab_core::log::SharedLog;

use crate::JetStreamLog;

/// The log URL forms [`LogLocation::resolve`] accepts, for error messages.
pub const ACCEPTED_LOG_URLS: &str =
    "nats://host:port (NATS JetStream) (no URL: no log, every conversation through the bus)";

/// The log a node appends large groups' messages to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogLocation {
    /// NATS JetStream at `url`; the stream and subjects are named after `prefix`.
    JetStream { url: String, prefix: String },
}

impl std::fmt::Display for LogLocation {
    /// The broker's address without credentials, and the stream.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LogLocation::JetStream { url, prefix } => {
                let rest = url.split_once("://").map_or(url.as_str(), |(_, rest)| rest);
                let host = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
                write!(f, "NATS JetStream at nats://{host}, stream {prefix}-log")
            }
        }
    }
}

/// Why a log URL or prefix selects no log. Shows at most the URL's scheme, never credentials.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LogUrlError {
    #[error("the log URL has no scheme; expected {ACCEPTED_LOG_URLS}")]
    NoScheme,
    #[error("unsupported log URL scheme `{scheme}`; expected {ACCEPTED_LOG_URLS}")]
    UnknownScheme { scheme: String },
    #[error("the log prefix must be 1 to 64 characters of A-Z, a-z, 0-9, `-` and `_`")]
    BadPrefix,
}

impl LogLocation {
    /// Picks the log from the configured URL: `nats://` selects JetStream; no URL (or an empty
    /// one) no log. Any other URL is refused, so a typo never starts a node whose large groups
    /// silently go nowhere. `prefix` names the stream and subjects, so clusters can share a broker.
    pub fn resolve(url: Option<&str>, prefix: &str) -> Result<Option<LogLocation>, LogUrlError> {
        let url = match url.map(str::trim) {
            None | Some("") => return Ok(None),
            Some(url) => url,
        };
        let valid_prefix = !prefix.is_empty()
            && prefix.len() <= 64
            && prefix.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !valid_prefix {
            return Err(LogUrlError::BadPrefix);
        }
        let (scheme, _) = url.split_once("://").ok_or(LogUrlError::NoScheme)?;
        match scheme.to_ascii_lowercase().as_str() {
            "nats" => Ok(Some(LogLocation::JetStream { url: url.to_string(), prefix: prefix.to_string() })),
            other => Err(LogUrlError::UnknownScheme { scheme: other.chars().take(16).collect() }),
        }
    }
}

/// Connects the log at `location`, creating its stream when missing.
pub async fn open(location: &LogLocation) -> confab_core::Result<SharedLog> {
    match location {
        LogLocation::JetStream { url, prefix } => Ok(Arc::new(JetStreamLog::connect(url, prefix).await?)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_url_is_no_log_and_nats_is_jetstream() {
        assert_eq!(LogLocation::resolve(None, "confab"), Ok(None));
        assert_eq!(LogLocation::resolve(Some("  "), "confab"), Ok(None));
        assert_eq!(
            LogLocation::resolve(Some("nats://127.0.0.1:4222"), "confab"),
            Ok(Some(LogLocation::JetStream { url: "nats://127.0.0.1:4222".into(), prefix: "confab".into() }))
        );
    }

    #[test]
    fn unknown_schemes_and_bad_prefixes_are_refused_without_echoing_credentials() {
        assert_eq!(LogLocation::resolve(Some("127.0.0.1:4222"), "confab"), Err(LogUrlError::NoScheme));
        let err = LogLocation::resolve(Some("natz://user:secret@host"), "confab").unwrap_err();
        assert_eq!(err, LogUrlError::UnknownScheme { scheme: "natz".into() });
        assert!(!err.to_string().contains("secret"));
        let shown = LogLocation::resolve(Some("nats://user:secret@broker:4222"), "c").unwrap().unwrap();
        assert_eq!(shown.to_string(), "NATS JetStream at nats://broker:4222, stream c-log");
        for prefix in ["", "a.b", "a b", "a*", "a>"] {
            assert_eq!(
                LogLocation::resolve(Some("nats://h"), prefix),
                Err(LogUrlError::BadPrefix),
                "{prefix:?}"
            );
        }
    }
}
