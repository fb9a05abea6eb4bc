//! Which damage each operation refuses, through the binary: gc, rm, push, copy, export and import
//! against a missing layer, a missing config, a missing child manifest, a corrupt manifest, an
//! unreadable manifest and a manifest whose media type disagrees. A refusal exits 1, names the blob
//! and changes nothing; gc and rm only need to know what is reachable, the others every blob.
//! (The rule is `graph::Operation`'s; its unit table adds a manifest over the archive limit.)

use crate::support;

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use support::registry::Registry;
use support::{run, snapshot, Run};

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const CONTAINERD_NAME: &str = "io.containerd.image.name";
const REF_NAME: &str = "org.opencontainers.image.ref.name";

#[derive(Clone, Copy, Debug, PartialEq)]
enum Damage {
    None,
    MissingLayer,
    MissingConfig,
    MissingChildManifest,
    CorruptManifest,
    UnreadableManifest,
    MediaTypeMismatch,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Op {
    Gc,
    Rm,
    Push,
    Copy,
    Export,
    Import,
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn put(dir: &Path, bytes: &[u8]) -> Value {
    let d = ocilayout::digest::sha256(bytes).to_string();
    fs::write(blob(dir, &d), bytes).unwrap();
    json!({"digest": d, "size": bytes.len()})
}

fn blob(dir: &Path, digest: &str) -> PathBuf {
    dir.join("blobs/sha256")
        .join(digest.trim_start_matches("sha256:"))
}

fn described(media_type: &str, at: &Value) -> Value {
    json!({"mediaType": media_type, "digest": at["digest"], "size": at["size"]})
}

/// An image: manifest → config, layer (unique bytes per `seed`); returns the manifest's JSON.
fn manifest_json(dir: &Path, seed: &str) -> (String, Value, Value) {
    let config = json!({
        "architecture": "amd64",
        "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": []},
        "seed": seed,
    });
    let config = put(dir, config.to_string().as_bytes());
    let layer = put(dir, format!("layer of {seed}").as_bytes());
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": described("application/vnd.oci.image.config.v1+json", &config),
        "layers": [described("application/vnd.oci.image.layer.v1.tar", &layer)],
    });
    (manifest.to_string(), config, layer)
}

/// A layout with `app:1` (an image index → manifest → config, layer), damaged as asked, and a
/// sound `other:1` for `rm` to remove.
fn layout(dir: &Path, damage: Damage) {
    fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
    fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let (text, config, layer) = manifest_json(dir, "app");
    let text = match damage {
        Damage::UnreadableManifest => r#"{"schemaVersion":2,"layers":7}"#.to_string(),
        Damage::MediaTypeMismatch => {
            json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}).to_string()
        }
        _ => text,
    };
    let manifest = put(dir, text.as_bytes());
    let mut child = described(OCI_MANIFEST, &manifest);
    child["platform"] = json!({"architecture": "amd64", "os": "linux"});
    let index = put(
        dir,
        json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [child]})
            .to_string()
            .as_bytes(),
    );
    let (other, _, _) = manifest_json(dir, "other");
    let other = put(dir, other.as_bytes());
    let named = |d: &Value, media_type: &str, name: &str| {
        let mut e = described(media_type, d);
        e["annotations"] =
            json!({CONTAINERD_NAME: format!("docker.io/library/{name}:1"), REF_NAME: "1"});
        e
    };
    let entries = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        named(&index, OCI_INDEX, "app"),
        named(&other, OCI_MANIFEST, "other"),
    ]});
    fs::write(dir.join("index.json"), entries.to_string()).unwrap();
    let digest = |v: &Value| v["digest"].as_str().unwrap().to_string();
    match damage {
        Damage::MissingLayer => fs::remove_file(blob(dir, &digest(&layer))).unwrap(),
        Damage::MissingConfig => fs::remove_file(blob(dir, &digest(&config))).unwrap(),
        Damage::MissingChildManifest => fs::remove_file(blob(dir, &digest(&manifest))).unwrap(),
        Damage::CorruptManifest => {
            // Same length, other bytes: the content no longer hashes to its name.
            let path = blob(dir, &digest(&manifest));
            let mut bytes = fs::read(&path).unwrap();
            bytes[0] = b' ';
            fs::write(&path, bytes).unwrap();
        }
        _ => {}
    }
}

/// The layout's sound blobs as a tar archive, made without ocilayout (whose export refuses damage).
fn archive_of(dir: &Path, archive: &Path) {
    let mut tar = tar::Builder::new(fs::File::create(archive).unwrap());
    tar.append_path_with_name(dir.join("oci-layout"), "oci-layout")
        .unwrap();
    tar.append_path_with_name(dir.join("index.json"), "index.json")
        .unwrap();
    for e in fs::read_dir(dir.join("blobs/sha256")).unwrap() {
        let e = e.unwrap();
        let hex = e.file_name().to_string_lossy().to_string();
        if ocilayout::digest::sha256(&fs::read(e.path()).unwrap()).to_string()
            != format!("sha256:{hex}")
        {
            continue;
        }
        let name = format!("blobs/sha256/{}", e.file_name().to_string_lossy());
        tar.append_path_with_name(e.path(), name).unwrap();
    }
    tar.finish().unwrap();
}

/// Runs `op` on a layout damaged by `damage`; returns the run and whether anything changed.
fn attempt(op: Op, damage: Damage, registry: Option<&Registry>) -> Option<(Run, bool)> {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    layout(&src, damage);
    let out = tmp.path().join("out");
    let before = snapshot(&src);
    let url = |dir: &Path, rest: &str| format!("oci-layout://{}{rest}", dir.display());
    let result = match op {
        Op::Gc => run(["gc", s(&src)]),
        Op::Rm => run(["rm", s(&src), "other:1"]),
        Op::Push => {
            let dest = registry?.at(&format!("closure/{damage:?}:1").to_lowercase());
            run(["push", "--plain-http", s(&src), "app:1", &dest])
        }
        Op::Copy => run(["copy", &url(&src, "/app:1"), &url(&out, ":1")]),
        Op::Export => run(["export", s(&src), s(&out), "app:1"]),
        Op::Import => {
            // Into a copy of the damaged layout, from an archive of its sound blobs: what decides
            // is the check of the closure in the store, not the check of each member.
            support::copy_dir(&src, &out);
            let archive = tmp.path().join("archive.tar");
            archive_of(&src, &archive);
            let before = snapshot(&out);
            let result = run(["import", s(&archive), s(&out)]);
            let changed = snapshot(&out) != before;
            return Some((result, changed));
        }
    };
    let changed = snapshot(&src) != before || out.exists();
    Some((result, changed))
}

#[test]
fn each_operation_refuses_the_damage_it_cannot_work_with() {
    let registry = Registry::start();
    use Damage::*;
    // Refused by: gc, rm, push, copy, export, import.
    let table = [
        (None, [false; 6]),
        (MissingLayer, [false, false, true, true, true, true]),
        (MissingConfig, [false, false, true, true, true, true]),
        (MissingChildManifest, [true; 6]),
        (CorruptManifest, [true; 6]),
        (UnreadableManifest, [true; 6]),
        (MediaTypeMismatch, [false, false, true, true, true, true]),
    ];
    let ops = [Op::Gc, Op::Rm, Op::Push, Op::Copy, Op::Export, Op::Import];
    for (damage, refused) in table {
        for (op, refuse) in ops.into_iter().zip(refused) {
            let Some((result, changed)) = attempt(op, damage, registry.as_ref()) else {
                continue; // push without a registry: said so on stderr by `Registry::start`
            };
            let case = format!("{op:?} {damage:?}");
            if !refuse {
                result.ok();
                continue;
            }
            let needle = match op {
                Op::Gc => "refusing to gc",
                Op::Rm => "so what it reaches is unknown",
                Op::Push => "cannot push from",
                Op::Copy => "cannot copy from",
                Op::Export => "cannot export from",
                Op::Import if matches!(damage, MissingLayer | MissingConfig) => {
                    "neither in the archive nor in"
                }
                Op::Import if damage == MissingChildManifest => "neither in the archive nor in",
                Op::Import => "archive refused",
            };
            let err = result.fails(1, needle);
            assert!(err.contains("sha256:"), "{case}: names the blob: {err}");
            assert!(!changed, "{case}: a refusal changes nothing");
        }
    }
}
