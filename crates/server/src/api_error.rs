//! The one place domain errors become HTTP responses, and the request extractors that turn bad
//! input into the protocol's error codes instead of axum's plain-text rejections.

use axum::body::Bytes;
use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use confab_core::Error;
use confab_proto::{ErrorBody, ErrorCode};
use serde::de::DeserializeOwned;

use crate::config::IpRange;
use crate::state::AppState;

/// A domain error on its way out as `{"error", "message", "retryAfter"?}`.
#[derive(Debug)]
pub struct ApiError(pub Error);

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        ApiError(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = self.0.body();
        let status =
            StatusCode::from_u16(body.error.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if matches!(self.0, Error::Internal(_)) {
            tracing::error!(error = %self.0, "internal error");
        }
        let retry_after = body.retry_after;
        let mut response = (status, Json(body)).into_response();
        if let Some(secs) = retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// A JSON body. Unlike `axum::Json` it does not insist on a `Content-Type`, and every failure is a
/// protocol error: `PAYLOAD_TOO_LARGE` over the body limit, `INVALID_REQUEST` otherwise.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                Error::PayloadTooLarge(format!(
                    "request body is over {} bytes",
                    state.app.config.limits.max_frame_bytes
                ))
            } else {
                Error::InvalidRequest(format!("cannot read request body: {rejection}"))
            }
        })?;
        serde_json::from_slice(&bytes)
            .map(ApiJson)
            .map_err(|e| ApiError(Error::InvalidRequest(format!("invalid JSON body: {e}"))))
    }
}

/// The authenticated caller of a REST endpoint (`Authorization: Bearer <token>`).
pub struct AuthUser(pub String);

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let token = bearer_token(&parts.headers)
            .ok_or_else(|| Error::Unauthorized("missing `Authorization: Bearer <token>` header".into()))?;
        let user = state.app.accounts().authenticate(token).await?;
        crate::access::note_caller(&parts.extensions, &user);
        Ok(AuthUser(user))
    }
}

/// The authenticated caller with the token they used (logout, password change).
pub(crate) struct AuthSession(pub crate::service::Authenticated);

impl FromRequestParts<AppState> for AuthSession {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let token = bearer_token(&parts.headers)
            .ok_or_else(|| Error::Unauthorized("missing `Authorization: Bearer <token>` header".into()))?;
        let caller = state.app.accounts().authenticate_session(token).await?;
        crate::access::note_caller(&parts.extensions, &caller.user_id);
        Ok(AuthSession(caller))
    }
}

pub fn bearer_token(headers: &axum::http::HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim()).filter(|t| !t.is_empty())
}

/// Largest plain-text error body kept as the `message` when [`protocol_error_body`] rewrites it.
const BARE_ERROR_TEXT_LIMIT: usize = 1024;

/// Gives every error response the protocol body. Handlers answer through [`ApiError`] already; this
/// catches what axum answers by itself (`405` from method routing, `413` and other extractor
/// rejections, a `404` from a nested router) and the web client's file errors. The status and
/// headers (e.g. `Allow` on a `405`) are kept; the code is the one the protocol gives that status,
/// `INVALID_REQUEST` for client errors it has none for.
pub async fn protocol_error_body(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let code = match status {
        StatusCode::UNAUTHORIZED => ErrorCode::Unauthorized,
        StatusCode::FORBIDDEN => ErrorCode::Forbidden,
        StatusCode::NOT_FOUND => ErrorCode::NotFound,
        StatusCode::PAYLOAD_TOO_LARGE => ErrorCode::PayloadTooLarge,
        StatusCode::SERVICE_UNAVAILABLE => ErrorCode::Unavailable,
        s if s.is_server_error() => ErrorCode::InternalError,
        _ => ErrorCode::InvalidRequest,
    };
    let (mut parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, BARE_ERROR_TEXT_LIMIT)
        .await
        .ok()
        .and_then(|bytes| String::from_utf8(bytes.to_vec()).ok())
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty());
    let message = match (status, text) {
        (StatusCode::METHOD_NOT_ALLOWED, _) => {
            let allowed = parts.headers.get(header::ALLOW).and_then(|v| v.to_str().ok()).unwrap_or("");
            format!("method not allowed here (allowed: {allowed})")
        }
        (_, Some(text)) => text,
        (_, None) => status.canonical_reason().unwrap_or("error").to_lowercase(),
    };
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.remove(header::CONTENT_TYPE);
    let mut rewritten = Json(ErrorBody::new(code, message)).into_response();
    *rewritten.status_mut() = status;
    rewritten.headers_mut().extend(parts.headers);
    rewritten
}

/// The client's address, for per-address throttles: the connection's peer, unless that peer is a
/// configured trusted proxy (see [`client_address`]).
pub struct ClientAddr(pub IpAddr);

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip())
            .ok_or_else(|| Error::Internal("the connection's peer address is unknown".into()))?;
        Ok(ClientAddr(client_address(peer, &parts.headers, &state.app.config.auth.trusted_proxies)))
    }
}

/// Who sent a request that arrived from `peer`. When `peer` is a trusted proxy, `X-Forwarded-For`
/// is read from its right end (the entry that proxy appended) leftwards, past further trusted
/// proxies, to the first address that is not one: entries left of it were written by the client
/// and prove nothing. An entry that is not an address stops the walk at the last proxy.
pub fn client_address(peer: IpAddr, headers: &axum::http::HeaderMap, trusted: &[IpRange]) -> IpAddr {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|range| range.contains(ip));
    if !is_trusted(peer) {
        return peer;
    }
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .flat_map(|value| value.to_str().unwrap_or("").split(','))
        .map(str::trim)
        .collect();
    let mut client = peer;
    for hop in hops.into_iter().rev() {
        match hop.parse::<IpAddr>() {
            Ok(ip) => {
                client = ip;
                if !is_trusted(ip) {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    client
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderMap;

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let trusted: Vec<IpRange> = vec!["10.0.0.0/8".parse().unwrap()];
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", "6.6.6.6, 203.0.113.9, 10.0.0.7".parse().unwrap());
        // From the proxy: past the trusted hop to the client the proxy saw (not the spoofed 6.6.6.6).
        assert_eq!(client_address(ip("10.0.0.2"), &headers, &trusted), ip("203.0.113.9"));
        // From anyone else, or with no proxies configured, the header means nothing.
        assert_eq!(client_address(ip("198.51.100.1"), &headers, &trusted), ip("198.51.100.1"));
        assert_eq!(client_address(ip("10.0.0.2"), &headers, &[]), ip("10.0.0.2"));
        headers.insert("x-forwarded-for", "garbage".parse().unwrap());
        assert_eq!(client_address(ip("10.0.0.2"), &headers, &trusted), ip("10.0.0.2"));
        assert_eq!(client_address(ip("10.0.0.2"), &HeaderMap::new(), &trusted), ip("10.0.0.2"));
    }
}
