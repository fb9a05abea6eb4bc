//! `ocilayout copy`: layout to layout (closure only, same bytes, named by the one rule), layout to
//! registry, registry to layout and registry to registry against the real `docker-registry`.

use crate::support;
use crate::support::registry as registry_support;

use std::fs;
use std::path::Path;

use registry_support::{sha256, skopeo_raw, Registry};
use serde_json::Value;
use support::digests::{ARM, SBOM};
use support::{fixtures, run, snapshot};

fn url(dir: &Path, rest: &str) -> String {
    format!("oci-layout://{}{rest}", dir.display())
}

fn names(dir: &Path) -> Vec<(String, String)> {
    let out = run(["ls".as_ref(), dir.as_os_str(), "--json".as_ref()]);
    let rows: Vec<Value> = serde_json::from_str(out.ok()).unwrap();
    rows.iter()
        .map(|r| {
            (
                r["name"].as_str().unwrap_or("-").to_string(),
                r["digest"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn blobs(dir: &Path) -> Vec<String> {
    let mut out: Vec<String> = fs::read_dir(dir.join("blobs/sha256"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    out.sort();
    out
}

const V1: &str = "sha256:d72195534bcc2ebf9df34eec4f3c3adec4ae0b09d22bb40644397823c06fe290";

#[test]
fn layout_to_layout_copies_the_closure_and_names_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dst = tmp.path().join("new");
    let containerd = fixtures().join("containerd");
    // A layout that does not exist is created, and the image is named after the source.
    let out = run(["copy", &url(&containerd, ":3.16"), &url(&dst, "")]);
    assert_eq!(
        out.ok().trim(),
        format!(
            "{} -> oci-layout://{}/docker.io/library/alpine:3.16 {V1}",
            url(&containerd, ":3.16"),
            dst.display()
        )
    );
    assert_eq!(
        names(&dst),
        [("docker.io/library/alpine:3.16".into(), V1.into())]
    );
    // Only the closure: the manifest, its config and its layers, byte for byte.
    let closure = blobs(&dst);
    assert_eq!(closure.len(), 3, "{closure:?}");
    for b in &closure {
        assert_eq!(
            fs::read(dst.join("blobs/sha256").join(b)).unwrap(),
            fs::read(containerd.join("blobs/sha256").join(b)).unwrap()
        );
    }
    let idx: Value = serde_json::from_slice(&fs::read(dst.join("index.json")).unwrap()).unwrap();
    assert_eq!(
        idx["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"],
        "3.16"
    );

    // A bare tag keeps the source's repository; a full name and --full-ref-name are honoured;
    // --platform descends; --json says what happened.
    run(["copy", &url(&containerd, ":3.16"), &url(&dst, ":3.17")]).ok();
    let json = run([
        "copy",
        "--json",
        "--full-ref-name",
        "--platform",
        "linux/arm64",
        &url(&fixtures().join("multiarch"), "/multi:1"),
        &url(&dst, "/ghcr.io/acme/arm:1"),
    ]);
    let v: Value = serde_json::from_str(json.ok()).unwrap();
    let arm = v["digest"].as_str().unwrap().to_string();
    assert_eq!(v["blobs_written"], 2, "{v}");
    let got = names(&dst);
    assert_eq!(
        got,
        [
            ("docker.io/library/alpine:3.16".into(), V1.into()),
            ("docker.io/library/alpine:3.17".into(), V1.into()),
            ("ghcr.io/acme/arm:1".into(), arm.clone()),
        ]
    );
    let idx: Value = serde_json::from_slice(&fs::read(dst.join("index.json")).unwrap()).unwrap();
    assert_eq!(
        idx["manifests"][2]["annotations"]["org.opencontainers.image.ref.name"],
        "ghcr.io/acme/arm:1"
    );
    run(["fsck".as_ref(), dst.as_os_str()]).ok();
    // A copy again changes nothing.
    let before = snapshot(&dst);
    run(["copy", &url(&containerd, ":3.16"), &url(&dst, "")]).ok();
    assert_eq!(snapshot(&dst), before);
}

#[test]
fn layout_copy_refuses_a_corrupt_source_and_leaves_nothing() {
    let (_tmp, src) = support::fixture_copy("umoci");
    // The v1 image's layer, damaged in place.
    let m: Value = serde_json::from_slice(
        &fs::read(
            src.join("blobs/sha256")
                .join(V1.trim_start_matches("sha256:")),
        )
        .unwrap(),
    )
    .unwrap();
    let layer = m["layers"][0]["digest"]
        .as_str()
        .unwrap()
        .trim_start_matches("sha256:");
    let path = src.join("blobs/sha256").join(layer);
    let mut bytes = fs::read(&path).unwrap();
    bytes[10] ^= 1;
    fs::write(&path, bytes).unwrap();
    let dst = src.parent().unwrap().join("dst");
    // A layout that does not exist is the whole path, before a `:TAG`.
    run(["copy", &url(&src, ":v1"), &url(&dst, ":1")]).fails(1, layer);
    assert!(!dst.exists(), "the layout it created is gone");
    // A source that names no image and no destination name: a clear error.
    let artifact = fixtures().join("artifact");
    run([
        "copy",
        &url(
            &artifact,
            "@sha256:031c4fc35866b31f10dfb586940a3ef1c4cc02b9b326ff5ef75b7a5e870bb4f6",
        ),
        &url(&dst, ""),
    ])
    .fails(1, "no name");
}

#[test]
fn copies_through_registries_keep_the_digest() {
    let Some(reg) = Registry::start() else { return };
    let Some(other) = Registry::start() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let umoci = fixtures().join("umoci");
    let multi = fixtures().join("multiarch");
    // Layout to registry (docker:// prefix accepted), two repositories.
    run([
        "copy",
        "--plain-http",
        &url(&umoci, ":v1"),
        &format!("docker://{}", reg.at("team/app:1")),
    ])
    .ok();
    run([
        "copy",
        "--plain-http",
        &url(&multi, "/multi:1"),
        &reg.at("team/multi:1"),
    ])
    .ok();
    assert_eq!(sha256(&skopeo_raw(&reg.at("team/app:1"))), V1);
    let multi_digest = names(&multi)[0].1.clone();
    assert_eq!(sha256(&skopeo_raw(&reg.at("team/multi:1"))), multi_digest);
    // Registry to registry: one registry (another repository) and across two registries.
    // On one registry every blob is mounted from the source repository, none uploaded.
    let same = run([
        "copy",
        "-v",
        "--plain-http",
        &reg.at("team/multi:1"),
        &reg.at("mirror/multi:1"),
    ]);
    same.ok();
    // A mount is a POST answered 201 Created; an upload would PUT or PATCH its bytes.
    assert!(
        same.stderr.contains("blobs/uploads/ -> 201"),
        "{}",
        same.stderr
    );
    assert!(
        !same
            .stderr
            .lines()
            .any(|l| l.contains("PATCH") || (l.contains("PUT ") && l.contains("/blobs/uploads/"))),
        "no upload: {}",
        same.stderr
    );
    // Across registries, blobs move in parallel, each once; a second copy moves none.
    let across = |jobs: &str| {
        let out = run([
            "copy",
            "--plain-http",
            "--jobs",
            jobs,
            "--json",
            &reg.at("team/multi:1"),
            &other.at("far/multi:2"),
        ]);
        let v: Value = serde_json::from_str(out.ok()).unwrap();
        (
            v["blobs_written"].as_u64().unwrap(),
            v["blobs_skipped"].as_u64().unwrap(),
        )
    };
    // Two platforms, a config each and one layer they share: three blobs, the shared one once.
    assert_eq!(across("4"), (3, 0));
    assert_eq!(across("1"), (0, 3));
    // Without --json, stdout is the one result line, not the transfer's own lines as well.
    let src = reg.at("team/multi:1");
    let dst = other.at("far/multi:2");
    let out = run(["copy", "--plain-http", &src, &dst]);
    assert_eq!(out.ok(), format!("{src} -> {dst} {multi_digest}\n"));
    for r in [reg.at("mirror/multi:1"), other.at("far/multi:2")] {
        assert_eq!(sha256(&skopeo_raw(&r)), multi_digest, "{r}");
    }
    // --platform follows the one rule of a layout, registry to registry too: the index descends to
    // the platform's manifest, a platform the index lacks is refused naming what it has, and a
    // single-platform image must be for the platform asked (its config says which).
    let with_platform = |platform: &str, src: &str, dst: &str| {
        run([
            "copy",
            "--plain-http",
            "--platform",
            platform,
            &reg.at(src),
            &other.at(dst),
        ])
    };
    with_platform("linux/arm64", "team/multi:1", "far/arm:1").ok();
    assert_eq!(sha256(&skopeo_raw(&other.at("far/arm:1"))), ARM);
    let r = with_platform("linux/s390x", "team/multi:1", "far/s390x:1");
    let err = r.fails(1, "no manifest for platform linux/s390x");
    assert!(err.contains("it has linux/amd64, linux/arm64/v8"), "{err}");
    let r = with_platform("linux/arm64", "team/app:1", "far/app:arm");
    r.fails(1, "is an image for linux/amd64, not linux/arm64");
    with_platform("linux/amd64", "team/app:1", "far/app:amd").ok();
    assert_eq!(sha256(&skopeo_raw(&other.at("far/app:amd"))), V1);
    // Registry to layout, named after the source, or as DST says.
    let dst = tmp.path().join("pulled");
    run([
        "copy",
        "--plain-http",
        &other.at("far/multi:2"),
        &url(&dst, ""),
    ])
    .ok();
    run([
        "copy",
        "--plain-http",
        &reg.at("team/app:1"),
        &url(&dst, "/example.com/app:9"),
    ])
    .ok();
    let got = names(&dst);
    assert_eq!(
        got,
        [
            (other.at("far/multi:2"), multi_digest.clone()),
            ("example.com/app:9".into(), V1.into()),
        ]
    );
    run(["fsck".as_ref(), dst.as_os_str()]).ok();
}

/// Registry to registry carries the image's referrers (an SBOM here), as pull and push do: on
/// distribution 2.8, which has no referrers API, under the fallback tag, so that a pull from the
/// destination brings the SBOM back.
#[test]
fn registry_to_registry_carries_referrers() {
    let Some(reg) = Registry::start() else { return };
    let Some(other) = Registry::start() else {
        return;
    };
    let artifact = fixtures().join("artifact");
    run([
        "copy",
        "--plain-http",
        &url(&artifact, "/app:1"),
        &reg.at("team/app:1"),
    ])
    .ok();
    let fallback = |r: &Registry, repo: &str| {
        let tag = format!("{repo}:sha256-{}", &V1[7..]);
        String::from_utf8_lossy(&skopeo_raw(&r.at(&tag))).into_owned()
    };
    assert!(fallback(&reg, "team/app").contains(SBOM));
    let copy_to = |dest: &str| {
        run([
            "copy",
            "--plain-http",
            &reg.at("team/app:1"),
            &other.at(dest),
        ])
    };
    copy_to("far/app:1").ok();
    assert_eq!(sha256(&skopeo_raw(&other.at("far/app:1"))), V1);
    assert!(fallback(&other, "far/app").contains(SBOM));
    // A second copy changes nothing and adds no second listing.
    copy_to("far/app:1").ok();
    assert_eq!(fallback(&other, "far/app").matches(SBOM).count(), 1);
    // A destination by digest must be the image's digest.
    let wrong = format!("far/app@{}", support::digests::D2);
    copy_to(&wrong).fails(1, &format!("but the image is {V1}"));
    let right = format!("far/app2@{V1}");
    copy_to(&right).ok();
    assert_eq!(sha256(&skopeo_raw(&other.at(&right))), V1);
    let tmp = tempfile::tempdir().unwrap();
    let back = tmp.path().join("back");
    run([
        "pull",
        "--plain-http",
        &other.at("far/app:1"),
        &back.display().to_string(),
    ])
    .ok();
    let index = fs::read_to_string(back.join("index.json")).unwrap();
    assert!(index.contains(SBOM), "{index}");
    run(["fsck".as_ref(), back.as_os_str()]).ok();
}

/// Layout to layout carries the image's referrers too (unnamed, found by their subject), and
/// nothing else of the source: gc in the destination keeps them, a second copy adds no entry.
#[test]
fn layout_to_layout_carries_referrers() {
    let tmp = tempfile::tempdir().unwrap();
    let dst = tmp.path().join("new");
    let artifact = fixtures().join("artifact");
    for _ in 0..2 {
        run(["copy", &url(&artifact, "/app:1"), &url(&dst, "")]).ok();
        assert_eq!(
            names(&dst),
            [
                ("docker.io/library/app:1".into(), V1.into()),
                ("-".into(), SBOM.into()),
            ]
        );
    }
    run(["gc".as_ref(), dst.as_os_str()]).ok();
    assert!(dst.join("blobs/sha256").join(&SBOM[7..]).exists());
    run(["fsck".as_ref(), dst.as_os_str()]).ok();
}

/// Indexes nested ever deeper (a hostile registry or layout) are refused by every descent that
/// follows them one read at a time, past one shared bound, naming a digest, instead of being
/// followed until the stack runs out: a copy between registries, a pull, a platform selection. A
/// chain of three, as deep as real images go and then some, passes all three.
#[test]
fn every_descent_refuses_indexes_nested_too_deeply() {
    let Some(reg) = Registry::start() else { return };
    for (levels, refused) in [(3, false), (40, true)] {
        let (_t, dir) = support::fixture_copy("umoci");
        let layout = ocilayout::Layout::open(&dir).unwrap();
        let (mut media_type, mut digest, mut size) = (
            "application/vnd.oci.image.manifest.v1+json".to_string(),
            V1.to_string(),
            345,
        );
        for _ in 0..levels {
            let index = serde_json::to_vec(&serde_json::json!({
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.index.v1+json",
                "manifests": [{"mediaType": media_type, "digest": digest, "size": size,
                               "platform": {"os": "linux", "architecture": "amd64"}}],
            }))
            .unwrap();
            digest = layout.blobs().put_bytes(&index).unwrap().to_string();
            media_type = "application/vnd.oci.image.index.v1+json".into();
            size = index.len();
        }
        let entry = serde_json::json!({
            "schemaVersion": 2,
            "manifests": [{"mediaType": media_type, "digest": digest, "size": size,
                           "annotations": {"io.containerd.image.name": "docker.io/library/deep:1",
                                           "org.opencontainers.image.ref.name": "1"}}],
        });
        fs::write(dir.join("index.json"), serde_json::to_vec(&entry).unwrap()).unwrap();
        let d = dir.display().to_string();
        let repo = format!("deep{levels}");
        // Pushing reads the layout with its iterative walk, which needs no bound.
        run([
            "push",
            "--plain-http",
            &d,
            "deep:1",
            &reg.at(&format!("{repo}:1")),
        ])
        .ok();
        let tmp = tempfile::tempdir().unwrap();
        let pulled = tmp.path().join("pulled").display().to_string();
        let runs = [
            run([
                "copy",
                "--plain-http",
                &reg.at(&format!("{repo}:1")),
                &reg.at(&format!("{repo}-copy:1")),
            ]),
            run([
                "pull",
                "--plain-http",
                &reg.at(&format!("{repo}:1")),
                &pulled,
            ]),
            run(["resolve", "--platform", "linux/amd64", &d, "deep:1"]),
        ];
        for r in runs {
            if refused {
                let err = r.fails(1, "nested too deeply");
                assert!(err.contains("sha256:"), "{err}");
            } else {
                r.ok();
            }
        }
    }
}
