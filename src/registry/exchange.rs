//! What authentication asks of HTTP, in the library's own terms: a small request ([`Call`]), its
//! answer ([`Answer`]) and the [`Exchange`] seam the transport implements, so token requests go
//! through the same retries, timeouts, redirects and origin rule as every registry request, and no
//! HTTP library type appears in the [`Auth`](super::Auth) trait.

use crate::error::Result;

/// The method of a [`Call`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// `GET`.
    Get,
    /// `POST`.
    Post,
}

/// A small request with its whole body in memory (so it can be retried).
#[derive(Clone, Debug)]
pub struct Call {
    /// `GET` or `POST`.
    pub method: Method,
    /// An absolute `http` or `https` URL.
    pub url: String,
    /// Headers besides `Authorization`.
    pub headers: Vec<(String, String)>,
    /// The body (empty for a `GET`).
    pub body: Vec<u8>,
    /// The `Authorization` value, sent only to the origin of `url` (never after a redirect to
    /// another origin). Never shown by `Debug`.
    pub authorization: Option<Redacted>,
}

/// A secret header value: `Debug` shows `<redacted>`.
#[derive(Clone, PartialEq, Eq)]
pub struct Redacted(pub String);

impl std::fmt::Debug for Redacted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// The answer to a [`Call`]: its status and body (cut at the limit the exchange applies).
#[derive(Clone, Debug)]
pub struct Answer {
    /// The HTTP status code.
    pub status: u16,
    /// The body.
    pub body: Vec<u8>,
}

/// Sends [`Call`]s: implemented by the transport, which retries what can recover (429, 5xx, broken
/// connections, timeouts), follows redirects without carrying credentials to another origin, and
/// refuses to send credentials over plain HTTP for a registry reached over HTTPS.
pub trait Exchange: Send + Sync {
    /// Sends `call` and reads the answer's body (at most 1 MiB).
    fn exchange(&self, call: &Call) -> Result<Answer>;
}
