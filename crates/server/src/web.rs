//! The browser client, embedded in the binary so `confab serve` is the whole product. With
//! `web_dir` configured (development), files are read from that directory on every request instead.

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::state::AppState;

/// Every file the web client consists of: (path under `/`, content type, embedded bytes).
const FILES: &[(&str, &str, &str)] = &[
    ("index.html", "text/html; charset=utf-8", include_str!("../../../web/index.html")),
    ("app.css", "text/css; charset=utf-8", include_str!("../../../web/app.css")),
    ("app.js", "text/javascript; charset=utf-8", include_str!("../../../web/app.js")),
    ("confab.js", "text/javascript; charset=utf-8", include_str!("../../../web/confab.js")),
];

fn serve(state: &AppState, name: &str) -> Response {
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
    ([(header::CONTENT_TYPE, *content_type), (header::CACHE_CONTROL, "no-cache")], body).into_response()
}

pub async fn index(State(state): State<AppState>) -> Response {
    serve(&state, "index.html")
}

pub async fn file(State(state): State<AppState>, Path(name): Path<String>) -> Response {
    serve(&state, &name)
}
