//! Which `index.json` entries are referrers (signatures, SBOMs, attestations attached to a subject
//! manifest), read by every convention in the wild, and what an entry says about itself
//! (`artifactType`, `subject`). gc collects a referrer entry once its subject is gone; `ls` shows both.

use oci_spec::image::{Descriptor, Digest};
use serde::Deserialize;

use crate::graph::LOCAL_MANIFEST_LIMIT;
use crate::resolve;
use crate::store::BlobStore;

/// The annotation containerd (and docker's containerd image store, in `docker save`) puts on an
/// `index.json` entry that refers to another manifest, for example a build attestation.
pub const CONTAINERD_SUBJECT: &str = "io.containerd.manifest.subject";

/// How an entry was recognised as a referrer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Convention {
    /// An unnamed entry whose manifest has a `subject` (what we, oras and the referrers API write).
    Subject,
    /// An entry tagged `sha256-<hex>`, the referrers tag fallback (regclient writes these): the
    /// subject is `sha256:<hex>`.
    FallbackTag,
    /// An unnamed entry with containerd's `io.containerd.manifest.subject` annotation.
    ContainerdAnnotation,
}

/// An entry that refers to a subject.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Referrer {
    /// The digest of the manifest it refers to.
    pub subject: Digest,
    /// The convention that says so.
    pub convention: Convention,
}

/// What an entry's manifest says about itself. Best effort: a blob that is missing, too large, corrupt
/// or not JSON says nothing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct About {
    /// The entry's `artifactType`, else its manifest's `artifactType`, else the manifest's config
    /// media type when that is not an image configuration (as the referrers API reports it).
    pub artifact_type: Option<String>,
    /// The manifest's `subject` digest.
    pub subject: Option<Digest>,
}

/// Image configuration media types: a manifest with one of these is an image, not an artifact.
const IMAGE_CONFIGS: [&str; 2] = [
    "application/vnd.oci.image.config.v1+json",
    "application/vnd.docker.container.image.v1+json",
];

/// Reads what an entry's manifest says about itself.
pub fn about(store: &BlobStore, entry: &Descriptor) -> About {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Small {
        media_type: Option<String>,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Manifest {
        artifact_type: Option<String>,
        config: Option<Small>,
        subject: Option<SubjectField>,
    }
    #[derive(Deserialize)]
    struct SubjectField {
        digest: String,
    }
    let doc: Option<Manifest> = (entry.size() <= LOCAL_MANIFEST_LIMIT)
        .then(|| {
            store
                .read_verified(entry.digest(), LOCAL_MANIFEST_LIMIT)
                .ok()
        })
        .flatten()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok());
    let from_entry = entry.artifact_type().as_ref().map(|m| m.to_string());
    let Some(doc) = doc else {
        return About {
            artifact_type: from_entry,
            subject: None,
        };
    };
    let from_config = doc
        .config
        .and_then(|c| c.media_type)
        .filter(|m| !IMAGE_CONFIGS.contains(&m.as_str()));
    About {
        artifact_type: from_entry.or(doc.artifact_type).or(from_config),
        subject: doc
            .subject
            .and_then(|s| crate::digest::parse(&s.digest).ok()),
    }
}

/// Whether an entry is a referrer, and of what. A named entry is not, unless its tag is the
/// `sha256-<hex>` fallback tag: a name a user gave is never collected.
pub fn referrer(store: &BlobStore, entry: &Descriptor) -> Option<Referrer> {
    let names = resolve::entry_names(entry);
    if let Some(subject) = names.tag.as_deref().and_then(fallback_tag_subject) {
        return Some(Referrer {
            subject,
            convention: Convention::FallbackTag,
        });
    }
    if names.name.is_some() || names.tag.is_some() {
        return None;
    }
    let annotated = entry
        .annotations()
        .as_ref()
        .and_then(|a| a.get(CONTAINERD_SUBJECT))
        .and_then(|s| crate::digest::parse(s).ok());
    if let Some(subject) = annotated {
        return Some(Referrer {
            subject,
            convention: Convention::ContainerdAnnotation,
        });
    }
    about(store, entry).subject.map(|subject| Referrer {
        subject,
        convention: Convention::Subject,
    })
}

/// The subject a referrers fallback tag (`sha256-<64 hex>`) names.
pub(crate) fn fallback_tag_subject(tag: &str) -> Option<Digest> {
    let hex = tag.strip_prefix("sha256-")?;
    if hex.len() != 64 || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    crate::digest::parse(&format!("sha256:{hex}")).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fallback_tags() {
        let hex = "a".repeat(64);
        assert_eq!(
            fallback_tag_subject(&format!("sha256-{hex}")).map(|d| d.to_string()),
            Some(format!("sha256:{hex}"))
        );
        for tag in [
            format!("sha256-{}", "a".repeat(63)),
            format!("sha256-{}", "A".repeat(64)),
            format!("sha256-{hex}.sig"),
            format!("sha512-{hex}"),
            "latest".to_string(),
        ] {
            assert_eq!(fallback_tag_subject(&tag), None, "{tag}");
        }
    }
}
