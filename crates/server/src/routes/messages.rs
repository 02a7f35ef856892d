//! Sending, history, read markers and sync over REST.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use confab_core::Error;
use confab_proto::{
    HistoryResponse, MessageAck, MessageReadResponse, ReadRequest, ReadResponse, ReceiptEntry,
    ReceiptsResponse, SendMessageRequest, SyncRequest, SyncResponse,
};
use serde::Deserialize;

use crate::api_error::{ApiError, ApiJson, ApiResult, AuthUser};
use crate::state::AppState;

pub async fn send(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<SendMessageRequest>,
) -> ApiResult<(StatusCode, Json<MessageAck>)> {
    state.app.check_rest_send_rate(&me)?;
    let appended = state.app.send_message(&me, &id, req.message_id, &req.content, None).await?;
    let m = appended.message;
    let status = if appended.created { StatusCode::CREATED } else { StatusCode::OK };
    let ack = MessageAck {
        message_id: m.message_id,
        conversation_id: m.conversation_id,
        sequence_number: m.sequence_number,
        timestamp: m.timestamp,
    };
    Ok((status, Json(ack)))
}

#[derive(Deserialize)]
pub struct HistoryParams {
    before: Option<u64>,
    after: Option<u64>,
    limit: Option<u32>,
}

pub async fn history(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    Path(id): Path<String>,
    params: Result<Query<HistoryParams>, QueryRejection>,
) -> ApiResult<Json<HistoryResponse>> {
    let Query(p) =
        params.map_err(|e| ApiError(Error::InvalidRequest(format!("bad cursor: {}", e.body_text()))))?;
    let page = state.app.history(&id, &me, p.before, p.after, p.limit).await?;
    let next_cursor = if !page.has_more {
        None
    } else if p.after.is_some() {
        page.messages.last().map(|m| m.sequence_number)
    } else {
        page.messages.first().map(|m| m.sequence_number)
    };
    Ok(Json(HistoryResponse { messages: page.messages, has_more: page.has_more, next_cursor }))
}

pub async fn read_conversation(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<ReadRequest>,
) -> ApiResult<Json<ReadResponse>> {
    let last_read_sequence = state.app.mark_read(&id, &me, req.up_to_sequence, None).await?;
    Ok(Json(ReadResponse { last_read_sequence }))
}

pub async fn read_message(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    Path(message_id): Path<String>,
) -> ApiResult<Json<MessageReadResponse>> {
    let (conversation_id, sequence) = state.app.store.locate_message(&message_id, &me).await?;
    state.app.mark_read(&conversation_id, &me, sequence, None).await?;
    Ok(Json(MessageReadResponse { status: "read".into() }))
}

/// Who received and who read one message (Confab extension).
pub async fn receipts(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    Path((id, message_id)): Path<(String, String)>,
) -> ApiResult<Json<ReceiptsResponse>> {
    let r = state.app.store.receipts(&id, &message_id, &me).await?;
    let entries = |list: Vec<(String, i64)>| {
        list.into_iter().map(|(user_id, timestamp)| ReceiptEntry { user_id, timestamp }).collect()
    };
    Ok(Json(ReceiptsResponse { delivered_to: entries(r.delivered_to), read_by: entries(r.read_by) }))
}

pub async fn sync(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    ApiJson(req): ApiJson<SyncRequest>,
) -> ApiResult<Json<SyncResponse>> {
    Ok(Json(state.app.sync(&me, &req).await?))
}
