//! What every provider's HTTP exchange shares: building the client, reading a bounded response
//! body, `Retry-After`, and turning transport errors and generic statuses into [`PushError`]s.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{Response, StatusCode};

use crate::{ClientOptions, EndpointError, PushError};

const USER_AGENT: &str = concat!("confab-push/", env!("CARGO_PKG_VERSION"));
/// The most of an error response kept: enough for a JSON error, not a whole page.
const ERROR_BODY_LIMIT: usize = 16 * 1024;

/// A client builder with the options' timeout and roots, no redirects (a push service answers,
/// it does not redirect; following one could reach an address nobody checked) and this crate's
/// user agent.
pub(crate) fn client_builder(options: &ClientOptions) -> Result<reqwest::ClientBuilder, PushError> {
    let mut builder = reqwest::Client::builder()
        .timeout(options.timeout)
        .connect_timeout(options.timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(USER_AGENT);
    for der in &options.extra_root_certs {
        let cert = reqwest::Certificate::from_der(der)
            .map_err(|e| PushError::Config(format!("extra root certificate: {e}")))?;
        builder = builder.add_root_certificate(cert);
    }
    Ok(builder)
}

pub(crate) fn build(builder: reqwest::ClientBuilder) -> Result<reqwest::Client, PushError> {
    builder.build().map_err(|e| PushError::Config(format!("HTTP client: {e}")))
}

/// A request that got no response: refused by the endpoint policy (final), or a network error or
/// timeout (worth retrying).
pub(crate) fn transport_error(e: reqwest::Error) -> PushError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    while let Some(err) = source {
        if let Some(refused) = err.downcast_ref::<EndpointError>() {
            return PushError::Rejected(refused.to_string());
        }
        source = err.source();
    }
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "request failed"
    };
    // The error's display carries the URL, which for Web Push is a capability: keep it out.
    PushError::retry(format!("{what}: {}", e.without_url()))
}

/// Statuses worth retrying whatever the provider: `408`, `429` and every `5xx`.
pub(crate) fn is_transient(status: StatusCode) -> bool {
    status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS
        || status.is_server_error()
}

/// A [`PushError::Retry`] for a transient `status`, with the response's `Retry-After`.
pub(crate) fn retry_status(status: StatusCode, headers: &HeaderMap, detail: &str) -> PushError {
    PushError::Retry { after: retry_after(headers, SystemTime::now()), reason: describe(status, detail) }
}

/// `"status 400: detail"`, the detail cut short.
pub(crate) fn describe(status: StatusCode, detail: &str) -> String {
    let detail = detail.trim();
    if detail.is_empty() {
        return format!("status {}", status.as_u16());
    }
    let short: String = detail.chars().take(200).collect();
    format!("status {}: {short}", status.as_u16())
}

/// The response's status, headers and at most [`ERROR_BODY_LIMIT`] bytes of its body (lossy
/// UTF-8). A body that breaks off midway is kept as far as it came.
pub(crate) async fn read(mut response: Response) -> (StatusCode, HeaderMap, String) {
    let status = response.status();
    let headers = std::mem::take(response.headers_mut());
    let mut body = Vec::new();
    while body.len() < ERROR_BODY_LIMIT {
        match response.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            Ok(None) | Err(_) => break,
        }
    }
    body.truncate(ERROR_BODY_LIMIT);
    (status, headers, String::from_utf8_lossy(&body).into_owned())
}

/// `Retry-After` as seconds or as an HTTP-date (a date in the past is zero).
pub(crate) fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Seconds since the Unix epoch (0 if the clock is before it).
pub(crate) fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn with_retry_after(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = UNIX_EPOCH + Duration::from_secs(1_445_412_480); // Wed, 21 Oct 2015 07:28:00 GMT
        assert_eq!(retry_after(&with_retry_after("120"), now), Some(Duration::from_secs(120)));
        assert_eq!(retry_after(&with_retry_after(" 0 "), now), Some(Duration::ZERO));
        assert_eq!(
            retry_after(&with_retry_after("Wed, 21 Oct 2015 07:29:30 GMT"), now),
            Some(Duration::from_secs(90))
        );
        assert_eq!(
            retry_after(&with_retry_after("Wed, 21 Oct 2015 07:00:00 GMT"), now),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after(&with_retry_after("soon"), now), None);
        assert_eq!(retry_after(&with_retry_after("-5"), now), None);
        assert_eq!(retry_after(&HeaderMap::new(), now), None);
    }

    #[test]
    fn transient_statuses() {
        for s in [408, 429, 500, 502, 503, 504] {
            assert!(is_transient(StatusCode::from_u16(s).unwrap()), "{s}");
        }
        for s in [200, 400, 401, 403, 404, 410, 413] {
            assert!(!is_transient(StatusCode::from_u16(s).unwrap()), "{s}");
        }
    }

    #[test]
    fn descriptions_are_short() {
        assert_eq!(describe(StatusCode::BAD_REQUEST, " "), "status 400");
        assert_eq!(describe(StatusCode::GONE, &"x".repeat(1000)).len(), "status 410: ".len() + 200);
    }
}
