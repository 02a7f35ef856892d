//! Direct conversations, groups, membership.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use confab_core::ids::{new_id, now_millis};
use confab_core::store::NewGroup;
use confab_core::{validate, Error};
use confab_proto::{
    AddMembersRequest, Conversation, ConversationType, ConversationsResponse, CreateConversationRequest,
    CreateGroupRequest,
};

use crate::api_error::{ApiJson, ApiResult, AuthUser};
use crate::state::AppState;

pub async fn create_direct(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    ApiJson(req): ApiJson<CreateConversationRequest>,
) -> ApiResult<(StatusCode, Json<Conversation>)> {
    if req.kind != ConversationType::Direct {
        return Err(Error::InvalidRequest("groups are created with POST /api/v1/groups".into()).into());
    }
    let [other] = req.participant_ids.as_slice() else {
        return Err(
            Error::InvalidRequest("a direct conversation has exactly one other participant".into()).into()
        );
    };
    if *other == me {
        return Err(Error::InvalidRequest("a direct conversation needs another user".into()).into());
    }
    let app = &state.app;
    let (id, created) = app.store.open_direct(&me, other, new_id(), now_millis()).await?;
    let view = app.store.conversation(&id, &me).await?;
    if created {
        app.notify_conversation(&id, &me, &[]).await;
        Ok((StatusCode::CREATED, Json(view)))
    } else {
        Ok((StatusCode::OK, Json(view)))
    }
}

pub async fn create_group(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    ApiJson(req): ApiJson<CreateGroupRequest>,
) -> ApiResult<(StatusCode, Json<Conversation>)> {
    let app = &state.app;
    let name = validate::group_name(&req.name)?;
    for id in &req.participant_ids {
        validate::client_id("participantIds", id)?;
    }
    let id = new_id();
    app.store
        .create_group(NewGroup {
            conversation_id: id.clone(),
            name,
            creator_id: me.clone(),
            member_ids: req.participant_ids,
            settings: req.settings.unwrap_or_default(),
            created_at: now_millis(),
            max_group_size: app.config.limits.max_group_size,
        })
        .await?;
    let view = app.store.conversation(&id, &me).await?;
    app.notify_conversation(&id, &me, &[]).await;
    Ok((StatusCode::CREATED, Json(view)))
}

pub async fn list(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
) -> ApiResult<Json<ConversationsResponse>> {
    let conversations = state.app.store.conversations_of(&me).await?;
    Ok(Json(ConversationsResponse { conversations }))
}

pub async fn get_one(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    Path(id): Path<String>,
) -> ApiResult<Json<Conversation>> {
    Ok(Json(state.app.store.conversation(&id, &me).await?))
}

pub async fn add_members(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<AddMembersRequest>,
) -> ApiResult<Json<Conversation>> {
    let app = &state.app;
    if req.user_ids.is_empty() {
        return Err(Error::InvalidRequest("`userIds` must not be empty".into()).into());
    }
    for user in &req.user_ids {
        validate::client_id("userIds", user)?;
    }
    let added = app
        .store
        .add_members(&id, &me, &req.user_ids, now_millis(), app.config.limits.max_group_size)
        .await?;
    if !added.is_empty() {
        app.notify_conversation(&id, &me, &[]).await;
    }
    Ok(Json(app.store.conversation(&id, &me).await?))
}

pub async fn remove_member(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    Path((id, user)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let app = &state.app;
    app.store.remove_member(&id, &me, &user).await?;
    app.notify_conversation(&id, &me, std::slice::from_ref(&user)).await;
    Ok(StatusCode::NO_CONTENT)
}
