//! The caller, other users by id, and the directory look-up by username prefix.

use axum::extract::{Path, Query, State};
use axum::Json;
use confab_core::Error;
use confab_proto::{User, UsersResponse};
use serde::Deserialize;

use crate::api_error::{ApiError, ApiResult, AuthUser};
use crate::state::AppState;

pub async fn me(State(state): State<AppState>, AuthUser(me): AuthUser) -> ApiResult<Json<User>> {
    let user = state.app.store.user(&me).await?.ok_or_else(|| Error::UserNotFound(me.clone()))?;
    Ok(Json(user))
}

pub async fn by_id(
    State(state): State<AppState>,
    AuthUser(_): AuthUser,
    Path(user_id): Path<String>,
) -> ApiResult<Json<User>> {
    let user = state.app.store.user(&user_id).await?.ok_or(Error::UserNotFound(user_id))?;
    Ok(Json(user))
}

#[derive(Deserialize)]
pub struct SearchParams {
    #[serde(default)]
    query: String,
    limit: Option<u32>,
}

/// Default and largest number of users a look-up returns.
const SEARCH_DEFAULT_LIMIT: u32 = 20;
const SEARCH_MAX_LIMIT: u32 = 100;

pub async fn search(
    State(state): State<AppState>,
    AuthUser(_): AuthUser,
    params: Result<Query<SearchParams>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<UsersResponse>> {
    let Query(params) = params.map_err(|e| ApiError(Error::InvalidRequest(e.body_text())))?;
    let limit = params.limit.unwrap_or(SEARCH_DEFAULT_LIMIT).clamp(1, SEARCH_MAX_LIMIT);
    let users = state.app.store.search_users(&params.query, limit).await?;
    Ok(Json(UsersResponse { users }))
}
