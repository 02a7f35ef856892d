//! Message search over REST.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use confab_core::Error;
use confab_proto::SearchResponse;
use serde::Deserialize;

use crate::api_error::{ApiError, ApiResult, AuthUser};
use crate::service::SearchParams;
use crate::state::AppState;

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/search/messages", get(messages))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Params {
    #[serde(default)]
    q: String,
    conversation_id: Option<String>,
    sender_id: Option<String>,
    before: Option<i64>,
    after: Option<i64>,
    limit: Option<u32>,
    cursor: Option<String>,
}

async fn messages(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    params: Result<Query<Params>, QueryRejection>,
) -> ApiResult<Json<SearchResponse>> {
    let Query(p) =
        params.map_err(|e| ApiError(Error::InvalidRequest(format!("bad search: {}", e.body_text()))))?;
    let params = SearchParams {
        q: p.q,
        conversation_id: p.conversation_id,
        sender_id: p.sender_id,
        before: p.before,
        after: p.after,
        limit: p.limit,
        cursor: p.cursor,
    };
    Ok(Json(state.app.messages().search(&me, params).await?))
}
