//! The walk itself: marking from root descriptors until no descriptor and no blob's content adds a
//! manifest to descend, then ordering the blobs children first.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};

use oci_spec::image::{Descriptor, Digest};
use serde::Deserialize;

use super::{is_manifest_like, parse_children, Graph, Node, Problem, LOCAL_MANIFEST_LIMIT};
use crate::error::{Error, Result};
use crate::store::BlobStore;

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
        match crate::digest::verify_bytes(&d, &bytes, d.as_ref()) {
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
/// manifest or index by its content. Reads a few bytes, not the blob, which [`BlobStore::size`]
/// found to be a regular file.
fn starts_like_json(store: &BlobStore, d: &Digest) -> Result<bool> {
    let path = store.path(d)?;
    let mut r = BufReader::with_capacity(512, store.open_to_peek(d)?);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::{DOCKER_MANIFEST, OCI_INDEX};

    /// What a document's own content says, whatever descriptor reached it.
    #[test]
    fn content_says_manifest() {
        let d = format!("sha256:{}", "a".repeat(64));
        let desc = format!(r#"{{"mediaType":"application/octet-stream","digest":"{d}","size":1}}"#);
        let cases: Vec<(String, bool)> = vec![
            // By mediaType alone, even with no downward field.
            (format!(r#"{{"mediaType":"{OCI_INDEX}"}}"#), true),
            (
                format!(r#"{{"mediaType":"{DOCKER_MANIFEST}","layers":[]}}"#),
                true,
            ),
            // By shape: a downward field of descriptors, whatever (or no) mediaType.
            (
                format!(r#"{{"schemaVersion":2,"config":{desc},"layers":[]}}"#),
                true,
            ),
            (format!(r#"{{"manifests":[{desc}]}}"#), true),
            (
                format!(r#"{{"mediaType":"application/json","blobs":[{desc}]}}"#),
                true,
            ),
            // An image configuration: `config` is no descriptor.
            (
                r#"{"architecture":"amd64","config":{"Env":["A=1"]}}"#.into(),
                false,
            ),
            // JSON that mentions a digest outside any downward field.
            (format!(r#"{{"see":"{d}"}}"#), false),
            (r#"{"mediaType":"application/json"}"#.into(), false),
            ("[1,2]".into(), false),
            ("not json".into(), false),
        ];
        for (text, want) in cases {
            assert_eq!(Doc::read(text.as_bytes()).says_manifest(), want, "{text}");
        }
    }
}
