//! Edits, deletes for everyone and reactions over REST. Each answers `200` with the message in its
//! current state (also when nothing changed: the same edit again, a reaction already there).

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::Json;
use confab_core::lifecycle::Actor;
use confab_core::Error;
use confab_proto::{EditMessageRequest, Message};
use serde::Deserialize;

use crate::api_error::{ApiError, ApiJson, ApiResult, AuthUser};
use crate::service::Named;
use crate::state::AppState;

/// `?senderId=`: which sender's message is meant when several share the `messageId`.
#[derive(Deserialize)]
pub(crate) struct TargetParams {
    #[serde(rename = "senderId")]
    pub(crate) sender_id: Option<String>,
}

fn sender(params: Result<Query<TargetParams>, QueryRejection>) -> ApiResult<Option<String>> {
    let Query(p) =
        params.map_err(|e| ApiError(Error::InvalidRequest(format!("bad query: {}", e.body_text()))))?;
    Ok(p.sender_id)
}

/// `PATCH /conversations/{id}/messages/{messageId}` `{content}`.
pub(crate) async fn edit(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    Path((id, message_id)): Path<(String, String)>,
    ApiJson(req): ApiJson<EditMessageRequest>,
) -> ApiResult<Json<Message>> {
    Ok(Json(state.app.lifecycle().edit(&me, &id, &message_id, &req.content, None).await?))
}

/// `DELETE /conversations/{id}/messages/{messageId}`: the tombstone.
pub(crate) async fn delete(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    Path((id, message_id)): Path<(String, String)>,
    params: Result<Query<TargetParams>, QueryRejection>,
) -> ApiResult<Json<Message>> {
    let named = Named { conversation_id: &id, message_id: &message_id, sender_id: sender(params)? };
    Ok(Json(state.app.lifecycle().delete(Actor::User(me), named, None).await?))
}

/// `PUT /conversations/{id}/messages/{messageId}/reactions/{emoji}` (the emoji URL-encoded).
pub(crate) async fn add_reaction(
    state: State<AppState>,
    me: AuthUser,
    path: Path<(String, String, String)>,
    params: Result<Query<TargetParams>, QueryRejection>,
) -> ApiResult<Json<Message>> {
    react(state, me, path, params, true).await
}

/// `DELETE /conversations/{id}/messages/{messageId}/reactions/{emoji}`.
pub(crate) async fn remove_reaction(
    state: State<AppState>,
    me: AuthUser,
    path: Path<(String, String, String)>,
    params: Result<Query<TargetParams>, QueryRejection>,
) -> ApiResult<Json<Message>> {
    react(state, me, path, params, false).await
}

async fn react(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    Path((id, message_id, emoji)): Path<(String, String, String)>,
    params: Result<Query<TargetParams>, QueryRejection>,
    add: bool,
) -> ApiResult<Json<Message>> {
    let named = Named { conversation_id: &id, message_id: &message_id, sender_id: sender(params)? };
    Ok(Json(state.app.lifecycle().react(&me, named, &emoji, add, None).await?))
}
