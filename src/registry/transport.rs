//! HTTP for the registry client: one blocking `ureq` agent with rustls, requests retried with bounded
//! backoff on 429, 5xx and broken connections (honouring `Retry-After`), redirects followed by hand so
//! credentials never travel to another host, and `401` challenges handed to the [`Auth`] seam. The
//! agent itself (TLS roots, proxy) is built in `agent`.

use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ureq::http::{self, HeaderMap, Method, StatusCode};
use ureq::{Agent, Body, SendBody};

use super::auth::{Auth, RegistryAuth, Scope};
use crate::error::{Error, Result};

/// A response from the registry.
pub type Response = http::Response<Body>;

/// How a client talks to registries. Every field is public and documented; [`Default`] is anonymous
/// HTTPS with the system roots, 4 parallel transfers and 5 attempts per request.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// Speak plain HTTP instead of HTTPS (`--plain-http`).
    pub plain_http: bool,
    /// Skip TLS certificate verification (`--insecure`).
    pub insecure: bool,
    /// PEM files with CA certificates to trust besides the system roots (`--cacert`); a file may
    /// hold several certificates.
    pub ca_certs: Vec<PathBuf>,
    /// Answers authentication challenges. By default [`RegistryAuth`] with no credentials:
    /// anonymous, including anonymous Bearer tokens.
    pub auth: Arc<dyn Auth>,
    /// Blobs transferred at once (`--jobs`).
    pub jobs: usize,
    /// Attempts per request before a 429, 5xx or broken connection becomes an error.
    pub max_attempts: u32,
    /// First retry delay; doubled on every further attempt.
    pub backoff: Duration,
    /// Upper bound of one retry delay, also applied to a server's `Retry-After`.
    pub max_backoff: Duration,
    /// Blobs up to this size are uploaded with one `PUT`; larger ones in `PATCH` chunks of this size.
    pub chunk_size: u64,
    /// Connect timeout.
    pub connect_timeout: Duration,
    /// Longest silence while reading or writing before a connection counts as broken.
    pub io_timeout: Duration,
    /// The `User-Agent` header.
    pub user_agent: String,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            plain_http: false,
            insecure: false,
            ca_certs: Vec::new(),
            auth: Arc::new(RegistryAuth::default()),
            jobs: 4,
            max_attempts: 5,
            backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(10),
            chunk_size: 64 << 20,
            connect_timeout: Duration::from_secs(30),
            io_timeout: Duration::from_secs(60),
            user_agent: concat!("ocilayout/", env!("CARGO_PKG_VERSION")).to_string(),
        }
    }
}

/// One request: method, absolute URL, headers and a body held in memory (so it can be retried).
pub(crate) struct Request<'a> {
    pub method: Method,
    pub url: String,
    pub headers: Vec<(&'static str, String)>,
    pub body: &'a [u8],
    pub scope: &'a Scope,
    /// Never authenticate (a ping, where a `401` is an answer).
    pub anonymous: bool,
}

impl<'a> Request<'a> {
    pub fn new(method: Method, url: String, scope: &'a Scope) -> Self {
        Request {
            method,
            url,
            headers: Vec::new(),
            body: &[],
            scope,
            anonymous: false,
        }
    }

    pub fn anonymous(mut self) -> Self {
        self.anonymous = true;
        self
    }

    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub fn body(mut self, body: &'a [u8]) -> Self {
        self.body = body;
        self
    }
}

/// The HTTP side of a client: the agent and the configuration (whose [`Auth`] keeps the
/// credentials and tokens).
#[derive(Debug)]
pub struct Transport {
    agent: Agent,
    config: ClientConfig,
}

impl Transport {
    pub fn new(config: ClientConfig) -> Result<Transport> {
        Ok(Transport {
            agent: super::agent::agent(&config)?,
            config,
        })
    }

    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// `http` or `https`.
    pub fn scheme(&self) -> &'static str {
        if self.config.plain_http {
            "http"
        } else {
            "https"
        }
    }

    /// Sends a request, following redirects (without credentials across hosts) and retrying 429, 5xx
    /// and broken connections. Any other status is returned for the caller to judge.
    pub(crate) fn send(&self, req: &Request) -> Result<Response> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let outcome = self.send_following(req);
            let delay = match &outcome {
                Ok(resp) if retryable(resp.status()) => retry_after(resp.headers()),
                Ok(_) => return outcome.map_err(Failure::into_error),
                Err(Failure::Connection(_)) => None,
                Err(Failure::Fatal(_)) => return outcome.map_err(Failure::into_error),
            };
            if attempt >= self.config.max_attempts {
                return outcome.map_err(Failure::into_error);
            }
            std::thread::sleep(self.backoff(attempt, delay));
        }
    }

    /// The delay before retry number `attempt` (1-based), a server's `Retry-After` taking precedence;
    /// both bounded by `max_backoff`.
    pub(crate) fn backoff(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        let exp = self
            .config
            .backoff
            .saturating_mul(1 << attempt.saturating_sub(1).min(16));
        retry_after.unwrap_or(exp).min(self.config.max_backoff)
    }

    fn send_following(&self, req: &Request) -> Result<Response, Failure> {
        let mut url = req.url.clone();
        let origin = host_of(&url).to_string();
        for _ in 0..10 {
            let same_host = host_of(&url) == origin;
            let resp = self.send_authorized(req, &url, same_host)?;
            if !resp.status().is_redirection() || resp.status() == StatusCode::NOT_MODIFIED {
                return Ok(resp);
            }
            let Some(location) = header(resp.headers(), "location") else {
                return Ok(resp);
            };
            url = resolve_location(&url, location);
        }
        Err(Failure::Fatal(Error::Http {
            url: redact(&req.url),
            message: "too many redirects".into(),
        }))
    }

    /// One request to `url`; credentials only when `url` is on the registry's own host. A `401` is
    /// answered once through [`Auth`] (a new token when the one sent was refused or has expired); a
    /// `401` to that answer is an authentication error.
    fn send_authorized(
        &self,
        req: &Request,
        url: &str,
        same_host: bool,
    ) -> Result<Response, Failure> {
        let with_auth = same_host && !req.anonymous;
        let host = host_of(url).to_string();
        let auth = &self.config.auth;
        let sent = if with_auth {
            auth.authorization(&host, req.scope, &self.agent)
                .map_err(Failure::Fatal)?
        } else {
            None
        };
        let resp = self.once(req, url, sent.as_deref())?;
        if resp.status() != StatusCode::UNAUTHORIZED || !with_auth {
            return Ok(resp);
        }
        let Some(challenge) = header(resp.headers(), "www-authenticate").map(str::to_string) else {
            return Ok(resp);
        };
        let answer = auth
            .challenge(&host, req.scope, &challenge, sent.as_deref(), &self.agent)
            .map_err(Failure::Fatal)?;
        let Some(answer) = answer else {
            return Ok(resp);
        };
        if Some(&answer) == sent.as_ref() {
            return Err(Failure::Fatal(auth.refused(&host, req.scope, &challenge)));
        }
        let resp = self.once(req, url, Some(&answer))?;
        if resp.status() == StatusCode::UNAUTHORIZED {
            let challenge = header(resp.headers(), "www-authenticate").unwrap_or(&challenge);
            return Err(Failure::Fatal(auth.refused(&host, req.scope, challenge)));
        }
        Ok(resp)
    }

    fn once(&self, req: &Request, url: &str, auth: Option<&str>) -> Result<Response, Failure> {
        let mut b = http::Request::builder().method(req.method.clone()).uri(url);
        for (k, v) in &req.headers {
            b = b.header(*k, v.as_str());
        }
        if let Some(a) = auth {
            b = b.header("authorization", a);
        }
        let sends_body = matches!(req.method, Method::PUT | Method::POST | Method::PATCH);
        if sends_body {
            b = b.header("content-length", req.body.len().to_string());
        }
        let built = b.body(req.body).map_err(|e| {
            Failure::Fatal(Error::Http {
                url: redact(url),
                message: e.to_string(),
            })
        })?;
        self.agent
            .run(built)
            .map_err(|e| classify(url, e, &self.through_proxy(url)))
    }

    /// ` (through the proxy HOST:PORT)` when requests to `url` go through a proxy, for messages:
    /// a refused connection is then the proxy's doing. The proxy's credentials are never shown.
    fn through_proxy(&self, url: &str) -> String {
        let Some(proxy) = self.agent.config().proxy() else {
            return String::new();
        };
        match url.parse::<http::Uri>() {
            Ok(uri) if !proxy.is_no_proxy(&uri) => {
                format!(" (through the proxy {}:{})", proxy.host(), proxy.port())
            }
            _ => String::new(),
        }
    }

    /// Sends a streamed body of `len` bytes once (no retry: the caller resumes or restarts). A
    /// `401` renews the authorization for the next attempt and fails this one as a broken transfer
    /// (a `401` to a renewed authorization is an authentication error).
    pub(crate) fn send_stream(
        &self,
        req: &Request,
        body: &mut dyn Read,
        len: u64,
    ) -> Result<Response> {
        let host = host_of(&req.url).to_string();
        let auth = &self.config.auth;
        let sent = auth.authorization(&host, req.scope, &self.agent)?;
        let mut b = http::Request::builder()
            .method(req.method.clone())
            .uri(req.url.as_str())
            .header("content-length", len.to_string());
        for (k, v) in &req.headers {
            b = b.header(*k, v.as_str());
        }
        if let Some(a) = &sent {
            b = b.header("authorization", a.as_str());
        }
        let built = b
            .body(SendBody::from_reader(body))
            .map_err(|e| Error::Http {
                url: redact(&req.url),
                message: e.to_string(),
            })?;
        let resp = self
            .agent
            .run(built)
            .map_err(|e| classify(&req.url, e, &self.through_proxy(&req.url)).into_error())?;
        if resp.status() != StatusCode::UNAUTHORIZED {
            return Ok(resp);
        }
        let Some(challenge) = header(resp.headers(), "www-authenticate").map(str::to_string) else {
            return Ok(resp);
        };
        match auth.challenge(&host, req.scope, &challenge, sent.as_deref(), &self.agent)? {
            Some(answer) if Some(&answer) != sent.as_ref() => Err(Error::Http {
                url: redact(&req.url),
                message: "the registry asked to authenticate again during the upload".into(),
            }),
            Some(_) => Err(auth.refused(&host, req.scope, &challenge)),
            None => Ok(resp),
        }
    }
}

/// Why a request did not produce a response.
pub(crate) enum Failure {
    /// The connection broke or timed out: worth another attempt.
    Connection(Error),
    /// Anything else: retrying cannot help.
    Fatal(Error),
}

impl Failure {
    pub fn into_error(self) -> Error {
        match self {
            Failure::Connection(e) | Failure::Fatal(e) => e,
        }
    }
}

/// Turns a failed request into an error worth retrying or not; `note` ends the message.
fn classify(url: &str, e: ureq::Error, note: &str) -> Failure {
    let message = e.to_string();
    if matches!(e, ureq::Error::Rustls(_)) || message.contains("certificate") {
        // Trying again cannot make a certificate trusted.
        return Failure::Fatal(Error::Http {
            url: redact(url),
            message: format!("TLS: {message} ({}){note}", super::tls::hint(&message)),
        });
    }
    let err = Error::Http {
        url: redact(url),
        message: format!("{message}{note}"),
    };
    match e {
        ureq::Error::Io(_) | ureq::Error::Timeout(_) | ureq::Error::Protocol(_) => {
            Failure::Connection(err)
        }
        ureq::Error::ConnectionFailed => Failure::Connection(err),
        _ => Failure::Fatal(err),
    }
}

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

/// `host[:port]` of an absolute URL.
pub(crate) fn host_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.split(['/', '?', '#']).next().unwrap_or("")
}

/// Resolves a `Location` header against the URL it came from: absolute, host-relative (`/v2/...`)
/// or path-relative.
pub(crate) fn resolve_location(base: &str, location: &str) -> String {
    if location.contains("://") {
        return location.to_string();
    }
    let (scheme, rest) = base.split_once("://").unwrap_or(("https", base));
    let host = host_of(base);
    if let Some(stripped) = location.strip_prefix("//") {
        return format!("{scheme}://{stripped}");
    }
    if location.starts_with('/') {
        return format!("{scheme}://{host}{location}");
    }
    let path = rest[host.len()..].split(['?', '#']).next().unwrap_or("");
    let dir = path.rsplit_once('/').map_or("", |(d, _)| d);
    format!("{scheme}://{host}{dir}/{location}")
}

/// A URL without its query string, for messages (upload URLs carry opaque state there).
pub(crate) fn redact(url: &str) -> String {
    url.split('?').next().unwrap_or(url).to_string()
}

/// Builds the error for an unexpected status: the distribution error codes and messages from the
/// body when it has them, on one line.
pub(crate) fn status_error(url: &str, resp: Response) -> Error {
    let status = resp.status().as_u16();
    let mut body = Vec::new();
    let _ = resp
        .into_body()
        .into_reader()
        .take(16 << 10)
        .read_to_end(&mut body);
    let message = distribution_message(&body).unwrap_or_else(|| {
        http::StatusCode::from_u16(status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("unexpected status")
            .to_string()
    });
    Error::Registry {
        url: redact(url),
        status,
        message,
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_resolve() {
        let base = "http://127.0.0.1:5000/v2/a/blobs/uploads/x?y=1";
        let cases = [
            ("https://other:1/up?z", "https://other:1/up?z"),
            (
                "/v2/a/blobs/uploads/u2",
                "http://127.0.0.1:5000/v2/a/blobs/uploads/u2",
            ),
            ("u3?s=2", "http://127.0.0.1:5000/v2/a/blobs/uploads/u3?s=2"),
            ("//cdn.example/x", "http://cdn.example/x"),
        ];
        for (loc, want) in cases {
            assert_eq!(resolve_location(base, loc), want, "{loc}");
        }
        assert_eq!(host_of(base), "127.0.0.1:5000");
        assert_eq!(redact(base), "http://127.0.0.1:5000/v2/a/blobs/uploads/x");
    }

    #[test]
    fn backoff_is_bounded_and_honours_retry_after() {
        let t = Transport::new(ClientConfig::default()).unwrap();
        assert_eq!(t.backoff(1, None), Duration::from_millis(200));
        assert_eq!(t.backoff(2, None), Duration::from_millis(400));
        assert_eq!(t.backoff(30, None), Duration::from_secs(10));
        assert_eq!(
            t.backoff(1, Some(Duration::from_secs(3))),
            Duration::from_secs(3)
        );
        assert_eq!(
            t.backoff(1, Some(Duration::from_secs(999))),
            Duration::from_secs(10)
        );
    }
}
