//! The server administrators' API under `/api/v1/admin`: every route needs the bearer token of a
//! configured administrator (`FORBIDDEN` for anyone else).

use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use confab_core::Error;
use confab_proto::{
    AdminStats, AdminUsersResponse, Ban, BanRequest, Report, ReportStatus, ReportsResponse,
    ResolveReportRequest, UserSessionsResponse,
};
use serde::Deserialize;

use crate::api_error::{ApiError, ApiJson, ApiResult, AuthUser};
use crate::state::AppState;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/users", get(users))
        .route("/admin/users/{user_id}/ban", put(ban).delete(unban))
        .route("/admin/users/{user_id}/sessions", get(sessions).delete(close_sessions))
        .route("/admin/users/{user_id}/sessions/{session_id}", delete(close_session))
        .route("/admin/reports", get(reports))
        .route("/admin/reports/{report_id}/resolve", post(resolve))
        .route("/admin/stats", get(stats))
        .route("/admin/conversations/{id}/messages/{message_id}", delete(delete_message))
}

/// `DELETE /admin/conversations/{id}/messages/{messageId}[?senderId=]`: deletes any message for
/// everyone, as its sender could (a tombstone, announced with `message.updated`), in any
/// conversation; answers the tombstone.
async fn delete_message(
    State(state): State<AppState>,
    Administrator(me): Administrator,
    Path((id, message_id)): Path<(String, String)>,
    params: Result<Query<crate::routes::lifecycle::TargetParams>, QueryRejection>,
) -> ApiResult<Json<confab_proto::Message>> {
    let sender_id = query(params)?.sender_id;
    let named = crate::service::Named { conversation_id: &id, message_id: &message_id, sender_id };
    let tombstone =
        state.app.lifecycle().delete(confab_core::lifecycle::Actor::ServerAdmin(me), named, None).await?;
    Ok(Json(tombstone))
}

/// The caller, a configured administrator: authenticated first (`UNAUTHORIZED`, `BANNED`), then
/// checked (`FORBIDDEN`).
pub(crate) struct Administrator(pub String);

impl FromRequestParts<AppState> for Administrator {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let AuthUser(me) = AuthUser::from_request_parts(parts, state).await?;
        state.app.admin().require(&me).await?;
        Ok(Administrator(me))
    }
}

fn query<T>(params: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    params.map(|Query(p)| p).map_err(|e| ApiError(Error::InvalidRequest(e.body_text())))
}

#[derive(Deserialize)]
pub(crate) struct UsersParams {
    #[serde(default)]
    query: String,
    cursor: Option<String>,
    limit: Option<u32>,
}

async fn users(
    State(state): State<AppState>,
    Administrator(_): Administrator,
    params: Result<Query<UsersParams>, QueryRejection>,
) -> ApiResult<Json<AdminUsersResponse>> {
    let p = query(params)?;
    Ok(Json(state.app.admin().users(&p.query, p.cursor.as_deref(), p.limit).await?))
}

async fn ban(
    State(state): State<AppState>,
    Administrator(me): Administrator,
    Path(user_id): Path<String>,
    ApiJson(req): ApiJson<BanRequest>,
) -> ApiResult<Json<Ban>> {
    Ok(Json(state.app.admin().ban(Some(&me), &user_id, req).await?))
}

async fn unban(
    State(state): State<AppState>,
    Administrator(me): Administrator,
    Path(user_id): Path<String>,
) -> ApiResult<StatusCode> {
    state.app.admin().unban(Some(&me), &user_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn sessions(
    State(state): State<AppState>,
    Administrator(_): Administrator,
    Path(user_id): Path<String>,
) -> ApiResult<Json<UserSessionsResponse>> {
    Ok(Json(state.app.admin().sessions(&user_id).await?))
}

async fn close_sessions(
    State(state): State<AppState>,
    Administrator(me): Administrator,
    Path(user_id): Path<String>,
) -> ApiResult<StatusCode> {
    state.app.admin().close_sessions(Some(&me), &user_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn close_session(
    State(state): State<AppState>,
    Administrator(me): Administrator,
    Path((user_id, session_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    state.app.admin().close_session(Some(&me), &user_id, &session_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
pub(crate) struct ReportsParams {
    status: Option<ReportStatus>,
    cursor: Option<String>,
    limit: Option<u32>,
}

async fn reports(
    State(state): State<AppState>,
    Administrator(_): Administrator,
    params: Result<Query<ReportsParams>, QueryRejection>,
) -> ApiResult<Json<ReportsResponse>> {
    let p = query(params)?;
    let status = p.status.unwrap_or(ReportStatus::Open);
    Ok(Json(state.app.admin().reports(status, p.cursor.as_deref(), p.limit).await?))
}

async fn resolve(
    State(state): State<AppState>,
    Administrator(me): Administrator,
    Path(report_id): Path<String>,
    ApiJson(req): ApiJson<ResolveReportRequest>,
) -> ApiResult<Json<Report>> {
    Ok(Json(state.app.admin().resolve(Some(&me), &report_id, req).await?))
}

async fn stats(
    State(state): State<AppState>,
    Administrator(_): Administrator,
) -> ApiResult<Json<AdminStats>> {
    Ok(Json(state.app.admin().stats().await?))
}
