//! The push side (`serve --push`): blob uploads (monolithic, chunked with resume status, mounts) and
//! manifest PUT by tag or digest, every byte through the store's verified writer and every name
//! through `Layout::update_index`. Also the pagination shared by `tags/list` and `_catalog`.
//!
//! Upload bodies are parked between writes (see `sessions`); only the commit of a blob and the steps
//! of a manifest PUT, from writing into `blobs/` to naming, hold the layout's writer lock (see
//! `writers`), so `gc` waits for those and never for an idle upload.

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use oci_spec::image::{Descriptor, Digest, MediaType};
use serde::Deserialize;

use super::catalog::RepoName;
use super::http::{self, ApiError, Body, Code};
use super::manifests::{internal, media_type_of};
use super::sessions::Client;
use super::{blocking, hook, writers, State};
use crate::digest::{self, Algorithm};
use crate::error::Error;
use crate::graph::{self, MANIFEST_LIMIT};
use crate::names::{apply_names, NameOptions};
use crate::reference::{self, Reference};
use crate::store::ParkedBlob;

/// Request body bytes gathered before they are written out (one write per batch, on the blocking
/// pool, with the file open only for that write).
const BATCH: usize = 256 << 10;

/// Streams a request body onto the end of a parked blob.
async fn write_body(blob: ParkedBlob, body: Incoming) -> Result<ParkedBlob, ApiError> {
    let mut body = body;
    let mut blob = blob;
    let mut batch: Vec<u8> = Vec::new();
    loop {
        let frame = body.frame().await.transpose().map_err(|e| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                Code::BlobUploadInvalid,
                e.to_string(),
            )
        })?;
        let end = frame.is_none();
        if let Some(data) = frame.and_then(|f| f.into_data().ok()) {
            batch.extend_from_slice(&data);
        }
        if batch.len() >= BATCH || (end && !batch.is_empty()) {
            let bytes = std::mem::take(&mut batch);
            blob = blocking(move || -> crate::Result<ParkedBlob> {
                use std::io::Write;
                let mut w = blob.resume()?;
                let at = w.temp_path().to_path_buf();
                w.write_all(&bytes).map_err(|e| Error::io(at, e))?;
                Ok(w.park())
            })
            .await?
            .map_err(internal)?;
        }
        if end {
            return Ok(blob);
        }
    }
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

/// Names a parked blob if it hashes to `d`, or answers why not. The writer lock is held from the
/// rename into `blobs/` until the blob is marked pending.
async fn commit(state: &Arc<State>, blob: ParkedBlob, d: &Digest) -> Result<(), ApiError> {
    let step = state.writers.begin().await?;
    let want = d.clone();
    blocking(move || blob.resume()?.commit_verified(&want, None))
        .await?
        .map_err(|e| match e {
            Error::DigestMismatch { found, .. } => ApiError::new(
                StatusCode::BAD_REQUEST,
                Code::DigestInvalid,
                format!("the uploaded content is {found}, not {d}"),
            ),
            e => internal(e),
        })?;
    state.writers.pending(&step, d.clone());
    Ok(())
}

fn parked(state: &Arc<State>, alg: Algorithm) -> Result<ParkedBlob, ApiError> {
    state.layout.blobs().parked(alg).map_err(internal)
}

/// `POST /v2/NAME/blobs/uploads/`: a mount, a monolithic upload (`?digest=`), or a new session.
pub(crate) async fn start(
    state: &Arc<State>,
    client: &Client,
    name: &str,
    query: &[(String, String)],
    req: Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
    if let Some(mount) = http::query_get(query, "mount") {
        if let Ok(d) = digest::parse(mount) {
            let step = state.writers.begin().await?;
            let store = state.layout.blobs().clone();
            let found = d.clone();
            if blocking(move || store.size(&found))
                .await?
                .map_err(internal)?
                .is_some()
            {
                state.writers.pending(&step, d.clone());
                return Ok(created(name, &d));
            }
        }
    }
    if let Some(d) = digest_param(query)? {
        let alg = Algorithm::of(&d).map_err(internal)?;
        let blob = write_body(parked(state, alg)?, req.into_body()).await?;
        commit(state, blob, &d).await?;
        return Ok(created(name, &d));
    }
    let id = state
        .sessions
        .open(client, parked(state, Algorithm::Sha256)?)?;
    Ok(progress(StatusCode::ACCEPTED, name, &id, 0))
}

/// `GET`, `PATCH`, `PUT` and `DELETE` of `/v2/NAME/blobs/uploads/ID`.
pub(crate) async fn upload(
    state: &Arc<State>,
    client: &Client,
    name: &str,
    id: &str,
    query: &[(String, String)],
    req: Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
    let unknown = || {
        ApiError::new(
            StatusCode::NOT_FOUND,
            Code::BlobUploadUnknown,
            format!("upload {id}"),
        )
    };
    let mut s = state.sessions.get(client, id).await.ok_or_else(unknown)?;
    let written = s.written();
    match *req.method() {
        hyper::Method::GET => Ok(progress(StatusCode::NO_CONTENT, name, id, written)),
        hyper::Method::DELETE => {
            s.blob = None;
            state.sessions.close(id);
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
            let blob = s.blob.take().ok_or_else(unknown)?;
            let blob = match write_body(blob, req.into_body()).await {
                Ok(b) => b,
                Err(e) => {
                    // What was written is unknown now: the session cannot go on.
                    state.sessions.close(id);
                    return Err(e);
                }
            };
            let Some(d) = d else {
                let written = blob.written();
                s.blob = Some(blob);
                return Ok(progress(StatusCode::ACCEPTED, name, id, written));
            };
            state.sessions.close(id);
            commit(state, blob, &d).await?;
            Ok(created(name, &d))
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

/// The media type a pushed manifest is stored with: its `Content-Type`, which must be a manifest or
/// index type and agree with the document's own `mediaType`; without one, what the document says.
fn pushed_media_type(
    content_type: Option<String>,
    bytes: &[u8],
    declared: Option<&str>,
) -> Result<String, String> {
    let media_type = match (content_type.filter(|c| !c.is_empty()), declared) {
        (Some(c), Some(m)) if c != m => {
            return Err(format!("Content-Type {c} but the manifest says {m}"))
        }
        (Some(c), _) => c,
        (None, _) => media_type_of(bytes).ok_or("no media type")?,
    };
    if graph::is_schema1(&media_type) {
        return Err("Docker schema 1 manifests are not supported".into());
    }
    if !graph::is_manifest_like(&media_type) {
        return Err(format!(
            "{media_type} is not a manifest or index media type"
        ));
    }
    Ok(media_type)
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
    let media_type =
        pushed_media_type(content_type, &bytes, doc.media_type.as_deref()).map_err(invalid)?;
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
    let name_ref = match &tag {
        Some(tag) => Some(
            Reference::parse(&repo.canonical)
                .and_then(|r| r.with_tag(tag))
                .map_err(|e| {
                    ApiError::new(StatusCode::BAD_REQUEST, Code::NameInvalid, e.to_string())
                })?,
        ),
        None => None,
    };
    // In flight from the children check to the name: gc waits for all of it.
    let step = state.writers.begin().await?;
    let layout = state.layout.clone();
    let manifest = bytes.clone();
    let want = d.clone();
    let missing = blocking(move || -> crate::Result<Option<String>> {
        let store = layout.blobs();
        for c in &children.children {
            if !store.has(c.digest(), c.size())? {
                return Ok(Some(format!(
                    "{} ({} bytes) is not in the layout",
                    c.digest(),
                    c.size()
                )));
            }
        }
        store.put_reader(&mut &manifest[..], &want, Some(manifest.len() as u64))?;
        Ok(None)
    })
    .await?
    .map_err(internal)?;
    if let Some(m) = missing {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            Code::ManifestBlobUnknown,
            m,
        ));
    }
    hook::pause(state.hooks.as_deref(), "manifest-written", &d).await;
    let named = name_ref.is_some() || subject.is_some();
    if named {
        let layout = state.layout.clone();
        let entry = desc.clone();
        let closure = blocking(move || -> crate::Result<Vec<Digest>> {
            match name_ref {
                Some(name) => layout.update_index(|index| {
                    apply_names(index, &entry, &[name], &NameOptions::default());
                    Ok(())
                })?,
                // A referrer: an unnamed entry, as oras and `ocilayout` write them, kept by gc while
                // its subject is.
                None => {
                    layout.update_index(|doc| {
                        crate::sync::add_unnamed(doc, std::slice::from_ref(&entry));
                        Ok(())
                    })?;
                }
            }
            Ok(writers::closure(&layout, &entry))
        })
        .await?
        .map_err(internal)?;
        state.writers.named(&step, closure);
    } else {
        state.writers.pending(&step, d.clone());
    }
    drop(step);
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
