//! The one rule for names in `index.json`: an entry carries the canonical full name in
//! `io.containerd.image.name` and the tag alone in `org.opencontainers.image.ref.name`, and a name
//! labels at most one entry, so giving a name to an entry takes it from every other. `tag`, `pull`
//! and `import` all name entries through one `Namer`, which indexes the names once per rewrite.
//! Reading names is here too: [`entry_names`] reads an entry under every convention in the wild
//! (containerd's full name, a full or a bare `ref.name`), for resolution, listing and display.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};

use oci_spec::image::{Descriptor, Digest};

use crate::layout::{Entry, IndexDocument};
use crate::reference::{self, Reference};

/// How names are written.
#[derive(Clone, Debug, Default)]
pub struct NameOptions {
    /// Write the full canonical name into `ref.name` too, for tools that want it there.
    pub full_ref_name: bool,
}

/// A name that now points at another digest.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Moved {
    /// The name, canonical (or the bare tag of an entry that has no full name).
    pub name: String,
    /// The digest it labelled.
    pub from: Digest,
    /// The digest it labels now.
    pub to: Digest,
}

/// The name that identifies an entry for the one-entry-per-name rule: its canonical name (under
/// every reading convention), else its `ref.name` as a bare tag; `None` for an unnamed entry.
pub(crate) fn entry_key(d: &impl IndexEntry) -> Option<String> {
    if let Some(name) = entry_name(d) {
        return Some(name.to_string());
    }
    d.annotation(REF_NAME).map(str::to_string)
}

/// `annotations` with the naming ones set for `name`; every other annotation is kept.
pub(crate) fn naming_annotations(
    annotations: Option<&HashMap<String, String>>,
    name: &Reference,
    opts: &NameOptions,
) -> HashMap<String, String> {
    let mut out = annotations.cloned().unwrap_or_default();
    out.remove(REF_NAME);
    out.insert(CONTAINERD_NAME.to_string(), name.to_string());
    let ref_name = if opts.full_ref_name {
        Some(name.to_string())
    } else {
        name.tag().map(str::to_string)
    };
    if let Some(r) = ref_name {
        out.insert(REF_NAME.to_string(), r);
    }
    out
}

/// `target` as an index entry named `name`.
pub fn named_entry(target: &Descriptor, name: &Reference, opts: &NameOptions) -> Descriptor {
    let mut entry = target.clone();
    entry.set_annotations(Some(naming_annotations(
        target.annotations().as_ref(),
        name,
        opts,
    )));
    entry
}

/// Points each of `names` at `target` within `doc`: a name another entry carries moves here, and
/// is reported as [`Moved`]. Call it inside [`crate::Layout::update_index`].
pub fn apply_names(
    doc: &mut IndexDocument,
    target: &Descriptor,
    names: &[Reference],
    opts: &NameOptions,
) -> Vec<Moved> {
    let target = Entry::new(target.clone());
    let mut namer = Namer::new(doc);
    names
        .iter()
        .flat_map(|n| namer.name(&target, n, opts))
        .collect()
}

/// Positions of entries by the hash of a string (a name, an identity): each hash heads a chain of
/// positions through `next`, so that a large index costs two words per entry, not a string. Whoever
/// follows a chain checks the string itself (hashes may collide).
#[derive(Default)]
struct Chains {
    head: HashMap<u64, usize>,
    next: Vec<usize>,
}

const END: usize = usize::MAX;

impl Chains {
    fn hash(s: &str) -> u64 {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        s.hash(&mut h);
        h.finish()
    }

    fn insert(&mut self, s: &str, position: usize) {
        if self.next.len() <= position {
            self.next.resize(position + 1, END);
        }
        self.next[position] = self.head.insert(Self::hash(s), position).unwrap_or(END);
    }

    /// Every position inserted under `s`'s hash, latest first.
    fn positions(&self, s: &str) -> impl Iterator<Item = usize> + '_ {
        let mut p = self.head.get(&Self::hash(s)).copied().unwrap_or(END);
        std::iter::from_fn(move || {
            let here = p;
            (here != END).then(|| {
                p = self.next[here];
                here
            })
        })
    }
}

/// Names entries of a document. Every entry's key is computed once, when the namer is made, and each
/// change then costs a hash lookup: naming many entries in a large index stays linear. The entries
/// are put back in the document, in order and without the removed ones, when the namer is dropped.
pub(crate) struct Namer<'a> {
    doc: &'a mut IndexDocument,
    entries: Vec<Entry>,
    removed: Vec<bool>,
    /// Entries by key.
    by_key: Chains,
    /// Unnamed entries by identity (made at the first [`Namer::add_unnamed`]).
    unnamed: Option<Chains>,
}

impl<'a> Namer<'a> {
    /// Takes the entries of `doc` (given back on drop).
    pub(crate) fn new(doc: &'a mut IndexDocument) -> Namer<'a> {
        let entries = doc.take_entries();
        let mut by_key = Chains::default();
        for (i, e) in entries.iter().enumerate() {
            if let Some(key) = entry_key(e) {
                by_key.insert(&key, i);
            }
        }
        Namer {
            doc,
            removed: vec![false; entries.len()],
            entries,
            by_key,
            unnamed: None,
        }
    }

    /// Positions of the entries (not removed) whose key is `key`, in order.
    fn with_key(&self, key: &str) -> Vec<usize> {
        let mut found: Vec<usize> = self
            .by_key
            .positions(key)
            .filter(|&p| !self.removed[p] && entry_key(&self.entries[p]).as_deref() == Some(key))
            .collect();
        found.sort_unstable();
        found.dedup();
        found
    }

    /// Gives `name` to `target`. An entry that already has the name and the target's digest stays
    /// where it is with its JSON; only its naming annotations are set (nothing changes when they are
    /// already ours). Otherwise `target` with the naming annotations takes the name (see
    /// [`Namer::assign`]).
    pub(crate) fn name(
        &mut self,
        target: &Entry,
        name: &Reference,
        opts: &NameOptions,
    ) -> Vec<Moved> {
        let key = name.to_string();
        let same = self
            .with_key(&key)
            .into_iter()
            .map(|p| &self.entries[p])
            .find(|e| e.digest_str() == target.digest_str());
        let mut entry = same.unwrap_or(target).clone();
        let annotations = naming_annotations(entry.descriptor().annotations().as_ref(), name, opts);
        entry.set_annotations(Some(annotations));
        self.assign(key, entry)
    }

    /// The rule itself: `entry` takes `key`. Every entry that had the key goes, and each one with
    /// another digest is reported as moved; `entry` takes the place of the first one with its digest,
    /// else of the first one, else goes at the end.
    pub(crate) fn assign(&mut self, key: String, entry: Entry) -> Vec<Moved> {
        let positions = self.with_key(&key);
        let Some(&first) = positions.first() else {
            self.push(entry);
            if let Some(p) = self.entries.len().checked_sub(1) {
                self.by_key.insert(&key, p);
            }
            return Vec::new();
        };
        let place = positions
            .iter()
            .copied()
            .find(|&p| self.entries[p].digest_str() == entry.digest_str())
            .unwrap_or(first);
        let mut moved = Vec::new();
        for &p in &positions {
            let old = self.entries[p].descriptor().digest();
            if old != entry.descriptor().digest() {
                moved.push(Moved {
                    name: key.clone(),
                    from: old.clone(),
                    to: entry.descriptor().digest().clone(),
                });
            }
            self.removed[p] = true;
        }
        self.entries[place] = entry;
        self.removed[place] = false;
        moved
    }

    fn push(&mut self, entry: Entry) {
        self.entries.push(entry);
        self.removed.push(false);
    }

    /// Adds an entry that has no name, unless an unnamed entry with the same `identity` is there
    /// already (the digest, say, or the whole descriptor: see [`same_descriptor`]). A namer is used
    /// with one identity. Returns whether it was added.
    pub(crate) fn add_unnamed(
        &mut self,
        entry: Entry,
        identity: impl Fn(&Entry) -> String,
    ) -> bool {
        let (entries, removed) = (&self.entries, &self.removed);
        let unnamed = self.unnamed.get_or_insert_with(|| {
            let mut chains = Chains::default();
            for (i, e) in entries.iter().enumerate() {
                if !removed[i] && entry_key(e).is_none() {
                    chains.insert(&identity(e), i);
                }
            }
            chains
        });
        let id = identity(&entry);
        let present = unnamed
            .positions(&id)
            .any(|p| !removed[p] && identity(&entries[p]) == id);
        if present {
            return false;
        }
        unnamed.insert(&id, entries.len());
        self.push(entry);
        true
    }
}

/// The identity of an unnamed entry that is "the same" only as a whole: its descriptor as JSON with
/// sorted keys (what it would be written as).
pub(crate) fn same_descriptor(e: &Entry) -> String {
    serde_json::to_value(e.descriptor())
        .and_then(|v| serde_json::to_string(&v))
        .unwrap_or_else(|_| e.digest_str().to_string())
}

/// The identity of an unnamed entry that is "the same" when it has the same digest.
pub(crate) fn same_digest(e: &Entry) -> String {
    e.digest_str().to_string()
}

impl Drop for Namer<'_> {
    fn drop(&mut self) {
        let mut entries = std::mem::take(&mut self.entries);
        let mut i = 0;
        entries.retain(|_| {
            i += 1;
            !self.removed[i - 1]
        });
        self.doc.set_entries(entries);
    }
}

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

/// What resolution needs of an index entry: its digest and its two name annotations. Implemented for
/// full descriptors and for the borrowed, allocation-free entries [`Layout::resolve`](crate::Layout::resolve) scans
/// large indexes with.
pub trait IndexEntry {
    /// The entry's digest as written (`sha256:<hex>`).
    fn digest_str(&self) -> &str;
    /// The value of annotation `key`, if the entry has it.
    fn annotation(&self, key: &str) -> Option<&str>;
}

impl IndexEntry for Descriptor {
    fn digest_str(&self) -> &str {
        self.digest().as_ref()
    }
    fn annotation(&self, key: &str) -> Option<&str> {
        self.annotations()
            .as_ref()
            .and_then(|a| a.get(key))
            .map(String::as_str)
    }
}

/// Reads an entry's name: `io.containerd.image.name` wins; else a `ref.name` that parses as a
/// reference with a repository is canonicalized; else `ref.name` is a bare tag.
pub fn entry_names(d: &impl IndexEntry) -> EntryName {
    let ref_name = d.annotation(REF_NAME);
    let name = d
        .annotation(CONTAINERD_NAME)
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

/// The canonical name an index entry carries, if any.
pub fn entry_name(d: &impl IndexEntry) -> Option<Reference> {
    entry_names(d).name
}

/// How an entry is shown to a user: its canonical name, else its `ref.name`, else its digest.
pub fn display_name(d: &impl IndexEntry) -> String {
    let n = entry_names(d);
    match (n.name, n.tag) {
        (Some(name), _) => name.to_string(),
        (None, Some(tag)) => tag,
        (None, None) => d.digest_str().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::image::MediaType;

    fn desc(hex: char) -> Descriptor {
        let d = crate::digest::parse(&format!("sha256:{}", hex.to_string().repeat(64))).unwrap();
        Descriptor::new(MediaType::ImageManifest, 10, d)
    }

    fn names(index: &IndexDocument) -> Vec<(String, String, Option<String>)> {
        index
            .descriptors()
            .map(|e| {
                (
                    display_name(e),
                    e.digest().to_string()[7..8].to_string(),
                    IndexEntry::annotation(e, REF_NAME).map(str::to_string),
                )
            })
            .collect()
    }

    #[test]
    fn a_name_labels_one_entry_and_moves() {
        let mut index = IndexDocument::empty();
        let opts = NameOptions::default();
        let alpine = Reference::parse("alpine:3.16").unwrap();
        let tool = Reference::parse("ghcr.io/acme/tool:1.0").unwrap();
        assert!(apply_names(
            &mut index,
            &desc('a'),
            &[alpine.clone(), tool.clone()],
            &opts
        )
        .is_empty());
        // Tagging again with the same name and digest changes nothing.
        assert!(
            apply_names(&mut index, &desc('a'), std::slice::from_ref(&alpine), &opts).is_empty()
        );
        assert_eq!(index.entries().len(), 2);
        // The name moves to another digest and is reported.
        let moved = apply_names(&mut index, &desc('b'), std::slice::from_ref(&alpine), &opts);
        assert_eq!(
            moved,
            vec![Moved {
                name: "docker.io/library/alpine:3.16".into(),
                from: desc('a').digest().clone(),
                to: desc('b').digest().clone(),
            }]
        );
        assert_eq!(
            names(&index),
            // It takes the place of the entry it came from.
            vec![
                (
                    "docker.io/library/alpine:3.16".into(),
                    "b".into(),
                    Some("3.16".into())
                ),
                (
                    "ghcr.io/acme/tool:1.0".into(),
                    "a".into(),
                    Some("1.0".into())
                ),
            ]
        );
        // With the full-name option ref.name holds the whole name.
        let full = NameOptions {
            full_ref_name: true,
        };
        apply_names(&mut index, &desc('c'), &[tool], &full);
        assert_eq!(
            names(&index)[1],
            (
                "ghcr.io/acme/tool:1.0".into(),
                "c".into(),
                Some("ghcr.io/acme/tool:1.0".into())
            )
        );
    }

    #[test]
    fn a_name_written_by_another_tool_moves_too() {
        let mut index = IndexDocument::empty();
        // skopeo-style: the full name in ref.name only.
        let mut skopeo = desc('a');
        skopeo.set_annotations(Some(
            [(
                REF_NAME.to_string(),
                "docker.io/library/alpine:3.16".to_string(),
            )]
            .into(),
        ));
        // umoci-style bare tag: a different thing, untouched.
        let mut umoci = desc('a');
        umoci.set_annotations(Some([(REF_NAME.to_string(), "3.16".to_string())].into()));
        index.push(Entry::new(skopeo));
        index.push(Entry::new(umoci));
        let moved = apply_names(
            &mut index,
            &desc('b'),
            &[Reference::parse("alpine:3.16").unwrap()],
            &NameOptions::default(),
        );
        assert_eq!(moved.len(), 1);
        assert_eq!(
            names(&index),
            vec![
                (
                    "docker.io/library/alpine:3.16".into(),
                    "b".into(),
                    Some("3.16".into())
                ),
                ("3.16".into(), "a".into(), Some("3.16".into())),
            ]
        );
    }
}
