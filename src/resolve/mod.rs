//! From what a user typed to one descriptor (docs/names.md): a digest, the exact `ref.name` of entries, the
//! canonical name, or a bare tag, in that order; ambiguity is an error listing every candidate;
//! `--platform` then descends through image indexes (the rule lives in `platform`). How an entry's
//! names are read lives in `names`; the borrowed scan of large indexes in `scan`; `oci-layout://`
//! URLs in `url`.

mod scan;
mod url;

use std::collections::BTreeSet;

use oci_spec::image::{Descriptor, ImageIndex, MediaType};

use crate::digest;
use crate::error::{Candidate, Error, Result};
use crate::graph::{self, LOCAL_MANIFEST_LIMIT};
use crate::layout::Layout;
use crate::reference::{self, Reference};
use scan::{LeanEntry, RawIndex};

pub use crate::names::{
    display_name, entry_name, entry_names, EntryName, IndexEntry, CONTAINERD_NAME, REF_NAME,
};
pub use crate::platform::{select_platform, Platform};
pub use url::{parse_layout_url, resolve_url, LayoutUrl};

/// Finds the entries what the user typed names, by the first of the resolution steps (docs/names.md) that matches
/// anything, and returns their positions; an empty result means no step matched. Entries of the
/// deciding step may still point at different digests (see [`choose`]).
pub(crate) fn find_entries<E: IndexEntry>(entries: &[E], input: &str) -> Result<Vec<usize>> {
    // 1. A digest.
    if digest::looks_like_digest(input) {
        let d = digest::parse(input)?;
        return Ok(positions(entries, |e| e.digest_str() == d.as_ref()));
    }
    // 2. The exact ref.name string.
    let exact = positions(entries, |e| e.annotation(REF_NAME) == Some(input));
    if !exact.is_empty() {
        return Ok(exact);
    }
    // 3. The canonical form against every entry's canonical name. A stored name can only
    // canonicalize to the wanted one if it contains the last path component verbatim (domains and
    // `library/` vary, components do not), so only those are parsed.
    if let Ok(wanted) = Reference::parse(input) {
        let last = wanted.path().rsplit('/').next().unwrap_or_default();
        let may_match = |s: Option<&str>| s.is_some_and(|s| s.contains(last));
        let by_name = positions(entries, |e| {
            if !may_match(e.annotation(CONTAINERD_NAME)) && !may_match(e.annotation(REF_NAME)) {
                return false;
            }
            entry_name(e).is_some_and(|n| match wanted.digest() {
                // name@digest: the repository, and that digest.
                Some(d) => n.repository() == wanted.repository() && e.digest_str() == d.as_ref(),
                None => n == wanted,
            })
        });
        if !by_name.is_empty() {
            return Ok(by_name);
        }
    }
    // 4. A bare tag against the tag of named entries' canonical names. A tag ends the name it belongs
    // to, or the name has no tag and the tag is `latest` (containerd writes a plain `foo` as
    // `docker.io/library/foo`); only such entries are parsed.
    if reference::is_valid_tag(input) {
        let implied = |s: &str| {
            let last = s.rsplit('/').next().unwrap_or(s);
            input == "latest" && !last.contains(':') && !last.contains('@')
        };
        return Ok(positions(entries, |e| {
            let ends = |s: Option<&str>| s.is_some_and(|s| s.ends_with(input) || implied(s));
            if !ends(e.annotation(CONTAINERD_NAME)) && !ends(e.annotation(REF_NAME)) {
                return false;
            }
            let n = entry_names(e);
            n.name.is_some() && n.tag.as_deref() == Some(input)
        }));
    }
    Ok(Vec::new())
}

fn positions<E>(entries: &[E], mut pred: impl FnMut(&E) -> bool) -> Vec<usize> {
    entries
        .iter()
        .enumerate()
        .filter(|(_, e)| pred(e))
        .map(|(i, _)| i)
        .collect()
}

/// Picks the one entry among `hits` (from [`find_entries`]): they must all share one digest, or the
/// answer is an error listing every candidate by full name, with the descriptor `describe` gives for
/// the entry at a position (asked only then).
pub(crate) fn choose<E: IndexEntry>(
    layout: &Layout,
    entries: &[E],
    hits: &[usize],
    input: &str,
    describe: impl Fn(usize) -> Result<Descriptor>,
) -> Result<usize> {
    let Some(&first) = hits.first() else {
        return Err(Error::NotFound {
            input: input.to_string(),
            layout: layout.root().to_path_buf(),
        });
    };
    let digests: BTreeSet<&str> = hits.iter().map(|&i| entries[i].digest_str()).collect();
    if digests.len() > 1 {
        let mut candidates = hits
            .iter()
            .map(|&i| {
                Ok(Candidate {
                    name: display_name(&entries[i]),
                    descriptor: describe(i)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        // In the order of the message's text, once per name and digest.
        candidates.sort_by_cached_key(Candidate::to_string);
        candidates.dedup_by(|a, b| a.to_string() == b.to_string());
        return Err(Error::Ambiguous {
            input: input.to_string(),
            layout: layout.root().to_path_buf(),
            candidates,
        });
    }
    Ok(first)
}

impl Layout {
    /// Resolves what a user typed (a digest, a `ref.name`, a name, a bare tag) to one descriptor,
    /// then, with a platform, descends through image indexes to the manifest for it.
    ///
    /// `index.json` is scanned with borrowed entries (no allocation per entry); only the entry
    /// chosen is parsed in full, so resolving in a 100,000-entry index stays fast.
    ///
    /// ```
    /// use ocilayout::{Layout, Platform};
    ///
    /// let layout = Layout::open("fixtures/multiarch")?;
    /// let index = layout.resolve("multi:1", None)?;
    /// let arm = layout.resolve("multi:1", Some(&Platform::parse("linux/arm64")?))?;
    /// assert_ne!(index.digest(), arm.digest());
    /// # Ok::<(), ocilayout::Error>(())
    /// ```
    pub fn resolve(&self, input: &str, platform: Option<&Platform>) -> Result<Descriptor> {
        resolve(self, input, platform)
    }
}

/// [`Layout::resolve`].
fn resolve(layout: &Layout, input: &str, platform: Option<&Platform>) -> Result<Descriptor> {
    let path = layout.root().join("index.json");
    let bytes = crate::file::read(&path, crate::file::Links::Follow)?;
    let malformed = |reason: String| Error::Malformed {
        what: path.display().to_string(),
        reason,
    };
    let raw: RawIndex = serde_json::from_slice(&bytes)
        .map_err(|e| malformed(format!("not a valid image index: {e}")))?;
    let entries = raw
        .manifests
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let entry = serde_json::from_str::<LeanEntry>(r.get())
                .map_err(|e| malformed(format!("manifests[{i}]: {e}")))?;
            // Every digest, as `Layout::read_index` does, without allocating.
            digest::check(&entry.digest).map_err(|e| malformed(format!("manifests[{i}]: {e}")))?;
            Ok(entry)
        })
        .collect::<Result<Vec<_>>>()?;
    // The full descriptor of the entry at `i`: of the one chosen, or of each candidate when the
    // input is ambiguous.
    let full = |i: usize| -> Result<Descriptor> {
        let d: Descriptor = serde_json::from_str(raw.manifests[i].get())
            .map_err(|e| malformed(format!("manifests[{i}]: {e}")))?;
        digest::validate(d.digest()).map_err(|e| malformed(format!("manifests[{i}]: {e}")))?;
        Ok(d)
    };
    let found = match find_entries(&entries, input)? {
        hits if hits.is_empty() && digest::looks_like_digest(input) => {
            manifest_blob(layout, input)?
        }
        hits => full(choose(layout, &entries, &hits, input, full)?)?,
    };
    match platform {
        Some(p) => select_platform(layout, found, p),
        None => Ok(found),
    }
}

/// What a user typed, found among index entries.
#[derive(Clone, Debug)]
pub(crate) enum Found {
    /// The entry at this position.
    Entry(usize),
    /// A manifest or index blob that no entry names, given by digest.
    Blob(Box<Descriptor>),
}

/// Finds what a user typed among already-read entries (see [`Layout::resolve`]); no platform descent.
/// `describe` gives the descriptor of the entry at a position (see [`choose`]).
pub(crate) fn find_in<E: IndexEntry>(
    layout: &Layout,
    entries: &[E],
    input: &str,
    describe: impl Fn(usize) -> Result<Descriptor>,
) -> Result<Found> {
    match find_entries(entries, input)? {
        hits if hits.is_empty() && digest::looks_like_digest(input) => {
            manifest_blob(layout, input).map(|d| Found::Blob(Box::new(d)))
        }
        hits => choose(layout, entries, &hits, input, describe).map(Found::Entry),
    }
}

/// Resolves within an already-read index (see [`Layout::resolve`]); no platform descent.
pub fn resolve_in(layout: &Layout, index: &ImageIndex, input: &str) -> Result<Descriptor> {
    let entries = index.manifests();
    Ok(
        match find_in(layout, entries, input, |i| Ok(entries[i].clone()))? {
            Found::Entry(i) => entries[i].clone(),
            Found::Blob(d) => *d,
        },
    )
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the `manifest` fuzz target: a parser's message quotes the document, control
    /// characters and all; an error is still one line. So are the candidates of an ambiguous name.
    #[test]
    fn errors_about_hostile_documents_are_one_line() {
        let doc = br#"{"manifests":[{"mediaType":"a","size":1,"digest":"sha256:\b\nx"}]}"#;
        let err = graph::parse_children(doc).err().unwrap().to_string();
        assert!(!err.contains('\n') && err.contains(r"\u{8}\nx"), "{err}");

        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::init(dir.path()).unwrap();
        let entry = |d: &str| {
            format!(
                r#"{{"mediaType":"{}","size":2,"digest":"{d}","annotations":{{"org.opencontainers.image.ref.name":"x\ny"}}}}"#,
                graph::OCI_MANIFEST
            )
        };
        let text = format!(
            r#"{{"schemaVersion":2,"manifests":[{},{}]}}"#,
            entry(digest::EMPTY_JSON),
            entry(&format!("sha256:{}", "0".repeat(64)))
        );
        std::fs::write(dir.path().join("index.json"), text).unwrap();
        let err = resolve(&layout, "x\ny", None).unwrap_err();
        assert!(matches!(err, Error::Ambiguous { .. }), "{err}");
        let err = err.to_string();
        assert!(!err.contains('\n') && err.contains(r"x\ny ("), "{err}");
    }
}
