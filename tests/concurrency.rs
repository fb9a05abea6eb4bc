//! Concurrency (docs/store.md, issue #2 item 5, issue #6): concurrent `tag` processes lose no tag, `gc`
//! racing writers never deletes a blob an entry names, and many rounds of tag, untag, pull, import
//! and gc processes racing on one layout lose nothing and leave it clean.

mod race;
use crate::support;

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use ocilayout::oci_spec::image::{Descriptor, MediaType};
use ocilayout::tag::{named_entry, NameOptions};
use ocilayout::{Layout, Reference};
use serde_json::Value;
use support::digests::*;
use support::{fixture_copy, Run};

fn spawn(args: &[&str], dir: &Path) -> Child {
    let mut cmd = Command::new(support::bin());
    cmd.arg(args[0]).arg(dir).args(&args[1..]);
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ocilayout")
}

fn ol(args: &[&str], dir: &Path) -> Run {
    spawn(args, dir).wait_with_output().unwrap().into()
}

fn index(dir: &Path) -> Value {
    let bytes = fs::read(dir.join("index.json")).unwrap();
    serde_json::from_slice(&bytes).unwrap_or_else(|e| {
        panic!(
            "index.json does not parse ({e}): {:?}",
            String::from_utf8_lossy(&bytes)
        )
    })
}

fn names(dir: &Path) -> Vec<(String, String)> {
    let v: Value = serde_json::from_str(ol(&["ls", "--json"], dir).ok()).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let n = e["name"].as_str().or(e["tag"].as_str()).unwrap_or("-");
            (n.to_string(), e["digest"].as_str().unwrap().to_string())
        })
        .collect()
}

fn blob_path(dir: &Path, digest: &str) -> PathBuf {
    let (alg, hex) = digest.split_once(':').unwrap();
    dir.join("blobs").join(alg).join(hex)
}

/// Every blob `roots` reach, read independently of the tool's own walk: manifests and indexes are
/// read and followed through config, layers, manifests and blobs; each blob must be present with the
/// size its descriptor gives.
#[track_caller]
fn closure(dir: &Path, roots: &[Value], when: &str) -> BTreeSet<String> {
    fn visit(dir: &Path, d: &Value, seen: &mut BTreeSet<String>, when: &str) {
        let digest = d["digest"].as_str().unwrap();
        if !seen.insert(digest.to_string()) {
            return;
        }
        let path = blob_path(dir, digest);
        let len = fs::metadata(&path)
            .unwrap_or_else(|_| panic!("{when}: {digest} is gone"))
            .len();
        assert_eq!(Some(len), d["size"].as_u64(), "{when}: {digest}");
        let mt = d["mediaType"].as_str().unwrap_or_default();
        if mt.ends_with("manifest.v1+json")
            || mt.ends_with("index.v1+json")
            || mt.ends_with("v2+json")
        {
            let doc: Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
            let mut children: Vec<&Value> = Vec::new();
            children.extend(doc.get("config"));
            for key in ["layers", "manifests", "blobs"] {
                if let Some(a) = doc.get(key).and_then(Value::as_array) {
                    children.extend(a);
                }
            }
            for c in children {
                visit(dir, c, seen, when);
            }
        }
    }
    let mut seen = BTreeSet::new();
    for r in roots {
        visit(dir, r, &mut seen, when);
    }
    seen
}

/// Checks that every entry's closure is present with its sizes (see [`closure`]).
#[track_caller]
fn assert_closures_present(dir: &Path, when: &str) {
    closure(dir, index(dir)["manifests"].as_array().unwrap(), when);
}

/// Twenty-four concurrent `tag` processes leave twenty-four tags; then twenty-four concurrent moves of
/// those names leave exactly one entry per name.
#[test]
fn twenty_four_concurrent_tags() {
    let (_t, dir) = fixture_copy("umoci");
    let n = 24;
    for (source, digest) in [("v1", D1), ("v2", D2)] {
        let children: Vec<Child> = (0..n)
            .map(|i| spawn(&["tag", source, &format!("registry.example/c{i}:t")], &dir))
            .collect();
        for (i, c) in children.into_iter().enumerate() {
            let r: Run = c.wait_with_output().unwrap().into();
            assert_eq!(r.code, 0, "tag {i}: {r:#?}");
        }
        let all = names(&dir);
        assert_eq!(all.len(), 3 + n, "{all:#?}");
        for i in 0..n {
            let name = format!("registry.example/c{i}:t");
            let hits: Vec<_> = all.iter().filter(|(n, _)| *n == name).collect();
            assert_eq!(hits.len(), 1, "{name}: {all:#?}");
            assert_eq!(hits[0].1, digest, "{name}");
        }
        for orig in ["v1", "v2", "latest"] {
            assert!(all.iter().any(|(n, _)| n == orig), "{orig} lost: {all:#?}");
        }
    }
    assert_eq!(ol(&["fsck"], &dir).code, 0);
}

/// `gc` processes racing `tag`/`untag` processes: after every round, every entry's closure is
/// present and fsck is clean. An image that was untagged may be collected (then re-tagging it by
/// digest fails cleanly, and the test puts its blobs back for the next round).
#[test]
fn gc_racing_tag_and_untag() {
    let (_t, dir) = fixture_copy("umoci");
    let fixture = support::fixtures().join("umoci");
    let rounds = 8;
    let mut collected = 0;
    for round in 0..rounds {
        let scripts: Vec<Vec<Vec<String>>> = vec![
            // gc, twice, concurrently with everything else.
            vec![vec!["gc".into()], vec!["gc".into()], vec!["gc".into()]],
            vec![vec!["gc".into(), "--dry-run".into()], vec!["gc".into()]],
            // Untag v2 and take it back by digest: fine unless a gc came in between.
            vec![
                vec!["untag".into(), "v2".into()],
                vec!["tag".into(), D2.into(), "v2".into()],
            ],
            // Names come and go on the image that keeps its tags.
            (0..4)
                .flat_map(|k| {
                    let name = format!("r{round}-{k}:x");
                    [
                        vec!["tag".into(), "v1".into(), name.clone()],
                        vec!["untag".into(), name],
                    ]
                })
                .collect(),
            // A name that survives the round (on v1: v2 must stay collectable).
            vec![vec!["tag".into(), "v1".into(), format!("keep{round}:x")]],
        ];
        let handles: Vec<_> = scripts
            .into_iter()
            .map(|script| {
                let dir = dir.clone();
                thread::spawn(move || {
                    script
                        .iter()
                        .map(|args| {
                            let args: Vec<&str> = args.iter().map(String::as_str).collect();
                            (args.join(" "), ol(&args, &dir))
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for h in handles {
            for (what, r) in h.join().unwrap() {
                let ok = r.code == 0
                    // Re-tagging v2 by digest after a gc collected it.
                    || what == format!("tag {D2} v2")
                        && r.code == 1
                        && r.stderr.contains("not found");
                assert!(ok, "round {round}: {what}: {r:#?}");
                assert!(!r.stderr.contains("panicked"), "{r:#?}");
            }
        }
        let when = format!("after round {round}");
        assert_closures_present(&dir, &when);
        let f = ol(&["fsck"], &dir);
        assert_eq!(f.code, 0, "{when}: {f:#?}");
        let all = names(&dir);
        for orig in ["v1", "latest"] {
            assert!(all.iter().any(|(n, _)| n == orig), "{when}: {orig} lost");
        }
        assert!(
            !all.iter().any(|(n, _)| n.contains(&format!("r{round}-"))),
            "{when}: {all:?}"
        );
        for k in 0..=round {
            let keep = format!("docker.io/library/keep{k}:x");
            assert!(all.iter().any(|(n, _)| *n == keep), "{when}: {keep} lost");
        }
        // Put v2 back if a gc collected it.
        if !blob_path(&dir, D2).exists() {
            collected += 1;
            for e in fs::read_dir(fixture.join("blobs/sha256")).unwrap() {
                let e = e.unwrap();
                fs::copy(e.path(), dir.join("blobs/sha256").join(e.file_name())).unwrap();
            }
        }
        if !all.iter().any(|(n, _)| n == "v2") {
            ol(&["tag", D2, "v2"], &dir).ok();
        }
    }
    eprintln!("v2 collected mid-round in {collected} of {rounds} rounds");
}

/// A writer in the library's protocol (shared writer lock while its blobs are unnamed, then one index
/// update) racing `gc` processes: gc never deletes a blob the writer is about to name.
#[test]
fn gc_racing_a_blob_writer() {
    let (_t, dir) = fixture_copy("umoci");
    let stop = Arc::new(AtomicBool::new(false));
    let gcs: Vec<_> = (0..2)
        .map(|_| {
            let (dir, stop) = (dir.clone(), stop.clone());
            thread::spawn(move || {
                let mut runs = 0;
                while !stop.load(Ordering::Relaxed) {
                    let r = ol(&["gc"], &dir);
                    assert_eq!(r.code, 0, "{r:#?}");
                    runs += 1;
                }
                runs
            })
        })
        .collect();
    let layout = Layout::open(&dir).unwrap();
    let images = 30;
    for i in 0..images {
        let writing = layout.lock_writers().unwrap();
        let layer = layout
            .blobs()
            .put_bytes(format!("layer {i}").as_bytes())
            .unwrap();
        let config = layout
            .blobs()
            .put_bytes(format!("{{\"n\":{i}}}").as_bytes())
            .unwrap();
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config.to_string(), "size": format!("{{\"n\":{i}}}").len()},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer.to_string(), "size": format!("layer {i}").len()}],
        });
        let bytes = serde_json::to_vec(&manifest).unwrap();
        let m = layout.blobs().put_bytes(&bytes).unwrap();
        // Give gc every chance to run between the blobs and the name.
        thread::sleep(Duration::from_millis(5));
        let desc = Descriptor::new(MediaType::ImageManifest, bytes.len() as u64, m);
        let name = Reference::parse(&format!("writer/img:{i}")).unwrap();
        layout
            .update_index(|index| {
                index.push(ocilayout::layout::Entry::new(named_entry(
                    &desc,
                    &name,
                    &NameOptions::default(),
                )));
                Ok(())
            })
            .unwrap();
        drop(writing);
        // Every other image is untagged again at once, so gc has garbage to collect.
        if i % 2 == 1 {
            ol(&["untag", &format!("writer/img:{i}")], &dir).ok();
        }
        assert_closures_present(&dir, &format!("after image {i}"));
    }
    stop.store(true, Ordering::Relaxed);
    let runs: usize = gcs.into_iter().map(|h| h.join().unwrap()).sum();
    assert!(runs > 2, "gc ran only {runs} times");
    ol(&["gc"], &dir).ok();
    assert_closures_present(&dir, "at the end");
    assert_eq!(ol(&["fsck"], &dir).code, 0);
    let all = names(&dir);
    assert_eq!(all.len(), 3 + images / 2, "{all:?}");
    // 3 fixture manifests' closures (6 blobs) + 3 blobs per surviving image.
    let blobs = fs::read_dir(dir.join("blobs/sha256")).unwrap().count();
    assert_eq!(blobs, 6 + 3 * images / 2);
}
