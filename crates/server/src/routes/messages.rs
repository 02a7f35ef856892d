//! Sending, history, read markers, message info and sync over REST.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use confab_core::Error;
use confab_proto::{
    HistoryResponse, MessageAck, MessageReadResponse, ReadRequest, ReadResponse, ReceiptsResponse,
    SendMessageRequest, SyncRequest, SyncResponse,
};
use serde::Deserialize;

use crate::api_error::{ApiError, ApiJson, ApiResult, AuthUser};
use crate::service::{SendOptions, Via};
use crate::state::AppState;

/// `201 Created` for a new message, `200 OK` for an idempotent resend of a stored one.
pub(crate) async fn send(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<SendMessageRequest>,
) -> ApiResult<(StatusCode, Json<MessageAck>)> {
    let options = SendOptions { reply_to: req.reply_to, expires_in_seconds: req.expires_in_seconds };
    let sent = state.app.messages().send(&me, &id, req.message_id, &req.content, options, Via::Rest).await?;
    let status = if sent.created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(sent.ack)))
}

#[derive(Deserialize)]
pub(crate) struct HistoryParams {
    before: Option<u64>,
    after: Option<u64>,
    limit: Option<u32>,
}

pub(crate) async fn history(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    Path(id): Path<String>,
    params: Result<Query<HistoryParams>, QueryRejection>,
) -> ApiResult<Json<HistoryResponse>> {
    let Query(p) =
        params.map_err(|e| ApiError(Error::InvalidRequest(format!("bad cursor: {}", e.body_text()))))?;
    Ok(Json(state.app.messages().history(&id, &me, p.before, p.after, p.limit).await?))
}

pub(crate) async fn read_conversation(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<ReadRequest>,
) -> ApiResult<Json<ReadResponse>> {
    let last_read_sequence = state.app.messages().mark_read(&id, &me, req.up_to_sequence, None).await?;
    Ok(Json(ReadResponse { last_read_sequence }))
}

pub(crate) async fn read_message(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    Path(message_id): Path<String>,
) -> ApiResult<Json<MessageReadResponse>> {
    state.app.messages().read_message(&message_id, &me).await?;
    Ok(Json(MessageReadResponse { status: "read".into() }))
}

/// Who received and who read one message (Confab extension).
pub(crate) async fn receipts(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    Path((id, message_id)): Path<(String, String)>,
) -> ApiResult<Json<ReceiptsResponse>> {
    Ok(Json(state.app.messages().receipts(&id, &message_id, &me).await?))
}

pub(crate) async fn sync(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    ApiJson(req): ApiJson<SyncRequest>,
) -> ApiResult<Json<SyncResponse>> {
    Ok(Json(state.app.messages().sync(&me, &req).await?))
}
