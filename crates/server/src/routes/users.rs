//! The caller (and changes to their profile and password), other users by id, and the directory
//! look-up by username prefix.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use confab_core::Error;
use confab_proto::{ChangePasswordRequest, Profile, UpdateProfileRequest, User, UsersResponse};
use serde::Deserialize;

use crate::api_error::{ApiError, ApiJson, ApiResult, AuthSession, AuthUser, ClientAddr};
use crate::state::AppState;

pub(crate) async fn me(State(state): State<AppState>, AuthUser(me): AuthUser) -> ApiResult<Json<Profile>> {
    Ok(Json(state.app.accounts().me(&me).await?))
}

pub(crate) async fn update_me(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    ApiJson(req): ApiJson<UpdateProfileRequest>,
) -> ApiResult<Json<Profile>> {
    Ok(Json(state.app.accounts().update_profile(&me, req).await?))
}

pub(crate) async fn change_password(
    State(state): State<AppState>,
    ClientAddr(from): ClientAddr,
    AuthSession(caller): AuthSession,
    ApiJson(req): ApiJson<ChangePasswordRequest>,
) -> ApiResult<StatusCode> {
    state.app.accounts().change_password(&caller, req, from).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(crate) async fn by_id(
    State(state): State<AppState>,
    AuthUser(_): AuthUser,
    Path(user_id): Path<String>,
) -> ApiResult<Json<User>> {
    Ok(Json(state.app.accounts().user(&user_id).await?))
}

#[derive(Deserialize)]
pub(crate) struct SearchParams {
    #[serde(default)]
    query: String,
    limit: Option<u32>,
}

pub(crate) async fn search(
    State(state): State<AppState>,
    AuthUser(_): AuthUser,
    params: Result<Query<SearchParams>, QueryRejection>,
) -> ApiResult<Json<UsersResponse>> {
    let Query(params) = params.map_err(|e| ApiError(Error::InvalidRequest(e.body_text())))?;
    let users = state.app.accounts().search(&params.query, params.limit).await?;
    Ok(Json(UsersResponse { users }))
}
