//! Property test of the one graph walk: random layouts of indexes, manifests, artifacts and plain
//! blobs, with shared blobs, duplicate and mislabelled descriptors, wrong sizes, missing blobs,
//! unnamed entries, referrers and fallback tags. gc's survivors (or its refusal), fsck's verdict and
//! export's member list are checked against a conservative marker written here from the rules, not
//! from the library's code.
//!
//! `PROPTEST_CASES` sets the number of cases (default 3000).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

/// How many cases ended which way: (gc refused, gc collected, export refused, entries dropped).
static OUTCOMES: [AtomicUsize; 4] = [const { AtomicUsize::new(0) }; 4];

use ocilayout::archive::{self, ExportOptions};
use ocilayout::{fsck, gc, graph, Layout};
use proptest::prelude::*;
use serde_json::{json, Value};

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
const ARTIFACT: &str = "application/vnd.oci.artifact.manifest.v1+json";
const MANIFEST_TYPES: [&str; 5] = [
    OCI_MANIFEST,
    OCI_INDEX,
    DOCKER_MANIFEST,
    DOCKER_LIST,
    ARTIFACT,
];

/// One blob of a generated layout. Node `i` refers only to nodes before it (content addressing
/// makes cycles impossible).
#[derive(Clone, Debug)]
struct NodeSpec {
    /// 0 binary, 1 plain JSON, 2 JSON with a `config` that is no descriptor (an image config),
    /// 3 manifest, 4 index, 5 artifact manifest.
    kind: u8,
    /// Descriptors to earlier nodes: (target, media type choice, wrong size).
    refs: Vec<(usize, u8, bool)>,
    /// The document's own `mediaType`: 0, 6, 7 none, 1, 4, 5 its true type, 2 another manifest
    /// type, 3 `application/json`.
    doc_media_type: u8,
    /// For a manifest: a `subject` (an earlier node, not followed).
    subject: Option<usize>,
    /// The blob is not in the store.
    missing: bool,
}

/// One `index.json` entry: (target, media type choice, wrong size, name: 0 unnamed, 1 the
/// `sha256-<hex>` fallback tag of another node, 2.. a tag).
type EntrySpec = (usize, u8, bool, u8, usize);

fn node_spec() -> impl Strategy<Value = NodeSpec> {
    (
        0u8..6,
        proptest::collection::vec(
            (any::<usize>(), 0u8..12, proptest::bool::weighted(0.03)),
            0..4,
        ),
        0u8..8,
        proptest::option::weighted(0.2, any::<usize>()),
        proptest::bool::weighted(0.02),
    )
        .prop_map(|(kind, refs, doc_media_type, subject, missing)| NodeSpec {
            kind,
            refs,
            doc_media_type,
            subject,
            missing,
        })
}

fn entry_spec() -> impl Strategy<Value = EntrySpec> {
    (
        any::<usize>(),
        0u8..12,
        proptest::bool::weighted(0.03),
        0u8..6,
        any::<usize>(),
    )
}

/// The media type a descriptor gives a node: its true type (half the time), or one of the lies.
fn descriptor_type(kind: u8, choice: u8) -> &'static str {
    match choice {
        0 | 1 | 8..=11 => match kind {
            0 => "application/octet-stream",
            1 => "application/json",
            2 => "application/vnd.oci.image.config.v1+json",
            3 => OCI_MANIFEST,
            4 => OCI_INDEX,
            _ => ARTIFACT,
        },
        2 => "application/json",
        3 => "application/octet-stream",
        4 => OCI_MANIFEST,
        5 => OCI_INDEX,
        6 => DOCKER_MANIFEST,
        _ => "application/vnd.example.unknown",
    }
}

fn true_type(kind: u8) -> &'static str {
    descriptor_type(kind, 0)
}

/// A generated layout: blob bytes by node, and index.json's entries.
struct Built {
    digests: Vec<String>,
    bytes: Vec<Vec<u8>>,
    missing: Vec<bool>,
    entries: Vec<Value>,
}

fn build(nodes: &[NodeSpec], entries: &[EntrySpec]) -> Built {
    let mut digests: Vec<String> = Vec::new();
    let mut bytes: Vec<Vec<u8>> = Vec::new();
    let desc = |digests: &[String], bytes: &[Vec<u8>], kind: u8, j: usize, mt: u8, wrong: bool| {
        json!({
            "mediaType": descriptor_type(kind, mt),
            "digest": digests[j],
            "size": bytes[j].len() as u64 + u64::from(wrong),
        })
    };
    for (i, n) in nodes.iter().enumerate() {
        let refs: Vec<Value> = if i == 0 {
            Vec::new()
        } else {
            n.refs
                .iter()
                .map(|&(t, mt, wrong)| {
                    let j = t % i;
                    desc(&digests, &bytes, nodes[j].kind, j, mt, wrong)
                })
                .collect()
        };
        let mut doc = match n.kind {
            0 => {
                bytes.push(vec![0xff, i as u8, n.refs.len() as u8, 0x8b]);
                digests.push(ocilayout::digest::sha256(&bytes[i]).to_string());
                continue;
            }
            1 => json!({"plain": i, "mentions": refs.first().map(|r| r["digest"].clone())}),
            2 => json!({"architecture": "amd64", "config": {"Env": ["N=1"]}, "n": i}),
            3 => {
                let mut m = json!({"schemaVersion": 2, "layers": refs.get(1..).unwrap_or(&[])});
                if let Some(c) = refs.first() {
                    m["config"] = c.clone();
                }
                m
            }
            4 => json!({"schemaVersion": 2, "manifests": refs, "n": i}),
            _ => json!({"blobs": refs, "n": i}),
        };
        let own = match n.doc_media_type {
            1 | 4 | 5 => Some(true_type(n.kind)),
            2 => Some(MANIFEST_TYPES[(i + usize::from(n.kind)) % MANIFEST_TYPES.len()]),
            3 => Some("application/json"),
            _ => None,
        };
        if let Some(own) = own {
            doc["mediaType"] = json!(own);
        }
        if let (3, Some(s), true) = (n.kind, n.subject, i > 0) {
            let j = s % i;
            doc["subject"] = desc(&digests, &bytes, nodes[j].kind, j, 0, false);
        }
        bytes.push(serde_json::to_vec(&doc).unwrap());
        digests.push(ocilayout::digest::sha256(&bytes[i]).to_string());
    }
    let entries = entries
        .iter()
        .map(|&(t, mt, wrong, name, other)| {
            let j = t % nodes.len();
            let mut e = desc(&digests, &bytes, nodes[j].kind, j, mt, wrong);
            match name {
                0 => {}
                1 => {
                    let s = &digests[other % nodes.len()];
                    let tag = format!("sha256-{}", s.strip_prefix("sha256:").unwrap());
                    e["annotations"] = json!({"org.opencontainers.image.ref.name": tag});
                }
                n => {
                    e["annotations"] = json!({"org.opencontainers.image.ref.name": format!("t{n}")})
                }
            }
            e
        })
        .collect();
    Built {
        digests,
        missing: nodes.iter().map(|n| n.missing).collect(),
        bytes,
        entries,
    }
}

/// The conservative marker, from the rules: a blob is a manifest when some descriptor reaching it
/// says so, or its content's `mediaType` says so, or its content has the shape of one (a field that
/// refers downward, every such field well formed). A manifest's children are followed; `subject` is
/// not.
struct Marker<'a> {
    content: BTreeMap<String, &'a [u8]>,
}

/// A well-formed descriptor: `mediaType` and `digest` strings, a non-negative integer `size`.
fn descriptor_like(v: &Value) -> Option<(String, String, u64)> {
    Some((
        v.get("mediaType")?.as_str()?.to_string(),
        v.get("digest")?.as_str()?.to_string(),
        v.get("size")?.as_u64()?,
    ))
}

/// A document's children (media type, digest, size) and whether it has a field that refers
/// downward.
type Children = (Vec<(String, String, u64)>, bool);

#[derive(Default)]
struct Marked {
    /// Every digest reached, with every descriptor (media type, size) that reached it.
    reached: BTreeMap<String, Vec<(String, u64)>>,
}

impl Marker<'_> {
    fn doc(&self, d: &str) -> Option<Value> {
        self.content
            .get(d)
            .and_then(|b| serde_json::from_slice(b).ok())
    }

    /// The content's own `mediaType` and, when every downward field is well formed, its children
    /// and whether it has any such field.
    fn read(&self, d: &str) -> (Option<String>, Option<Children>) {
        let Some(Value::Object(doc)) = self.doc(d) else {
            return (None, None);
        };
        let own = doc
            .get("mediaType")
            .and_then(Value::as_str)
            .map(str::to_string);
        if doc.get("mediaType").is_some_and(|m| !m.is_string()) {
            return (own, None);
        }
        let mut children = Vec::new();
        let mut shaped = false;
        for key in ["manifests", "config", "layers", "blobs"] {
            let Some(v) = doc.get(key) else { continue };
            shaped = true;
            let list: Vec<&Value> = match (key, v) {
                ("config", v) => vec![v],
                (_, Value::Array(a)) => a.iter().collect(),
                _ => return (own, None),
            };
            for c in list {
                match descriptor_like(c) {
                    Some(c) => children.push(c),
                    None => return (own, None),
                }
            }
        }
        (own, Some((children, shaped)))
    }

    fn is_manifest(&self, d: &str, descs: &[(String, u64)]) -> bool {
        if descs
            .iter()
            .any(|(mt, _)| MANIFEST_TYPES.contains(&mt.as_str()))
        {
            return true;
        }
        if !self.content.contains_key(d) {
            return false;
        }
        let (own, parsed) = self.read(d);
        own.is_some_and(|m| MANIFEST_TYPES.contains(&m.as_str()))
            || parsed.is_some_and(|(_, shaped)| shaped)
    }

    fn mark(&self, roots: &[(String, String, u64)]) -> Marked {
        let mut m = Marked::default();
        for (mt, d, size) in roots {
            m.reached
                .entry(d.clone())
                .or_default()
                .push((mt.clone(), *size));
        }
        loop {
            let mut added = false;
            let snapshot = m.reached.clone();
            for (d, descs) in &snapshot {
                if !self.is_manifest(d, descs) || !self.content.contains_key(d) {
                    continue;
                }
                let Some((children, _)) = self.read(d).1 else {
                    continue;
                };
                for (mt, c, size) in children {
                    let list = m.reached.entry(c).or_default();
                    if !list.contains(&(mt.clone(), size)) {
                        list.push((mt, size));
                        added = true;
                    }
                }
            }
            if !added {
                return m;
            }
        }
    }

    /// Digests fsck must report: missing, a size some descriptor gets wrong, a manifest that does
    /// not read as one, a document whose `mediaType` disagrees with a descriptor calling it a
    /// manifest.
    fn problems(&self, m: &Marked) -> BTreeSet<String> {
        m.reached
            .iter()
            .filter(|(d, descs)| {
                let Some(bytes) = self.content.get(d.as_str()) else {
                    return true;
                };
                let (own, parsed) = self.read(d);
                descs.iter().any(|(_, s)| *s != bytes.len() as u64)
                    || (self.is_manifest(d, descs) && parsed.is_none())
                    || own.as_ref().is_some_and(|own| {
                        descs
                            .iter()
                            .any(|(mt, _)| MANIFEST_TYPES.contains(&mt.as_str()) && mt != own)
                    })
            })
            .map(|(d, _)| d.clone())
            .collect()
    }

    /// Whether gc must refuse: a reached manifest that is missing, wrongly sized or unreadable.
    fn gc_refuses(&self, m: &Marked) -> bool {
        m.reached.iter().any(|(d, descs)| {
            self.is_manifest(d, descs)
                && match self.content.get(d.as_str()) {
                    None => true,
                    Some(b) => {
                        descs.iter().any(|(_, s)| *s != b.len() as u64) || self.read(d).1.is_none()
                    }
                }
        })
    }

    /// The subject of an entry that is a referrer: a `sha256-<hex>` tag, or an unnamed entry whose
    /// document has `subject.digest`.
    fn subject(&self, entry: &Value) -> Option<String> {
        match entry["annotations"]["org.opencontainers.image.ref.name"].as_str() {
            Some(tag) => tag
                .strip_prefix("sha256-")
                .filter(|h| h.len() == 64)
                .map(|h| format!("sha256:{h}")),
            None => self
                .doc(entry["digest"].as_str()?)?
                .get("subject")?
                .get("digest")?
                .as_str()
                .map(str::to_string),
        }
    }
}

fn as_root(e: &Value) -> (String, String, u64) {
    descriptor_like(e).unwrap()
}

fn check(nodes: &[NodeSpec], entries: &[EntrySpec]) -> Result<(), TestCaseError> {
    let built = build(nodes, entries);
    let tmp = scratch();
    let layout = Layout::init(tmp.path()).unwrap();
    let mut content = BTreeMap::new();
    for i in 0..built.bytes.len() {
        if !built.missing[i] {
            let path = blob_path(tmp.path(), &built.digests[i]);
            fs::write(path, &built.bytes[i]).unwrap();
            content.insert(built.digests[i].clone(), &built.bytes[i][..]);
        }
    }
    let index = json!({"schemaVersion": 2, "manifests": built.entries});
    fs::write(tmp.path().join("index.json"), index.to_string()).unwrap();
    let marker = Marker { content };
    let all: Vec<_> = built.entries.iter().map(as_root).collect();
    let everything = marker.mark(&all);

    // The walk reaches exactly what the marker reaches, children before parents.
    let index = layout.read_index().unwrap();
    let g = graph::walk(layout.blobs(), index.manifests()).unwrap();
    let walked: BTreeSet<String> = g
        .nodes
        .iter()
        .map(|n| n.descriptor.digest().to_string())
        .collect();
    let want: BTreeSet<String> = everything.reached.keys().cloned().collect();
    prop_assert_eq!(&walked, &want, "walk");
    for (i, n) in g.nodes.iter().enumerate() {
        for c in &n.children {
            let at = g
                .nodes
                .iter()
                .position(|m| m.descriptor.digest() == c)
                .unwrap();
            prop_assert!(
                at < i,
                "{} listed before its child {}",
                n.descriptor.digest(),
                c
            );
        }
    }

    // fsck: the verdict and every problem by digest.
    let problems = marker.problems(&everything);
    let report = fsck::fsck(&layout).unwrap();
    let found: BTreeSet<String> = report
        .problems
        .iter()
        .map(|p| p.digest.to_string())
        .collect();
    prop_assert_eq!(&found, &problems, "fsck: {:?}", report.problems);
    prop_assert_eq!(report.ok, problems.is_empty());

    // export of the whole layout: refused on any problem, else exactly the closure.
    let mut out = Vec::new();
    match archive::export(&layout, &mut out, &ExportOptions::default()) {
        Ok(_) => {
            prop_assert!(problems.is_empty(), "export passed over {:?}", problems);
            prop_assert_eq!(&members(&out), &want, "export members");
        }
        Err(e) => {
            OUTCOMES[2].fetch_add(1, Ordering::Relaxed);
            prop_assert!(!problems.is_empty(), "export refused a sound layout: {}", e)
        }
    }

    // gc: roots are the entries that are no referrer, then referrers whose subject is reached.
    let mut roots = Vec::new();
    let mut pending = Vec::new();
    for e in &built.entries {
        match marker.subject(e) {
            Some(s) => pending.push((s, as_root(e))),
            None => roots.push(as_root(e)),
        }
    }
    let mut kept = marker.mark(&roots);
    loop {
        let (alive, gone): (Vec<_>, Vec<_>) = pending
            .into_iter()
            .partition(|(s, _)| kept.reached.contains_key(s));
        pending = gone;
        if alive.is_empty() {
            break;
        }
        roots.extend(alive.into_iter().map(|(_, r)| r));
        kept = marker.mark(&roots);
    }
    let before = present(tmp.path());
    let result = gc::gc(&layout, &gc::GcOptions::default());
    if marker.gc_refuses(&kept) {
        OUTCOMES[0].fetch_add(1, Ordering::Relaxed);
        prop_assert!(result.is_err(), "gc swept past a manifest it cannot read");
        prop_assert_eq!(present(tmp.path()), before, "a refused gc removed blobs");
    } else {
        OUTCOMES[1].fetch_add(1, Ordering::Relaxed);
        if !pending.is_empty() {
            OUTCOMES[3].fetch_add(1, Ordering::Relaxed);
        }
        let report = result.map_err(|e| TestCaseError::fail(format!("gc refused: {e}")))?;
        let survivors: BTreeSet<String> = before
            .iter()
            .filter(|d| kept.reached.contains_key(*d))
            .cloned()
            .collect();
        prop_assert_eq!(present(tmp.path()), survivors, "gc survivors");
        prop_assert_eq!(report.removed_entries.len(), pending.len());
        prop_assert_eq!(
            layout.read_index().unwrap().manifests().len(),
            built.entries.len() - pending.len()
        );
    }
    Ok(())
}

/// A scratch directory, in memory where there is one: the walk, not the disk, is under test.
fn scratch() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        if let Ok(t) = tempfile::tempdir_in(shm) {
            return t;
        }
    }
    tempfile::tempdir().unwrap()
}

fn blob_path(root: &Path, digest: &str) -> std::path::PathBuf {
    root.join("blobs/sha256")
        .join(digest.strip_prefix("sha256:").unwrap())
}

fn present(root: &Path) -> BTreeSet<String> {
    fs::read_dir(root.join("blobs/sha256"))
        .unwrap()
        .map(|e| format!("sha256:{}", e.unwrap().file_name().to_string_lossy()))
        .collect()
}

fn members(tar_bytes: &[u8]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut a = tar::Archive::new(tar_bytes);
    for m in a.entries().unwrap() {
        let m = m.unwrap();
        let p = m.path().unwrap().to_string_lossy().to_string();
        if let Some(hex) = p.strip_prefix("blobs/sha256/").filter(|h| !h.is_empty()) {
            out.insert(format!("sha256:{hex}"));
        }
    }
    out
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(3000)
}

#[test]
fn gc_fsck_and_export_agree_with_a_conservative_marker() {
    let n = cases();
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: n,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    let layouts = (
        proptest::collection::vec(node_spec(), 1..12),
        proptest::collection::vec(entry_spec(), 1..5),
    );
    let result = runner.run(&layouts, |(nodes, entries)| check(&nodes, &entries));
    if let Err(e) = result {
        panic!("{e}");
    }
    // The generator must reach every outcome often, or the property proves little.
    let seen: Vec<usize> = OUTCOMES.iter().map(|a| a.load(Ordering::Relaxed)).collect();
    eprintln!(
        "{n} layouts: gc refused {}, gc collected {}, export refused {}, referrer entries dropped in {}",
        seen[0], seen[1], seen[2], seen[3]
    );
    for (what, count) in [
        "gc refusing",
        "gc collecting",
        "export refusing",
        "referrers dropped",
    ]
    .iter()
    .zip(&seen)
    {
        assert!(
            *count * 20 >= n as usize,
            "too few cases of {what}: {seen:?}"
        );
    }
}
