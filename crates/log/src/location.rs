//! Which log a node uses, picked from `--log-url` by [`LogLocation::resolve`] and connected by
//! [`open`].

use std::sync::Arc;

use confab_core::log::SharedLog;

use crate::{JetStreamLog, KafkaLog};

/// The log URL forms [`LogLocation::resolve`] accepts, for error messages.
pub const ACCEPTED_LOG_URLS: &str = "nats://host:port (NATS JetStream) or kafka://host:port[,host:port...] \
     (a Kafka-protocol broker) (no URL: no log, every conversation through the bus)";

/// The log a node appends large groups' messages to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogLocation {
    /// NATS JetStream at `url`; the stream and subjects are named after `prefix`.
    JetStream { url: String, prefix: String },
    /// Kafka-protocol brokers (`host:port`, comma separated); the topic is named after `prefix`.
    Kafka { brokers: String, prefix: String },
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
            LogLocation::Kafka { brokers, prefix } => {
                write!(f, "Kafka at kafka://{brokers}, topic {prefix}-log")
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
    #[error("a kafka:// log URL names brokers as host:port[,host:port...], without credentials or a path")]
    BadKafkaBrokers,
}

impl LogLocation {
    /// Picks the log from the configured URL: `nats://` selects JetStream, `kafka://` a
    /// Kafka-protocol broker; no URL (or an empty one) no log. Any other URL is refused, so a typo never starts a node whose large groups
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
        let (scheme, rest) = url.split_once("://").ok_or(LogUrlError::NoScheme)?;
        match scheme.to_ascii_lowercase().as_str() {
            "nats" => Ok(Some(LogLocation::JetStream { url: url.to_string(), prefix: prefix.to_string() })),
            "kafka" => {
                // A trailing slash is harmless; credentials, paths and queries are not supported,
                // and silently dropping them would connect somewhere unintended.
                let brokers = rest.strip_suffix('/').unwrap_or(rest);
                let valid = brokers.split(',').all(|broker| {
                    broker.rsplit_once(':').is_some_and(|(host, port)| {
                        !host.is_empty()
                            && port.parse::<u16>().is_ok()
                            && !host.contains(['@', '/', '?', '#', ' '])
                    })
                });
                if !valid {
                    return Err(LogUrlError::BadKafkaBrokers);
                }
                Ok(Some(LogLocation::Kafka { brokers: brokers.to_string(), prefix: prefix.to_string() }))
            }
            other => Err(LogUrlError::UnknownScheme { scheme: other.chars().take(16).collect() }),
        }
    }
}

/// Connects the log at `location`, creating its stream when missing.
pub async fn open(location: &LogLocation) -> confab_core::Result<SharedLog> {
    match location {
        LogLocation::JetStream { url, prefix } => Ok(Arc::new(JetStreamLog::connect(url, prefix).await?)),
        LogLocation::Kafka { brokers, prefix } => Ok(Arc::new(KafkaLog::connect(brokers, prefix).await?)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_url_is_no_log_nats_is_jetstream_and_kafka_is_kafka() {
        assert_eq!(LogLocation::resolve(None, "confab"), Ok(None));
        assert_eq!(LogLocation::resolve(Some("  "), "confab"), Ok(None));
        assert_eq!(
            LogLocation::resolve(Some("nats://127.0.0.1:4222"), "confab"),
            Ok(Some(LogLocation::JetStream { url: "nats://127.0.0.1:4222".into(), prefix: "confab".into() }))
        );
        let kafka = LogLocation::resolve(Some("KAFKA://k1:9092,k2:9093/"), "confab").unwrap().unwrap();
        assert_eq!(kafka, LogLocation::Kafka { brokers: "k1:9092,k2:9093".into(), prefix: "confab".into() });
        assert_eq!(kafka.to_string(), "Kafka at kafka://k1:9092,k2:9093, topic confab-log");
    }

    #[test]
    fn unknown_schemes_and_bad_prefixes_are_refused_without_echoing_credentials() {
        assert_eq!(LogLocation::resolve(Some("127.0.0.1:4222"), "confab"), Err(LogUrlError::NoScheme));
        let err = LogLocation::resolve(Some("natz://user:secret@host"), "confab").unwrap_err();
        assert_eq!(err, LogUrlError::UnknownScheme { scheme: "natz".into() });
        assert!(!err.to_string().contains("secret"));
        let shown = LogLocation::resolve(Some("nats://user:secret@broker:4222"), "c").unwrap().unwrap();
        assert_eq!(shown.to_string(), "NATS JetStream at nats://broker:4222, stream c-log");
        let err = LogLocation::resolve(Some("kafka://user:secret@broker:9092"), "c").unwrap_err();
        assert_eq!(err, LogUrlError::BadKafkaBrokers);
        assert!(!err.to_string().contains("secret"));
        for bad in ["kafka://", "kafka://broker", "kafka://broker:x", "kafka://b:9092/path", "kafka://b:1,"] {
            assert_eq!(LogLocation::resolve(Some(bad), "c"), Err(LogUrlError::BadKafkaBrokers), "{bad}");
        }
        for prefix in ["", "a.b", "a b", "a*", "a>"] {
            assert_eq!(
                LogLocation::resolve(Some("nats://h"), prefix),
                Err(LogUrlError::BadPrefix),
                "{prefix:?}"
            );
        }
    }
}
