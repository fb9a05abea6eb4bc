//! The one descriptor walk shared by gc, fsck, export and sync: from root descriptors down through
//! indexes and manifests to configs, layers and artifact blobs. `subject` is not followed upward.
//!
//! The walk is conservative: a blob is descended when *any* descriptor that reaches it, or its own
//! content (its `mediaType` field, or the shape of a manifest or index), says it is a manifest or an
//! index. The first descriptor to arrive decides nothing, so no order of entries or layers can hide
//! an image's blobs from gc, fsck or export.
//!
//! Whether a walked closure serves an operation (which damage gc, rm, push, copy, export and import
//! each refuse) is decided once, in `closure`: [`Graph::require`].

use std::collections::HashMap;

use oci_spec::image::{Descriptor, Digest};
use serde::Deserialize;

use crate::error::{Error, Result};

mod closure;
pub(crate) mod dominators;
mod walk;
pub use closure::{Need, Operation, Shortfall};
pub use walk::walk;

/// Manifests and indexes are refused above this size when read from a registry or an archive.
pub const MANIFEST_LIMIT: u64 = 4 << 20;
/// Local manifests are read up to this size (a local file is trusted more than a remote one, but an
/// absurd size still means damage, not a manifest).
pub const LOCAL_MANIFEST_LIMIT: u64 = 64 << 20;

/// How deep image indexes may nest below a root where a descent follows them one read at a time (a
/// pull, a copy between registries, a platform selection). Real images nest one or two deep (an
/// index of platform manifests, at most an index of such indexes), so a deeper chain is refused as
/// hostile rather than followed. The layout's own walk (`walk`) is iterative and needs no bound.
pub const MAX_NESTING: usize = 8;

/// The OCI image manifest media type.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// The OCI image index media type.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// The Docker image manifest (schema 2) media type.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// The Docker manifest list (schema 2) media type.
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// The OCI artifact manifest media type (image-spec 1.1 release candidates; read, never written).
pub const OCI_ARTIFACT: &str = "application/vnd.oci.artifact.manifest.v1+json";
/// The Docker schema 1 manifest media type, which is refused.
pub const DOCKER_SCHEMA1: &str = "application/vnd.docker.distribution.manifest.v1+json";
/// The signed Docker schema 1 manifest media type, which is refused.
pub const DOCKER_SCHEMA1_SIGNED: &str = "application/vnd.docker.distribution.manifest.v1+prettyjws";

/// Whether a media type names an index (OCI image index or Docker manifest list).
pub fn is_index(media_type: &str) -> bool {
    media_type == OCI_INDEX || media_type == DOCKER_LIST
}

/// Whether a media type names a document that refers to other blobs and is descended by the walk.
pub(crate) fn is_manifest_like(media_type: &str) -> bool {
    matches!(
        media_type,
        OCI_MANIFEST | OCI_INDEX | DOCKER_MANIFEST | DOCKER_LIST | OCI_ARTIFACT
    )
}

/// Whether a media type is Docker schema 1, which is refused for copies.
pub(crate) fn is_schema1(media_type: &str) -> bool {
    media_type == DOCKER_SCHEMA1 || media_type == DOCKER_SCHEMA1_SIGNED
}

/// Every field through which a manifest, index or artifact manifest refers downward.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Refs {
    media_type: Option<String>,
    config: Option<Descriptor>,
    layers: Option<Vec<Descriptor>>,
    manifests: Option<Vec<Descriptor>>,
    blobs: Option<Vec<Descriptor>>,
}

/// A parsed manifest-like document: its own `mediaType` field and its children, in document order.
pub struct Parsed {
    /// The document's own `mediaType` field, if it has one.
    pub media_type: Option<String>,
    /// The descriptors it refers to, in document order.
    pub children: Vec<Descriptor>,
}

/// Parses a manifest-like document and returns the descriptors it refers to (config, layers,
/// manifests, blobs; not `subject`). Each child's digest is validated. An error names the field at
/// fault (`layers[2].digest`), not only a line and column.
pub fn parse_children(bytes: &[u8]) -> Result<Parsed> {
    let malformed = |reason: String| Error::Malformed {
        what: "manifest".into(),
        reason,
    };
    let refs: Refs = serde_json::from_slice(bytes).map_err(|e| match failing_child(bytes) {
        Some(at) => malformed(format!("{at}: {e}")),
        None => malformed(e.to_string()),
    })?;
    let mut children = Vec::new();
    let lists = [
        ("manifests", refs.manifests.unwrap_or_default()),
        ("config", refs.config.into_iter().collect()),
        ("layers", refs.layers.unwrap_or_default()),
        ("blobs", refs.blobs.unwrap_or_default()),
    ];
    for (field, list) in lists {
        for (i, c) in list.into_iter().enumerate() {
            crate::digest::validate(c.digest()).map_err(|e| {
                malformed(match field {
                    "config" => format!("config.digest: {e}"),
                    _ => format!("{field}[{i}].digest: {e}"),
                })
            })?;
            children.push(c);
        }
    }
    Ok(Parsed {
        media_type: refs.media_type,
        children,
    })
}

/// Which descriptor field of a manifest-like document that did not parse is at fault: `config`,
/// `layers[i]`, `manifests[i]` or `blobs[i]`, with `.digest` when its digest is the problem. Only
/// called on the error path.
fn failing_child(bytes: &[u8]) -> Option<String> {
    use serde_json::value::RawValue;
    #[derive(Deserialize)]
    struct RawRefs<'a> {
        #[serde(borrow)]
        config: Option<&'a RawValue>,
        #[serde(borrow)]
        manifests: Option<Vec<&'a RawValue>>,
        #[serde(borrow)]
        layers: Option<Vec<&'a RawValue>>,
        #[serde(borrow)]
        blobs: Option<Vec<&'a RawValue>>,
    }
    let raw: RawRefs = serde_json::from_slice(bytes).ok()?;
    let mut fields: Vec<(String, &RawValue)> = raw
        .config
        .map(|c| ("config".to_string(), c))
        .into_iter()
        .collect();
    for (name, list) in [
        ("manifests", raw.manifests),
        ("layers", raw.layers),
        ("blobs", raw.blobs),
    ] {
        for (i, c) in list.unwrap_or_default().into_iter().enumerate() {
            fields.push((format!("{name}[{i}]"), c));
        }
    }
    fields
        .into_iter()
        .find_map(|(at, raw)| descriptor_fault(raw.get()).map(|fault| format!("{at}{fault}")))
}

/// What is wrong with a descriptor's JSON, if anything: `Some(".digest")` when its digest is not
/// valid, `Some("")` when something else is.
pub(crate) fn descriptor_fault(json: &str) -> Option<&'static str> {
    if serde_json::from_str::<Descriptor>(json).is_ok() {
        return None;
    }
    #[derive(Deserialize)]
    struct JustDigest<'a> {
        #[serde(borrow)]
        digest: Option<std::borrow::Cow<'a, str>>,
    }
    let bad_digest = serde_json::from_str::<JustDigest>(json)
        .ok()
        .and_then(|d| d.digest)
        .is_some_and(|d| crate::digest::check(&d).is_err());
    Some(if bad_digest { ".digest" } else { "" })
}

/// What is wrong with one blob of the graph.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Problem {
    /// The blob is not in the store.
    Missing,
    /// The blob's length is not the descriptor's size.
    SizeMismatch {
        /// The size the descriptor states.
        expected: u64,
        /// The blob's length in the store.
        found: u64,
    },
    /// The blob's content does not hash to its digest.
    Corrupt {
        /// The digest the content hashes to.
        found: Digest,
    },
    /// A manifest-like blob that cannot be read as one (unparseable, over the limit, bad child).
    Unreadable(String),
    /// The blob's own `mediaType` field disagrees with the descriptor that names it.
    MediaTypeMismatch {
        /// The media type the referring descriptor states.
        descriptor: String,
        /// The media type the document states of itself.
        document: String,
    },
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::Missing => write!(f, "missing"),
            Problem::SizeMismatch { expected, found } => {
                write!(f, "size mismatch: expected {expected} bytes, found {found}")
            }
            Problem::Corrupt { found } => write!(f, "corrupt: content hashes to {found}"),
            Problem::Unreadable(why) => write!(f, "unreadable: {why}"),
            Problem::MediaTypeMismatch {
                descriptor,
                document,
            } => write!(
                f,
                "media type mismatch: descriptor says {descriptor}, document says {document}"
            ),
        }
    }
}

/// One blob reached by the walk.
#[derive(Clone, Debug)]
pub struct Node {
    /// The descriptor this blob is known by: the first one that called it a manifest or an index if
    /// any did, else the first one that reached it.
    pub descriptor: Descriptor,
    /// For a blob descended as a manifest or index: the digests it refers to, in document order.
    pub children: Vec<Digest>,
    /// Whether the walk read this blob whole and checked its digest.
    pub verified: bool,
    /// Whether the blob is a manifest or index: some descriptor reaching it, or its own content,
    /// says so. Such a blob is descended; when it is missing or cannot be read, what it refers to is
    /// unknown.
    pub manifest: bool,
    /// What is wrong with it, if anything (the most serious problem when there are several).
    pub problem: Option<Problem>,
}

impl Node {
    /// Records a problem unless a more serious one is already recorded.
    pub(crate) fn note(&mut self, p: Problem) {
        let rank = |p: &Problem| match p {
            Problem::Missing => 0,
            // A wrong size is the plainer finding: the content then cannot hash right either.
            Problem::SizeMismatch { .. } => 1,
            Problem::Corrupt { .. } => 2,
            Problem::Unreadable(_) => 3,
            Problem::MediaTypeMismatch { .. } => 4,
        };
        if self.problem.as_ref().is_none_or(|old| rank(&p) < rank(old)) {
            self.problem = Some(p);
        }
    }

    /// Whether what this blob refers to may be unknown: it is a manifest or index with a problem
    /// other than a disagreeing media type (missing, corrupt, unreadable, or named with a wrong
    /// size). gc refuses to sweep past such a blob.
    pub fn hides_children(&self) -> bool {
        self.manifest
            && self
                .problem
                .as_ref()
                .is_some_and(|p| !matches!(p, Problem::MediaTypeMismatch { .. }))
    }
}

/// The closure of a set of roots: every blob reachable from them, each once, children before the
/// parents that refer to them (post-order), so a copy that follows this order never names a blob
/// before what it refers to.
#[derive(Debug, Default)]
pub struct Graph {
    /// Every reachable blob, children before their parents.
    pub nodes: Vec<Node>,
    positions: HashMap<Digest, usize>,
}

impl Graph {
    /// Whether the graph holds a digest.
    pub fn contains(&self, d: &Digest) -> bool {
        self.positions.contains_key(d)
    }

    /// The node for a digest.
    pub fn get(&self, d: &Digest) -> Option<&Node> {
        self.positions.get(d).map(|&i| &self.nodes[i])
    }

    /// Nodes with a problem.
    pub fn problems(&self) -> impl Iterator<Item = &Node> {
        self.nodes.iter().filter(|n| n.problem.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The order of problems: the most serious one is kept.
    #[test]
    fn the_most_serious_problem_is_kept() {
        let d = crate::digest::sha256(b"x");
        let mut node = Node {
            descriptor: Descriptor::new(oci_spec::image::MediaType::ImageManifest, 1, d),
            children: Vec::new(),
            verified: false,
            manifest: true,
            problem: None,
        };
        node.note(Problem::MediaTypeMismatch {
            descriptor: OCI_MANIFEST.into(),
            document: OCI_INDEX.into(),
        });
        assert!(
            !node.hides_children(),
            "a disagreeing media type hides nothing"
        );
        node.note(Problem::Unreadable("x".into()));
        node.note(Problem::SizeMismatch {
            expected: 1,
            found: 2,
        });
        node.note(Problem::Corrupt {
            found: crate::digest::sha256(b"y"),
        });
        assert!(matches!(node.problem, Some(Problem::SizeMismatch { .. })));
        assert!(node.hides_children());
        node.manifest = false;
        assert!(!node.hides_children(), "a plain blob hides nothing");
    }
}
