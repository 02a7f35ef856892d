//! Which bus a node uses, picked from the configured Redis URL by [`BusLocation::resolve`] and
//! started by [`open`].

use std::path::PathBuf;
use std::sync::Arc;

use confab_core::bus::{DeliveryHandler, SharedBus};
use redis::IntoConnectionInfo;

use crate::{InProcessBus, RedisBus};

/// The Redis URL forms [`BusLocation::resolve`] accepts, for error messages.
pub const ACCEPTED_REDIS_URLS: &str =
    "redis://… or rediss://… (TLS) (no URL: the in-process bus, a single node)";

/// The bus a node runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BusLocation {
    /// A single node: [`InProcessBus`].
    InProcess,
    /// A cluster through Redis: [`RedisBus`], every key and channel under `prefix`. A `rediss://`
    /// URL is TLS, the server's certificate checked against the system's roots or, when given,
    /// the PEM certificates in `ca`.
    Redis { url: String, prefix: String, ca: Option<PathBuf> },
}

/// Why a Redis URL selects no bus. Shows at most the URL's scheme, never its credentials.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BusUrlError {
    #[error("the Redis URL has no scheme; expected {ACCEPTED_REDIS_URLS}")]
    NoScheme,
    #[error("unsupported Redis URL scheme `{scheme}`; expected {ACCEPTED_REDIS_URLS}")]
    UnknownScheme { scheme: String },
    #[error("malformed Redis URL: {reason}")]
    Malformed { reason: String },
    #[error("the Redis prefix must not be empty")]
    EmptyPrefix,
}

impl BusLocation {
    /// Picks the bus from the configured URL: `redis://` (or `rediss://`, TLS) selects the Redis bus
    /// with `prefix`; no URL
    /// (or an empty one) the in-process bus. Any other URL is refused, so a typo never starts a
    /// node that silently cannot reach the rest of its cluster.
    pub fn resolve(redis_url: Option<&str>, prefix: &str) -> Result<BusLocation, BusUrlError> {
        let url = match redis_url.map(str::trim) {
            None | Some("") => return Ok(BusLocation::InProcess),
            Some(url) => url,
        };
        let (scheme, rest) = url.split_once(':').ok_or(BusUrlError::NoScheme)?;
        let scheme = scheme.to_ascii_lowercase();
        let valid_scheme = scheme.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && scheme.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
        if !valid_scheme {
            return Err(BusUrlError::NoScheme);
        }
        match scheme.as_str() {
            "redis" | "rediss" => {
                if !rest.starts_with("//") {
                    return Err(BusUrlError::Malformed {
                        reason: format!("expected {scheme}://host[:port][/db]"),
                    });
                }
                url.into_connection_info().map_err(|e| BusUrlError::Malformed { reason: e.to_string() })?;
                if prefix.is_empty() {
                    return Err(BusUrlError::EmptyPrefix);
                }
                Ok(BusLocation::Redis { url: url.to_string(), prefix: prefix.to_string(), ca: None })
            }
            _ => Err(BusUrlError::UnknownScheme { scheme: format!("{scheme}:") }),
        }
    }
}

impl std::fmt::Display for BusLocation {
    /// How nodes reach each other, for people (startup output, logs): never the URL's credentials.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BusLocation::InProcess => write!(f, "in-process (a single node)"),
            BusLocation::Redis { url, prefix, .. } => {
                // Whatever precedes `@` is credentials.
                let (scheme, rest) = url.split_once("://").unwrap_or(("redis", url.as_str()));
                let host = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
                let tls = if scheme.eq_ignore_ascii_case("rediss") { " over TLS" } else { "" };
                write!(f, "Redis at {host}{tls}, key prefix {prefix}")
            }
        }
    }
}

/// Starts the bus at `location` for the node `node_id`, handing what it brings to `handler`. Must run
/// inside a tokio runtime; fails when Redis is unreachable.
pub async fn open(
    location: &BusLocation,
    node_id: &str,
    handler: Arc<dyn DeliveryHandler>,
) -> confab_core::Result<SharedBus> {
    match location {
        BusLocation::InProcess => {
            let bus = InProcessBus::new();
            bus.attach(handler);
            Ok(Arc::new(bus))
        }
        BusLocation::Redis { url, prefix, ca } => {
            Ok(RedisBus::connect_with_ca(url, ca.as_deref(), prefix, node_id, handler).await?)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_are_described_without_credentials() {
        let redis = BusLocation::resolve(Some("redis://:s3cret@cache.internal:6380/2"), "chat").unwrap();
        assert_eq!(redis.to_string(), "Redis at cache.internal:6380/2, key prefix chat");
        assert_eq!(BusLocation::InProcess.to_string(), "in-process (a single node)");
    }

    #[test]
    fn no_url_is_the_in_process_bus() {
        assert_eq!(BusLocation::resolve(None, "confab"), Ok(BusLocation::InProcess));
        assert_eq!(BusLocation::resolve(Some(" "), "confab"), Ok(BusLocation::InProcess));
    }

    #[test]
    fn redis_urls_select_the_redis_bus_with_the_prefix() {
        for url in
            ["redis://127.0.0.1:6379", "redis://:secret@cache:6380/2", "REDIS://cache", "rediss://cache:6380"]
        {
            assert_eq!(
                BusLocation::resolve(Some(url), "blue"),
                Ok(BusLocation::Redis { url: url.to_string(), prefix: "blue".into(), ca: None }),
                "{url}"
            );
        }
        assert_eq!(BusLocation::resolve(Some("redis://cache"), ""), Err(BusUrlError::EmptyPrefix));
    }

    #[test]
    fn unknown_schemes_are_refused_naming_the_accepted_one() {
        let err = BusLocation::resolve(Some("reddis://:secret@cache:6379"), "confab").unwrap_err();
        assert_eq!(err, BusUrlError::UnknownScheme { scheme: "reddis:".into() });
        let message = err.to_string();
        assert!(message.contains("redis://"), "{message}");
        assert!(!message.contains("secret"), "{message}");
        assert!(matches!(
            BusLocation::resolve(Some("memcached://cache"), "confab"),
            Err(BusUrlError::UnknownScheme { .. })
        ));
        assert_eq!(BusLocation::resolve(Some("cache.local"), "confab"), Err(BusUrlError::NoScheme));
        let tls = BusLocation::resolve(Some("rediss://:pw@cache:6380"), "c").unwrap();
        assert_eq!(tls.to_string(), "Redis at cache:6380 over TLS, key prefix c");
    }

    #[test]
    fn malformed_redis_urls_are_refused() {
        for url in ["redis:cache", "redis://cache:notaport", "redis://cache/notadb"] {
            assert!(
                matches!(BusLocation::resolve(Some(url), "confab"), Err(BusUrlError::Malformed { .. })),
                "{url}"
            );
        }
    }
}
