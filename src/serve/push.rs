//! The push side (`serve --push`): blob uploads (monolithic, chunked with resume status, mounts) and
//! manifest PUT by tag or digest, every byte through the store's verified writer and every name
//! through `Layout::update_index`.
//!
//! gc must not sweep what a push has written but not yet named: the server holds the layout's shared
//! writer lock (the one `pull` and `import` hold) from the first write of a push until every blob and
//! manifest it wrote is reachable from a name (a tagged manifest, or a referrer entry), or until the
//! pushes have been idle for [`IDLE`]. `gc` waits for the lock meanwhile, exactly as it waits for a
//! `pull` in progress.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use oci_spec::image::{Descriptor, Digest, MediaType};
use serde::Deserialize;
use tokio::sync::Mutex;

use super::catalog::RepoName;
use super::http::{self, ApiError, Body, Code};
use super::manifests::{internal, media_type_of};
use super::State;
use crate::digest::{self, Algorithm};
use crate::error::Error;
use crate::graph::{self, MANIFEST_LIMIT};
use crate::layout::{Layout, LockGuard};
use crate::names::{apply_names, NameOptions};
use crate::reference::{self, Reference};
use crate::store::BlobWriter;

/// After this long without push activity, what was pushed but never named is given up to gc.
pub(crate) const IDLE: Duration = Duration::from_secs(600);

/// One chunked upload in progress.
struct Session {
    writer: Option<BlobWriter>,
    touched: Instant,
}

struct Guard {
    lock: Option<LockGuard>,
    /// Pushed digests not yet reachable from a name.
    pending: HashSet<Digest>,
    last: Instant,
}

/// Upload sessions and the writer lock that protects pushed content from gc.
pub(crate) struct Uploads {
    layout: Layout,
    sessions: std::sync::Mutex<HashMap<String, Arc<Mutex<Session>>>>,
    guard: Mutex<Guard>,
}

impl Uploads {
    pub(crate) fn new(layout: Layout) -> Uploads {
        Uploads {
            layout,
            sessions: Default::default(),
            guard: Mutex::new(Guard {
                lock: None,
                pending: HashSet::new(),
                last: Instant::now(),
            }),
        }
    }

    fn sessions(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Mutex<Session>>>> {
        self.sessions.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes the shared writer lock if it is not held (waiting while gc runs).
    async fn hold(&self) -> Result<(), ApiError> {
        let mut g = self.guard.lock().await;
        g.last = Instant::now();
        if g.lock.is_none() {
            let layout = self.layout.clone();
            let lock = tokio::task::spawn_blocking(move || layout.lock_writers())
                .await
                .map_err(|_| {
                    internal(Error::Internal {
                        what: "a blocking task of the server",
                    })
                })?
                .map_err(internal)?;
            g.lock = Some(lock);
        }
        Ok(())
    }

    async fn pending(&self, d: Digest) {
        let mut g = self.guard.lock().await;
        g.pending.insert(d);
        g.last = Instant::now();
    }

    /// `named` is now reachable from a name: it and its closure are no longer pending.
    async fn named(&self, named: &Descriptor) {
        let store = self.layout.blobs().clone();
        let root = named.clone();
        let closure: Vec<Digest> = tokio::task::spawn_blocking(move || {
            graph::walk(&store, [&root])
                .map(|g| {
                    g.nodes
                        .into_iter()
                        .map(|n| n.descriptor.digest().clone())
                        .collect()
                })
                .unwrap_or_default()
        })
        .await
        .unwrap_or_default();
        let mut g = self.guard.lock().await;
        for d in closure {
            g.pending.remove(&d);
        }
        self.release_if_done(&mut g);
    }

    fn release_if_done(&self, g: &mut Guard) {
        if g.pending.is_empty() && self.sessions().is_empty() {
            g.lock = None;
        }
    }

    /// Drops sessions and pending content idle for [`IDLE`], releasing the lock. Run periodically.
    pub(crate) async fn expire(&self) {
        self.sessions()
            .retain(|_, s| s.try_lock().map_or(true, |s| s.touched.elapsed() < IDLE));
        let mut g = self.guard.lock().await;
        if g.last.elapsed() >= IDLE {
            g.pending.clear();
        }
        self.release_if_done(&mut g);
    }
}

impl Uploads {
    /// Runs `f` on a blocking thread while no push of this server takes a step: `f` takes gc's
    /// exclusive locks itself (a DELETE that removes a blob), so the shared writer lock this
    /// server may hold for its pushes is given up for the duration, and taken again afterwards.
    /// Content pushed but not yet named stays protected from this server's own DELETE (which
    /// removes only what it was asked to) but, for that moment, not from a `gc` of another
    /// process that was already waiting for the lock.
    pub(crate) async fn exclusively<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        let failed = || {
            internal(Error::Internal {
                what: "a blocking task of the server",
            })
        };
        let mut g = self.guard.lock().await;
        let held = g.lock.take().is_some();
        let out = tokio::task::spawn_blocking(f).await.map_err(|_| failed())?;
        if held {
            let layout = self.layout.clone();
            let lock = tokio::task::spawn_blocking(move || layout.lock_writers())
                .await
                .map_err(|_| failed())?
                .map_err(internal)?;
            g.lock = Some(lock);
        }
        Ok(out)
    }
}

fn new_id() -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let seed = format!(
        "{}-{:?}-{}",
        std::process::id(),
        std::time::SystemTime::now(),
        N.fetch_add(1, Ordering::Relaxed)
    );
    digest::sha256(seed.as_bytes()).digest()[..32].to_string()
}

/// Streams a request body into a blob writer.
async fn write_body(writer: &mut BlobWriter, body: Incoming) -> Result<(), ApiError> {
    let mut body = body;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                Code::BlobUploadInvalid,
                e.to_string(),
            )
        })?;
        if let Ok(data) = frame.into_data() {
            tokio::task::block_in_place(|| writer.write_all(&data))
                .map_err(|e| internal(Error::io(writer.temp_path(), e)))?;
        }
    }
    Ok(())
}

fn digest_param(query: &[(String, String)]) -> Result<Option<Digest>, ApiError> {
    http::query_get(query, "digest")
        .map(|d| {
            digest::parse(d).map_err(|e| {
                ApiError::new(StatusCode::BAD_REQUEST, Code::DigestInvalid, e.to_string())
            })
        })
        .transpose()
}

fn created(name: &str, d: &Digest) -> Response<Body> {
    let mut r = http::status(StatusCode::CREATED);
    http::set(&mut r, "Location", &format!("/v2/{name}/blobs/{d}"));
    http::set(&mut r, "Docker-Content-Digest", d.as_ref());
    http::set(&mut r, "Content-Length", "0");
    r
}

fn progress(code: StatusCode, name: &str, id: &str, written: u64) -> Response<Body> {
    let mut r = http::status(code);
    http::set(
        &mut r,
        "Location",
        &format!("/v2/{name}/blobs/uploads/{id}"),
    );
    http::set(&mut r, "Range", &format!("0-{}", written.saturating_sub(1)));
    http::set(&mut r, "Docker-Upload-UUID", id);
    http::set(&mut r, "Content-Length", "0");
    r
}

/// Names a verified blob, or answers why not.
fn commit(writer: BlobWriter, d: &Digest) -> Result<(), ApiError> {
    tokio::task::block_in_place(|| writer.commit_verified(d, None))
        .map(|_| ())
        .map_err(|e| match e {
            Error::DigestMismatch { found, .. } => ApiError::new(
                StatusCode::BAD_REQUEST,
                Code::DigestInvalid,
                format!("the uploaded content is {found}, not {d}"),
            ),
            e => internal(e),
        })
}

/// `POST /v2/NAME/blobs/uploads/`: a mount, a monolithic upload (`?digest=`), or a new session.
pub(crate) async fn start(
    state: &Arc<State>,
    name: &str,
    query: &[(String, String)],
    req: Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
    let up = &state.uploads;
    if let Some(mount) = http::query_get(query, "mount") {
        if let Ok(d) = digest::parse(mount) {
            up.hold().await?;
            if state.layout.blobs().size(&d).map_err(internal)?.is_some() {
                up.pending(d.clone()).await;
                return Ok(created(name, &d));
            }
        }
    }
    if let Some(d) = digest_param(query)? {
        up.hold().await?;
        let mut w = state
            .layout
            .blobs()
            .writer(Algorithm::of(&d).map_err(internal)?)
            .map_err(internal)?;
        write_body(&mut w, req.into_body()).await?;
        commit(w, &d)?;
        up.pending(d.clone()).await;
        return Ok(created(name, &d));
    }
    up.hold().await?;
    let w = state
        .layout
        .blobs()
        .writer(Algorithm::Sha256)
        .map_err(internal)?;
    let id = new_id();
    up.sessions().insert(
        id.clone(),
        Arc::new(Mutex::new(Session {
            writer: Some(w),
            touched: Instant::now(),
        })),
    );
    Ok(progress(StatusCode::ACCEPTED, name, &id, 0))
}

/// `GET`, `PATCH`, `PUT` and `DELETE` of `/v2/NAME/blobs/uploads/ID`.
pub(crate) async fn upload(
    state: &Arc<State>,
    name: &str,
    id: &str,
    query: &[(String, String)],
    req: Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
    let up = &state.uploads;
    let unknown = || {
        ApiError::new(
            StatusCode::NOT_FOUND,
            Code::BlobUploadUnknown,
            format!("upload {id}"),
        )
    };
    let session = up.sessions().get(id).cloned().ok_or_else(unknown)?;
    let mut s = session.lock().await;
    s.touched = Instant::now();
    let written = s.writer.as_ref().ok_or_else(unknown)?.written();
    match *req.method() {
        hyper::Method::GET => Ok(progress(StatusCode::NO_CONTENT, name, id, written)),
        hyper::Method::DELETE => {
            s.writer = None;
            up.sessions().remove(id);
            let mut g = up.guard.lock().await;
            up.release_if_done(&mut g);
            Ok(http::status(StatusCode::NO_CONTENT))
        }
        hyper::Method::PATCH | hyper::Method::PUT => {
            let is_put = req.method() == hyper::Method::PUT;
            let d = if is_put {
                let d = digest_param(query)?.ok_or_else(|| {
                    ApiError::new(StatusCode::BAD_REQUEST, Code::DigestInvalid, "no ?digest=")
                })?;
                if Algorithm::of(&d).ok() != Some(Algorithm::Sha256) {
                    return Err(ApiError::new(
                        StatusCode::BAD_REQUEST,
                        Code::DigestInvalid,
                        "chunked uploads are hashed with sha256",
                    ));
                }
                Some(d)
            } else {
                None
            };
            if let Some(range) = req
                .headers()
                .get("content-range")
                .and_then(|v| v.to_str().ok())
            {
                let start = range
                    .trim()
                    .trim_start_matches("bytes ")
                    .split('-')
                    .next()
                    .and_then(|n| n.trim().parse::<u64>().ok());
                if start != Some(written) {
                    let mut r = ApiError::new(
                        StatusCode::RANGE_NOT_SATISFIABLE,
                        Code::BlobUploadInvalid,
                        format!("chunk {range} does not start at offset {written}"),
                    )
                    .response();
                    http::set(
                        &mut r,
                        "Location",
                        &format!("/v2/{name}/blobs/uploads/{id}"),
                    );
                    http::set(&mut r, "Range", &format!("0-{}", written.saturating_sub(1)));
                    return Ok(r);
                }
            }
            let w = s.writer.as_mut().ok_or_else(unknown)?;
            if let Err(e) = write_body(w, req.into_body()).await {
                // What was written is unknown now: the session cannot go on.
                s.writer = None;
                up.sessions().remove(id);
                return Err(e);
            }
            let Some(d) = d else {
                let written = s.writer.as_ref().map_or(0, |w| w.written());
                return Ok(progress(StatusCode::ACCEPTED, name, id, written));
            };
            let w = s.writer.take().ok_or_else(unknown)?;
            up.sessions().remove(id);
            let result = commit(w, &d);
            if result.is_ok() {
                up.pending(d.clone()).await;
            } else {
                let mut g = up.guard.lock().await;
                up.release_if_done(&mut g);
            }
            result.map(|()| created(name, &d))
        }
        _ => Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            Code::Unsupported,
            format!("{} is not supported here", req.method()),
        )),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Pushed {
    media_type: Option<String>,
    artifact_type: Option<String>,
    subject: Option<serde_json::Value>,
}

/// `PUT /v2/NAME/manifests/REFERENCE`.
pub(crate) async fn put_manifest(
    state: &Arc<State>,
    repo: RepoName,
    name: &str,
    reference: &str,
    req: Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
    let invalid = |m: String| ApiError::new(StatusCode::BAD_REQUEST, Code::ManifestInvalid, m);
    let content_type = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").trim().to_string());
    let bytes = read_limited(req.into_body(), MANIFEST_LIMIT).await?;
    let doc: Pushed = serde_json::from_slice(&bytes).map_err(|e| invalid(e.to_string()))?;
    let media_type = match (
        content_type.filter(|c| !c.is_empty()),
        doc.media_type.clone(),
    ) {
        (Some(c), Some(m)) if c != m => {
            return Err(invalid(format!(
                "Content-Type {c} but the manifest says {m}"
            )))
        }
        (Some(c), _) => c,
        (None, _) => media_type_of(&bytes).ok_or_else(|| invalid("no media type".into()))?,
    };
    if graph::is_schema1(&media_type) {
        return Err(invalid(
            "Docker schema 1 manifests are not supported".into(),
        ));
    }
    let children = graph::parse_children(&bytes).map_err(|e| invalid(e.to_string()))?;
    let (d, tag) = if digest::looks_like_digest(reference) {
        let want = digest::parse(reference).map_err(|e| {
            ApiError::new(StatusCode::BAD_REQUEST, Code::DigestInvalid, e.to_string())
        })?;
        let found = digest::of_bytes_like(&want, &bytes).map_err(internal)?;
        if found != want {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                Code::DigestInvalid,
                format!("the manifest's digest is {found}, not {want}"),
            ));
        }
        (want, None)
    } else if reference::is_valid_tag(reference) {
        (digest::sha256(&bytes), Some(reference.to_string()))
    } else {
        return Err(invalid(format!("invalid tag {reference:?}")));
    };
    let store = state.layout.blobs();
    state.uploads.hold().await?;
    for c in &children.children {
        if !store.has(c.digest(), c.size()).map_err(internal)? {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                Code::ManifestBlobUnknown,
                format!("{} ({} bytes) is not in the layout", c.digest(), c.size()),
            ));
        }
    }
    tokio::task::block_in_place(|| store.put_reader(&mut &bytes[..], &d, Some(bytes.len() as u64)))
        .map_err(internal)?;
    let mut desc = Descriptor::new(
        MediaType::from(media_type.as_str()),
        bytes.len() as u64,
        d.clone(),
    );
    if let Some(t) = &doc.artifact_type {
        desc.set_artifact_type(Some(MediaType::from(t.as_str())));
    }
    let subject = doc
        .subject
        .as_ref()
        .and_then(|s| s.get("digest"))
        .and_then(|d| d.as_str())
        .filter(|d| digest::check(d).is_ok())
        .map(str::to_string);
    let named = match &tag {
        Some(tag) => {
            let name = Reference::parse(&repo.canonical)
                .and_then(|r| r.with_tag(tag))
                .map_err(|e| {
                    ApiError::new(StatusCode::BAD_REQUEST, Code::NameInvalid, e.to_string())
                })?;
            let layout = state.layout.clone();
            let entry = desc.clone();
            tokio::task::block_in_place(|| {
                layout.update_index(|index| {
                    apply_names(index, &entry, &[name], &NameOptions::default());
                    Ok(())
                })
            })
            .map_err(internal)?;
            true
        }
        None if subject.is_some() => {
            // A referrer: an unnamed entry, as oras and `ocilayout` write them, kept by gc while its
            // subject is.
            let layout = state.layout.clone();
            let entry = desc.clone();
            tokio::task::block_in_place(|| {
                layout.update_index(|doc| Ok(crate::sync::add_unnamed(doc, &[entry])))
            })
            .map_err(internal)?;
            true
        }
        None => false,
    };
    if named {
        state.uploads.named(&desc).await;
    } else {
        state.uploads.pending(d.clone()).await;
    }
    let mut r = http::status(StatusCode::CREATED);
    http::set(&mut r, "Location", &format!("/v2/{name}/manifests/{d}"));
    http::set(&mut r, "Docker-Content-Digest", d.as_ref());
    http::set(&mut r, "Content-Length", "0");
    if let Some(s) = &subject {
        http::set(&mut r, "OCI-Subject", s);
    }
    Ok(r)
}

async fn read_limited(body: Incoming, limit: u64) -> Result<Bytes, ApiError> {
    let mut body = body;
    let mut out = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                Code::ManifestInvalid,
                e.to_string(),
            )
        })?;
        if let Ok(data) = frame.into_data() {
            if out.len() as u64 + data.len() as u64 > limit {
                return Err(ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    Code::SizeInvalid,
                    format!("manifests are limited to {limit} bytes"),
                ));
            }
            out.extend_from_slice(&data);
        }
    }
    Ok(Bytes::from(out))
}
