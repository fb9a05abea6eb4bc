//! The one descriptor walk shared by gc, fsck, export and sync: from root descriptors down through
//! indexes and manifests to configs, layers and artifact blobs. `subject` is not followed upward.
//!
//! The walk is conservative: a blob is descended when *any* descriptor that reaches it, or its own
//! content (its `mediaType` field, or the shape of a manifest or index), says it is a manifest or an
//! index. The first descriptor to arrive decides nothing, so no order of entries or layers can hide
//! an image's blobs from gc, fsck or export.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};

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
    fn note(&mut self, p: Problem) {
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

/// A blob's content as far as the walk read it.
struct Doc {
    /// The document's own `mediaType` field, when it is a JSON object with a string there.
    media_type: Option<String>,
    /// Whether it has a field through which manifests and indexes refer downward (`manifests`,
    /// `config`, `layers`, `blobs`).
    shaped: bool,
    /// Its children, when it reads as a manifest or index (taken when the blob is descended).
    children: Option<Vec<Descriptor>>,
}

impl Doc {
    /// Reads what the walk needs from a document. Cheap for what is plainly no manifest (an image
    /// configuration, a JSON layer): one pass that allocates nothing but the `mediaType` string.
    fn read(bytes: &[u8]) -> Doc {
        use serde::de::IgnoredAny;
        use serde_json::value::RawValue;
        #[derive(Deserialize)]
        struct Probe<'a> {
            #[serde(rename = "mediaType", borrow)]
            media_type: Option<&'a RawValue>,
            manifests: Option<IgnoredAny>,
            config: Option<IgnoredAny>,
            layers: Option<IgnoredAny>,
            blobs: Option<IgnoredAny>,
        }
        let Ok(probe) = serde_json::from_slice::<Probe>(bytes) else {
            return Doc {
                media_type: None,
                shaped: false,
                children: None,
            };
        };
        let media_type = probe
            .media_type
            .and_then(|m| serde_json::from_str::<String>(m.get()).ok());
        let shaped = probe.manifests.is_some()
            || probe.config.is_some()
            || probe.layers.is_some()
            || probe.blobs.is_some();
        let children = (shaped || media_type.as_deref().is_some_and(is_manifest_like))
            .then(|| parse_children(bytes).ok().map(|p| p.children))
            .flatten();
        Doc {
            media_type,
            shaped,
            children,
        }
    }

    /// Whether the content says it is a manifest or index: by its `mediaType`, or by having the shape
    /// of one (it parses as one and has a field that refers downward).
    fn says_manifest(&self) -> bool {
        self.media_type.as_deref().is_some_and(is_manifest_like)
            || (self.shaped && self.children.is_some())
    }
}

/// The walk's state for one blob.
struct State {
    node: Node,
    /// The blob's size in the store; `None` when it is missing.
    found: Option<u64>,
    /// The content, once read and verified (`None`: not read, or it could not be trusted).
    doc: Option<Doc>,
    /// Whether the content was read (or tried), so it is never read twice.
    read: bool,
}

/// Walks the closure of `roots` in `store`. Missing and damaged blobs are recorded on their nodes, not
/// returned as errors: callers decide (gc refuses to sweep past a manifest it cannot read, fsck
/// reports). Blobs that some descriptor calls a manifest or index, and blobs whose content starts like
/// a JSON object, are read once and their digest verified; other blobs are only sized.
pub fn walk<'a>(
    store: &BlobStore,
    roots: impl IntoIterator<Item = &'a Descriptor>,
) -> Result<Graph> {
    // Marking: a work list of descriptors until nothing changes. A blob already reached is reached
    // again by each further descriptor, which may turn it into a manifest to descend.
    let mut states: Vec<State> = Vec::new();
    let mut at: HashMap<Digest, usize> = HashMap::new();
    let mut root_digests: Vec<Digest> = Vec::new();
    let mut work: Vec<Descriptor> = Vec::new();
    for r in roots {
        root_digests.push(r.digest().clone());
        work.push(r.clone());
    }
    work.reverse();
    while let Some(desc) = work.pop() {
        let d = desc.digest().clone();
        crate::digest::validate(&d)?;
        let children = match at.get(&d) {
            Some(&i) => reach_again(store, &mut states[i], desc)?,
            None => {
                let (state, children) = reach_first(store, desc)?;
                at.insert(d, states.len());
                states.push(state);
                children
            }
        };
        work.extend(children.into_iter().rev());
    }

    // Ordering: children before parents, roots in order, each child list in document order.
    // Iterative, so hostile nesting depth cannot overflow the stack.
    let mut order: Vec<usize> = Vec::with_capacity(states.len());
    let mut placed = vec![false; states.len()];
    let mut entered = vec![false; states.len()];
    let mut stack: Vec<(usize, bool)> = root_digests
        .iter()
        .rev()
        .filter_map(|d| at.get(d).map(|&i| (i, false)))
        .collect();
    while let Some((i, exit)) = stack.pop() {
        if exit {
            if !placed[i] {
                placed[i] = true;
                order.push(i);
            }
            continue;
        }
        if entered[i] {
            continue;
        }
        entered[i] = true;
        stack.push((i, true));
        for c in states[i].node.children.iter().rev() {
            if let Some(&j) = at.get(c) {
                if !entered[j] {
                    stack.push((j, false));
                }
            }
        }
    }
    // Every blob reached is placed (each was reached from a root); the map of digests is reused.
    let mut slots: Vec<Option<Node>> = states.into_iter().map(|s| Some(s.node)).collect();
    let mut nodes = Vec::with_capacity(order.len());
    let mut positions = at;
    for i in order {
        if let Some(node) = slots[i].take() {
            if let Some(p) = positions.get_mut(node.descriptor.digest()) {
                *p = nodes.len();
            }
            nodes.push(node);
        }
    }
    // Kept true even if the invariant above were broken: a digest maps only to its own node.
    positions.retain(|d, p| nodes.get(*p).is_some_and(|n| n.descriptor.digest() == d));
    Ok(Graph { nodes, positions })
}

/// The first descriptor to reach a blob: sizes it, reads it when it may be a manifest, and returns
/// the children to walk.
fn reach_first(store: &BlobStore, desc: Descriptor) -> Result<(State, Vec<Descriptor>)> {
    let d = desc.digest().clone();
    let typed = is_manifest_like(desc.media_type().as_ref());
    let mut state = State {
        node: Node {
            descriptor: desc,
            children: Vec::new(),
            verified: false,
            manifest: typed,
            problem: None,
        },
        found: store.size(&d)?,
        doc: None,
        read: false,
    };
    let Some(found) = state.found else {
        state.node.problem = Some(Problem::Missing);
        return Ok((state, Vec::new()));
    };
    let expected = state.node.descriptor.size();
    if found != expected {
        state.node.note(Problem::SizeMismatch { expected, found });
    }
    if typed || (found <= LOCAL_MANIFEST_LIMIT && starts_like_json(store, &d)?) {
        read_content(store, &mut state, typed)?;
    }
    if let Some(doc) = &state.doc {
        state.node.manifest |= doc.says_manifest();
        if typed {
            let media_type = state.node.descriptor.media_type().to_string();
            check_media_type(&mut state.node, &media_type, doc);
        }
    }
    let children = if state.node.manifest {
        descend(store, &mut state)?
    } else {
        Vec::new()
    };
    Ok((state, children))
}

/// A further descriptor reaching a blob already reached: checks its size and media type, and turns
/// the blob into a manifest to descend when this descriptor says it is one.
fn reach_again(store: &BlobStore, state: &mut State, desc: Descriptor) -> Result<Vec<Descriptor>> {
    if let Some(found) = state.found {
        if found != desc.size() {
            state.node.note(Problem::SizeMismatch {
                expected: desc.size(),
                found,
            });
        }
    }
    let media_type = desc.media_type().to_string();
    if !is_manifest_like(&media_type) {
        return Ok(Vec::new());
    }
    if !is_manifest_like(state.node.descriptor.media_type().as_ref()) {
        state.node.descriptor = desc;
    }
    if state.found.is_some() && (!state.read || (state.doc.is_some() && !state.node.verified)) {
        // Not read yet, or read as a probe that did not check the digest: now it must be trusted.
        read_content(store, state, true)?;
    }
    if let Some(doc) = &state.doc {
        check_media_type(&mut state.node, &media_type, doc);
    }
    if state.node.manifest {
        // Already descended (or known to hide its children): nothing new below it.
        return Ok(Vec::new());
    }
    state.node.manifest = true;
    descend(store, state)
}

/// For a blob found to be a manifest or index: its children, or the problem that hides them.
fn descend(store: &BlobStore, state: &mut State) -> Result<Vec<Descriptor>> {
    let Some(doc) = state.doc.as_mut() else {
        // Missing, or not read: too large or corrupt (the problem is already recorded).
        return Ok(Vec::new());
    };
    let children = match doc.children.take() {
        Some(children) => children,
        // Only a descriptor calls it a manifest: the probe did not parse it as one, so parse it now
        // (and when it does not parse, this gives the reason).
        None => match parse_children(
            &store.read_verified(state.node.descriptor.digest(), LOCAL_MANIFEST_LIMIT)?,
        ) {
            Ok(parsed) => parsed.children,
            Err(e) => {
                let why = crate::error::one_line(&e.to_string());
                state.node.note(Problem::Unreadable(why));
                return Ok(Vec::new());
            }
        },
    };
    state.node.children = children.iter().map(|c| c.digest().clone()).collect();
    Ok(children)
}

/// Reads a blob's content, recording a problem when it cannot be trusted. Its digest is checked when
/// `trust` (a descriptor calls it a manifest) or when the content says it is one: the probe of a blob
/// that turns out to be plain (an image configuration, a JSON layer) does not hash it; fsck does.
fn read_content(store: &BlobStore, state: &mut State, trust: bool) -> Result<()> {
    state.read = true;
    state.doc = None;
    let too_large = || {
        Problem::Unreadable(format!(
            "{} bytes, over the {LOCAL_MANIFEST_LIMIT}-byte limit",
            state.found.unwrap_or_default()
        ))
    };
    if state.found.is_some_and(|n| n > LOCAL_MANIFEST_LIMIT) {
        // Not read at all: a file this size is damage, not a manifest, and must not fill memory.
        let p = too_large();
        state.node.note(p);
        return Ok(());
    }
    let d = state.node.descriptor.digest().clone();
    let path = store.path(&d)?;
    let mut bytes = Vec::new();
    let len = store
        .open(&d)?
        .take(LOCAL_MANIFEST_LIMIT + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(&path, e))?;
    if len as u64 > LOCAL_MANIFEST_LIMIT {
        // It grew after it was sized.
        let p = too_large();
        state.node.note(p);
        return Ok(());
    }
    let doc = Doc::read(&bytes);
    if trust || doc.says_manifest() {
        match crate::digest::verify_bytes(&d, &bytes) {
            Ok(()) => state.node.verified = true,
            Err(Error::DigestMismatch { found, .. }) => {
                state.node.note(Problem::Corrupt { found });
                return Ok(());
            }
            Err(e) => return Err(e),
        }
    }
    state.doc = Some(doc);
    Ok(())
}

/// Records a disagreement between a descriptor that calls the blob a manifest or index (its media
/// type `descriptor`) and the document's own `mediaType`.
fn check_media_type(node: &mut Node, descriptor: &str, doc: &Doc) {
    if let Some(document) = doc.media_type.as_ref().filter(|m| *m != descriptor) {
        node.note(Problem::MediaTypeMismatch {
            descriptor: descriptor.to_string(),
            document: document.clone(),
        });
    }
}

/// Whether a blob's first byte that is not JSON whitespace is `{`: only such a blob can be a
/// manifest or index by its content. Reads a few bytes, not the blob.
fn starts_like_json(store: &BlobStore, d: &Digest) -> Result<bool> {
    let path = store.path(d)?;
    let mut r = BufReader::with_capacity(512, store.open(d)?);
    loop {
        let buf = r.fill_buf().map_err(|e| Error::io(&path, e))?;
        if buf.is_empty() {
            return Ok(false);
        }
        match buf.iter().position(|b| !b" \t\r\n".contains(b)) {
            Some(i) => return Ok(buf[i] == b'{'),
            None => {
                let n = buf.len();
                r.consume(n);
            }
        }
    }
}
