//! Registration, login and logout.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use confab_proto::{AuthResponse, LoginRequest, RegisterRequest, RegistrationInfo};

use crate::api_error::{ApiJson, ApiResult, AuthSession, ClientAddr};
use crate::state::AppState;

pub(crate) async fn register(
    State(state): State<AppState>,
    ClientAddr(from): ClientAddr,
    ApiJson(req): ApiJson<RegisterRequest>,
) -> ApiResult<(StatusCode, Json<AuthResponse>)> {
    Ok((StatusCode::CREATED, Json(state.app.accounts().register(req, from).await?)))
}

/// Whether anyone, no one, or invitees may register (no auth: the sign-up form asks first).
pub(crate) async fn registration(State(state): State<AppState>) -> Json<RegistrationInfo> {
    Json(RegistrationInfo { mode: state.app.config.auth.registration })
}

pub(crate) async fn login(
    State(state): State<AppState>,
    ClientAddr(from): ClientAddr,
    ApiJson(req): ApiJson<LoginRequest>,
) -> ApiResult<Json<AuthResponse>> {
    Ok(Json(state.app.accounts().login(req, from).await?))
}

pub(crate) async fn logout(
    State(state): State<AppState>,
    AuthSession(caller): AuthSession,
) -> ApiResult<StatusCode> {
    state.app.accounts().logout(&caller).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(crate) async fn logout_all(
    State(state): State<AppState>,
    AuthSession(caller): AuthSession,
) -> ApiResult<StatusCode> {
    state.app.accounts().logout_all(&caller).await?;
    Ok(StatusCode::NO_CONTENT)
}
