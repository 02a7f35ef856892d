//! Registration and login.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use confab_core::ids::{new_id, now_millis};
use confab_core::store::NewUser;
use confab_core::{validate, Error};
use confab_proto::{AuthResponse, LoginRequest, RegisterRequest, User};

use crate::api_error::{ApiJson, ApiResult};
use crate::auth::{hash_password, verify_password};
use crate::state::AppState;

fn response(state: &AppState, user: User) -> ApiResult<AuthResponse> {
    let (token, expires_at) = state.app.tokens.issue(&user.user_id)?;
    Ok(AuthResponse {
        user_id: user.user_id,
        username: user.username,
        display_name: user.display_name,
        token,
        expires_at,
    })
}

pub async fn register(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<RegisterRequest>,
) -> ApiResult<(StatusCode, Json<AuthResponse>)> {
    let username = validate::username(&req.username)?;
    validate::password(&req.password)?;
    let display_name = validate::display_name(req.display_name.as_deref(), &username)?;
    let password_hash = hash_password(req.password).await?;
    let user = state
        .app
        .store
        .create_user(NewUser {
            user_id: new_id(),
            username,
            display_name,
            password_hash: Some(password_hash),
            created_at: now_millis(),
        })
        .await?;
    Ok((StatusCode::CREATED, Json(response(&state, user)?)))
}

pub async fn login(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<LoginRequest>,
) -> ApiResult<Json<AuthResponse>> {
    let wrong = || Error::Unauthorized("wrong username or password".into());
    let credentials = match validate::username(&req.username) {
        Ok(name) => state.app.store.credentials(&name).await?,
        Err(_) => None,
    };
    let (user, hash) = match credentials {
        Some(c) => (Some(c.user), c.password_hash),
        None => (None, None),
    };
    if !verify_password(req.password, hash).await? {
        return Err(wrong().into());
    }
    let user = user.ok_or_else(wrong)?;
    Ok(Json(response(&state, user)?))
}
