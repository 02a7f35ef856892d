//! Blocking users: `PUT` / `DELETE /users/me/blocks/{userId}` and the caller's list.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use confab_proto::BlocksResponse;

use crate::api_error::{ApiResult, AuthUser};
use crate::state::AppState;

pub(crate) async fn list(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
) -> ApiResult<Json<BlocksResponse>> {
    Ok(Json(BlocksResponse { blocks: state.app.blocks().list(&me).await? }))
}

/// `204` whether or not the block existed already.
pub(crate) async fn block(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    Path(user): Path<String>,
) -> ApiResult<StatusCode> {
    state.app.blocks().block(&me, &user).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `204` whether or not there was a block.
pub(crate) async fn unblock(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    Path(user): Path<String>,
) -> ApiResult<StatusCode> {
    state.app.blocks().unblock(&me, &user).await?;
    Ok(StatusCode::NO_CONTENT)
}
