//! From what a user typed to one descriptor (docs/names.md): a digest, the exact `ref.name` of entries, the
//! canonical name, or a bare tag, in that order; ambiguity is an error listing every candidate;
//! `--platform` then descends through image indexes (the rule lives in `platform`). Also `oci-layout://` URLs.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use oci_spec::image::{Descriptor, ImageIndex, MediaType};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::digest;
use crate::error::{Error, IoContext, Result};
use crate::graph::{self, LOCAL_MANIFEST_LIMIT};
use crate::layout::Layout;
use crate::reference::{self, Reference};

pub use crate::platform::{select_platform, Platform};

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
/// full descriptors and for the borrowed, allocation-free entries [`resolve`] scans large indexes with.
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

/// An index entry as resolution reads it: borrowed from the `index.json` bytes; other fields skipped.
#[derive(Deserialize)]
struct LeanEntry<'a> {
    #[serde(borrow)]
    digest: Cow<'a, str>,
    #[serde(borrow, default)]
    annotations: Option<LeanAnnotations<'a>>,
}

/// The two name annotations, borrowed. Read as the map they are, as the full parse reads them: a key
/// given twice means its last value (not an error), and every value must be a string.
#[derive(Default)]
struct LeanAnnotations<'a> {
    name: Option<Cow<'a, str>>,
    ref_name: Option<Cow<'a, str>>,
}

/// A string borrowed from the document when it holds no escapes.
#[derive(Deserialize)]
#[serde(transparent)]
struct Text<'a>(#[serde(borrow)] Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for LeanAnnotations<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct Entries<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for Entries<'a> {
            type Value = LeanAnnotations<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a map of strings to strings")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<Self::Value, A::Error> {
                let mut out = LeanAnnotations::default();
                while let Some(Text(key)) = map.next_key()? {
                    let Text(value) = map.next_value()?;
                    match key.as_ref() {
                        CONTAINERD_NAME => out.name = Some(value),
                        REF_NAME => out.ref_name = Some(value),
                        _ => {}
                    }
                }
                Ok(out)
            }
        }
        d.deserialize_map(Entries(std::marker::PhantomData))
    }
}

impl IndexEntry for LeanEntry<'_> {
    fn digest_str(&self) -> &str {
        &self.digest
    }
    fn annotation(&self, key: &str) -> Option<&str> {
        let a = self.annotations.as_ref()?;
        match key {
            CONTAINERD_NAME => a.name.as_deref(),
            REF_NAME => a.ref_name.as_deref(),
            _ => None,
        }
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
/// answer is an error listing every candidate by full name.
pub(crate) fn choose<E: IndexEntry>(
    layout: &Layout,
    entries: &[E],
    hits: &[usize],
    input: &str,
) -> Result<usize> {
    let Some(&first) = hits.first() else {
        return Err(Error::NotFound {
            input: input.to_string(),
            layout: layout.root().to_path_buf(),
        });
    };
    let digests: BTreeSet<&str> = hits.iter().map(|&i| entries[i].digest_str()).collect();
    if digests.len() > 1 {
        let mut candidates: Vec<String> = hits
            .iter()
            .map(|&i| {
                format!(
                    "{} ({})",
                    display_name(&entries[i]),
                    entries[i].digest_str()
                )
            })
            .collect();
        candidates.sort();
        candidates.dedup();
        return Err(Error::Ambiguous {
            input: input.to_string(),
            layout: layout.root().to_path_buf(),
            candidates,
        });
    }
    Ok(first)
}

/// Resolves what a user typed to one descriptor, then, with a platform, descends through image
/// indexes to the manifest for it.
///
/// `index.json` is scanned with borrowed entries (no allocation per entry); only the entry chosen is
/// parsed in full, so resolving in a 100,000-entry index stays fast.
pub fn resolve(layout: &Layout, input: &str, platform: Option<&Platform>) -> Result<Descriptor> {
    let path = layout.root().join("index.json");
    let bytes = std::fs::read(&path).at(&path)?;
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
    let found = match find_entries(&entries, input)? {
        hits if hits.is_empty() && digest::looks_like_digest(input) => {
            manifest_blob(layout, input)?
        }
        hits => {
            let i = choose(layout, &entries, &hits, input)?;
            let d: Descriptor = serde_json::from_str(raw.manifests[i].get())
                .map_err(|e| malformed(format!("manifests[{i}]: {e}")))?;
            digest::validate(d.digest()).map_err(|e| malformed(format!("manifests[{i}]: {e}")))?;
            d
        }
    };
    match platform {
        Some(p) => select_platform(layout, found, p),
        None => Ok(found),
    }
}

#[derive(Deserialize)]
struct RawIndex<'a> {
    #[serde(borrow)]
    manifests: Vec<&'a RawValue>,
}

/// What a user typed, found among index entries.
#[derive(Clone, Debug)]
pub(crate) enum Found {
    /// The entry at this position.
    Entry(usize),
    /// A manifest or index blob that no entry names, given by digest.
    Blob(Box<Descriptor>),
}

/// Finds what a user typed among already-read entries (see [`resolve`]); no platform descent.
pub(crate) fn find_in<E: IndexEntry>(layout: &Layout, entries: &[E], input: &str) -> Result<Found> {
    match find_entries(entries, input)? {
        hits if hits.is_empty() && digest::looks_like_digest(input) => {
            manifest_blob(layout, input).map(|d| Found::Blob(Box::new(d)))
        }
        hits => choose(layout, entries, &hits, input).map(Found::Entry),
    }
}

/// Resolves within an already-read index (see [`resolve`]); no platform descent.
pub fn resolve_in(layout: &Layout, index: &ImageIndex, input: &str) -> Result<Descriptor> {
    let entries = index.manifests();
    Ok(match find_in(layout, entries, input)? {
        Found::Entry(i) => entries[i].clone(),
        Found::Blob(d) => *d,
    })
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

/// A parsed `oci-layout://` URL: the layout directory and the reference inside it (`None` when the
/// URL names only the layout).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayoutUrl {
    /// The layout directory: the longest prefix of the path that holds an `oci-layout` file.
    pub layout: PathBuf,
    /// What follows it: a name, `:tag` or `@digest` as the user wrote it; `None` for none.
    pub reference: Option<String>,
}

/// Parses `oci-layout://PATH[:TAG|@DIGEST]` or `oci-layout://PATH/NAME[:TAG][@DIGEST]`. The layout is
/// the longest prefix of PATH that is a directory holding an `oci-layout` file; the rest is the name,
/// so a `:` inside the directory part is no problem.
pub fn parse_layout_url(url: &str) -> Result<LayoutUrl> {
    let rest = url
        .strip_prefix("oci-layout://")
        .ok_or_else(|| Error::NotALayoutUrl {
            url: url.to_string(),
        })?;
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

    #[test]
    fn layout_urls_take_the_longest_layout_prefix() {
        let tmp = tempfile::tempdir().unwrap();
        let store = tmp.path().join("st:ore");
        Layout::init(&store).unwrap();
        Layout::init(store.join("nested")).unwrap();
        let base = store.display().to_string();
        let d = "sha256:d72195534bcc2ebf9df34eec4f3c3adec4ae0b09d22bb40644397823c06fe290";
        let cases: Vec<(String, PathBuf, Option<String>)> = vec![
            (base.clone(), store.clone(), None),
            (format!("{base}:3.16"), store.clone(), Some("3.16".into())),
            (format!("{base}@{d}"), store.clone(), Some(d.into())),
            (
                format!("{base}/alpine:3.16"),
                store.clone(),
                Some("alpine:3.16".into()),
            ),
            (
                format!("{base}/alpine:3.16@{d}"),
                store.clone(),
                Some(d.into()),
            ),
            (
                format!("{base}/library/alpine"),
                store.clone(),
                Some("library/alpine".into()),
            ),
            (
                format!("{base}/nested/x:1"),
                store.join("nested"),
                Some("x:1".into()),
            ),
            (format!("{base}/nested"), store.join("nested"), None),
        ];
        for (rest, layout, reference) in cases {
            let url = format!("oci-layout://{rest}");
            assert_eq!(
                parse_layout_url(&url).unwrap(),
                LayoutUrl { layout, reference },
                "{url}"
            );
        }
        for bad in [
            "oci-layout:///nonexistent/x:1".to_string(),
            format!("oci-layout://{base}@sha256:../../x"),
            format!("{base}:1"),
        ] {
            assert!(parse_layout_url(&bad).is_err(), "{bad}");
        }
    }

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

    /// Found by the `index_json` fuzz target: the fast scan refused a name annotation given twice
    /// ("duplicate field") where the full parse takes the last value, and took any value for the
    /// other annotations where the full parse wants strings. Both now read annotations alike.
    #[test]
    fn fast_scan_reads_annotations_as_the_full_parse_does() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::init(dir.path()).unwrap();
        let entry = |annotations: &str| {
            format!(
                r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"{}","size":2,"digest":"{}","annotations":{{{annotations}}}}}]}}"#,
                graph::OCI_MANIFEST,
                digest::EMPTY_JSON
            )
        };
        let twice = entry(
            r#""org.opencontainers.image.ref.name":"a","org.opencontainers.image.ref.name":"b""#,
        );
        let not_a_string = entry(r#""x":1,"org.opencontainers.image.ref.name":"v1""#);
        let escaped = entry(r#""io.containerd.image.name":"docker.io/library/\u0061lpine:1""#);
        for (text, input, found) in [
            (&twice, "b", true),
            (&twice, "a", false),
            (&not_a_string, "v1", false),
            (&escaped, "alpine:1", true),
        ] {
            std::fs::write(dir.path().join("index.json"), text).unwrap();
            let fast = resolve(&layout, input, None).map_err(|e| e.to_string());
            let full = layout
                .read_index()
                .and_then(|index| resolve_in(&layout, &index, input))
                .map_err(|e| e.to_string());
            // The same descriptor, or both an error (whose wording may differ).
            assert_eq!(fast.as_ref().ok(), full.as_ref().ok(), "{text} {input}");
            assert_eq!(
                fast.is_ok(),
                full.is_ok(),
                "{text} {input}: {fast:?} {full:?}"
            );
            assert_eq!(fast.is_ok(), found, "{text} {input}: {fast:?}");
        }
    }

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
