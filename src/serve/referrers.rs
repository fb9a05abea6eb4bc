//! The referrers API: the manifests of the layout whose `subject` is a given digest, as an image
//! index of descriptors, filtered by `artifactType` on request.
//!
//! Referrers live in a layout as entries of `index.json` (ours and oras write them as unnamed
//! entries; an artifact pushed by tag is a named one; containerd marks attestations with an
//! annotation). An entry tagged with the `sha256-<hex>` fallback tag (as regclient and registries
//! without the referrers API keep them) is an index of referrers, not a referrer: its descriptors are
//! listed too, those whose manifest the layout holds. Which subject each entry's manifest names is
//! read once per manifest digest (content never changes under a digest) and the subject map is built
//! once per snapshot of `index.json`, so a changed index costs reading only the manifests it added.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use oci_spec::image::{Descriptor, Digest};
use serde::Deserialize;
use serde_json::{json, Value};

use super::catalog::Snapshot;
use crate::graph::{self, MANIFEST_LIMIT};
use crate::referrer;
use crate::store::BlobStore;

/// What the referrers API reports of one manifest that has a subject.
#[derive(Clone, Debug)]
struct Referrer {
    subject: String,
    artifact_type: Option<String>,
    annotations: Option<BTreeMap<String, String>>,
}

/// The manifest's own annotations, which the referrers API reports with each descriptor.
#[derive(Deserialize)]
struct Annotated {
    annotations: Option<BTreeMap<String, String>>,
}

/// Subject digest → positions of the entries that refer to it, and of the fallback-tag indexes
/// that list referrers of it.
#[derive(Default)]
struct SubjectMap {
    referrers: HashMap<String, Vec<usize>>,
    fallback: HashMap<String, Vec<usize>>,
}

/// Per-manifest subjects, and the subject map of the latest snapshot.
#[derive(Default)]
pub(crate) struct Referrers {
    by_manifest: Mutex<HashMap<Digest, Option<Referrer>>>,
    map: Mutex<Option<(Arc<Snapshot>, Arc<SubjectMap>)>>,
}

impl Referrers {
    /// The referrers of `subject` as an OCI image index, and whether a filter was applied.
    pub(crate) fn index(
        &self,
        snapshot: &Arc<Snapshot>,
        store: &BlobStore,
        subject: &Digest,
        artifact_type: Option<&str>,
    ) -> Vec<u8> {
        let map = self.map_for(snapshot, store);
        let known = self.by_manifest.lock().unwrap_or_else(|e| e.into_inner());
        let mut manifests: Vec<Value> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for &i in map.referrers.get(subject.as_ref()).into_iter().flatten() {
            let e = &snapshot.entries[i];
            if !seen.insert(e.digest().clone()) {
                continue;
            }
            let Some(Some(r)) = known.get(e.digest()) else {
                continue;
            };
            if artifact_type.is_some_and(|t| r.artifact_type.as_deref() != Some(t)) {
                continue;
            }
            let mut d = json!({
                "mediaType": e.media_type().to_string(),
                "digest": e.digest().to_string(),
                "size": e.size(),
            });
            if let Some(t) = &r.artifact_type {
                d["artifactType"] = json!(t);
            }
            if let Some(a) = r.annotations.as_ref().filter(|a| !a.is_empty()) {
                d["annotations"] = json!(a);
            }
            manifests.push(d);
        }
        drop(known);
        for &i in map.fallback.get(subject.as_ref()).into_iter().flatten() {
            for d in fallback_listing(store, &snapshot.entries[i]) {
                let wanted = artifact_type.is_none_or(|t| {
                    d.artifact_type()
                        .as_ref()
                        .map(ToString::to_string)
                        .as_deref()
                        == Some(t)
                });
                if wanted && seen.insert(d.digest().clone()) {
                    manifests.push(serde_json::to_value(&d).unwrap_or_default());
                }
            }
        }
        let index = json!({
            "schemaVersion": 2,
            "mediaType": graph::OCI_INDEX,
            "manifests": manifests,
        });
        serde_json::to_vec(&index).unwrap_or_default()
    }

    fn map_for(&self, snapshot: &Arc<Snapshot>, store: &BlobStore) -> Arc<SubjectMap> {
        let mut current = self.map.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((s, m)) = current.as_ref() {
            if Arc::ptr_eq(s, snapshot) {
                return m.clone();
            }
        }
        let mut map = SubjectMap::default();
        let mut known = self.by_manifest.lock().unwrap_or_else(|e| e.into_inner());
        for (i, e) in snapshot.entries.iter().enumerate() {
            let tag = crate::names::entry_names(e).tag;
            if let Some(subject) = tag.as_deref().and_then(referrer::fallback_tag_subject) {
                map.fallback.entry(subject.to_string()).or_default().push(i);
                continue;
            }
            if !known.contains_key(e.digest()) {
                match read_referrer(store, e) {
                    // A blob that cannot be read now (missing, damaged) is read again next time.
                    None => continue,
                    Some(r) => known.insert(e.digest().clone(), r),
                };
            }
            if let Some(Some(r)) = known.get(e.digest()) {
                map.referrers.entry(r.subject.clone()).or_default().push(i);
            }
        }
        let map = Arc::new(map);
        *current = Some((snapshot.clone(), map.clone()));
        map
    }
}

/// The descriptors a fallback-tag index lists whose manifest the layout holds (a listing of a
/// referrer that is not here would send a client to a 404). Nothing when the index cannot be read.
fn fallback_listing(store: &BlobStore, entry: &Descriptor) -> Vec<Descriptor> {
    let Ok(bytes) = store.read_verified(entry.digest(), MANIFEST_LIMIT) else {
        return Vec::new();
    };
    let Ok(parsed) = graph::parse_children(&bytes) else {
        return Vec::new();
    };
    parsed
        .children
        .into_iter()
        .filter(|c| graph::is_manifest_like(c.media_type().as_ref()))
        .filter(|c| store.has(c.digest(), c.size()).unwrap_or(false))
        .collect()
}

/// `None` when the blob cannot be read now; `Some(None)` for a manifest that refers to nothing.
/// Which subject an entry refers to, and its artifact type, are the rule of [`crate::referrer`]:
/// the manifest's `subject`, else containerd's subject annotation on the entry.
fn read_referrer(store: &BlobStore, entry: &Descriptor) -> Option<Option<Referrer>> {
    let bytes = store.read_verified(entry.digest(), MANIFEST_LIMIT).ok()?;
    let about = referrer::about(store, entry);
    let subject = about.subject.map(|d| d.to_string()).or_else(|| {
        entry
            .annotations()
            .as_ref()
            .and_then(|a| a.get(referrer::CONTAINERD_SUBJECT))
            .filter(|s| crate::digest::check(s).is_ok())
            .cloned()
    });
    let Some(subject) = subject else {
        return Some(None);
    };
    let annotations = serde_json::from_slice::<Annotated>(&bytes)
        .ok()
        .and_then(|a| a.annotations);
    Some(Some(Referrer {
        subject,
        artifact_type: about.artifact_type,
        annotations,
    }))
}
