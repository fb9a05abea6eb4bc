//! gc, fsck and export on layouts that lie: conservative marking (a blob is a manifest when any
//! descriptor or its own content says so), refusal past a missing manifest, and the referrer
//! lifecycle (an entry that refers to a subject goes once the subject has gone).

use crate::support;

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use support::digests::*;
use support::{fixture_copy, ol, run};

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const REF_NAME: &str = "org.opencontainers.image.ref.name";
const CONTAINERD_NAME: &str = "io.containerd.image.name";
const CONTAINERD_SUBJECT: &str = "io.containerd.manifest.subject";

fn json_of(stdout: &str) -> Value {
    serde_json::from_str(stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"))
}

fn blob_path(dir: &Path, digest: &str) -> PathBuf {
    let (alg, hex) = digest.split_once(':').unwrap();
    dir.join("blobs").join(alg).join(hex)
}

fn put_blob(dir: &Path, bytes: &[u8]) -> String {
    let d = ocilayout::digest::sha256(bytes).to_string();
    fs::write(blob_path(dir, &d), bytes).unwrap();
    d
}

fn put_json(dir: &Path, doc: &Value) -> (String, usize) {
    let bytes = serde_json::to_vec(doc).unwrap();
    (put_blob(dir, &bytes), bytes.len())
}

fn blobs(dir: &Path) -> BTreeSet<String> {
    fs::read_dir(dir.join("blobs/sha256"))
        .unwrap()
        .map(|e| format!("sha256:{}", e.unwrap().file_name().to_string_lossy()))
        .collect()
}

fn entries(dir: &Path) -> Vec<Value> {
    let index: Value = serde_json::from_slice(&fs::read(dir.join("index.json")).unwrap()).unwrap();
    index["manifests"].as_array().unwrap().clone()
}

fn set_entries(dir: &Path, entries: Vec<Value>) {
    let index = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries});
    fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
}

fn size_of(dir: &Path, digest: &str) -> u64 {
    fs::metadata(blob_path(dir, digest)).unwrap().len()
}

fn entry(media_type: &str, digest: &str, size: u64, annotations: Value) -> Value {
    json!({"mediaType": media_type, "digest": digest, "size": size, "annotations": annotations})
}

/// The members of an archive under `blobs/`, as digests.
fn archive_blobs(archive: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut tar = tar::Archive::new(fs::File::open(archive).unwrap());
    for m in tar.entries().unwrap() {
        let m = m.unwrap();
        let p = m.path().unwrap().to_string_lossy().to_string();
        if let Some(hex) = p.strip_prefix("blobs/sha256/") {
            if !hex.is_empty() {
                out.insert(format!("sha256:{hex}"));
            }
        }
    }
    out
}

/// The image `v1` of the umoci fixture (manifest D1 -> CONFIG1, LAYER) alone, named `v1`, under
/// different lies told about its manifest. In every case gc keeps the image's config and layer,
/// fsck says clean and then notices the config missing, and a whole-layout export carries them.
#[test]
fn an_image_reached_under_a_lie_keeps_its_blobs() {
    fn plain(tag: &'static str, media_type: &'static str) -> impl Fn(&Path) -> Vec<Value> {
        move |_dir: &Path| vec![entry(media_type, D1, 345, json!({ REF_NAME: tag }))]
    }
    type Setup = Box<dyn Fn(&Path) -> Vec<Value>>;
    let cases: Vec<(&str, Setup)> = vec![
        (
            "an artifact whose layer is the manifest, typed application/json, comes first",
            Box::new(|dir: &Path| {
                let (art, n) = put_json(
                    dir,
                    &json!({
                        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
                        "artifactType": "application/vnd.example.bundle",
                        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": EMPTY, "size": 2},
                        "layers": [{"mediaType": "application/json", "digest": D1, "size": 345}]
                    }),
                );
                put_blob(dir, b"{}");
                vec![
                    entry(OCI_MANIFEST, &art, n as u64, json!({ REF_NAME: "bundle" })),
                    entry(OCI_MANIFEST, D1, 345, json!({ REF_NAME: "v1" })),
                ]
            }),
        ),
        (
            "an entry typed application/octet-stream comes before the real one",
            Box::new(|_dir: &Path| {
                vec![
                    entry(
                        "application/octet-stream",
                        D1,
                        345,
                        json!({ REF_NAME: "raw" }),
                    ),
                    entry(OCI_MANIFEST, D1, 345, json!({ REF_NAME: "v1" })),
                ]
            }),
        ),
        (
            "the only entry is typed application/octet-stream: the content's mediaType decides",
            Box::new(plain("v1", "application/octet-stream")),
        ),
        (
            "the only entry has an unknown type: the content decides",
            Box::new(plain("v1", "application/vnd.example.unknown")),
        ),
    ];
    for (what, setup) in cases {
        let (tmp, dir) = fixture_copy("umoci");
        let entries = setup(&dir);
        set_entries(&dir, entries);
        let garbage = put_blob(&dir, b"garbage");
        let r = ol("gc", &dir, &["--json"]);
        let v = json_of(r.ok());
        // Only the garbage and the image v2 that no entry names any more.
        let mut want = vec![garbage, D2.into(), CONFIG2.into(), LAYER2.into()];
        want.sort();
        assert_eq!(v["digests"], json!(want), "{what}: {v}");
        for kept in [D1, CONFIG1, LAYER] {
            assert!(blob_path(&dir, kept).exists(), "{what}: gc removed {kept}");
        }
        ol("fsck", &dir, &[]).ok();
        let archive = tmp.path().join("all.tar");
        run(["export".as_ref(), dir.as_os_str(), archive.as_os_str()]).ok();
        let members = archive_blobs(&archive);
        for want in [D1, CONFIG1, LAYER] {
            assert!(members.contains(want), "{what}: export lacks {want}");
        }
        // fsck sees into the image: a missing config is reported, not passed over.
        fs::remove_file(blob_path(&dir, CONFIG1)).unwrap();
        let r = ol("fsck", &dir, &[]);
        assert_eq!(r.code, 1, "{r:#?}");
        assert!(
            r.stdout.contains(&format!("{CONFIG1}: missing")),
            "{what}: {r:#?}"
        );
        // And import refuses an archive of it that lacks the config.
        let partial = tmp.path().join("partial.tar");
        without_member(&archive, &partial, CONFIG1);
        let imported = tmp.path().join("imported");
        let r = run(["import".as_ref(), partial.as_os_str(), imported.as_os_str()]);
        r.fails(1, CONFIG1);
    }
}

/// Copies a tar archive without the member of blob `digest`.
fn without_member(from: &Path, to: &Path, digest: &str) {
    let skip = format!("blobs/{}", digest.replace(':', "/"));
    let mut src = tar::Archive::new(fs::File::open(from).unwrap());
    let mut out = tar::Builder::new(fs::File::create(to).unwrap());
    for m in src.entries().unwrap() {
        let mut m = m.unwrap();
        if m.path().unwrap().to_string_lossy() == skip {
            continue;
        }
        let header = m.header().clone();
        let path = m.path().unwrap().into_owned();
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut m, &mut data).unwrap();
        let mut header = header;
        out.append_data(&mut header, path, &data[..]).unwrap();
    }
    out.finish().unwrap();
}

/// A reachable manifest that is missing: gc refuses and removes nothing, not even the garbage; the
/// dry run refuses too.
#[test]
fn a_missing_platform_manifest_makes_gc_refuse() {
    let (_tmp, dir) = fixture_copy("multiarch");
    let garbage = put_blob(&dir, b"garbage");
    fs::remove_file(blob_path(&dir, ARM)).unwrap();
    let before = blobs(&dir);
    for args in [&[][..], &["--dry-run"], &["--json"]] {
        let r = ol("gc", &dir, args);
        let err = r.fails(1, "refusing to gc");
        assert!(err.contains(ARM) && err.contains("missing"), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
    }
    assert_eq!(blobs(&dir), before);
    assert!(blob_path(&dir, ARM_CONFIG).exists());
    assert!(blob_path(&dir, &garbage).exists());
}

/// The artifact fixture with its SBOM (subject = `app:1`) recorded by each convention, plus a
/// signature of the SBOM (a referrer of a referrer) and an unnamed image that is no referrer.
/// While `app:1` is named everything stays; once it is untagged, gc drops the referrer entries and
/// what only they reach, and keeps the rest.
#[test]
fn referrers_go_with_their_subject() {
    #[derive(Clone, Copy, Debug)]
    enum Convention {
        Subject,
        FallbackTag,
        ContainerdAnnotation,
    }
    for convention in [
        Convention::Subject,
        Convention::FallbackTag,
        Convention::ContainerdAnnotation,
    ] {
        let (_tmp, dir) = fixture_copy("artifact");
        let mut list = entries(&dir);
        let sbom_entry = list.remove(1);
        assert_eq!(sbom_entry["digest"], SBOM);
        // A signature of the SBOM, as an unnamed entry with a subject.
        let sig_layer = put_blob(&dir, b"signature bytes");
        let (sig, sig_size) = put_json(
            &dir,
            &json!({
                "schemaVersion": 2, "mediaType": OCI_MANIFEST,
                "artifactType": "application/vnd.example.signature",
                "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": EMPTY, "size": 2},
                "layers": [{"mediaType": "application/octet-stream", "digest": sig_layer, "size": 15}],
                "subject": {"mediaType": OCI_MANIFEST, "digest": SBOM, "size": 729}
            }),
        );
        // An unnamed image that refers to nothing: a root, kept.
        let (loose, loose_size) = put_json(
            &dir,
            &json!({
                "schemaVersion": 2, "mediaType": OCI_MANIFEST,
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": CONFIG1, "size": size_of(&dir, CONFIG1)},
                "layers": []
            }),
        );
        let mut removed_entries = vec![sig.clone()];
        let mut gone = BTreeSet::from([
            D1.to_string(),
            LAYER.to_string(),
            SBOM.to_string(),
            SBOM_LAYER.to_string(),
            EMPTY.to_string(),
            sig.clone(),
            sig_layer.clone(),
        ]);
        match convention {
            Convention::Subject => {
                list.push(sbom_entry);
                removed_entries.insert(0, SBOM.to_string());
            }
            Convention::FallbackTag => {
                // regclient: an index of the referrers under the tag sha256-<hex of the subject>.
                let (fallback, n) = put_json(
                    &dir,
                    &json!({
                        "schemaVersion": 2, "mediaType": OCI_INDEX,
                        "manifests": [{"mediaType": OCI_MANIFEST, "digest": SBOM, "size": 729,
                                       "artifactType": "application/vnd.example.sbom"}]
                    }),
                );
                let tag = format!("sha256-{}", D1.strip_prefix("sha256:").unwrap());
                list.push(entry(
                    OCI_INDEX,
                    &fallback,
                    n as u64,
                    json!({ REF_NAME: tag }),
                ));
                removed_entries.insert(0, fallback.clone());
                gone.insert(fallback);
            }
            Convention::ContainerdAnnotation => {
                // containerd/docker: an attestation manifest without a subject field, annotated.
                let (att, n) = put_json(
                    &dir,
                    &json!({
                        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
                        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": EMPTY, "size": 2},
                        "layers": [{"mediaType": "application/vnd.in-toto+json", "digest": SBOM_LAYER,
                                    "size": size_of(&dir, SBOM_LAYER)}]
                    }),
                );
                list.push(entry(
                    OCI_MANIFEST,
                    &att,
                    n as u64,
                    json!({ CONTAINERD_SUBJECT: D1 }),
                ));
                list.push(sbom_entry);
                removed_entries.insert(0, SBOM.to_string());
                removed_entries.insert(0, att.clone());
                gone.insert(att);
            }
        }
        list.push(entry(OCI_MANIFEST, &sig, sig_size as u64, json!({})));
        list.push(entry(OCI_MANIFEST, &loose, loose_size as u64, json!({})));
        set_entries(&dir, list);

        // While app:1 is named: nothing goes.
        let v = json_of(ol("gc", &dir, &["--json"]).ok());
        assert_eq!(v["removed"], 0, "{convention:?}: {v}");
        assert_eq!(v["removed_entries"], json!([]), "{convention:?}: {v}");

        let before = blobs(&dir);
        let count = entries(&dir).len();
        ol("untag", &dir, &["app:1"]).ok();
        let dry = json_of(ol("gc", &dir, &["--dry-run", "--json"]).ok());
        assert_eq!(
            entries(&dir).len(),
            count - 1,
            "the dry run changed index.json"
        );
        let v = json_of(ol("gc", &dir, &["--json"]).ok());
        assert_eq!(dry["digests"], v["digests"], "{convention:?}");
        assert_eq!(
            dry["removed_entries"], v["removed_entries"],
            "{convention:?}"
        );
        let dropped: Vec<&str> = v["removed_entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["digest"].as_str().unwrap())
            .collect();
        assert_eq!(dropped, removed_entries, "{convention:?}: {v:#}");
        let removed: BTreeSet<String> = v["digests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_str().unwrap().to_string())
            .collect();
        assert_eq!(removed, gone, "{convention:?}: {v:#}");
        assert_eq!(
            blobs(&dir),
            before.difference(&gone).cloned().collect(),
            "{convention:?}"
        );
        // What stays: the named mystery blob, the unnamed image (with the config it shares).
        let left: Vec<String> = entries(&dir)
            .iter()
            .map(|e| e["digest"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(left, [MYSTERY.to_string(), loose.clone()], "{convention:?}");
        ol("fsck", &dir, &[]).ok();
        assert!(blob_path(&dir, CONFIG1).exists());
    }
}

/// A referrer whose subject is a platform manifest inside a named index is kept: the subject is
/// reachable, though no entry names it directly.
#[test]
fn a_referrer_of_a_platform_manifest_stays() {
    let (_tmp, dir) = fixture_copy("multiarch");
    let (sig, n) = put_json(
        &dir,
        &json!({
            "schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": EMPTY, "size": 2},
            "layers": [],
            "subject": {"mediaType": OCI_MANIFEST, "digest": ARM, "size": size_of(&dir, ARM)}
        }),
    );
    put_blob(&dir, b"{}");
    let mut list = entries(&dir);
    list.push(entry(OCI_MANIFEST, &sig, n as u64, json!({})));
    set_entries(&dir, list);
    let v = json_of(ol("gc", &dir, &["--json"]).ok());
    assert_eq!(v["removed"], 0, "{v}");
    assert_eq!(entries(&dir).len(), 3);
    // ls shows the subject; both images untagged, the referrer goes with the platform manifest.
    let ls = json_of(ol("ls", &dir, &["--json"]).ok());
    assert_eq!(ls[2]["subject"], ARM, "{ls}");
    let human = ol("ls", &dir, &[]).ok().to_string();
    assert!(
        human
            .lines()
            .nth(2)
            .unwrap()
            .ends_with(&format!("subject={ARM}")),
        "{human}"
    );
    ol("untag", &dir, &["multi:1", "nested:1"]).ok();
    let human = ol("gc", &dir, &["--dry-run"]);
    human.ok();
    assert!(
        human.stdout.contains(&format!(
            "would remove the entry {sig}: it refers to {ARM}, which no other entry reaches"
        )),
        "{human:#?}"
    );
    let v = json_of(ol("gc", &dir, &["--json"]).ok());
    assert_eq!(v["removed_entries"][0]["digest"], sig, "{v}");
    assert_eq!(v["removed_entries"][0]["subject"], ARM, "{v}");
    assert_eq!(v["kept"], 0, "{v}");
    assert!(entries(&dir).is_empty());
}

/// A named entry that carries containerd's subject annotation is a name a user gave: kept.
#[test]
fn a_named_entry_is_never_collected_as_a_referrer() {
    let (_tmp, dir) = fixture_copy("artifact");
    let mut list = entries(&dir);
    list[1]["annotations"] = json!({
        CONTAINERD_NAME: "docker.io/library/sbom:1",
        CONTAINERD_SUBJECT: D1,
    });
    set_entries(&dir, list);
    ol("untag", &dir, &["app:1"]).ok();
    let v = json_of(ol("gc", &dir, &["--json"]).ok());
    assert_eq!(v["removed_entries"], json!([]), "{v}");
    assert!(blob_path(&dir, SBOM).exists());
    assert_eq!(entries(&dir).len(), 2);
}

/// A large JSON blob that is no manifest (a 5 MiB image config) is read to learn that, but is not
/// held to the 4 MiB manifest limit: export writes it, import reads it back.
#[test]
fn a_large_json_config_is_no_manifest() {
    let (tmp, dir) = fixture_copy("umoci");
    let pad = "x".repeat(5 << 20);
    let (config, config_size) = put_json(
        &dir,
        &json!({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}, "pad": pad}),
    );
    let (manifest, n) = put_json(
        &dir,
        &json!({
            "schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config, "size": config_size},
            "layers": []
        }),
    );
    set_entries(
        &dir,
        vec![entry(
            OCI_MANIFEST,
            &manifest,
            n as u64,
            json!({ REF_NAME: "big" }),
        )],
    );
    ol("fsck", &dir, &[]).ok();
    let archive = tmp.path().join("big.tar");
    run(["export".as_ref(), dir.as_os_str(), archive.as_os_str()]).ok();
    assert!(archive_blobs(&archive).contains(&config));
    let imported = tmp.path().join("imported");
    run(["import".as_ref(), archive.as_os_str(), imported.as_os_str()]).ok();
    assert_eq!(size_of(&imported, &config), config_size as u64);
}

/// gc rewrites index.json when it drops a referrer entry whose subject has gone: every other entry
/// stays the JSON value it was (other tools' keys, `os.version`, `os.features` included), and so do
/// unknown top-level keys.
#[test]
fn dropping_a_referrer_keeps_what_is_not_ours() {
    let (_tmp, dir) = fixture_copy("containerd");
    let mut list = entries(&dir);
    // Another tool's fields on a named entry, which gc must write back untouched.
    list[0]["platform"] = json!({
        "os": "windows", "architecture": "amd64",
        "os.version": "10.0.17763.1879", "os.features": ["win32k"]
    });
    list[0]["x-other-tool"] = json!({"kept": [1, 2, 3]});
    list[0]["urls"] = json!(["https://example.com/blob"]);
    // A signature of a manifest no named entry reaches (its subject is gone).
    let gone_subject = format!("sha256:{}", "ab".repeat(32));
    let layer = put_blob(&dir, b"sig");
    let (sig, sig_size) = put_json(
        &dir,
        &json!({
            "schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "artifactType": "application/vnd.example.signature",
            "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": EMPTY, "size": 2},
            "layers": [{"mediaType": "application/octet-stream", "digest": layer, "size": 3}],
            "subject": {"mediaType": OCI_MANIFEST, "digest": gone_subject, "size": 10}
        }),
    );
    put_blob(&dir, b"{}");
    let kept = list.clone();
    list.push(entry(OCI_MANIFEST, &sig, sig_size as u64, json!({})));
    let index = json!({
        "schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": list,
        "x-top-level": {"from": "another tool"}
    });
    fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();

    let out = ol("gc", &dir, &["--json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let report = json_of(&out.stdout);
    assert_eq!(
        report["removed_entries"][0]["digest"],
        sig.as_str(),
        "{report}"
    );
    assert!(!blob_path(&dir, &sig).exists());
    assert!(!blob_path(&dir, &layer).exists());
    let after: Value = serde_json::from_slice(&fs::read(dir.join("index.json")).unwrap()).unwrap();
    assert_eq!(after["manifests"].as_array().unwrap(), &kept);
    assert_eq!(after["x-top-level"], json!({"from": "another tool"}));
}
