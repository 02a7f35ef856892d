//! Direct conversations, groups, membership.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use confab_core::Error;
use confab_proto::{
    AddMembersRequest, Conversation, ConversationType, ConversationsResponse, CreateConversationRequest,
    CreateGroupRequest,
};

use crate::api_error::{ApiJson, ApiResult, AuthUser};
use crate::state::AppState;

/// `201 Created` for a new direct conversation, `200 OK` when the two already had one.
pub(crate) async fn create_direct(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    ApiJson(req): ApiJson<CreateConversationRequest>,
) -> ApiResult<(StatusCode, Json<Conversation>)> {
    if req.kind != ConversationType::Direct {
        return Err(Error::InvalidRequest("groups are created with POST /api/v1/groups".into()).into());
    }
    let opened = state.app.conversations().open_direct(&me, &req.participant_ids).await?;
    let status = if opened.created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(opened.conversation)))
}

pub(crate) async fn create_group(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    ApiJson(req): ApiJson<CreateGroupRequest>,
) -> ApiResult<(StatusCode, Json<Conversation>)> {
    let group =
        state.app.conversations().create_group(&me, &req.name, req.participant_ids, req.settings).await?;
    Ok((StatusCode::CREATED, Json(group)))
}

pub(crate) async fn list(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
) -> ApiResult<Json<ConversationsResponse>> {
    let conversations = state.app.conversations().list(&me).await?;
    Ok(Json(ConversationsResponse { conversations }))
}

pub(crate) async fn get_one(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    Path(id): Path<String>,
) -> ApiResult<Json<Conversation>> {
    Ok(Json(state.app.conversations().get(&me, &id).await?))
}

pub(crate) async fn add_members(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<AddMembersRequest>,
) -> ApiResult<Json<Conversation>> {
    Ok(Json(state.app.conversations().add_members(&me, &id, &req.user_ids).await?))
}

pub(crate) async fn remove_member(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    Path((id, user)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    state.app.conversations().remove_member(&me, &id, &user).await?;
    Ok(StatusCode::NO_CONTENT)
}
