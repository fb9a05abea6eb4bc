//! The one descriptor walk shared by gc, fsck, export and sync: from root descriptors down through
//! indexes and manifests to configs, layers and artifact blobs. `subject` is not followed upward.

use std::collections::HashMap;

use oci_spec::image::{Descriptor, Digest};
use serde::Deserialize;

use crate::error::{Error, Result};
use crate::store::BlobStore;

/// Manifests and indexes are refused above this size when read from a registry or an archive.
pub const MANIFEST_LIMIT: u64 = 4 << 20;
/// Local manifests are read up to this size (a local file is trusted more than a remote one, but an
/// absurd size still means damage, not a manifest).
pub const LOCAL_MANIFEST_LIMIT: u64 = 64 << 20;

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const OCI_ARTIFACT: &str = "application/vnd.oci.artifact.manifest.v1+json";
pub const DOCKER_SCHEMA1: &str = "application/vnd.docker.distribution.manifest.v1+json";
pub const DOCKER_SCHEMA1_SIGNED: &str = "application/vnd.docker.distribution.manifest.v1+prettyjws";

/// Whether a media type names an index (OCI image index or Docker manifest list).
pub fn is_index(media_type: &str) -> bool {
    media_type == OCI_INDEX || media_type == DOCKER_LIST
}

/// Whether a media type names a document that refers to other blobs and is descended by the walk.
pub fn is_manifest_like(media_type: &str) -> bool {
    matches!(
        media_type,
        OCI_MANIFEST | OCI_INDEX | DOCKER_MANIFEST | DOCKER_LIST | OCI_ARTIFACT
    )
}

/// Whether a media type is Docker schema 1, which is refused for copies.
pub fn is_schema1(media_type: &str) -> bool {
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
    pub media_type: Option<String>,
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
    SizeMismatch { expected: u64, found: u64 },
    /// The blob's content does not hash to its digest.
    Corrupt { found: String },
    /// A manifest-like blob that cannot be read as one (unparseable, over the limit, bad child).
    Unreadable(String),
    /// The blob's own `mediaType` field disagrees with the descriptor that names it.
    MediaTypeMismatch {
        descriptor: String,
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
    /// The first descriptor that reached this blob.
    pub descriptor: Descriptor,
    /// For a manifest-like blob that was read: the digests it refers to.
    pub children: Vec<Digest>,
    /// Whether the walk read and verified this blob's bytes (manifest-like blobs only).
    pub verified: bool,
    /// What is wrong with it, if anything.
    pub problem: Option<Problem>,
}

/// The closure of a set of roots: every blob reachable from them, each once, children before the
/// parents that refer to them (post-order), so a copy that follows this order never names a blob
/// before what it refers to.
#[derive(Debug, Default)]
pub struct Graph {
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

/// Walks the closure of `roots` in `store`. Missing and damaged blobs are recorded on their nodes, not
/// returned as errors: callers decide (gc refuses to sweep past an unreadable manifest, fsck reports).
/// Manifest-like blobs are read once and their digest verified; other blobs are only sized.
pub fn walk<'a>(
    store: &BlobStore,
    roots: impl IntoIterator<Item = &'a Descriptor>,
) -> Result<Graph> {
    let mut graph = Graph::default();
    // Iterative post-order DFS, so hostile nesting depth cannot overflow the stack.
    enum Step {
        Enter(Box<Descriptor>),
        Exit(Digest),
    }
    let mut pending: HashMap<Digest, Node> = HashMap::new();
    let mut stack: Vec<Step> = roots
        .into_iter()
        .map(|d| Step::Enter(Box::new(d.clone())))
        .collect();
    stack.reverse();
    while let Some(step) = stack.pop() {
        match step {
            Step::Enter(desc) => {
                let d = desc.digest().clone();
                if graph.positions.contains_key(&d) || pending.contains_key(&d) {
                    continue;
                }
                crate::digest::validate(&d)?;
                let node = inspect(store, *desc)?;
                stack.push(Step::Exit(d.clone()));
                let children: Vec<Descriptor> = node.1;
                for c in children.into_iter().rev() {
                    stack.push(Step::Enter(Box::new(c)));
                }
                pending.insert(d, node.0);
            }
            Step::Exit(d) => {
                let node = pending.remove(&d).expect("entered before exit");
                graph.positions.insert(d, graph.nodes.len());
                graph.nodes.push(node);
            }
        }
    }
    Ok(graph)
}

/// Reads one blob's state; for a manifest-like blob also its children.
fn inspect(store: &BlobStore, desc: Descriptor) -> Result<(Node, Vec<Descriptor>)> {
    let d = desc.digest().clone();
    let mut node = Node {
        descriptor: desc,
        children: Vec::new(),
        verified: false,
        problem: None,
    };
    let expected = node.descriptor.size();
    let found = match store.size(&d)? {
        None => {
            node.problem = Some(Problem::Missing);
            return Ok((node, Vec::new()));
        }
        Some(n) => n,
    };
    if found != expected {
        node.problem = Some(Problem::SizeMismatch { expected, found });
        return Ok((node, Vec::new()));
    }
    let media_type = node.descriptor.media_type().to_string();
    if !is_manifest_like(&media_type) {
        return Ok((node, Vec::new()));
    }
    let bytes = match store.read_verified(&d, LOCAL_MANIFEST_LIMIT) {
        Ok(b) => b,
        Err(Error::DigestMismatch { found, .. }) => {
            node.problem = Some(Problem::Corrupt { found });
            return Ok((node, Vec::new()));
        }
        Err(Error::TooLarge { size, limit, .. }) => {
            node.problem = Some(Problem::Unreadable(format!(
                "{size} bytes, over the {limit}-byte limit"
            )));
            return Ok((node, Vec::new()));
        }
        Err(e) => return Err(e),
    };
    node.verified = true;
    match parse_children(&bytes) {
        Ok(parsed) => {
            if let Some(doc) = parsed.media_type.filter(|m| m != &media_type) {
                node.problem = Some(Problem::MediaTypeMismatch {
                    descriptor: media_type,
                    document: doc,
                });
            }
            node.children = parsed.children.iter().map(|c| c.digest().clone()).collect();
            Ok((node, parsed.children))
        }
        Err(e) => {
            node.problem = Some(Problem::Unreadable(crate::error::one_line(&e.to_string())));
            Ok((node, Vec::new()))
        }
    }
}
