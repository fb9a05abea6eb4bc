//! What a registry's answer means for the client: which statuses are worth another attempt, how
//! long a server asks us to wait, and the one-line error an unexpected status becomes (with the
//! distribution error codes from the body, and a hint when plain HTTP met an HTTPS server).

use std::io::Read;
use std::time::Duration;

use ureq::http::{self, HeaderMap, StatusCode};

use super::origin::redact;
use crate::error::Error;

/// A response from the registry.
pub(crate) type Response = http::Response<ureq::Body>;

/// Whether a status is worth another attempt: 429 and every 5xx except 501 (not implemented).
pub(crate) fn retryable(status: StatusCode) -> bool {
    status == StatusCode::TOO_MANY_REQUESTS
        || (status.is_server_error() && status != StatusCode::NOT_IMPLEMENTED)
}

/// `Retry-After` in seconds (HTTP dates are rare from registries and treated as absent).
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    header(headers, "retry-after")?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

/// A header as a string, if present and readable.
pub(crate) fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Builds the error for an unexpected status: the distribution error codes and messages from the
/// body when it has them, on one line. A bare `400` to a plain-HTTP request is what an HTTPS
/// server says to one, and the message says so.
pub(crate) fn status_error(url: &str, resp: Response) -> Error {
    let status = resp.status().as_u16();
    let mut body = Vec::new();
    let _ = resp
        .into_body()
        .into_reader()
        .take(16 << 10)
        .read_to_end(&mut body);
    let message = distribution_message(&body).unwrap_or_else(|| {
        let reason = http::StatusCode::from_u16(status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("unexpected status")
            .to_string();
        if status == 400 && url.starts_with("http://") {
            format!(
                "{reason}: the registry seems to speak HTTPS and the request was plain HTTP \
                 (drop --plain-http)"
            )
        } else {
            reason
        }
    });
    Error::Registry {
        url: redact(url),
        status,
        message,
    }
}

/// The `errors` of a distribution error body, as `CODE: message; ...` on one line.
pub(crate) fn distribution_message(body: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Errors {
        errors: Vec<Item>,
    }
    #[derive(serde::Deserialize)]
    struct Item {
        code: Option<String>,
        message: Option<String>,
    }
    let parsed: Errors = serde_json::from_slice(body).ok()?;
    let parts: Vec<String> = parsed
        .errors
        .into_iter()
        .map(|e| {
            let text = [e.code, e.message]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(": ");
            text.replace(['\n', '\r'], " ")
        })
        .collect();
    (!parts.is_empty()).then(|| parts.join("; "))
}
