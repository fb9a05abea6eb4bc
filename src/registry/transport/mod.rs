//! HTTP for the registry client, every request of it (registry, token realm, redirect, upload
//! `Location`): one blocking `ureq` agent, one retry loop with bounded, jittered backoff on 429, 5xx,
//! broken connections and timeouts (honouring `Retry-After`), the timeouts of `--timeout`, redirects
//! followed by hand, credentials only ever sent to their own origin ([`origin`](super::origin)),
//! `401` challenges handed to the [`Auth`] seam, and every request told to the [`Trace`]. The agent
//! itself (TLS roots, proxy) is built in `agent`.

use std::collections::HashSet;
use std::io::Read;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ureq::http::{self, Method, StatusCode};
use ureq::{Agent, SendBody};

mod failure;
mod token_calls;

use super::auth::{Auth, RegistryAuth, Scope};
use super::origin::{host_of, may_carry_credentials, Origin};
pub(crate) use super::origin::{redact, resolve_location};
use super::status::retry_after;
pub(crate) use super::status::{header, retryable, status_error, Response};
use super::trace::{redacted_headers, Exchanged, Trace};
use crate::error::{Error, Result};
use crate::graph::MANIFEST_LIMIT;
pub(crate) use failure::Failure;
use token_calls::TokenCalls;

/// How a client talks to registries. Every field is public and documented; [`Default`] is anonymous
/// HTTPS with the system roots, 4 parallel transfers, 5 attempts per request and a 30 s timeout.
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
    /// Blobs transferred at once (`--jobs`); [`DEFAULT_JOBS`](super::DEFAULT_JOBS) by default.
    pub jobs: usize,
    /// Attempts per request before a 429, 5xx, broken connection or timeout becomes an error.
    pub max_attempts: u32,
    /// First retry delay; doubled on every further attempt, less a random part of up to a half.
    pub backoff: Duration,
    /// Upper bound of one retry delay, also applied to a server's `Retry-After`.
    pub max_backoff: Duration,
    /// Blobs up to this size are uploaded with one `PUT`; larger ones in `PATCH` chunks of this size.
    pub chunk_size: u64,
    /// `--timeout`: the longest wait for a connection, the longest a transfer may make no
    /// progress, and the longest a small document (manifest, token, tag list, any answer but a
    /// blob) may take as a whole. Each counts as a transient failure and is retried.
    pub timeout: Duration,
    /// The `User-Agent` header.
    pub user_agent: String,
    /// Hears every request (`-v`); `None` by default.
    pub trace: Option<Arc<dyn Trace>>,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            plain_http: false,
            insecure: false,
            ca_certs: Vec::new(),
            auth: Arc::new(RegistryAuth::default()),
            jobs: super::DEFAULT_JOBS,
            max_attempts: 5,
            backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(10),
            chunk_size: 64 << 20,
            timeout: Duration::from_secs(30),
            user_agent: concat!("ocilayout/", env!("CARGO_PKG_VERSION")).to_string(),
            trace: None,
        }
    }
}

/// One request: method, absolute URL, headers and a body held in memory (so it can be retried).
#[derive(Clone)]
pub(crate) struct Request<'a> {
    pub method: Method,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: &'a [u8],
    pub scope: &'a Scope,
    /// Never authenticate (a ping, where a `401` is an answer).
    pub anonymous: bool,
    /// The origin the credentials are for, and the registry host [`Auth`] knows them by; by
    /// default those of `url`.
    origin: Option<Origin>,
    registry: String,
    /// A fixed `Authorization` (a token request's Basic credentials) instead of [`Auth`]'s.
    fixed: Option<String>,
}

impl<'a> Request<'a> {
    pub(crate) fn new(method: Method, url: String, scope: &'a Scope) -> Self {
        Request {
            origin: Origin::of(&url),
            registry: host_of(&url).to_string(),
            method,
            url,
            headers: Vec::new(),
            body: &[],
            scope,
            anonymous: false,
            fixed: None,
        }
    }

    pub(crate) fn anonymous(mut self) -> Self {
        self.anonymous = true;
        self
    }

    /// Credentials are those of the registry at `base` (`https://host:port/...`), wherever `url`
    /// points (an upload `Location` on another host gets none).
    pub(crate) fn on_registry(mut self, base: &str) -> Self {
        self.origin = Origin::of(base);
        self.registry = host_of(base).to_string();
        self
    }

    pub(crate) fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_string(), value.into()));
        self
    }

    pub(crate) fn body(mut self, body: &'a [u8]) -> Self {
        self.body = body;
        self
    }

    /// A blob download streams; every other answer is a small document with an overall deadline.
    fn is_document(&self) -> bool {
        !(self.method == Method::GET && self.url.contains("/blobs/"))
    }

    /// The same request over plain HTTP (a loopback registry that answers in it).
    fn downgraded(&self) -> Request<'a> {
        let mut r = self.clone();
        if let Some(rest) = r.url.strip_prefix("https://") {
            r.url = format!("http://{rest}");
        }
        r.origin = Origin::of(&r.url);
        r
    }
}

/// The HTTP side of a client: the agent and the configuration (whose [`Auth`] keeps the
/// credentials and tokens).
#[derive(Debug)]
pub(crate) struct Transport {
    agent: Agent,
    config: ClientConfig,
    /// Loopback registries that answered HTTPS in plain HTTP, spoken to in plain HTTP since.
    plain: Mutex<HashSet<String>>,
    /// Feeds the jitter of retry delays.
    jitter: AtomicU64,
}

impl Transport {
    pub(crate) fn new(config: ClientConfig) -> Result<Transport> {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0x9e37_79b9, |d| d.as_nanos() as u64)
            | 1;
        Ok(Transport {
            agent: super::agent::agent(&config)?,
            config,
            plain: Mutex::default(),
            jitter: AtomicU64::new(seed),
        })
    }

    pub(crate) fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// `http` or `https` for `registry`: `http` with `--plain-http`, or for a loopback registry
    /// found answering in plain HTTP.
    pub(crate) fn scheme_for(&self, registry: &str) -> &'static str {
        if self.config.plain_http || self.answers_plain(registry) {
            "http"
        } else {
            "https"
        }
    }

    fn answers_plain(&self, registry: &str) -> bool {
        self.plain
            .lock()
            .map(|p| p.contains(registry))
            .unwrap_or(false)
    }

    /// Sends a request, following redirects (credentials only to their origin) and retrying 429,
    /// 5xx, broken connections and timeouts. Any other status is returned for the caller to judge.
    /// A small document's body is read whole within the attempt (so a stalled body is retried too).
    pub(crate) fn send(&self, req: &Request) -> Result<Response> {
        let mut req = if self.answers_plain(&req.registry) {
            req.downgraded()
        } else {
            req.clone()
        };
        let mut attempt = 0;
        loop {
            attempt += 1;
            let outcome = self
                .send_following(&req)
                .and_then(|resp| self.buffered(&req, resp));
            let delay = match &outcome {
                Ok(resp) if retryable(resp.status()) => retry_after(resp.headers()),
                Ok(_) => return outcome.map_err(Failure::into_error),
                Err(Failure::Connection(_)) => None,
                Err(Failure::PlainAnswer(_)) if self.may_downgrade(&req) => {
                    self.note(&format!(
                        "{} answered HTTPS in plain HTTP; speaking plain HTTP to it, as to any \
                         localhost or 127.0.0.0/8 registry",
                        req.registry
                    ));
                    if let Ok(mut plain) = self.plain.lock() {
                        plain.insert(req.registry.clone());
                    }
                    req = req.downgraded();
                    attempt -= 1;
                    continue;
                }
                Err(_) => return outcome.map_err(Failure::into_error),
            };
            if attempt >= self.config.max_attempts {
                return outcome.map_err(Failure::into_error);
            }
            std::thread::sleep(self.backoff(attempt, delay));
        }
    }

    /// Whether a registry that answered HTTPS in plain HTTP may be spoken to in plain HTTP: only
    /// on loopback, and only if the request was HTTPS to that registry.
    fn may_downgrade(&self, req: &Request) -> bool {
        req.url.starts_with("https://")
            && req.origin.as_ref().is_some_and(Origin::is_loopback)
            && host_of(&req.url) == req.registry
    }

    /// The delay before retry number `attempt` (1-based): a server's `Retry-After`, else the
    /// exponential backoff less a random part of up to a half (so parallel transfers do not retry
    /// in step); both bounded by `max_backoff`.
    pub(crate) fn backoff(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        if let Some(wait) = retry_after {
            return wait.min(self.config.max_backoff);
        }
        let exp = self
            .config
            .backoff
            .saturating_mul(1 << attempt.saturating_sub(1).min(16))
            .min(self.config.max_backoff);
        // xorshift: plenty for spreading retries.
        let mut x = self.jitter.load(Ordering::Relaxed);
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.jitter.store(x, Ordering::Relaxed);
        let fraction = (x % 1000) as u32;
        exp - exp / 2 * fraction / 1000
    }

    /// Reads a small document's body into memory (at most one byte past the manifest limit, and
    /// not at all when `Content-Length` already says it is too large), so the caller reads it
    /// from memory and a body that stalls is a failed attempt.
    fn buffered(&self, req: &Request, resp: Response) -> Result<Response, Failure> {
        if !req.is_document() || req.method == Method::HEAD {
            return Ok(resp);
        }
        let declared = header(resp.headers(), "content-length").and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|len| len > MANIFEST_LIMIT) {
            return Ok(resp);
        }
        let (parts, body) = resp.into_parts();
        let mut bytes = Vec::new();
        body.into_reader()
            .take(MANIFEST_LIMIT + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| {
                Failure::Connection(Error::Http {
                    url: redact(&req.url),
                    message: format!("reading the answer: {}", self.io_message(&e)),
                })
            })?;
        Ok(http::Response::from_parts(
            parts,
            ureq::Body::builder().data(bytes),
        ))
    }

    fn send_following(&self, req: &Request) -> Result<Response, Failure> {
        let mut url = req.url.clone();
        for _ in 0..10 {
            let resp = self.send_authorized(req, &url)?;
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

    /// Whether the request to `url` may carry credentials: never for an anonymous request, and
    /// only to the origin they belong to.
    fn credentials_allowed(&self, req: &Request, url: &str) -> bool {
        !req.anonymous
            && req
                .origin
                .as_ref()
                .is_some_and(|o| may_carry_credentials(o, url))
    }

    /// One request to `url`. A `401` is answered once through [`Auth`] (a new token when the one
    /// sent was refused or has expired); a `401` to that answer is an authentication error.
    fn send_authorized(&self, req: &Request, url: &str) -> Result<Response, Failure> {
        if !self.credentials_allowed(req, url) {
            return self.once(req, url, None);
        }
        if let Some(fixed) = &req.fixed {
            return self.once(req, url, Some(fixed));
        }
        let host = req.registry.as_str();
        let auth = &self.config.auth;
        let calls = self.calls(req);
        let sent = auth
            .authorization(host, req.scope, &calls)
            .map_err(Failure::Fatal)?;
        let resp = self.once(req, url, sent.as_deref())?;
        if resp.status() != StatusCode::UNAUTHORIZED {
            return Ok(resp);
        }
        let Some(challenge) = header(resp.headers(), "www-authenticate").map(str::to_string) else {
            return Ok(resp);
        };
        let answer = auth
            .challenge(host, req.scope, &challenge, sent.as_deref(), &calls)
            .map_err(Failure::Fatal)?;
        let Some(answer) = answer else {
            return Ok(resp);
        };
        if Some(&answer) == sent.as_ref() {
            return Err(Failure::Fatal(auth.refused(host, req.scope, &challenge)));
        }
        let resp = self.once(req, url, Some(&answer))?;
        if resp.status() == StatusCode::UNAUTHORIZED {
            let challenge = header(resp.headers(), "www-authenticate").unwrap_or(&challenge);
            return Err(Failure::Fatal(auth.refused(host, req.scope, challenge)));
        }
        Ok(resp)
    }

    /// The [`Exchange`] token requests made on behalf of `req`'s registry go through.
    fn calls<'t>(&'t self, req: &Request) -> TokenCalls<'t> {
        TokenCalls {
            transport: self,
            registry: req.registry.clone(),
            https: req.origin.as_ref().is_some_and(Origin::is_https),
        }
    }

    fn once(&self, req: &Request, url: &str, auth: Option<&str>) -> Result<Response, Failure> {
        let mut b = http::Request::builder().method(req.method.clone()).uri(url);
        for (k, v) in &req.headers {
            b = b.header(k.as_str(), v.as_str());
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
        let mut configured = self.agent.configure_request(built);
        if req.is_document() {
            configured = configured.timeout_global(Some(self.config.timeout));
        }
        let built = configured.build();
        let shown = self.trace_request(&built);
        let started = Instant::now();
        let result = self.agent.run(built);
        self.trace_answer(shown, started, req.body.len() as u64, &result);
        result.map_err(|e| self.classify(url, e))
    }

    /// Sends a streamed body of `len` bytes once (no retry: the caller resumes or restarts). A
    /// `401` renews the authorization for the next attempt and fails this one as a broken transfer
    /// (a `401` to a renewed authorization is an authentication error). Credentials go only to the
    /// registry's own origin: an upload `Location` elsewhere gets none.
    pub(crate) fn send_stream(
        &self,
        req: &Request,
        body: &mut dyn Read,
        len: u64,
    ) -> Result<Response> {
        let downgraded;
        let req = if self.answers_plain(&req.registry) {
            downgraded = req.downgraded();
            &downgraded
        } else {
            req
        };
        let host = req.registry.as_str();
        let auth = &self.config.auth;
        let with_auth = self.credentials_allowed(req, &req.url);
        let calls = self.calls(req);
        let sent = if with_auth {
            auth.authorization(host, req.scope, &calls)?
        } else {
            None
        };
        let mut b = http::Request::builder()
            .method(req.method.clone())
            .uri(req.url.as_str())
            .header("content-length", len.to_string());
        for (k, v) in &req.headers {
            b = b.header(k.as_str(), v.as_str());
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
        let shown = self.trace_request(&built);
        let started = Instant::now();
        let result = self.agent.run(built);
        self.trace_answer(shown, started, len, &result);
        let resp = result.map_err(|e| self.classify(&req.url, e).into_error())?;
        if resp.status() != StatusCode::UNAUTHORIZED || !with_auth {
            return Ok(resp);
        }
        let Some(challenge) = header(resp.headers(), "www-authenticate").map(str::to_string) else {
            return Ok(resp);
        };
        match auth.challenge(host, req.scope, &challenge, sent.as_deref(), &calls)? {
            Some(answer) if Some(&answer) != sent.as_ref() => Err(Error::Http {
                url: redact(&req.url),
                message: "the registry asked to authenticate again during the upload".into(),
            }),
            Some(_) => Err(auth.refused(host, req.scope, &challenge)),
            None => Ok(resp),
        }
    }

    /// Tells the trace (`-v`) something worth knowing that is not a request.
    pub(crate) fn note(&self, note: &str) {
        if let Some(t) = &self.config.trace {
            t.note(note);
        }
    }

    /// What the trace is told of a request about to be sent (nothing without a trace).
    fn trace_request<B>(&self, req: &http::Request<B>) -> Option<Exchanged> {
        self.config.trace.as_ref()?;
        Some(Exchanged {
            method: req.method().to_string(),
            url: redact(&req.uri().to_string()),
            status: None,
            bytes: None,
            elapsed: Duration::ZERO,
            request_headers: redacted_headers(
                req.headers()
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_bytes())),
            ),
            response_headers: Vec::new(),
            error: None,
        })
    }

    fn trace_answer(
        &self,
        shown: Option<Exchanged>,
        started: Instant,
        sent: u64,
        result: &std::result::Result<Response, ureq::Error>,
    ) {
        let (Some(trace), Some(mut shown)) = (&self.config.trace, shown) else {
            return;
        };
        shown.elapsed = started.elapsed();
        match result {
            Ok(resp) => {
                shown.status = Some(resp.status().as_u16());
                shown.bytes = header(resp.headers(), "content-length")
                    .and_then(|v| v.parse().ok())
                    .or((sent > 0).then_some(sent));
                shown.response_headers = redacted_headers(
                    resp.headers()
                        .iter()
                        .map(|(k, v)| (k.as_str(), v.as_bytes())),
                );
            }
            Err(e) => shown.error = Some(e.to_string()),
        }
        trace.exchanged(&shown);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_bounded_jittered_and_honours_retry_after() {
        let t = Transport::new(ClientConfig::default()).unwrap();
        for _ in 0..100 {
            let first = t.backoff(1, None);
            assert!(first >= Duration::from_millis(100) && first <= Duration::from_millis(200));
            let second = t.backoff(2, None);
            assert!(second >= Duration::from_millis(200) && second <= Duration::from_millis(400));
            assert!(t.backoff(30, None) <= Duration::from_secs(10));
            assert!(t.backoff(30, None) >= Duration::from_secs(5));
        }
        let spread: HashSet<Duration> = (0..20).map(|_| t.backoff(3, None)).collect();
        assert!(spread.len() > 1, "no jitter: {spread:?}");
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
