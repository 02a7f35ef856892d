//! The REST API under `/api/v1`, the WebSocket endpoint and the operations endpoints.

mod auth;
mod conversations;
mod lifecycle;
mod messages;
mod ops;
mod users;

use axum::extract::DefaultBodyLimit;
use axum::routing::{delete, get, patch, post, put};
use axum::Router;
use confab_core::Error;

use crate::api_error::ApiError;
use crate::state::AppState;

pub(crate) fn router(state: AppState) -> Router {
    let body_limit = state.app.config.limits.max_frame_bytes;
    let api = Router::new()
        .route("/auth/register", post(auth::register))
        .route("/auth/login", post(auth::login))
        .route("/auth/logout", post(auth::logout))
        .route("/auth/logout-all", post(auth::logout_all))
        .route("/users/me", get(users::me).patch(users::update_me))
        .route("/users/me/password", put(users::change_password))
        .route("/users/{user_id}", get(users::by_id))
        .route("/users", get(users::search))
        .route("/conversations", post(conversations::create_direct).get(conversations::list))
        .route("/groups", post(conversations::create_group))
        .route("/conversations/{id}", get(conversations::get_one))
        .route("/conversations/{id}/members", post(conversations::add_members))
        .route("/conversations/{id}/members/{user_id}", delete(conversations::remove_member))
        .route("/conversations/{id}/messages", post(messages::send).get(messages::history))
        .route("/conversations/{id}/messages/{message_id}", patch(lifecycle::edit).delete(lifecycle::delete))
        .route(
            "/conversations/{id}/messages/{message_id}/reactions/{emoji}",
            put(lifecycle::add_reaction).delete(lifecycle::remove_reaction),
        )
        .route("/conversations/{id}/messages/{message_id}/receipts", get(messages::receipts))
        .route("/conversations/{id}/read", post(messages::read_conversation))
        .route("/messages/{message_id}/read", post(messages::read_message))
        .route("/sync", post(messages::sync))
        .fallback(not_found);
    Router::new()
        .nest("/api/v1", api)
        .route("/ws", get(crate::ws::upgrade))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .route("/", get(crate::web::index))
        .route("/{file}", get(crate::web::file))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(axum::middleware::map_response(crate::api_error::protocol_error_body))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError(Error::NotFound("no such endpoint".into()))
}
