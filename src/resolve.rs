//! From what a user typed to one descriptor (SPEC §2): a digest, the exact `ref.name` of entries, the
//! canonical name, or a bare tag, in that order; ambiguity is an error listing every candidate;
//! `--platform` then descends through image indexes. Also `oci-layout://` URLs.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use oci_spec::image::{Descriptor, ImageIndex, MediaType};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::digest;
use crate::error::{Error, IoContext, Result};
use crate::graph::{self, LOCAL_MANIFEST_LIMIT};
use crate::layout::Layout;
use crate::reference::{self, Reference};

pub use crate::platform::Platform;

/// The annotation containerd and buildkit store the full canonical name in.
pub const CONTAINERD_NAME: &str = "io.containerd.image.name";
/// The OCI annotation for a reference name (a bare tag, or a full name by some tools).
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";

/// What an index entry is called, read under every convention in the wild.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EntryName {
    /// The canonical name: from `io.containerd.image.name`, else from a `ref.name` that is a full
    /// reference.
    pub name: Option<Reference>,
    /// The tag: the name's tag, else a bare `ref.name`.
    pub tag: Option<String>,
}

/// Reads an entry's name: `io.containerd.image.name` wins; else a `ref.name` that parses as a
/// reference with a repository is canonicalized; else `ref.name` is a bare tag.
pub fn entry_names(d: &Descriptor) -> EntryName {
    EntryView::of(d).names()
}

/// What resolving reads of an index entry, borrowed either from a parsed [`Descriptor`] or straight
/// from the bytes of `index.json` (see [`resolve`]).
#[derive(Clone, Copy, Debug)]
struct EntryView<'a> {
    digest: &'a str,
    ref_name: Option<&'a str>,
    containerd_name: Option<&'a str>,
}

impl<'a> EntryView<'a> {
    fn of(d: &'a Descriptor) -> Self {
        let annotations = d.annotations().as_ref();
        let get = |k: &str| annotations.and_then(|a| a.get(k)).map(String::as_str);
        EntryView {
            digest: d.digest().as_ref(),
            ref_name: get(REF_NAME),
            containerd_name: get(CONTAINERD_NAME),
        }
    }

    fn names(&self) -> EntryName {
        let ref_name = self.ref_name;
        let name = self
            .containerd_name
            .and_then(|n| Reference::parse(n).ok())
            .or_else(|| ref_name.and_then(reference::ref_name_as_reference));
        let tag = match &name {
            Some(n) => n.tag().map(str::to_string).or_else(|| {
                ref_name
                    .filter(|r| reference::is_valid_tag(r))
                    .map(str::to_string)
            }),
            None => ref_name.map(str::to_string),
        };
        EntryName { name, tag }
    }

    fn display_name(&self) -> String {
        let n = self.names();
        match (n.name, n.tag) {
            (Some(name), _) => name.to_string(),
            (None, Some(tag)) => tag,
            (None, None) => self.digest.to_string(),
        }
    }
}

/// The canonical name an index entry carries, if any.
pub fn entry_name(d: &Descriptor) -> Option<Reference> {
    entry_names(d).name
}

/// How an entry is shown to a user: its canonical name, else its `ref.name`, else its digest.
pub fn display_name(d: &Descriptor) -> String {
    EntryView::of(d).display_name()
}

/// Finds the index entries what the user typed names, by the first of SPEC §2's steps that matches
/// anything. Returns their positions in `index.manifests()`; an empty result means no step matched.
/// Entries of the deciding step may still point at different digests (see [`resolve`]).
pub fn find_entries(index: &ImageIndex, input: &str) -> Result<Vec<usize>> {
    let views: Vec<EntryView> = index.manifests().iter().map(EntryView::of).collect();
    find_in(&views, input)
}

fn find_in(entries: &[EntryView], input: &str) -> Result<Vec<usize>> {
    // 1. A digest.
    if digest::looks_like_digest(input) {
        digest::check(input)?;
        return Ok(positions(entries, |e| e.digest == input));
    }
    // 2. The exact ref.name string.
    let exact = positions(entries, |e| e.ref_name == Some(input));
    if !exact.is_empty() {
        return Ok(exact);
    }
    // 3. The canonical form against every entry's canonical name.
    if let Ok(wanted) = Reference::parse(input) {
        let by_name = positions(entries, |e| {
            e.names().name.is_some_and(|n| match wanted.digest() {
                // name@digest: the repository, and that digest.
                Some(d) => n.repository() == wanted.repository() && e.digest == d.as_ref(),
                None => n == wanted,
            })
        });
        if !by_name.is_empty() {
            return Ok(by_name);
        }
    }
    // 4. A bare tag against the tag part of named entries.
    if reference::is_valid_tag(input) {
        return Ok(positions(entries, |e| {
            let n = e.names();
            n.name.is_some() && n.tag.as_deref() == Some(input)
        }));
    }
    Ok(Vec::new())
}

fn positions(entries: &[EntryView], mut pred: impl FnMut(&EntryView) -> bool) -> Vec<usize> {
    entries
        .iter()
        .enumerate()
        .filter(|(_, e)| pred(e))
        .map(|(i, _)| i)
        .collect()
}

/// The one entry the matches of the deciding step name, or the error: not found, or ambiguous with
/// every candidate listed by full name.
fn decide(layout: &Layout, entries: &[EntryView], hits: &[usize], input: &str) -> Result<usize> {
    if hits.is_empty() {
        return Err(Error::NotFound {
            input: input.to_string(),
            layout: layout.root().to_path_buf(),
        });
    }
    let digests: BTreeSet<&str> = hits.iter().map(|&i| entries[i].digest).collect();
    if digests.len() > 1 {
        let mut candidates: Vec<String> = hits
            .iter()
            .map(|&i| format!("{} ({})", entries[i].display_name(), entries[i].digest))
            .collect();
        candidates.sort();
        candidates.dedup();
        return Err(Error::Ambiguous {
            input: input.to_string(),
            layout: layout.root().to_path_buf(),
            candidates,
        });
    }
    Ok(hits[0])
}

/// An index entry as the fast path reads it: the raw JSON, parsed into a [`Descriptor`] only when
/// it is the answer, and the few fields resolving looks at, borrowed from the bytes.
struct RawEntry<'a> {
    raw: &'a RawValue,
    fields: RawFields<'a>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawFields<'a> {
    #[serde(borrow)]
    digest: Cow<'a, str>,
    // Required as in a descriptor, so a broken entry is refused here too.
    #[serde(borrow, rename = "mediaType")]
    _media_type: Cow<'a, str>,
    #[serde(rename = "size")]
    _size: u64,
    #[serde(borrow, default)]
    annotations: Option<RawAnnotations<'a>>,
}

#[derive(Deserialize)]
struct RawAnnotations<'a> {
    #[serde(borrow, rename = "org.opencontainers.image.ref.name", default)]
    ref_name: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "io.containerd.image.name", default)]
    containerd_name: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct RawIndex<'a> {
    #[serde(borrow)]
    manifests: Vec<&'a RawValue>,
}

/// Reads `index.json` only as far as resolving needs: every entry's digest (validated) and naming
/// annotations, borrowed from the bytes. A 100,000-entry index costs one pass and no descriptor.
fn raw_entries<'a>(bytes: &'a [u8], path: &Path) -> Result<Vec<RawEntry<'a>>> {
    let malformed = |reason: String| Error::Malformed {
        what: path.display().to_string(),
        reason,
    };
    let index: RawIndex = serde_json::from_slice(bytes)
        .map_err(|e| malformed(format!("not a valid image index: {e}")))?;
    index
        .manifests
        .into_iter()
        .enumerate()
        .map(|(i, raw)| {
            let fields: RawFields = serde_json::from_str(raw.get())
                .map_err(|e| malformed(format!("manifests[{i}]: {e}")))?;
            digest::check(&fields.digest).map_err(|e| malformed(format!("manifests[{i}]: {e}")))?;
            Ok(RawEntry { raw, fields })
        })
        .collect()
}

impl RawEntry<'_> {
    fn view(&self) -> EntryView<'_> {
        let a = self.fields.annotations.as_ref();
        EntryView {
            digest: &self.fields.digest,
            ref_name: a.and_then(|a| a.ref_name.as_deref()),
            containerd_name: a.and_then(|a| a.containerd_name.as_deref()),
        }
    }
}

/// Resolves what a user typed to one descriptor, then, with a platform, descends through image
/// indexes to the manifest for it. Reads `index.json` without building a descriptor per entry: only
/// the answer is parsed in full.
pub fn resolve(layout: &Layout, input: &str, platform: Option<&Platform>) -> Result<Descriptor> {
    let path = layout.root().join("index.json");
    let bytes = fs::read(&path).at(&path)?;
    let entries = raw_entries(&bytes, &path)?;
    let views: Vec<EntryView> = entries.iter().map(RawEntry::view).collect();
    let hits = find_in(&views, input)?;
    let found = if hits.is_empty() && digest::looks_like_digest(input) {
        manifest_blob(layout, input)?
    } else {
        let i = decide(layout, &views, &hits, input)?;
        serde_json::from_str(entries[i].raw.get()).map_err(|e| Error::Malformed {
            what: path.display().to_string(),
            reason: format!("manifests[{i}]: {e}"),
        })?
    };
    match platform {
        Some(p) => select_platform(layout, found, p),
        None => Ok(found),
    }
}

/// Resolves within an already-read index (see [`resolve`]); no platform descent.
pub fn resolve_in(layout: &Layout, index: &ImageIndex, input: &str) -> Result<Descriptor> {
    let views: Vec<EntryView> = index.manifests().iter().map(EntryView::of).collect();
    let hits = find_in(&views, input)?;
    if hits.is_empty() && digest::looks_like_digest(input) {
        return manifest_blob(layout, input);
    }
    let i = decide(layout, &views, &hits, input)?;
    Ok(index.manifests()[i].clone())
}

/// A manifest or index blob named by digest but by no entry: its descriptor is made from the blob.
fn manifest_blob(layout: &Layout, input: &str) -> Result<Descriptor> {
    let d = digest::parse(input)?;
    let not_found = || Error::NotFound {
        input: input.to_string(),
        layout: layout.root().to_path_buf(),
    };
    if layout.blobs().size(&d)?.is_none() {
        return Err(not_found());
    }
    let bytes = layout.blobs().read_verified(&d, LOCAL_MANIFEST_LIMIT)?;
    let doc: serde_json::Value = serde_json::from_slice(&bytes).map_err(|_| not_found())?;
    let media_type = match doc.get("mediaType").and_then(|m| m.as_str()) {
        Some(m) if graph::is_manifest_like(m) || graph::is_schema1(m) => m.to_string(),
        Some(_) => return Err(not_found()),
        None if doc.get("manifests").is_some() => graph::OCI_INDEX.to_string(),
        None if doc.get("config").is_some() && doc.get("layers").is_some() => {
            graph::OCI_MANIFEST.to_string()
        }
        None => return Err(not_found()),
    };
    Ok(Descriptor::new(
        MediaType::from(media_type.as_str()),
        bytes.len() as u64,
        d,
    ))
}

/// Descends from `d` through image indexes (nested ones too) to the one manifest for `platform`.
/// A manifest is returned as it is.
pub fn select_platform(layout: &Layout, d: Descriptor, platform: &Platform) -> Result<Descriptor> {
    let root = d.digest().to_string();
    let mut current = d;
    // Each step goes one index deeper; a cycle of digests is impossible, but bound the depth anyway.
    for _ in 0..32 {
        if !graph::is_index(current.media_type().as_ref()) {
            return Ok(current);
        }
        let bytes = layout
            .blobs()
            .read_verified(current.digest(), LOCAL_MANIFEST_LIMIT)?;
        let children = graph::parse_children(&bytes)?.children;
        let matching = children
            .iter()
            .find(|c| c.platform().as_ref().is_some_and(|p| platform.matches(p)));
        let nested = children
            .iter()
            .find(|c| c.platform().is_none() && graph::is_index(c.media_type().as_ref()));
        current = match matching.or(nested) {
            Some(c) => c.clone(),
            None => {
                return Err(Error::NoPlatform {
                    digest: root,
                    platform: platform.to_string(),
                })
            }
        };
    }
    Err(Error::Damaged(format!(
        "{root}: image indexes nested too deeply"
    )))
}

/// A parsed `oci-layout://` URL: the layout directory and the reference inside it (`None` when the
/// URL names only the layout).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayoutUrl {
    pub layout: PathBuf,
    pub reference: Option<String>,
}

/// Parses `oci-layout://PATH[:TAG|@DIGEST]` or `oci-layout://PATH/NAME[:TAG][@DIGEST]`. The layout is
/// the longest prefix of PATH that is a directory holding an `oci-layout` file; the rest is the name,
/// so a `:` inside the directory part is no problem.
pub fn parse_layout_url(url: &str) -> Result<LayoutUrl> {
    let rest = url
        .strip_prefix("oci-layout://")
        .ok_or_else(|| Error::Invalid(format!("{url:?} is not an oci-layout:// URL")))?;
    let (path_part, digest_part) = match rest.rfind('@') {
        Some(i) if digest::looks_like_digest(&rest[i + 1..]) => (&rest[..i], Some(&rest[i + 1..])),
        _ => (rest, None),
    };
    if let Some(d) = digest_part {
        digest::parse(d)?;
    }
    // Candidate ends of the layout directory: the whole string, then every '/' or ':' from the right.
    let mut ends: Vec<usize> = vec![path_part.len()];
    ends.extend(
        path_part
            .char_indices()
            .rev()
            .filter(|(_, c)| *c == '/' || *c == ':')
            .map(|(i, _)| i),
    );
    for end in ends {
        let dir = &path_part[..end];
        if dir.is_empty() || !Path::new(dir).join("oci-layout").is_file() {
            continue;
        }
        // What follows the directory: "", ":TAG" or "/NAME[:TAG]"; a digest wins over both.
        let name = &path_part[end..];
        let reference = match digest_part {
            Some(d) => Some(d.to_string()),
            None if name.is_empty() => None,
            None => Some(name[1..].to_string()),
        };
        return Ok(LayoutUrl {
            layout: PathBuf::from(dir),
            reference,
        });
    }
    Err(Error::NotALayout {
        path: PathBuf::from(path_part),
        reason: "no prefix of the path is a directory with an oci-layout file".into(),
    })
}

/// Resolves an `oci-layout://` URL. A URL that names only the layout resolves its single entry, or
/// `latest` when it has several.
pub fn resolve_url(url: &str, platform: Option<&Platform>) -> Result<(Layout, Descriptor)> {
    let parsed = parse_layout_url(url)?;
    let layout = Layout::open(&parsed.layout)?;
    let input = match parsed.reference {
        Some(r) => r,
        None => {
            let index = layout.read_index()?;
            match index.manifests().as_slice() {
                [only] => only.digest().to_string(),
                _ => "latest".to_string(),
            }
        }
    };
    let d = resolve(&layout, &input, platform)?;
    Ok((layout, d))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `resolve` reads index.json borrowed, `resolve_in` from parsed descriptors: they must agree on
    /// every answer and every error.
    #[test]
    fn fast_and_full_paths_agree() {
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
        let inputs = [
            "v1",
            "latest",
            "1",
            "1.0",
            "3.16",
            "dev",
            "alpine:3.16",
            "docker.io/library/alpine:3.16",
            "alpine-like",
            "multi:1",
            "mystery",
            "nope",
            "Bad:Name",
            "sha256:d72195534bcc2ebf9df34eec4f3c3adec4ae0b09d22bb40644397823c06fe290",
            "sha256:daaa8dd99642fbb59637d0d850de2dfe66273e2b77e1f4d63f5a8de44b5921c4",
            "alpine@sha256:d72195534bcc2ebf9df34eec4f3c3adec4ae0b09d22bb40644397823c06fe290",
            "sha256:../../x",
        ];
        for f in [
            "umoci",
            "skopeo",
            "containerd",
            "multiarch",
            "docker",
            "artifact",
        ] {
            let layout = Layout::open(fixtures.join(f)).unwrap();
            let index = layout.read_index().unwrap();
            for input in inputs {
                let fast = resolve(&layout, input, None).map_err(|e| e.to_string());
                let full = resolve_in(&layout, &index, input).map_err(|e| e.to_string());
                assert_eq!(fast, full, "{f} {input}");
            }
        }
    }
}
