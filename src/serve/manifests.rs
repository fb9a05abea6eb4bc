//! Serving manifests: by tag (through the catalog's names) or by digest, with the stored bytes and the
//! stored media type. Content negotiation never rewrites a manifest: a client whose `Accept` leaves
//! out the stored type gets `MANIFEST_UNKNOWN`, as distribution answers, not a conversion.

use std::collections::HashMap;
use std::sync::Mutex;

use bytes::Bytes;
use hyper::{Response, StatusCode};
use oci_spec::image::{Descriptor, Digest};
use serde::Deserialize;

use super::catalog::{Lookup, RepoName, Snapshot};
use super::http::{self, ApiError, Body, Code};
use crate::digest;
use crate::error::Error;
use crate::graph::{self, MANIFEST_LIMIT};
use crate::reference;
use crate::store::BlobStore;

/// Manifest bytes kept in memory, at most this many in total (the cache is cleared when full).
const CACHE_BYTES: usize = 64 << 20;

/// Verified manifest bytes by digest. Content-addressed, so an entry never goes stale; whether the
/// blob is still in the layout is checked on every request.
#[derive(Default)]
pub(crate) struct ManifestCache {
    inner: Mutex<(HashMap<Digest, Bytes>, usize)>,
}

impl ManifestCache {
    /// The verified bytes of a manifest blob; `None` when it is not in the layout.
    pub(crate) fn get(&self, store: &BlobStore, d: &Digest) -> Result<Option<Bytes>, ApiError> {
        // 404, as for a damaged manifest: a mirror client then falls back to the next host.
        let refused = |e: Error| match e {
            Error::NotAFile { .. } => ApiError::new(
                StatusCode::NOT_FOUND,
                Code::ManifestUnknown,
                format!("manifest {d} refused: {e}"),
            ),
            e => internal(e),
        };
        let present = store.size(d).map_err(refused)?.is_some();
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if !present {
            if let Some(b) = inner.0.remove(d) {
                inner.1 -= b.len();
            }
            return Ok(None);
        }
        if let Some(b) = inner.0.get(d) {
            return Ok(Some(b.clone()));
        }
        drop(inner);
        let bytes = match store.read_verified(d, MANIFEST_LIMIT) {
            Ok(b) => Bytes::from(b),
            Err(Error::BlobMissing { .. }) => return Ok(None),
            Err(Error::DigestMismatch { .. }) => {
                return Err(ApiError::new(
                    StatusCode::NOT_FOUND,
                    Code::ManifestUnknown,
                    format!(
                    "manifest {d} is damaged in the layout: its content does not match its digest"
                ),
                ))
            }
            Err(e) => return Err(refused(e)),
        };
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if inner.1 + bytes.len() > CACHE_BYTES {
            *inner = (HashMap::new(), 0);
        }
        if inner.0.insert(d.clone(), bytes.clone()).is_none() {
            inner.1 += bytes.len();
        }
        Ok(Some(bytes))
    }
}

/// A library error the client cannot act on: 500 with a generic message; the detail (which may
/// name server paths) goes to the server's log.
pub(crate) fn internal(e: Error) -> ApiError {
    ApiError::internal(e)
}

/// The fields that tell what kind of document a manifest is, when no descriptor says it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Shape {
    media_type: Option<String>,
    manifests: Option<serde::de::IgnoredAny>,
    config: Option<serde::de::IgnoredAny>,
    layers: Option<serde::de::IgnoredAny>,
    blobs: Option<serde::de::IgnoredAny>,
}

/// A manifest's media type from its own content: its `mediaType` field, else its shape (OCI
/// manifests and indexes may leave the field out). `None` for a blob that is no manifest.
pub(crate) fn media_type_of(bytes: &[u8]) -> Option<String> {
    let shape: Shape = serde_json::from_slice(bytes).ok()?;
    if let Some(m) = shape.media_type {
        return Some(m);
    }
    if shape.manifests.is_some() {
        Some(graph::OCI_INDEX.to_string())
    } else if shape.config.is_some() && shape.layers.is_some() {
        Some(graph::OCI_MANIFEST.to_string())
    } else if shape.blobs.is_some() {
        Some(graph::OCI_ARTIFACT.to_string())
    } else {
        None
    }
}

/// What a manifest request resolved to.
pub(crate) struct Found {
    pub digest: Digest,
    pub media_type: String,
    pub bytes: Bytes,
}

/// Finds the manifest that `reference` (a tag or a digest) names in `repo`.
pub(crate) fn find(
    snapshot: &Snapshot,
    cache: &ManifestCache,
    store: &BlobStore,
    repo: &RepoName,
    reference: &str,
) -> Result<Found, ApiError> {
    let unknown = |what: String| ApiError::new(StatusCode::NOT_FOUND, Code::ManifestUnknown, what);
    let (d, described): (Digest, Option<&Descriptor>) = if digest::looks_like_digest(reference) {
        let d = digest::parse(reference).map_err(|e| {
            ApiError::new(StatusCode::BAD_REQUEST, Code::DigestInvalid, e.to_string())
        })?;
        let e = snapshot
            .by_digest
            .get(d.as_ref())
            .map(|&i| &snapshot.entries[i]);
        (d, e)
    } else {
        // No tag by that name can exist: unknown, as distribution answers (404, not 400).
        if !reference::is_valid_tag(reference) {
            return Err(unknown(format!(
                "{reference:?} is not a tag or a digest, so no manifest has it"
            )));
        }
        match snapshot.lookup(repo, reference) {
            Ok(e) => (e.digest().clone(), Some(e)),
            Err(Lookup::NoRepo) => {
                return Err(ApiError::new(
                    StatusCode::NOT_FOUND,
                    Code::NameUnknown,
                    format!("repository {} is not in this layout", repo.canonical),
                ))
            }
            Err(Lookup::NoTag) => return Err(unknown(format!("{}:{reference}", repo.canonical))),
            Err(Lookup::Ambiguous(candidates)) => {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    Code::Denied,
                    format!(
                        "{}:{reference} is ambiguous in this layout; candidates: {}",
                        repo.canonical,
                        candidates.join(", ")
                    ),
                ))
            }
        }
    };
    let Some(bytes) = cache.get(store, &d)? else {
        return Err(unknown(format!("manifest {d}")));
    };
    let media_type = match described.map(|e| e.media_type().to_string()) {
        Some(m) => m,
        None => media_type_of(&bytes)
            .filter(|m| graph::is_manifest_like(m) || m.contains("manifest"))
            .ok_or_else(|| unknown(format!("{d} is not a manifest")))?,
    };
    Ok(Found {
        digest: d,
        media_type,
        bytes,
    })
}

/// The response to GET or HEAD of a found manifest, after content negotiation.
pub(crate) fn respond(
    found: Found,
    accept: &[&str],
    head: bool,
) -> Result<Response<Body>, ApiError> {
    if let Some(types) = http::accepted_types(accept) {
        if !types
            .iter()
            .any(|t| t.eq_ignore_ascii_case(&found.media_type))
        {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                Code::ManifestUnknown,
                format!(
                    "manifest {} is {}, which the Accept header does not admit (it is never converted)",
                    found.digest, found.media_type
                ),
            ));
        }
    }
    let mut r = http::status(StatusCode::OK);
    http::set(&mut r, "Content-Type", &found.media_type);
    http::set(&mut r, "Content-Length", &found.bytes.len().to_string());
    http::set(&mut r, "Docker-Content-Digest", found.digest.as_ref());
    if !head {
        *r.body_mut() = Body::Full(Some(found.bytes));
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_types_from_content() {
        let cases: &[(&str, Option<&str>)] = &[
            (r#"{"mediaType":"x/y","layers":[]}"#, Some("x/y")),
            (
                r#"{"schemaVersion":2,"manifests":[]}"#,
                Some(graph::OCI_INDEX),
            ),
            (r#"{"config":{},"layers":[]}"#, Some(graph::OCI_MANIFEST)),
            (r#"{"architecture":"amd64"}"#, None),
            ("not json", None),
        ];
        for (doc, want) in cases {
            assert_eq!(media_type_of(doc.as_bytes()).as_deref(), *want, "{doc}");
        }
    }
}
