//! The REST API under `/api/v1`, the WebSocket endpoint and the operations endpoints.

mod admin;
mod attachments;
mod auth;
mod blocks;
mod conversations;
mod groups;
mod lifecycle;
mod messages;
mod ops;
mod push;
mod reports;
mod search;
mod server_api;
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
        .route("/auth/registration", get(auth::registration))
        .route("/auth/login", post(auth::login))
        .route("/auth/logout", post(auth::logout))
        .route("/auth/logout-all", post(auth::logout_all))
        .route("/users/me", get(users::me).patch(users::update_me))
        .route("/users/me/password", put(users::change_password))
        .route("/users/me/blocks", get(blocks::list))
        .route("/users/me/blocks/{user_id}", put(blocks::block).delete(blocks::unblock))
        .route("/users/{user_id}", get(users::by_id))
        .route("/users", get(users::search))
        .route("/conversations", post(conversations::create_direct).get(conversations::list))
        .route("/groups", post(conversations::create_group))
        .route("/conversations/{id}", get(conversations::get_one).patch(groups::update))
        .route("/conversations/{id}/members", post(conversations::add_members))
        .route("/conversations/{id}/members/{user_id}", delete(conversations::remove_member))
        .route("/conversations/{id}/members/{user_id}/role", put(groups::set_role))
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
        .route("/reports", post(reports::create))
        .route("/push/config", get(push::config))
        .route("/push/subscriptions", post(push::subscribe).get(push::list))
        .route("/push/subscriptions/{subscription_id}", delete(push::unsubscribe))
        .route("/conversations/{id}/notifications", put(push::set_notifications))
        .route("/openapi.json", get(ops::openapi))
        .route("/docs", get(crate::web::api_docs))
        .merge(admin::routes())
        .merge(attachments::routes())
        .merge(search::routes())
        .merge(server_api::routes())
        .fallback(not_found);
    Router::new()
        .nest("/api/v1", api)
        .route("/ws", get(crate::ws::upgrade))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .route("/", get(crate::web::index))
        .route("/{file}", get(crate::web::file))
        .route("/sdk/{file}", get(crate::web::sdk_file))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(axum::middleware::map_response(crate::api_error::protocol_error_body))
        .layer(axum::middleware::from_fn_with_state(state.clone(), crate::access::track))
        .with_state(state)
}

/// The `--metrics-listen` listener's router: `GET /metrics` and nothing else.
pub(crate) fn metrics_router(state: AppState) -> Router {
    Router::new().route("/metrics", get(ops::metrics_only)).fallback(not_found).with_state(state)
}

async fn not_found() -> ApiError {
    ApiError(Error::NotFound("no such endpoint".into()))
}

#[cfg(test)]
mod reference_docs {
    /// Every route mounted by the router, as `METHOD /path` with the API prefix and camelCase
    /// parameters, read from the sources of this module (`mod.rs` mounts the API under `/api/v1`
    /// and the rest at the root; every other file's routes are merged into the API) so a new route
    /// cannot be missed.
    fn mounted_routes() -> Vec<String> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/routes");
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .expect("routes dir")
            .map(|e| e.expect("dir entry").path())
            .filter(|p| p.extension().is_some_and(|e| e == "rs"))
            .collect();
        files.sort();
        let mut routes = Vec::new();
        for file in files {
            let source = std::fs::read_to_string(&file).expect("route source");
            // The routes, not these tests (which name `.route(` and `.get(` themselves).
            let source = source.split("#[cfg(test)]").next().unwrap_or_default();
            // One line per call whatever the formatting: `.route(\n "path",\n handlers)`.
            let flat =
                source.split_whitespace().collect::<Vec<_>>().join(" ").replace(".route( \"", ".route(\"");
            let is_root = file.file_name().is_some_and(|n| n == "mod.rs");
            // In mod.rs the second router is the root one (the first is the API's).
            let root_from = if is_root {
                flat.match_indices("Router::new()").nth(1).map_or(usize::MAX, |(at, _)| at)
            } else {
                usize::MAX
            };
            for (at, _) in flat.match_indices(".route(\"") {
                let rest = &flat[at + ".route(\"".len()..];
                let Some((path, after)) = rest.split_once('"') else { continue };
                let handlers = after.split(".route(").next().unwrap_or("");
                if path == "/" || path == "/{file}" || path == "/sdk/{file}" {
                    continue; // the web client's files
                }
                let prefix = if at > root_from { "" } else { "/api/v1" };
                let path = camel_params(path);
                for method in ["get", "post", "put", "patch", "delete"] {
                    let called =
                        |h: &str| h.contains(&format!(" {method}(")) || h.contains(&format!(".{method}("));
                    if called(handlers) {
                        routes.push(format!("{} {prefix}{path}", method.to_uppercase()));
                    }
                }
            }
        }
        routes
    }

    fn camel_params(path: &str) -> String {
        let mut out = String::new();
        let mut upper = false;
        let mut in_param = false;
        for c in path.chars() {
            match c {
                '{' => in_param = true,
                '}' => in_param = false,
                '_' if in_param => {
                    upper = true;
                    continue;
                }
                _ => {}
            }
            if upper {
                out.extend(c.to_uppercase());
                upper = false;
            } else {
                out.push(c);
            }
        }
        out
    }

    #[test]
    fn every_route_is_in_the_protocol_reference() {
        let docs = include_str!("../../../../docs/protocol.md");
        let routes = mounted_routes();
        assert!(routes.len() > 25, "routes read from the source: {routes:?}");
        let missing: Vec<&String> = routes.iter().filter(|r| !docs.contains(&format!("`{r}`"))).collect();
        assert!(missing.is_empty(), "docs/protocol.md's reference lacks {missing:?}");
    }

    #[test]
    fn every_route_is_in_the_openapi_document_and_nothing_else() {
        let doc = crate::openapi::document();
        let mounted = mounted_routes();
        let missing: Vec<&String> = mounted
            .iter()
            .filter(|r| {
                let (method, path) = r.split_once(' ').expect("METHOD /path");
                doc["paths"][path].get(method.to_lowercase()).is_none()
            })
            .collect();
        assert!(missing.is_empty(), "the OpenAPI document lacks {missing:?}");
        let mut documented = Vec::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for method in item.as_object().expect("path item").keys() {
                documented.push(format!("{} {path}", method.to_uppercase()));
            }
        }
        let stale: Vec<&String> = documented.iter().filter(|d| !mounted.contains(d)).collect();
        assert!(stale.is_empty(), "the OpenAPI document lists routes no longer mounted: {stale:?}");
    }

    #[test]
    fn route_parameters_are_named_as_in_the_protocol() {
        assert_eq!(camel_params("/users/{user_id}/x"), "/users/{userId}/x");
        assert_eq!(camel_params("/a_b/{id}"), "/a_b/{id}");
    }
}
