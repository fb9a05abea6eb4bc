//! DELETE (`serve --delete`, as distribution's `storage.delete.enabled`): a tag loses its name, a
//! manifest by digest loses every entry of `index.json` with that digest, a blob goes only while
//! nothing that gc keeps reaches it. Names leave through the library's `untag` (the index lock);
//! blobs leave under gc's locks and by gc's marking, exactly the rule `rm` follows.
//!
//! A manifest deleted by digest also leaves the store once nothing reaches it, so that it answers
//! 404 afterwards, as a registry does; its config and layers stay for `gc` (or a DELETE of each).

use std::sync::Arc;

use hyper::{Response, StatusCode};
use oci_spec::image::{Descriptor, Digest};

use super::catalog::{Lookup, RepoName};
use super::http::{self, ApiError, Body, Code};
use super::manifests::{internal, media_type_of};
use super::State;
use crate::digest;
use crate::error::{Error, Result};
use crate::gc::{self, GcOptions};
use crate::graph::{Operation, MANIFEST_LIMIT};
use crate::layout::Layout;
use crate::reference;

/// What became of a blob asked to go.
#[derive(Debug, PartialEq, Eq)]
enum Removal {
    Removed,
    /// Something gc keeps reaches it: it stays.
    Reached,
    Absent,
}

/// Removes blob `d` unless an entry of `index.json` (as gc marks them: names, and referrers whose
/// subject stays) reaches it. Holds gc's locks throughout, so no writer of ours is between storing
/// a blob and naming it, and no entry is added meanwhile. Blocking.
fn remove_unreached(layout: &Layout, d: &Digest) -> Result<Removal> {
    let _locks = gc::lock(layout, &GcOptions { dry_run: false })?;
    if layout.blobs().size(d)?.is_none() {
        return Ok(Removal::Absent);
    }
    let entries: Vec<Descriptor> = layout.read_document()?.descriptors().cloned().collect();
    let kept = gc::mark(layout, &entries)?.graph;
    // A reachable manifest that cannot be read: what it reaches is unknown, so nothing goes.
    kept.require(Operation::Rm, layout.root())?;
    if kept.contains(d) {
        return Ok(Removal::Reached);
    }
    layout.blobs().remove(d)?;
    Ok(Removal::Removed)
}

fn accepted() -> Response<Body> {
    let mut r = http::status(StatusCode::ACCEPTED);
    http::set(&mut r, "Content-Length", "0");
    r
}

/// Runs blocking library work off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> std::result::Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|_| {
            internal(Error::Internal {
                what: "a blocking task of the server",
            })
        })?
        .map_err(refusal)
}

/// What a client hears of a library error of a DELETE: a name that went meanwhile is unknown, one
/// that became ambiguous or an image whose manifest cannot be read is a conflict (nothing was
/// removed); anything else is the server's failure. Never the layout's path.
fn refusal(e: Error) -> ApiError {
    let conflict = |message: String| ApiError {
        detail: Some(crate::error::one_line(&e.to_string())),
        ..ApiError::new(StatusCode::CONFLICT, Code::Denied, message)
    };
    match &e {
        Error::NotFound { input, .. } => {
            ApiError::new(StatusCode::NOT_FOUND, Code::ManifestUnknown, input.clone())
        }
        Error::Ambiguous { input, .. } => conflict(format!(
            "{input} is ambiguous in this layout: nothing was deleted"
        )),
        Error::Damaged { digest, .. } => conflict(format!(
            "manifest {digest}, which the layout names, is missing or unreadable, so what it \
             reaches is unknown: nothing was deleted"
        )),
        _ => internal(e),
    }
}

/// `DELETE /v2/NAME/manifests/REFERENCE`.
pub(crate) async fn manifest(
    state: &Arc<State>,
    repo: &RepoName,
    reference: &str,
) -> std::result::Result<Response<Body>, ApiError> {
    if digest::looks_like_digest(reference) {
        let d = digest::parse(reference).map_err(|e| {
            ApiError::new(StatusCode::BAD_REQUEST, Code::DigestInvalid, e.to_string())
        })?;
        return by_digest(state, d).await;
    }
    let unknown = || {
        ApiError::new(
            StatusCode::NOT_FOUND,
            Code::ManifestUnknown,
            format!("{}:{reference}", repo.canonical),
        )
    };
    if !reference::is_valid_tag(reference) {
        return Err(unknown());
    }
    let st = state.clone();
    let snapshot = blocking(move || st.catalog.snapshot()).await?;
    match snapshot.lookup(repo, reference) {
        Ok(_) => {}
        Err(Lookup::NoRepo) => {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                Code::NameUnknown,
                format!("repository {} is not in this layout", repo.canonical),
            ))
        }
        Err(Lookup::NoTag) => return Err(unknown()),
        Err(Lookup::Ambiguous(candidates)) => return Err(ambiguous(repo, reference, &candidates)),
    }
    let layout = state.layout.clone();
    let name = format!("{}:{reference}", repo.canonical);
    let bare = repo.is_default.then(|| reference.to_string());
    let named = snapshot.repos.contains_key(&repo.canonical);
    blocking(move || untag_name(&layout, named.then_some(name.as_str()), bare.as_deref())).await?;
    Ok(accepted())
}

/// Takes a tag away: the canonical `name` through `untag`, and for the default repository the
/// entries named by the bare tag alone (which no full name can address).
fn untag_name(layout: &Layout, name: Option<&str>, bare: Option<&str>) -> Result<()> {
    if let Some(name) = name {
        match crate::tag::untag(layout, &[name]) {
            Ok(_) => {}
            // Only bare-tag entries carry it, or another client took it away meanwhile.
            Err(Error::NotFound { .. }) if bare.is_some() => {}
            Err(e) => return Err(e),
        }
    }
    if let Some(tag) = bare {
        layout.update_index(|doc| {
            doc.retain(|e| {
                let names = crate::resolve::entry_names(e);
                !(names.name.is_none() && names.tag.as_deref() == Some(tag))
            });
            Ok(())
        })?;
    }
    Ok(())
}

fn ambiguous(repo: &RepoName, tag: &str, candidates: &[String]) -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        Code::Denied,
        format!(
            "{}:{tag} is ambiguous in this layout; candidates: {}",
            repo.canonical,
            candidates.join(", ")
        ),
    )
}

/// A manifest by digest: every entry with the digest leaves `index.json` (through `untag`), then
/// the manifest itself leaves the store unless something still reaches it.
async fn by_digest(state: &Arc<State>, d: Digest) -> std::result::Result<Response<Body>, ApiError> {
    let layout = state.layout.clone();
    let wanted = d.clone();
    let untagged = blocking(move || {
        let named = layout
            .read_document()?
            .descriptors()
            .any(|e| e.digest() == &wanted);
        if named {
            crate::tag::untag(&layout, &[wanted.as_ref()])?;
            return Ok(true);
        }
        // Pushed by digest and never named: a manifest only if its content says so.
        match layout.blobs().read_verified(&wanted, MANIFEST_LIMIT) {
            Ok(bytes) => Ok(media_type_of(&bytes).is_some()),
            Err(Error::BlobMissing { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    })
    .await?;
    if !untagged {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            Code::ManifestUnknown,
            format!("manifest {d}"),
        ));
    }
    let layout = state.layout.clone();
    state
        .writers
        .exclusively(move || remove_unreached(&layout, &d))
        .await?
        .map_err(refusal)?;
    Ok(accepted())
}

/// `DELETE /v2/NAME/blobs/DIGEST`.
pub(crate) async fn blob(
    state: &Arc<State>,
    d: Digest,
) -> std::result::Result<Response<Body>, ApiError> {
    let layout = state.layout.clone();
    let wanted = d.clone();
    let removal = state
        .writers
        .exclusively(move || remove_unreached(&layout, &wanted))
        .await?
        .map_err(refusal)?;
    match removal {
        Removal::Removed => Ok(accepted()),
        Removal::Absent => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            Code::BlobUnknown,
            format!("blob {d}"),
        )),
        Removal::Reached => Err(ApiError::new(
            StatusCode::CONFLICT,
            Code::Denied,
            format!("blob {d} belongs to an image of this layout: delete the image first"),
        )),
    }
}
