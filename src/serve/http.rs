//! The HTTP vocabulary of the server: the response body type, the distribution-spec error bodies,
//! routes parsed from request paths, query strings, `Range` headers and the pagination of lists.
//! Pure functions, no I/O.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Frame, SizeHint};
use hyper::header::{HeaderValue, CONTENT_LENGTH, CONTENT_TYPE};
use hyper::{Response, StatusCode};
use tokio::sync::mpsc;

/// The header every response carries, as the distribution spec asks of `GET /v2/`.
pub(crate) const API_VERSION: &str = "Docker-Distribution-Api-Version";

/// A response body: nothing, bytes in memory, or chunks streamed from a blocking reader. A stream
/// that yields an error makes hyper abort the connection, so a client that was promised
/// `Content-Length` bytes never mistakes a cut-off body for a complete one.
pub(crate) enum Body {
    /// No body (HEAD, 201, 202, 204).
    Empty,
    /// A body held in memory.
    Full(Option<Bytes>),
    /// A body streamed from another thread.
    Stream(mpsc::Receiver<io::Result<Bytes>>),
}

impl hyper::body::Body for Body {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        match self.get_mut() {
            Body::Empty => Poll::Ready(None),
            Body::Full(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            Body::Stream(rx) => rx.poll_recv(cx).map(|o| o.map(|r| r.map(Frame::data))),
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self, Body::Empty | Body::Full(None))
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Body::Empty | Body::Full(None) => SizeHint::with_exact(0),
            Body::Full(Some(b)) => SizeHint::with_exact(b.len() as u64),
            Body::Stream(_) => SizeHint::default(),
        }
    }
}

/// A response with a status and no body yet.
pub(crate) fn status(code: StatusCode) -> Response<Body> {
    let mut r = Response::new(Body::Empty);
    *r.status_mut() = code;
    r
}

/// A JSON response.
pub(crate) fn json(code: StatusCode, content_type: &str, bytes: Vec<u8>) -> Response<Body> {
    let mut r = status(code);
    set(&mut r, CONTENT_TYPE.as_str(), content_type);
    set(&mut r, CONTENT_LENGTH.as_str(), &bytes.len().to_string());
    *r.body_mut() = Body::Full(Some(Bytes::from(bytes)));
    r
}

/// Sets a header; a value that is not a valid header value (it never is one built from validated
/// names and digests) is left out rather than sent garbled.
pub(crate) fn set(r: &mut Response<Body>, name: &str, value: &str) {
    if let (Ok(name), Ok(value)) = (
        hyper::header::HeaderName::from_bytes(name.as_bytes()),
        HeaderValue::from_str(value),
    ) {
        r.headers_mut().insert(name, value);
    }
}

/// The distribution spec's error codes that the server answers with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Code {
    BlobUnknown,
    BlobUploadInvalid,
    BlobUploadUnknown,
    DigestInvalid,
    ManifestBlobUnknown,
    ManifestInvalid,
    ManifestUnknown,
    NameInvalid,
    NameUnknown,
    SizeInvalid,
    TooManyRequests,
    Unauthorized,
    Denied,
    Unsupported,
}

impl Code {
    fn as_str(self) -> &'static str {
        match self {
            Code::BlobUnknown => "BLOB_UNKNOWN",
            Code::BlobUploadInvalid => "BLOB_UPLOAD_INVALID",
            Code::BlobUploadUnknown => "BLOB_UPLOAD_UNKNOWN",
            Code::DigestInvalid => "DIGEST_INVALID",
            Code::ManifestBlobUnknown => "MANIFEST_BLOB_UNKNOWN",
            Code::ManifestInvalid => "MANIFEST_INVALID",
            Code::ManifestUnknown => "MANIFEST_UNKNOWN",
            Code::NameInvalid => "NAME_INVALID",
            Code::NameUnknown => "NAME_UNKNOWN",
            Code::SizeInvalid => "SIZE_INVALID",
            Code::TooManyRequests => "TOOMANYREQUESTS",
            Code::Unauthorized => "UNAUTHORIZED",
            Code::Denied => "DENIED",
            Code::Unsupported => "UNSUPPORTED",
        }
    }
}

/// An error answer: a status, a spec code and a one-line message for the client, and what went
/// wrong inside the server, which the client never sees (it may name server paths) but the
/// server's log does.
#[derive(Debug)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub code: Code,
    pub message: String,
    pub detail: Option<String>,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, code: Code, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: crate::error::one_line(&message.into()),
            detail: None,
        }
    }

    /// A failure of the server itself (500): the client reads a generic message, the detail goes
    /// to the server's log only.
    pub(crate) fn internal(detail: impl std::fmt::Display) -> Self {
        ApiError {
            detail: Some(crate::error::one_line(&detail.to_string())),
            ..ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                Code::Unsupported,
                "the server failed to answer this request (its log has the detail)",
            )
        }
    }

    /// A spec error body: `{"errors":[{"code","message","detail"}]}`.
    pub(crate) fn response(&self) -> Response<Body> {
        let body = serde_json::json!({
            "errors": [{"code": self.code.as_str(), "message": self.message, "detail": null}]
        });
        json(
            self.status,
            "application/json",
            serde_json::to_vec(&body).unwrap_or_default(),
        )
    }
}

/// What a request path asks for. Repository names may contain `/`, so each route is recognised by
/// its last fixed component.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Route {
    /// `/v2/`
    Base,
    /// `/v2/_catalog`
    Catalog,
    /// `/v2/NAME/manifests/REFERENCE`
    Manifest { name: String, reference: String },
    /// `/v2/NAME/blobs/DIGEST`
    Blob { name: String, digest: String },
    /// `/v2/NAME/blobs/uploads/`
    Uploads { name: String },
    /// `/v2/NAME/blobs/uploads/ID`
    Upload { name: String, id: String },
    /// `/v2/NAME/tags/list`
    Tags { name: String },
    /// `/v2/NAME/referrers/DIGEST`
    Referrers { name: String, digest: String },
}

impl Route {
    /// Parses a request path; `None` for anything outside the API.
    pub(crate) fn parse(path: &str) -> Option<Route> {
        let rest = path.strip_prefix("/v2")?;
        if rest.is_empty() || rest == "/" {
            return Some(Route::Base);
        }
        let rest = rest.strip_prefix('/')?;
        if rest == "_catalog" {
            return Some(Route::Catalog);
        }
        let name_ok = |n: &str| !n.is_empty() && !n.starts_with('/') && !n.ends_with('/');
        let last = |n: &str| !n.is_empty() && !n.contains('/');
        if let Some(name) = rest.strip_suffix("/tags/list") {
            return name_ok(name).then(|| Route::Tags { name: name.into() });
        }
        if let Some(name) = rest
            .strip_suffix("/blobs/uploads/")
            .or_else(|| rest.strip_suffix("/blobs/uploads"))
        {
            return name_ok(name).then(|| Route::Uploads { name: name.into() });
        }
        if let Some((name, id)) = rest.rsplit_once("/blobs/uploads/") {
            return (name_ok(name) && last(id)).then(|| Route::Upload {
                name: name.into(),
                id: id.into(),
            });
        }
        let split = |marker: &str| {
            rest.rsplit_once(marker)
                .filter(|(n, x)| name_ok(n) && last(x))
                .map(|(n, x)| (n.to_string(), x.to_string()))
        };
        if let Some((name, reference)) = split("/manifests/") {
            return Some(Route::Manifest { name, reference });
        }
        if let Some((name, digest)) = split("/referrers/") {
            return Some(Route::Referrers { name, digest });
        }
        if let Some((name, digest)) = split("/blobs/") {
            return Some(Route::Blob { name, digest });
        }
        None
    }
}

/// Decodes a query string into its pairs (`+` is a space, `%XX` a byte); pairs that do not decode
/// to UTF-8 are dropped.
pub(crate) fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    query
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .filter_map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            Some((percent_decode(k)?, percent_decode(v)?))
        })
        .collect()
}

/// The first value of `key` in decoded query pairs.
pub(crate) fn query_get<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = b.get(i + 1..i + 3)?;
                let hex = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// Encodes a query value (everything but unreserved characters as `%XX`).
pub(crate) fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &c in s.as_bytes() {
        if c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~') {
            out.push(c as char);
        } else {
            out.push_str(&format!("%{c:02X}"));
        }
    }
    out
}

/// A single byte range asked for with `Range: bytes=...`, resolved against a blob's size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ByteRange {
    /// First byte.
    pub start: u64,
    /// Last byte, inclusive.
    pub end: u64,
}

/// What a `Range` header means for a blob of `size` bytes.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum RangeRequest {
    /// No header, or one this server ignores (another unit, several ranges): the whole blob, 200.
    Whole,
    /// One satisfiable range: 206.
    Part(ByteRange),
    /// A range that starts past the end: 416.
    Unsatisfiable,
}

/// Interprets a `Range` header (RFC 9110 §14.2): `bytes=A-B`, `bytes=A-` and `bytes=-N`. Several
/// ranges are answered with the whole blob, which the RFC allows. Numbers that overflow are not a
/// range at all.
pub(crate) fn parse_range(header: Option<&str>, size: u64) -> RangeRequest {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return RangeRequest::Whole;
    };
    if spec.contains(',') {
        return RangeRequest::Whole;
    }
    let Some((a, b)) = spec.trim().split_once('-') else {
        return RangeRequest::Whole;
    };
    let num = |s: &str| -> Option<u64> {
        (!s.is_empty() && s.bytes().all(|c| c.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    let (start, end) = match (a.trim(), b.trim()) {
        ("", n) => match num(n) {
            Some(0) => return RangeRequest::Unsatisfiable,
            Some(n) => (size.saturating_sub(n), size.saturating_sub(1)),
            None => return RangeRequest::Whole,
        },
        (a, "") => match num(a) {
            Some(a) => (a, size.saturating_sub(1)),
            None => return RangeRequest::Whole,
        },
        (a, b) => match (num(a), num(b)) {
            (Some(a), Some(b)) if a <= b => (a, b.min(size.saturating_sub(1))),
            _ => return RangeRequest::Whole,
        },
    };
    if size == 0 || start >= size {
        return RangeRequest::Unsatisfiable;
    }
    RangeRequest::Part(ByteRange { start, end })
}

/// The media types an `Accept` header admits, or `None` when it admits anything (no header, or a
/// wildcard). Parameters such as `q=` are dropped; a type given with `q=0` is refused.
pub(crate) fn accepted_types(values: &[&str]) -> Option<Vec<String>> {
    let mut out = Vec::new();
    let mut any = false;
    for v in values {
        for item in v.split(',') {
            let mut parts = item.split(';');
            let ty = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let refused = parts.any(|p| {
                let p = p.trim();
                p.strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    .is_some_and(|q| q == 0.0)
            });
            if ty.is_empty() {
                continue;
            }
            any = true;
            if refused {
                continue;
            }
            if ty == "*/*" || ty == "application/*" {
                return None;
            }
            out.push(ty);
        }
    }
    any.then_some(out)
}

/// A sorted list answered page by page: `n` items after `last`, with a `Link` to the next page
/// when more remain (distribution-spec's pagination for tags and the catalog). The link keeps every
/// other parameter of the query (containerd's `ns` above all), so that the next page is a page of
/// the same list.
pub(crate) fn paginated(
    query: &[(String, String)],
    path: &str,
    key: &str,
    name: Option<&str>,
    items: Vec<String>,
) -> Response<Body> {
    let n = query_get(query, "n").and_then(|n| n.parse::<usize>().ok());
    let last = query_get(query, "last");
    let after: Vec<String> = match last {
        Some(l) => items.into_iter().filter(|t| t.as_str() > l).collect(),
        None => items,
    };
    let more = n.is_some_and(|n| after.len() > n);
    let page: Vec<String> = match n {
        Some(n) => after.into_iter().take(n).collect(),
        None => after,
    };
    let mut doc = serde_json::Map::new();
    if let Some(name) = name {
        doc.insert("name".into(), name.into());
    }
    doc.insert(key.into(), page.clone().into());
    let body = serde_json::to_vec(&doc).unwrap_or_default();
    let mut r = json(StatusCode::OK, "application/json", body);
    if let (true, Some(n), Some(end)) = (more, n, page.last()) {
        set(
            &mut r,
            "Link",
            &format!("<{}>; rel=\"next\"", next_page(query, path, n, end)),
        );
    }
    r
}

/// The URL of the page after `last`: the same path and query, with `n` and `last` replaced.
fn next_page(query: &[(String, String)], path: &str, n: usize, last: &str) -> String {
    let mut url = format!("{path}?");
    for (k, v) in query.iter().filter(|(k, _)| k != "n" && k != "last") {
        url.push_str(&format!("{}={}&", percent_encode(k), percent_encode(v)));
    }
    url.push_str(&format!("n={n}&last={}", percent_encode(last)));
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        let m = |n: &str, r: &str| Route::Manifest {
            name: n.into(),
            reference: r.into(),
        };
        let cases: &[(&str, Option<Route>)] = &[
            ("/v2/", Some(Route::Base)),
            ("/v2", Some(Route::Base)),
            ("/v2/_catalog", Some(Route::Catalog)),
            ("/v2/alpine/manifests/3.16", Some(m("alpine", "3.16"))),
            ("/v2/a/b/c/manifests/latest", Some(m("a/b/c", "latest"))),
            // A repository may itself be called "manifests".
            ("/v2/x/manifests/manifests/t", Some(m("x/manifests", "t"))),
            (
                "/v2/ghcr.io/o/a/blobs/sha256:ab",
                Some(Route::Blob {
                    name: "ghcr.io/o/a".into(),
                    digest: "sha256:ab".into(),
                }),
            ),
            (
                "/v2/a/blobs/uploads/",
                Some(Route::Uploads { name: "a".into() }),
            ),
            (
                "/v2/a/blobs/uploads",
                Some(Route::Uploads { name: "a".into() }),
            ),
            (
                "/v2/a/blobs/uploads/u-1",
                Some(Route::Upload {
                    name: "a".into(),
                    id: "u-1".into(),
                }),
            ),
            (
                "/v2/a/b/tags/list",
                Some(Route::Tags { name: "a/b".into() }),
            ),
            (
                "/v2/a/referrers/sha256:00",
                Some(Route::Referrers {
                    name: "a".into(),
                    digest: "sha256:00".into(),
                }),
            ),
            ("/v2//manifests/x", None),
            ("/v2/a/manifests/", None),
            ("/v2/a/manifests/x/y", None),
            ("/v3/a/manifests/x", None),
            ("/v2/a", None),
            ("/", None),
        ];
        for (path, want) in cases {
            assert_eq!(&Route::parse(path), want, "{path}");
        }
    }

    #[test]
    fn ranges() {
        let part = |start, end| RangeRequest::Part(ByteRange { start, end });
        let cases: &[(Option<&str>, u64, RangeRequest)] = &[
            (None, 10, RangeRequest::Whole),
            (Some("bytes=0-"), 10, part(0, 9)),
            (Some("bytes=2-4"), 10, part(2, 4)),
            (Some("bytes=2-400"), 10, part(2, 9)),
            (Some("bytes=-3"), 10, part(7, 9)),
            (Some("bytes=-30"), 10, part(0, 9)),
            (Some("bytes=10-"), 10, RangeRequest::Unsatisfiable),
            (Some("bytes=-0"), 10, RangeRequest::Unsatisfiable),
            (Some("bytes=0-"), 0, RangeRequest::Unsatisfiable),
            (Some("bytes=4-2"), 10, RangeRequest::Whole),
            (Some("bytes=0-1,3-4"), 10, RangeRequest::Whole),
            (Some("items=0-1"), 10, RangeRequest::Whole),
            (
                Some("bytes=99999999999999999999999-"),
                10,
                RangeRequest::Whole,
            ),
            (Some("bytes=+1-2"), 10, RangeRequest::Whole),
        ];
        for (h, size, want) in cases {
            assert_eq!(&parse_range(*h, *size), want, "{h:?} of {size}");
        }
    }

    #[test]
    fn accept_headers() {
        assert_eq!(accepted_types(&[]), None);
        assert_eq!(accepted_types(&["*/*"]), None);
        assert_eq!(
            accepted_types(&["application/vnd.oci.image.index.v1+json; q=0.5, A/B"]),
            Some(vec![
                "application/vnd.oci.image.index.v1+json".to_string(),
                "a/b".to_string()
            ])
        );
        assert_eq!(
            accepted_types(&["a/b;q=0", "c/d"]),
            Some(vec!["c/d".to_string()])
        );
        assert_eq!(accepted_types(&["a/b;q=0"]), Some(vec![]));
        assert_eq!(accepted_types(&[""]), None);
    }

    #[test]
    fn queries() {
        let q = query_pairs(Some(
            "n=2&last=a%2Bb&artifactType=application%2Fx&bad=%zz&flag",
        ));
        assert_eq!(query_get(&q, "n"), Some("2"));
        assert_eq!(query_get(&q, "last"), Some("a+b"));
        assert_eq!(query_get(&q, "artifactType"), Some("application/x"));
        assert_eq!(query_get(&q, "bad"), None);
        assert_eq!(query_get(&q, "flag"), Some(""));
        assert_eq!(percent_encode("a+b/c"), "a%2Bb%2Fc");
    }

    /// The next page is a page of the same list: every parameter but `n` and `last` is kept.
    #[test]
    fn next_page_links_keep_the_query() {
        let cases: &[(&str, &str)] = &[
            ("n=1", "</v2/x/tags/list?n=1&last=a>; rel=\"next\""),
            (
                "ns=ghcr.io&n=1",
                "</v2/x/tags/list?ns=ghcr.io&n=1&last=a>; rel=\"next\"",
            ),
            (
                "n=1&last=0&ns=localhost%3A5000",
                "</v2/x/tags/list?ns=localhost%3A5000&n=1&last=a>; rel=\"next\"",
            ),
        ];
        for (q, want) in cases {
            let q = query_pairs(Some(q));
            let r = paginated(
                &q,
                "/v2/x/tags/list",
                "tags",
                Some("x"),
                vec!["a".into(), "b".into()],
            );
            assert_eq!(r.headers().get("link").unwrap(), want, "{q:?}");
        }
    }
}
