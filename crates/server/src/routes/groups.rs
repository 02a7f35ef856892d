//! Group management: rename and settings (`PATCH /conversations/{id}`), members' roles.

use axum::extract::{Path, State};
use axum::Json;
use confab_proto::{Conversation, SetRoleRequest, UpdateConversationRequest};

use crate::api_error::{ApiJson, ApiResult, AuthUser};
use crate::state::AppState;

pub(crate) async fn update(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<UpdateConversationRequest>,
) -> ApiResult<Json<Conversation>> {
    Ok(Json(state.app.conversations().update_group(&me, &id, req).await?))
}

pub(crate) async fn set_role(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    Path((id, user)): Path<(String, String)>,
    ApiJson(req): ApiJson<SetRoleRequest>,
) -> ApiResult<Json<Conversation>> {
    Ok(Json(state.app.conversations().set_role(&me, &id, &user, req.role).await?))
}
