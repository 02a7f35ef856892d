//! Attachments over REST: uploads (raw body or `multipart/form-data`), downloads with ranges and
//! validators, thumbnails. Every download is sent with headers that keep a browser from running
//! it: the stored type (read from the bytes), `nosniff`, a sandboxing CSP, and `attachment`
//! disposition for everything but safe images, audio and video.

use axum::body::Body;
use axum::extract::{FromRequest, Multipart, Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use confab_core::Error;
use confab_media::{images, sniff, ByteRange};
use confab_proto::Attachment;
use futures_util::TryStreamExt;
use serde::Deserialize;

use crate::api_error::{ApiError, ApiResult, AuthUser};
use crate::service::UploadHints;
use crate::state::AppState;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        // The size limit is the attachments' own, counted while the body streams.
        .route("/attachments", post(upload).layer(axum::extract::DefaultBodyLimit::disable()))
        .route("/attachments/{id}", get(download))
        .route("/attachments/{id}/thumbnail", get(thumbnail))
}

#[derive(Deserialize)]
pub(crate) struct UploadParams {
    filename: Option<String>,
}

fn header_text(headers: &HeaderMap, name: header::HeaderName) -> Option<String> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string)
}

fn interrupted(e: impl std::fmt::Display) -> Error {
    Error::InvalidRequest(format!("the upload did not arrive whole: {e}"))
}

/// `201` with the attachment.
pub(crate) async fn upload(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    Query(params): Query<UploadParams>,
    request: Request,
) -> ApiResult<(StatusCode, Json<Attachment>)> {
    let content_type = header_text(request.headers(), header::CONTENT_TYPE);
    let declared_len =
        header_text(request.headers(), header::CONTENT_LENGTH).and_then(|v| v.parse::<u64>().ok());
    let attachments = state.app.attachments().clone();
    let is_multipart =
        content_type.as_deref().is_some_and(|t| t.to_ascii_lowercase().starts_with("multipart/form-data"));
    let attachment = if is_multipart {
        // The declared length includes the form's framing: only the file's bytes are counted.
        if declared_len.is_some_and(|len| len > attachments.max_bytes() + 64 * 1024) {
            return Err(ApiError(Error::PayloadTooLarge(format!(
                "attachments are limited to {} bytes",
                attachments.max_bytes()
            ))));
        }
        let mut form = Multipart::from_request(request, &state).await.map_err(|e| {
            ApiError(Error::InvalidRequest(format!("not a multipart form: {}", e.body_text())))
        })?;
        loop {
            let Some(field) = form.next_field().await.map_err(|e| ApiError(interrupted(e)))? else {
                return Err(ApiError(Error::InvalidRequest("the form has no `file` part".into())));
            };
            if field.name() != Some("file") {
                continue;
            }
            let hints = UploadHints {
                declared_type: field.content_type().map(str::to_string),
                filename: field.file_name().map(str::to_string).or(params.filename),
                declared_len: None,
            };
            break attachments.upload(&me, hints, field.map_err(interrupted)).await?;
        }
    } else {
        let hints = UploadHints { declared_type: content_type, filename: params.filename, declared_len };
        let body = request.into_body().into_data_stream().map_err(interrupted);
        attachments.upload(&me, hints, body).await?
    };
    Ok((StatusCode::CREATED, Json(attachment)))
}

/// The bytes, whole (`200`) or one range (`206`); `304` when the client's copy is current; `416`
/// for a range outside the file.
pub(crate) async fn download(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let attachments = state.app.attachments();
    let attachment = attachments.info(&me, &id).await?;
    let etag = format!("\"{}\"", attachment.sha256);
    if fresh(&headers, &etag) {
        return Ok(not_modified(&etag));
    }
    // A range is only honoured against the version it was computed for (`If-Range`).
    let range_applies = headers.get(header::IF_RANGE).is_none_or(|v| v.as_bytes() == etag.as_bytes());
    let range = match headers.get(header::RANGE).filter(|_| range_applies) {
        None => None,
        Some(value) => match parse_range(value.to_str().unwrap_or(""), attachment.size) {
            Ranged::Whole => None,
            Ranged::Part(range) => Some(range),
            Ranged::Unsatisfiable => {
                let mut response =
                    ApiError(Error::InvalidRequest("the range is outside the file".into())).into_response();
                *response.status_mut() = StatusCode::RANGE_NOT_SATISFIABLE;
                insert(&mut response, header::CONTENT_RANGE, &format!("bytes */{}", attachment.size));
                return Ok(response);
            }
        },
    };
    let download = attachments.open(attachment, range).await?;
    let a = &download.attachment;
    let (status, length) = match download.range {
        Some(r) => (StatusCode::PARTIAL_CONTENT, r.end - r.start),
        None => (StatusCode::OK, a.size),
    };
    let mut response = Response::new(Body::from_stream(download.body));
    *response.status_mut() = status;
    safe_headers(&mut response, &a.content_type, sniff::inline(&a.content_type), &a.filename, &etag);
    insert(&mut response, header::CONTENT_LENGTH, &length.to_string());
    insert(&mut response, header::ACCEPT_RANGES, "bytes");
    if let Some(r) = download.range {
        insert(&mut response, header::CONTENT_RANGE, &format!("bytes {}-{}/{}", r.start, r.end - 1, a.size));
    }
    Ok(response)
}

/// A JPEG of the image, at most 320 px on its longer side; `404` for other attachments.
pub(crate) async fn thumbnail(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let attachments = state.app.attachments();
    let attachment = attachments.info(&me, &id).await?;
    let etag = format!("\"{}-thumbnail\"", attachment.sha256);
    if attachment.has_thumbnail && fresh(&headers, &etag) {
        return Ok(not_modified(&etag));
    }
    let bytes = attachments.thumbnail(&attachment).await?;
    let name = format!(
        "{}.jpg",
        attachment.filename.rsplit_once('.').map_or(attachment.filename.as_str(), |(stem, _)| stem)
    );
    let length = bytes.len();
    let mut response = Response::new(Body::from(bytes));
    safe_headers(&mut response, images::THUMBNAIL_TYPE, true, &name, &etag);
    insert(&mut response, header::CONTENT_LENGTH, &length.to_string());
    Ok(response)
}

/// Whether `If-None-Match` names the current version.
fn fresh(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"))
}

fn not_modified(etag: &str) -> Response {
    let mut response = StatusCode::NOT_MODIFIED.into_response();
    insert(&mut response, header::ETAG, etag);
    insert(&mut response, header::CACHE_CONTROL, "private, no-cache");
    response
}

/// Headers of every attachment response: the type, `nosniff`, a CSP that forbids everything a
/// document could do, the disposition, the validator, and caching for the requester alone
/// (revalidated, since access may end).
fn safe_headers(response: &mut Response, content_type: &str, inline: bool, filename: &str, etag: &str) {
    insert(response, header::CONTENT_TYPE, content_type);
    insert(response, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    insert(response, header::CONTENT_SECURITY_POLICY, "default-src 'none'; sandbox");
    insert(response, header::CONTENT_DISPOSITION, &disposition(inline, filename));
    insert(response, header::ETAG, etag);
    insert(response, header::CACHE_CONTROL, "private, no-cache");
}

fn insert(response: &mut Response, name: header::HeaderName, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        response.headers_mut().insert(name, value);
    }
}

/// `inline` or `attachment`, with the name as ASCII and, when it is not, as RFC 5987 UTF-8.
fn disposition(inline: bool, filename: &str) -> String {
    let kind = if inline { "inline" } else { "attachment" };
    let ascii: String = filename
        .chars()
        .map(|c| if c.is_ascii_graphic() || c == ' ' { c } else { '_' })
        .filter(|c| *c != '"' && *c != '\\')
        .collect();
    if ascii == filename {
        return format!("{kind}; filename=\"{ascii}\"");
    }
    let encoded: String = filename
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect();
    format!("{kind}; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

#[derive(Debug, PartialEq, Eq)]
enum Ranged {
    /// No usable range: send the whole file (several ranges, or a unit other than bytes).
    Whole,
    Part(ByteRange),
    Unsatisfiable,
}

/// One `Range: bytes=…` of a file of `size` bytes: `a-b`, `a-` or the suffix `-n`.
fn parse_range(value: &str, size: u64) -> Ranged {
    let Some(spec) = value.trim().strip_prefix("bytes=") else { return Ranged::Whole };
    if spec.contains(',') {
        return Ranged::Whole;
    }
    let Some((first, last)) = spec.trim().split_once('-') else { return Ranged::Unsatisfiable };
    let (first, last) = (first.trim(), last.trim());
    let range = match (first.parse::<u64>(), last.parse::<u64>()) {
        (Ok(start), Ok(end)) if start <= end => Some((start, end.saturating_add(1).min(size))),
        (Ok(start), Err(_)) if last.is_empty() => Some((start, size)),
        (Err(_), Ok(suffix)) if first.is_empty() && suffix > 0 => Some((size.saturating_sub(suffix), size)),
        _ => None,
    };
    match range {
        Some((start, end)) if start < size && start < end => Ranged::Part(ByteRange { start, end }),
        _ => Ranged::Unsatisfiable,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(start: u64, end: u64) -> Ranged {
        Ranged::Part(ByteRange { start, end })
    }

    #[test]
    fn ranges_are_read_as_rfc_9110_says() {
        assert_eq!(parse_range("bytes=0-9", 100), part(0, 10));
        assert_eq!(parse_range("bytes=90-", 100), part(90, 100));
        assert_eq!(parse_range("bytes=-10", 100), part(90, 100));
        assert_eq!(
            parse_range("bytes=-500", 100),
            part(0, 100),
            "a suffix longer than the file is all of it"
        );
        assert_eq!(parse_range("bytes=50-500", 100), part(50, 100), "the end is clamped");
        assert_eq!(parse_range("bytes=100-", 100), Ranged::Unsatisfiable);
        assert_eq!(parse_range("bytes=9-3", 100), Ranged::Unsatisfiable);
        assert_eq!(parse_range("bytes=-0", 100), Ranged::Unsatisfiable);
        assert_eq!(parse_range("bytes=x-y", 100), Ranged::Unsatisfiable);
        assert_eq!(parse_range("bytes=0-0", 0), Ranged::Unsatisfiable, "an empty file has no bytes to range");
        assert_eq!(parse_range("bytes=0-1,5-6", 100), Ranged::Whole);
        assert_eq!(parse_range("items=0-1", 100), Ranged::Whole);
    }

    #[test]
    fn dispositions_quote_safely() {
        assert_eq!(disposition(true, "cat.png"), "inline; filename=\"cat.png\"");
        assert_eq!(
            disposition(false, "résumé.pdf"),
            "attachment; filename=\"r_sum_.pdf\"; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf"
        );
    }
}
