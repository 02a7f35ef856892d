//! Members reporting messages.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use confab_proto::{ReportReceipt, ReportRequest};

use crate::api_error::{ApiJson, ApiResult, AuthUser};
use crate::state::AppState;

/// `201 Created` for a new report, `200 OK` when the caller had reported that message already.
pub(crate) async fn create(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    ApiJson(req): ApiJson<ReportRequest>,
) -> ApiResult<(StatusCode, Json<ReportReceipt>)> {
    let (receipt, created) = state.app.reports().file(&me, req).await?;
    Ok((if created { StatusCode::CREATED } else { StatusCode::OK }, Json(receipt)))
}
