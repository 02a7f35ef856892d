//! The access log and the HTTP request metrics: one `confab::access` line per HTTP request (method,
//! route template, status, duration, response bytes when known, client address, the authenticated
//! user) and the request duration histogram by route template and status. WebSocket sessions log
//! their own line when they end (see `ws::session`).
//!
//! Tokens never reach the log: the path is logged as its route template, and the query string with
//! the values of `token` and `access_token` replaced (a WebSocket opened with `?token=` would
//! otherwise leave a working credential in every log file).

use std::borrow::Cow;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use axum::body::HttpBody;
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::Extensions;
use axum::middleware::Next;
use axum::response::Response;
use tokio::time::Instant;

use crate::state::AppState;

/// The `tracing` target of access lines, for filtering (`CONFAB_LOG=info,confab::access=off`).
pub(crate) const TARGET: &str = "confab::access";

/// Route label of a request no route matched (unbounded paths are never labels).
const UNMATCHED: &str = "unmatched";

/// Query parameters whose values are credentials.
const SECRET_PARAMS: &[&str] = &["token", "access_token"];

/// Where an authenticating extractor leaves the caller's user id for the access line.
#[derive(Clone, Default)]
pub(crate) struct Caller(Arc<OnceLock<String>>);

impl Caller {
    /// The request was made by `user_id` (the first one noted stays).
    pub(crate) fn note(&self, user_id: &str) {
        let _ = self.0.set(user_id.to_string());
    }
}

/// Tells the access log who the request's caller is (a no-op outside the access middleware).
pub(crate) fn note_caller(extensions: &Extensions, user_id: &str) {
    if let Some(caller) = extensions.get::<Caller>() {
        caller.note(user_id);
    }
}

/// The middleware: times the request, records it and writes its access line.
pub(crate) async fn track(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let route = match request.extensions().get::<MatchedPath>() {
        // A nested router's catch-all is not a route of ours.
        Some(path) if !path.as_str().contains("__private__") => path.as_str().to_string(),
        _ => UNMATCHED.to_string(),
    };
    let query = request.uri().query().map(|q| redact_query(q).into_owned());
    let client = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(peer)| {
        crate::api_error::client_address(peer.ip(), request.headers(), &state.app.config.auth.trusted_proxies)
    });
    let caller = Caller::default();
    request.extensions_mut().insert(caller.clone());
    let response = next.run(request).await;
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    crate::metrics::record_http(crate::metrics::method_label(&method), &route, status, elapsed);
    let bytes = response.body().size_hint().exact();
    tracing::info!(
        target: TARGET,
        method = %method,
        route = %route,
        query = query.as_deref(),
        status,
        duration_ms = elapsed.as_secs_f64() * 1000.0,
        bytes,
        client = client.map(tracing::field::display),
        user = caller.0.get().map(String::as_str),
        "http request"
    );
    response
}

/// `query` with the value of every credential parameter replaced by `REDACTED`. Names are compared
/// percent-decoded and case-insensitively, as a lenient parser might read them.
pub(crate) fn redact_query(query: &str) -> Cow<'_, str> {
    let is_secret = |pair: &str| {
        let name = pair.split('=').next().unwrap_or("");
        let name = percent_decode(name);
        SECRET_PARAMS.iter().any(|s| s.eq_ignore_ascii_case(name.trim()))
    };
    if !query.split(['&', ';']).any(is_secret) {
        return Cow::Borrowed(query);
    }
    let mut out = String::with_capacity(query.len());
    for (i, pair) in query.split('&').enumerate() {
        if i > 0 {
            out.push('&');
        }
        let parts: Vec<String> = pair
            .split(';')
            .map(|part| match part.split_once('=') {
                Some((name, _)) if is_secret(part) => format!("{name}=REDACTED"),
                None if is_secret(part) => format!("{part}=REDACTED"),
                _ => part.to_string(),
            })
            .collect();
        out.push_str(&parts.join(";"));
    }
    Cow::Owned(out)
}

/// `%XX` escapes and `+` decoded; anything malformed is kept as it is.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    None => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_redacted_from_query_strings() {
        assert_eq!(redact_query("token=eyJhbGciOi.x.y&device_id=d1"), "token=REDACTED&device_id=d1");
        assert_eq!(redact_query("device_id=d1&access_token=abc"), "device_id=d1&access_token=REDACTED");
        assert_eq!(redact_query("TOKEN=abc"), "TOKEN=REDACTED");
        assert_eq!(redact_query("tok%65n=abc&x=1"), "tok%65n=REDACTED&x=1");
        assert_eq!(redact_query("a=1;token=abc"), "a=1;token=REDACTED");
        assert_eq!(redact_query("token"), "token=REDACTED");
        assert_eq!(redact_query("token=a&token=b"), "token=REDACTED&token=REDACTED");
        assert_eq!(redact_query("tokens=1&mytoken=2"), "tokens=1&mytoken=2");
        assert_eq!(redact_query("query=token%3Dabc"), "query=token%3Dabc");
    }

    #[test]
    fn percent_decoding_keeps_malformed_escapes() {
        assert_eq!(percent_decode("a%20b+c"), "a b c");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
    }
}
