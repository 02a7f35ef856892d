//! The WebSocket gateway: authentication before the upgrade, then one [`session`] per connection,
//! whose frames are handled by [`handlers`].

mod handlers;
mod requests;
mod session;
#[cfg(test)]
mod tests;

use axum::extract::rejection::QueryRejection;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::{Query, State, WebSocketUpgrade};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use confab_core::ids::new_id;
use confab_core::{validate, Error};
use futures_util::StreamExt;
use serde::Deserialize;

use crate::access::Caller;
use crate::api_error::{bearer_token, ApiError};
use crate::state::AppState;

/// `retryAfter` of an upgrade refused because the user holds too many connections.
const USER_CAP_RETRY_SECS: u64 = 5;

/// Whether a browser page from `origin` may open a WebSocket here: requests without `Origin`
/// (non-browser clients) may, and so may the server's own origin (the one whose authority is the
/// request's `Host`) and the configured ones; `*` allows every origin.
fn origin_allowed(headers: &HeaderMap, allowed: &[String]) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else { return true };
    let Ok(origin) = origin.to_str() else { return false };
    let origin = origin.trim_end_matches('/');
    if allowed.iter().any(|a| a == "*" || a.trim_end_matches('/').eq_ignore_ascii_case(origin)) {
        return true;
    }
    let authority = origin.strip_prefix("http://").or_else(|| origin.strip_prefix("https://"));
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    matches!((authority, host), (Some(a), Some(h)) if a.eq_ignore_ascii_case(h))
}

#[derive(Deserialize)]
pub(crate) struct WsParams {
    token: Option<String>,
    device_id: Option<String>,
}

/// Frames larger than the configured limit are refused with an error frame and the connection
/// stays open; beyond this multiple of the limit the frame is not even read, and the connection is
/// closed, so one client cannot make the server buffer arbitrary amounts.
const HARD_FRAME_CAP_FACTOR: usize = 16;
/// Per-connection read buffer: most frames are a few hundred bytes, and every idle connection
/// holds one (2 KiB cost about 1 KiB more per connection than this; docs/benchmarks.md).
const READ_BUFFER_BYTES: usize = 1024;

/// `GET /ws?token=JWT&device_id=ID`. A missing or bad token is refused with 401 before upgrading.
pub(crate) async fn upgrade(
    State(state): State<AppState>,
    params: Result<Query<WsParams>, QueryRejection>,
    headers: HeaderMap,
    caller: Option<Extension<Caller>>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    match prepare(state, params, headers, caller, ws).await {
        Ok(response) => response,
        Err(e) => e.into_response(),
    }
}

async fn prepare(
    state: AppState,
    params: Result<Query<WsParams>, QueryRejection>,
    headers: HeaderMap,
    caller_slot: Option<Extension<Caller>>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    if !origin_allowed(&headers, &state.app.config.allowed_origins) {
        return Err(Error::Forbidden("this origin may not open a WebSocket here".into()).into());
    }
    let Query(params) = params.map_err(|e| Error::InvalidRequest(e.body_text()))?;
    let token =
        params.token.as_deref().filter(|t| !t.is_empty()).or_else(|| bearer_token(&headers)).ok_or_else(
            || Error::Unauthorized("missing token (`?token=` or `Authorization: Bearer`)".into()),
        )?;
    let caller = state.app.accounts().authenticate_session(token).await?;
    if let Some(Extension(slot)) = &caller_slot {
        slot.note(&caller.user_id);
    }
    let (user_id, token_session) = (caller.user_id, caller.session);
    // A valid signature is not enough: a token Confab issued outlives its user if the user is gone
    // (deleted, or a database restored from before they registered). Application-minted tokens
    // have provisioned their user in `authenticate` by now, so they pass.
    match state.app.accounts().user(&user_id).await {
        Ok(_) => {}
        Err(Error::UserNotFound(_)) => {
            return Err(Error::Unauthorized("the token's user does not exist".into()).into());
        }
        Err(e) => return Err(e.into()),
    }
    let device_id = match params.device_id {
        Some(id) => {
            validate::client_id("device_id", &id)?;
            id
        }
        None => format!("anon-{}", new_id()),
    };
    let ws = ws.map_err(|e| Error::InvalidRequest(format!("not a WebSocket upgrade: {e}")))?;
    let permit = state
        .connection_slots
        .clone()
        .try_acquire_owned()
        .map_err(|_| Error::Unavailable("this node is at its connection limit".into()))?;
    let user_slot = state
        .user_slots
        .try_acquire(&user_id, state.app.config.limits.max_connections_per_user)
        .ok_or(Error::RateLimited { retry_after_secs: USER_CAP_RETRY_SECS })?;
    let limits = &state.app.config.limits;
    let app = state.app.clone();
    let hard_cap = limits.max_frame_bytes.saturating_mul(HARD_FRAME_CAP_FACTOR);
    let sessions = state.sessions.clone();
    // The read buffer is allocated up front for every connection, so it is kept small (larger
    // frames are read in several chunks); the write buffer only grows while frames are queued.
    Ok(ws
        .read_buffer_size(READ_BUFFER_BYTES)
        .write_buffer_size(8 * 1024)
        .max_write_buffer_size(hard_cap.max(limits.max_frame_bytes * 2))
        .max_message_size(hard_cap)
        .max_frame_size(hard_cap)
        .on_upgrade(move |socket| {
            let (writer, reader) = socket.split();
            // The session is a task of its own: the upgrade's task, which also holds the
            // handshake's state, ends here instead of living (and holding memory) as long as the
            // connection.
            let slots = (user_slot, permit);
            sessions.spawn(session::run(app, user_id, token_session, device_id, reader, writer, slots));
            std::future::ready(())
        }))
}
