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
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use confab_core::ids::new_id;
use confab_core::{validate, Error};
use futures_util::StreamExt;
use serde::Deserialize;

use crate::api_error::{bearer_token, ApiError};
use crate::state::AppState;

#[derive(Deserialize)]
pub(crate) struct WsParams {
    token: Option<String>,
    device_id: Option<String>,
}

/// Frames larger than the configured limit are refused with an error frame and the connection
/// stays open; beyond this multiple of the limit the frame is not even read, and the connection is
/// closed, so one client cannot make the server buffer arbitrary amounts.
const HARD_FRAME_CAP_FACTOR: usize = 16;
/// Per-connection read buffer: most frames are a few hundred bytes.
const READ_BUFFER_BYTES: usize = 2 * 1024;

/// `GET /ws?token=JWT&device_id=ID`. A missing or bad token is refused with 401 before upgrading.
pub(crate) async fn upgrade(
    State(state): State<AppState>,
    params: Result<Query<WsParams>, QueryRejection>,
    headers: HeaderMap,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    match prepare(state, params, headers, ws).await {
        Ok(response) => response,
        Err(e) => e.into_response(),
    }
}

async fn prepare(
    state: AppState,
    params: Result<Query<WsParams>, QueryRejection>,
    headers: HeaderMap,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let Query(params) = params.map_err(|e| Error::InvalidRequest(e.body_text()))?;
    let token =
        params.token.as_deref().filter(|t| !t.is_empty()).or_else(|| bearer_token(&headers)).ok_or_else(
            || Error::Unauthorized("missing token (`?token=` or `Authorization: Bearer`)".into()),
        )?;
    let user_id = state.app.accounts().authenticate(token).await?;
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
            sessions.track_future(async move {
                session::run(app, user_id, device_id, reader, writer).await;
                drop(permit);
            })
        }))
}
