//! The browser client, embedded in the binary so `confab serve` is the whole product. With
//! `web_dir` configured (development), files are read from that directory on every request instead.

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::state::AppState;

const JS: &str = "text/javascript; charset=utf-8";
const SVG: &str = "image/svg+xml";

/// The client loads only its own files and talks only to this server (REST on the same origin,
/// WebSocket on `ws:`/`wss:`); no inline script, no plugins, and no page may frame it. Images,
/// video and audio may also come from `blob:` URLs: attachments are fetched with the session's
/// token and shown from blobs the page made itself.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
img-src 'self' blob:; media-src 'self' blob:; connect-src 'self' ws: wss:; object-src 'none'; \
base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Headers on every file of the web client.
const SECURITY_HEADERS: [(header::HeaderName, &str); 5] = [
    (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
    (header::X_FRAME_OPTIONS, "DENY"),
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (header::REFERRER_POLICY, "no-referrer"),
    (header::CACHE_CONTROL, "no-cache"),
];

/// Every file the web client consists of: (path under `/`, content type, embedded bytes). The SDK
/// is `sdk/confab.js` plus the `sdk/sdk-*.js` modules it imports (the package of `web/sdk/`); the
/// web tests fetch every `web/*.js` and `web/sdk/*.js` to check that it is listed here.
const FILES: &[(&str, &str, &str)] = &[
    ("index.html", "text/html; charset=utf-8", include_str!("../../../web/index.html")),
    ("app.css", "text/css; charset=utf-8", include_str!("../../../web/app.css")),
    ("app.js", JS, include_str!("../../../web/app.js")),
    ("app-manage.js", JS, include_str!("../../../web/app-manage.js")),
    ("app-moderation.js", JS, include_str!("../../../web/app-moderation.js")),
    ("app-polish.js", JS, include_str!("../../../web/app-polish.js")),
    ("app-jump.js", JS, include_str!("../../../web/app-jump.js")),
    ("app-search.js", JS, include_str!("../../../web/app-search.js")),
    ("linkify.js", JS, include_str!("../../../web/linkify.js")),
    ("favicon.svg", SVG, include_str!("../../../web/favicon.svg")),
    ("favicon-unread.svg", SVG, include_str!("../../../web/favicon-unread.svg")),
    ("app-lifecycle.js", JS, include_str!("../../../web/app-lifecycle.js")),
    ("app-attachments.js", JS, include_str!("../../../web/app-attachments.js")),
    ("app-push.js", JS, include_str!("../../../web/app-push.js")),
    // The service worker, at the root so its scope is the whole app (`/`).
    ("sw.js", JS, include_str!("../../../web/sw.js")),
    ("sdk/confab.js", JS, include_str!("../../../web/sdk/confab.js")),
    ("sdk/sdk-admin.js", JS, include_str!("../../../web/sdk/sdk-admin.js")),
    ("sdk/sdk-attachments.js", JS, include_str!("../../../web/sdk/sdk-attachments.js")),
    ("sdk/sdk-blocks.js", JS, include_str!("../../../web/sdk/sdk-blocks.js")),
    ("sdk/sdk-client.js", JS, include_str!("../../../web/sdk/sdk-client.js")),
    ("sdk/sdk-connection.js", JS, include_str!("../../../web/sdk/sdk-connection.js")),
    ("sdk/sdk-conversations.js", JS, include_str!("../../../web/sdk/sdk-conversations.js")),
    ("sdk/sdk-events.js", JS, include_str!("../../../web/sdk/sdk-events.js")),
    ("sdk/sdk-lifecycle.js", JS, include_str!("../../../web/sdk/sdk-lifecycle.js")),
    ("sdk/sdk-expiry.js", JS, include_str!("../../../web/sdk/sdk-expiry.js")),
    ("sdk/sdk-messages.js", JS, include_str!("../../../web/sdk/sdk-messages.js")),
    ("sdk/sdk-outbox.js", JS, include_str!("../../../web/sdk/sdk-outbox.js")),
    ("sdk/sdk-presence.js", JS, include_str!("../../../web/sdk/sdk-presence.js")),
    ("sdk/sdk-push.js", JS, include_str!("../../../web/sdk/sdk-push.js")),
    ("sdk/sdk-receipts.js", JS, include_str!("../../../web/sdk/sdk-receipts.js")),
    ("sdk/sdk-search.js", JS, include_str!("../../../web/sdk/sdk-search.js")),
    ("sdk/sdk-server.js", JS, include_str!("../../../web/sdk/sdk-server.js")),
    ("sdk/sdk-sending.js", JS, include_str!("../../../web/sdk/sdk-sending.js")),
    ("sdk/sdk-session.js", JS, include_str!("../../../web/sdk/sdk-session.js")),
    ("sdk/sdk-status.js", JS, include_str!("../../../web/sdk/sdk-status.js")),
    ("sdk/sdk-storage.js", JS, include_str!("../../../web/sdk/sdk-storage.js")),
    ("sdk/sdk-sync.js", JS, include_str!("../../../web/sdk/sdk-sync.js")),
    ("sdk/sdk-timeline.js", JS, include_str!("../../../web/sdk/sdk-timeline.js")),
    ("sdk/sdk-transport.js", JS, include_str!("../../../web/sdk/sdk-transport.js")),
    ("sdk/sdk-users.js", JS, include_str!("../../../web/sdk/sdk-users.js")),
    ("api-docs.html", "text/html; charset=utf-8", include_str!("../../../web/api-docs.html")),
    ("api-docs.js", JS, include_str!("../../../web/api-docs.js")),
];

fn serve(state: &AppState, name: &str) -> Response {
    // Browsers ask for /favicon.ico whatever the page links; they accept the SVG icon there.
    let name = if name == "favicon.ico" { "favicon.svg" } else { name };
    let Some((file, content_type, embedded)) = FILES.iter().find(|(file, _, _)| *file == name) else {
        return crate::api_error::ApiError(confab_core::Error::NotFound("no such file".into()))
            .into_response();
    };
    let body = match &state.app.config.web_dir {
        Some(dir) => match std::fs::read_to_string(dir.join(file)) {
            Ok(text) => text,
            Err(_) => return (StatusCode::NOT_FOUND, "not found").into_response(),
        },
        None => (*embedded).to_string(),
    };
    ([(header::CONTENT_TYPE, *content_type)], SECURITY_HEADERS, body).into_response()
}

pub async fn index(State(state): State<AppState>) -> Response {
    serve(&state, "index.html")
}

/// `GET /api/v1/docs`: the OpenAPI document as a browsable page (it reads `/api/v1/openapi.json`).
pub async fn api_docs(State(state): State<AppState>) -> Response {
    serve(&state, "api-docs.html")
}

pub async fn file(State(state): State<AppState>, Path(name): Path<String>) -> Response {
    serve(&state, &name)
}

/// The JavaScript SDK's modules, under `/sdk/` as in the source tree (`web/sdk/`).
pub async fn sdk_file(State(state): State<AppState>, Path(name): Path<String>) -> Response {
    serve(&state, &format!("sdk/{name}"))
}
