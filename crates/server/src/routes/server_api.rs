//! The server API under `/api/v1/server`, for application backends: every route needs an API key
//! (`Authorization: Bearer cfk_…`, `UNAUTHORIZED` without a key in force). The application acts
//! for its users (the rules that bind them apply) or as the system account; it is not rate-limited.

use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use confab_core::{validate, Error};
use confab_proto::{
    Conversation, ConversationType, MessageAck, PublishRequest, ServerAddMembersRequest,
    ServerCreateConversationRequest, ServerPresenceResponse,
};
use serde::Deserialize;

use crate::api_error::{bearer_token, ApiError, ApiJson, ApiResult};
use crate::service::{SendOptions, Via};
use crate::state::AppState;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/server/conversations", post(create_conversation))
        .route("/server/conversations/{id}/messages", post(publish))
        .route("/server/conversations/{id}/members", post(add_members))
        .route("/server/conversations/{id}/members/{user_id}", delete(remove_member))
        .route("/server/users/{user_id}/disconnect", post(disconnect))
        .route("/server/presence", get(presence))
}

/// The caller: an application holding an API key in force (named in the access log by key id).
pub(crate) struct Application;

impl FromRequestParts<AppState> for Application {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let presented = bearer_token(&parts.headers)
            .ok_or_else(|| Error::Unauthorized("missing `Authorization: Bearer <API key>` header".into()))?;
        let key = crate::api_keys::authenticate(state.app.store(), presented).await?;
        crate::access::note_caller(&parts.extensions, &format!("api-key:{}", key.key_id));
        metrics::counter!("confab_server_api_requests_total").increment(1);
        Ok(Application)
    }
}

/// `POST /server/conversations`: a direct conversation or a group, created by `creatorId`; `201`
/// with the conversation as the creator sees it (`200` for a direct conversation that existed).
async fn create_conversation(
    State(state): State<AppState>,
    _app: Application,
    ApiJson(req): ApiJson<ServerCreateConversationRequest>,
) -> ApiResult<(StatusCode, Json<Conversation>)> {
    validate::client_id("creatorId", &req.creator_id)?;
    let conversations = state.app.conversations();
    match req.kind {
        ConversationType::Direct => {
            let opened = conversations.open_direct(&req.creator_id, &req.participant_ids).await?;
            let status = if opened.created { StatusCode::CREATED } else { StatusCode::OK };
            Ok((status, Json(opened.conversation)))
        }
        ConversationType::Group => {
            let name =
                req.name.as_deref().ok_or_else(|| Error::InvalidRequest("a group needs a `name`".into()))?;
            let group =
                conversations.create_group(&req.creator_id, name, req.participant_ids, req.settings).await?;
            Ok((StatusCode::CREATED, Json(group)))
        }
    }
}

/// `POST /server/conversations/{id}/messages`: publishes as `senderId` (a member) or as the system
/// account; `201` with the acknowledgement (`200` for a retry with the same `messageId`).
async fn publish(
    State(state): State<AppState>,
    _app: Application,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<PublishRequest>,
) -> ApiResult<(StatusCode, Json<MessageAck>)> {
    let sender = match req.sender_id {
        Some(sender) => {
            validate::client_id("senderId", &sender)?;
            sender
        }
        None => state.app.apps().system_account().await?.to_string(),
    };
    let options = SendOptions { reply_to: req.reply_to, expires_in_seconds: None };
    let sent =
        state.app.messages().send(&sender, &id, req.message_id, &req.content, options, Via::Server).await?;
    let status = if sent.created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(sent.ack)))
}

/// `POST /server/conversations/{id}/members`: adds users on behalf of `actorId` or of an admin;
/// the group afterwards as the actor sees it.
async fn add_members(
    State(state): State<AppState>,
    _app: Application,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<ServerAddMembersRequest>,
) -> ApiResult<Json<Conversation>> {
    let actor = state.app.apps().actor(&id, req.actor_id).await?;
    Ok(Json(state.app.conversations().add_members(&actor, &id, &req.user_ids).await?))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ActorParams {
    actor_id: Option<String>,
}

/// `DELETE /server/conversations/{id}/members/{userId}[?actorId=]`: removes a member on behalf of
/// `actorId` or of an admin; `204`.
async fn remove_member(
    State(state): State<AppState>,
    _app: Application,
    Path((id, user)): Path<(String, String)>,
    params: Result<Query<ActorParams>, QueryRejection>,
) -> ApiResult<StatusCode> {
    let Query(p) = params.map_err(|e| ApiError(Error::InvalidRequest(e.body_text())))?;
    let actor = state.app.apps().actor(&id, p.actor_id).await?;
    state.app.conversations().remove_member(&actor, &id, &user).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /server/users/{userId}/disconnect`: signs the user out everywhere: every token they hold
/// is revoked and their sockets close with `4003` on every node; `204`.
async fn disconnect(
    State(state): State<AppState>,
    _app: Application,
    Path(user): Path<String>,
) -> ApiResult<StatusCode> {
    validate::client_id("userId", &user)?;
    state.app.admin().close_sessions(None, &user).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PresenceParams {
    #[serde(default)]
    user_ids: String,
}

/// `GET /server/presence?userIds=a,b`: presence of up to 100 users across the cluster.
async fn presence(
    State(state): State<AppState>,
    _app: Application,
    params: Result<Query<PresenceParams>, QueryRejection>,
) -> ApiResult<Json<ServerPresenceResponse>> {
    let Query(p) = params.map_err(|e| ApiError(Error::InvalidRequest(e.body_text())))?;
    let ids: Vec<String> =
        p.user_ids.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect();
    Ok(Json(state.app.apps().presence(&ids).await?))
}
