//! `index.json` as a document to rewrite: every entry keeps its original JSON and every top-level key
//! is kept, so a rewrite changes exactly what it means to change and nothing a tool of another kind
//! wrote there (`platform."os.version"`, unknown keys, `data`, `urls`, ...) is lost.
//!
//! Memory: the document holds the text it was read from once (entries keep ranges of it) plus each
//! entry's parsed descriptor; it is written straight to the file, entry by entry, with no second copy
//! of the whole document.

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Write};
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use oci_spec::image::{Descriptor, ImageIndex};
use serde_json::value::RawValue;

use crate::digest;
use crate::error::{Error, Result};
use crate::resolve::IndexEntry;

/// An entry's JSON text as read: a range of the document it came from, which the entries share (so
/// the text is held once, not copied per entry).
#[derive(Clone, Debug)]
struct Source {
    text: Arc<String>,
    range: Range<usize>,
}

impl Source {
    fn get(&self) -> &str {
        // The range was taken from this text when it was parsed: always in bounds, on char
        // boundaries (it delimits a JSON value).
        self.text.get(self.range.clone()).unwrap_or_default()
    }
}

/// The JSON an entry is written back as.
#[derive(Clone, Debug)]
enum Raw {
    /// Unchanged: written back byte for byte.
    Original(Source),
    /// Only `annotations` changed: the original with that one key replaced.
    Reannotated(Source),
    /// Added by us: serialized from the descriptor.
    New,
}

/// One `index.json` entry: its descriptor and the JSON it came from.
#[derive(Clone, Debug)]
pub struct Entry {
    descriptor: Descriptor,
    raw: Raw,
}

impl Entry {
    /// A new entry, written from `descriptor` alone.
    pub fn new(descriptor: Descriptor) -> Entry {
        Entry {
            descriptor,
            raw: Raw::New,
        }
    }

    /// An entry read from the JSON text at `range` of `text`, which it keeps. `Err` holds the
    /// reason it is not one.
    fn from_source(text: &Arc<String>, range: Range<usize>) -> std::result::Result<Entry, String> {
        let source = Source {
            text: Arc::clone(text),
            range,
        };
        let json = source.get();
        let descriptor: Descriptor =
            serde_json::from_str(json).map_err(|e| match crate::graph::descriptor_fault(json) {
                Some(fault) => format!("{}: {e}", fault.trim_start_matches('.')),
                None => e.to_string(),
            })?;
        digest::validate(descriptor.digest()).map_err(|e| e.to_string())?;
        Ok(Entry {
            descriptor,
            raw: Raw::Original(source),
        })
    }

    /// The parsed descriptor.
    pub fn descriptor(&self) -> &Descriptor {
        &self.descriptor
    }

    /// Replaces the entry's annotations; the rest of its JSON stays as it was. Setting the
    /// annotations it already has changes nothing.
    pub fn set_annotations(&mut self, annotations: Option<HashMap<String, String>>) {
        if *self.descriptor.annotations() == annotations {
            return;
        }
        self.descriptor.set_annotations(annotations);
        self.raw = match std::mem::replace(&mut self.raw, Raw::New) {
            Raw::Original(r) | Raw::Reannotated(r) => Raw::Reannotated(r),
            Raw::New => Raw::New,
        };
    }

    /// Whether this entry is written back exactly as it was read.
    pub fn is_original(&self) -> bool {
        matches!(self.raw, Raw::Original(_))
    }

    fn write_to(&self, w: &mut dyn Write) -> io::Result<()> {
        match &self.raw {
            Raw::Original(r) => w.write_all(r.get().as_bytes()),
            Raw::Reannotated(r) => {
                // The original as a JSON object (keys sorted, as everything we write), with only its
                // `annotations` key replaced.
                let mut object: serde_json::Map<String, serde_json::Value> =
                    serde_json::from_str(r.get()).map_err(io::Error::other)?;
                match self.descriptor.annotations() {
                    Some(a) => {
                        let value = serde_json::to_value(a).map_err(io::Error::other)?;
                        object.insert("annotations".into(), value);
                    }
                    None => {
                        object.remove("annotations");
                    }
                }
                serde_json::to_writer(w, &object).map_err(io::Error::other)
            }
            // Through a `Value`, whose maps are sorted: the same descriptor is always the same bytes,
            // whatever order its annotation hash map holds the keys in.
            Raw::New => serde_json::to_value(&self.descriptor)
                .and_then(|v| serde_json::to_writer(w, &v))
                .map_err(io::Error::other),
        }
    }
}

impl std::borrow::Borrow<Descriptor> for Entry {
    fn borrow(&self) -> &Descriptor {
        &self.descriptor
    }
}

impl IndexEntry for Entry {
    fn digest_str(&self) -> &str {
        self.descriptor.digest_str()
    }
    fn annotation(&self, key: &str) -> Option<&str> {
        self.descriptor.annotation(key)
    }
}

/// `index.json` for a read-modify-write: entries with their original JSON, and every other top-level
/// key as it was.
#[derive(Clone, Debug)]
pub struct IndexDocument {
    /// Top-level keys other than `manifests`, with their JSON as read.
    top: BTreeMap<String, Box<RawValue>>,
    entries: Vec<Entry>,
}

impl IndexDocument {
    /// An empty index (schema version 2, the OCI index media type).
    pub fn empty() -> IndexDocument {
        let mut top = BTreeMap::new();
        for (k, v) in [
            ("schemaVersion", "2"),
            ("mediaType", "\"application/vnd.oci.image.index.v1+json\""),
        ] {
            // Literal JSON: cannot fail.
            if let Ok(raw) = RawValue::from_string(v.to_string()) {
                top.insert(k.to_string(), raw);
            }
        }
        IndexDocument {
            top,
            entries: Vec::new(),
        }
    }

    /// Parses an `index.json` document, checking what `oci_spec`'s `ImageIndex` checks
    /// (`schemaVersion` a number, `manifests` an array of descriptors) and every entry's digest.
    /// The bytes become the entries' shared source text (not copied).
    pub fn parse(bytes: Vec<u8>, path: &Path) -> Result<IndexDocument> {
        let malformed = |reason: String| Error::Malformed {
            what: path.display().to_string(),
            reason: format!("not a valid image index: {reason}"),
        };
        let text = Arc::new(
            String::from_utf8(bytes)
                .map_err(|e| malformed(format!("not UTF-8: {}", e.utf8_error())))?,
        );
        let base = text.as_ptr() as usize;
        // Where a value borrowed from `text` lies in it.
        let range_of = |r: &RawValue| {
            let start = r.get().as_ptr() as usize - base;
            start..start + r.get().len()
        };
        let mut top: BTreeMap<String, &RawValue> =
            serde_json::from_str(&text).map_err(|e| malformed(e.to_string()))?;
        let manifests = top
            .remove("manifests")
            .ok_or_else(|| malformed("missing field `manifests`".into()))?;
        let schema = top
            .get("schemaVersion")
            .ok_or_else(|| malformed("missing field `schemaVersion`".into()))?;
        serde_json::from_str::<u32>(schema.get())
            .map_err(|e| malformed(format!("schemaVersion: {e}")))?;
        if let Some(m) = top.get("mediaType") {
            serde_json::from_str::<String>(m.get())
                .map_err(|e| malformed(format!("mediaType: {e}")))?;
        }
        if let Some(a) = top.get("annotations") {
            serde_json::from_str::<HashMap<String, String>>(a.get())
                .map_err(|e| malformed(format!("annotations: {e}")))?;
        }
        let raws: Vec<&RawValue> = serde_json::from_str(manifests.get())
            .map_err(|e| malformed(format!("manifests: {e}")))?;
        let entries = raws
            .into_iter()
            .enumerate()
            .map(|(i, r)| {
                Entry::from_source(&text, range_of(r))
                    .map_err(|e| malformed(format!("manifests[{i}]: {e}")))
            })
            .collect::<Result<Vec<_>>>()?;
        let top = top.into_iter().map(|(k, v)| (k, v.to_owned())).collect();
        Ok(IndexDocument { top, entries })
    }

    /// The entries, in order.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The entries' descriptors, in order.
    pub fn descriptors(&self) -> impl Iterator<Item = &Descriptor> {
        self.entries.iter().map(|e| &e.descriptor)
    }

    /// Mutable access to one entry.
    pub fn entry_mut(&mut self, i: usize) -> Option<&mut Entry> {
        self.entries.get_mut(i)
    }

    /// Appends an entry.
    pub fn push(&mut self, entry: Entry) {
        self.entries.push(entry);
    }

    /// Keeps only the entries `keep` says yes to; the kept ones are untouched.
    pub fn retain(&mut self, mut keep: impl FnMut(&Descriptor) -> bool) {
        self.entries.retain(|e| keep(&e.descriptor));
    }

    /// Takes every entry out (to be rearranged and put back with [`IndexDocument::set_entries`]).
    pub fn take_entries(&mut self) -> Vec<Entry> {
        std::mem::take(&mut self.entries)
    }

    /// Replaces the entries.
    pub fn set_entries(&mut self, entries: Vec<Entry>) {
        self.entries = entries;
    }

    /// Whether every entry and key is written back as it was read.
    pub fn is_original(&self) -> bool {
        self.entries.iter().all(Entry::is_original)
    }

    /// Writes the document: top-level keys in sorted order, entries in order, each entry as
    /// [`Entry`] says; a newline at the end.
    pub fn write_to(&self, w: &mut dyn Write) -> io::Result<()> {
        w.write_all(b"{")?;
        let mut manifests_done = false;
        let mut first = true;
        let mut comma = |w: &mut dyn Write| -> io::Result<()> {
            if !std::mem::take(&mut first) {
                w.write_all(b",")?;
            }
            Ok(())
        };
        for (key, value) in &self.top {
            if !manifests_done && key.as_str() > "manifests" {
                comma(w)?;
                self.write_manifests(w)?;
                manifests_done = true;
            }
            comma(w)?;
            serde_json::to_writer(&mut *w, key).map_err(io::Error::other)?;
            w.write_all(b":")?;
            w.write_all(value.get().as_bytes())?;
        }
        if !manifests_done {
            comma(w)?;
            self.write_manifests(w)?;
        }
        w.write_all(b"}\n")
    }

    fn write_manifests(&self, w: &mut dyn Write) -> io::Result<()> {
        w.write_all(b"\"manifests\":[")?;
        for (i, e) in self.entries.iter().enumerate() {
            if i > 0 {
                w.write_all(b",")?;
            }
            e.write_to(w)?;
        }
        w.write_all(b"]")
    }
}

impl From<&ImageIndex> for IndexDocument {
    /// An index we built ourselves: every entry new, the top-level keys as `oci_spec` writes them.
    fn from(index: &ImageIndex) -> IndexDocument {
        let mut doc = IndexDocument::empty();
        doc.top.clear();
        if let Ok(serde_json::Value::Object(map)) = serde_json::to_value(index) {
            for (k, v) in map {
                if k == "manifests" {
                    continue;
                }
                if let Ok(raw) = serde_json::value::to_raw_value(&v) {
                    doc.top.insert(k, raw);
                }
            }
        }
        doc.entries = index.manifests().iter().cloned().map(Entry::new).collect();
        doc
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> IndexDocument {
        IndexDocument::parse(text.as_bytes().to_vec(), Path::new("index.json")).unwrap()
    }

    fn written(doc: &IndexDocument) -> serde_json::Value {
        let mut out = Vec::new();
        doc.write_to(&mut out).unwrap();
        serde_json::from_slice(&out).unwrap()
    }

    const ENTRY: &str = r#"{"mediaType":"application/vnd.oci.image.manifest.v1+json","size":2,"digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","platform":{"os":"windows","architecture":"amd64","os.version":"10.0.17763.1","os.features":["win32k"]},"x-unknown":{"a":[1,2]},"annotations":{"org.opencontainers.image.ref.name":"v1","other":"o"}}"#;

    #[test]
    fn unknown_keys_survive_and_annotations_alone_change() {
        let text = format!(
            r#"{{"schemaVersion":2,"x-top":{{"k":true}},"manifests":[{ENTRY},{ENTRY}],"annotations":{{"a":"b"}}}}"#
        );
        let original: serde_json::Value = serde_json::from_str(&text).unwrap();
        let mut doc = parse(&text);
        assert!(doc.is_original());
        assert_eq!(written(&doc), original);

        let mut a = doc.entries()[1].descriptor().annotations().clone().unwrap();
        a.insert("org.opencontainers.image.ref.name".into(), "v2".into());
        doc.entry_mut(1).unwrap().set_annotations(Some(a));
        let out = written(&doc);
        assert_eq!(out["manifests"][0], original["manifests"][0]);
        let mut want = original["manifests"][1].clone();
        want["annotations"]["org.opencontainers.image.ref.name"] = "v2".into();
        assert_eq!(out["manifests"][1], want);
        assert_eq!(out["x-top"], original["x-top"]);
    }

    #[test]
    fn bad_documents_are_refused_with_where() {
        for (text, want) in [
            ("{", "not a valid image index"),
            (r#"{"manifests":[]}"#, "schemaVersion"),
            (r#"{"schemaVersion":"2","manifests":[]}"#, "schemaVersion"),
            (r#"{"schemaVersion":2}"#, "manifests"),
            (
                r#"{"schemaVersion":2,"manifests":[{"mediaType":"a","size":1,"digest":"sha256:../x"}]}"#,
                "manifests[0]",
            ),
        ] {
            let err = IndexDocument::parse(text.as_bytes().to_vec(), Path::new("index.json"))
                .unwrap_err()
                .to_string();
            assert!(err.contains(want), "{text}: {err}");
        }
    }
}
