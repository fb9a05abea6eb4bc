//! What the transport tells an observer about each HTTP request (the command line prints it at
//! `-v`): method, URL without its query, status, bytes, time, and at the observer's choice the
//! headers, with `Authorization`, cookies and tokens already replaced by `<redacted>`.

use std::fmt;
use std::time::Duration;

/// One request and what came of it.
#[derive(Clone, Debug)]
pub struct Exchanged {
    /// `GET`, `PUT`, ...
    pub method: String,
    /// The URL, without its query string.
    pub url: String,
    /// The status, or `None` when no response arrived.
    pub status: Option<u16>,
    /// The response's `Content-Length` when it has one, else the bytes of the request body.
    pub bytes: Option<u64>,
    /// From sending the request to the response's headers (or the failure).
    pub elapsed: Duration,
    /// Request headers, secrets redacted.
    pub request_headers: Vec<(String, String)>,
    /// Response headers, secrets redacted.
    pub response_headers: Vec<(String, String)>,
    /// Why no response arrived.
    pub error: Option<String>,
}

/// Hears every request the transport sends, and its notes (a loopback registry answering in plain
/// HTTP, a retry).
pub trait Trace: Send + Sync + fmt::Debug {
    /// One request, once its response headers arrived or it failed.
    fn exchanged(&self, exchanged: &Exchanged);
    /// A note about the conversation.
    fn note(&self, _note: &str) {}
}

/// Headers as name/value strings, with secrets replaced by `<redacted>`.
pub(crate) fn redacted_headers<'a>(
    headers: impl Iterator<Item = (&'a str, &'a [u8])>,
) -> Vec<(String, String)> {
    headers
        .map(|(name, value)| {
            let lower = name.to_ascii_lowercase();
            let secret = matches!(
                lower.as_str(),
                "authorization" | "proxy-authorization" | "cookie" | "set-cookie"
            ) || lower.contains("token");
            let value = if secret {
                "<redacted>".to_string()
            } else {
                String::from_utf8_lossy(value)
                    .chars()
                    .map(|c| if c.is_control() { '?' } else { c })
                    .take(512)
                    .collect()
            };
            (lower, value)
        })
        .collect()
}
