//! Push notifications: `GET /push/config`, the caller's subscriptions under
//! `/push/subscriptions`, and muting a conversation (`PUT /conversations/{id}/notifications`).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use confab_proto::{
    NotificationSettings, PushConfig, PushSubscription, PushSubscriptionList, PushSubscriptionRequest,
};

use crate::api_error::{ApiJson, ApiResult, AuthUser};
use crate::state::AppState;

/// What a client needs to subscribe; public, like the registration settings.
pub(crate) async fn config(State(state): State<AppState>) -> Json<PushConfig> {
    Json(state.app.push().config())
}

pub(crate) async fn subscribe(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    ApiJson(req): ApiJson<PushSubscriptionRequest>,
) -> ApiResult<(StatusCode, Json<PushSubscription>)> {
    Ok((StatusCode::CREATED, Json(state.app.push().subscribe(&me, req).await?)))
}

pub(crate) async fn list(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
) -> ApiResult<Json<PushSubscriptionList>> {
    Ok(Json(PushSubscriptionList { subscriptions: state.app.push().subscriptions(&me).await? }))
}

pub(crate) async fn unsubscribe(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    state.app.push().unsubscribe(&me, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(crate) async fn set_notifications(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    Path(id): Path<String>,
    ApiJson(settings): ApiJson<NotificationSettings>,
) -> ApiResult<Json<NotificationSettings>> {
    Ok(Json(state.app.push().set_notifications(&id, &me, settings).await?))
}
