//! `/healthz` (the process is up), `/readyz` (storage and backends answer), `/metrics` (Prometheus),
//! `/api/v1/openapi.json` (the REST API described).

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use confab_core::Error;
use serde_json::{json, Value};

use crate::api_error::{ApiError, ApiResult};
use crate::state::AppState;

pub(crate) async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

pub(crate) async fn readyz(State(state): State<AppState>) -> ApiResult<Json<Value>> {
    state.app.ready().await?;
    Ok(Json(json!({"status": "ready"})))
}

/// `/metrics` on the main listener: moved to the metrics listener when one is configured.
pub(crate) async fn metrics(State(state): State<AppState>) -> Response {
    if state.app.config.metrics_listen.is_some() {
        return ApiError(Error::NotFound("metrics are served on the metrics listener".into()))
            .into_response();
    }
    metrics_only(State(state)).await
}

/// `/metrics` on the metrics listener.
pub(crate) async fn metrics_only(State(state): State<AppState>) -> Response {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], crate::metrics::render(&state.metrics))
        .into_response()
}

/// `GET /api/v1/openapi.json`: the OpenAPI 3.1 document of the REST API (see [`crate::openapi`]).
pub(crate) async fn openapi() -> Response {
    static TEXT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let text = TEXT.get_or_init(|| crate::openapi::document().to_string());
    ([(header::CONTENT_TYPE, "application/json")], text.as_str()).into_response()
}
