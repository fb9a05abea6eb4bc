//! The examples in `examples/` run here against fixtures and a real `docker-registry`, so CI runs
//! each of them: the buildkit-style consumer, the bundler and the air-gapped transfer.

use crate::support;
use crate::support::registry as registry_support;

#[allow(dead_code)]
#[path = "../examples/airgap.rs"]
mod airgap;
#[allow(dead_code)]
#[path = "../examples/buildkit_consumer.rs"]
mod buildkit_consumer;
#[allow(dead_code)]
#[path = "../examples/bundler.rs"]
mod bundler;

use registry_support::Registry;
use support::digests::*;
use support::{fixture_copy, fixtures, ol, run};

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn url(fixture: &str, rest: &str) -> String {
    format!("oci-layout://{}{rest}", fixtures().join(fixture).display())
}

#[test]
fn buildkit_consumer_lists_the_layers_of_the_platform_image() {
    let out = buildkit_consumer::run(&args(&[
        &url("multiarch", ":docker.io/library/multi:1"),
        "--platform",
        "linux/arm64",
    ]))
    .unwrap();
    assert!(
        out.starts_with(&format!("image {ARM} for linux/arm64 (")),
        "{out}"
    );
    assert!(out.contains("layer sha256:"), "{out}");
    // The host platform: the fixture has linux/amd64 and linux/arm64 images.
    let host = ocilayout::Platform::host();
    let got = buildkit_consumer::run(&args(&[&url("multiarch", ":docker.io/library/multi:1")]));
    if host.os == "linux" && ["amd64", "arm64"].contains(&host.architecture.as_str()) {
        let got = got.unwrap();
        assert!(
            got.contains(&format!("for linux/{} (", host.architecture)),
            "{got}"
        );
    } else {
        assert!(got.unwrap_err().to_string().contains("platform"));
    }
    // A single-platform layout by tag; its total is the sum of the layers listed.
    let out = buildkit_consumer::run(&args(&[&url("umoci", ":v2"), "--platform", "linux/amd64"]))
        .unwrap();
    assert!(out.starts_with(&format!("image {D2} ")), "{out}");
    let sizes: u64 = out
        .lines()
        .filter(|l| l.starts_with("layer "))
        .map(|l| l.split(' ').nth(2).unwrap().parse::<u64>().unwrap())
        .sum();
    assert!(out.ends_with(&format!("total {sizes} bytes\n")), "{out}");
    // Errors say what: an unknown tag.
    let err = buildkit_consumer::run(&args(&[&url("umoci", ":nope")])).unwrap_err();
    assert!(err.to_string().contains("nope"), "{err}");
}

/// Pushes the umoci fixture's `v1` and `v2` (which share a layer) to `registry` as `app:v1` and
/// `app:v2`.
fn seed(registry: &Registry) {
    let (_tmp, dir) = fixture_copy("umoci");
    for t in ["v1", "v2"] {
        ol("push", &dir, &[t, &registry.at(&format!("app:{t}"))]).ok();
    }
}

#[test]
fn bundler_reports_unique_and_shared_bytes() {
    let Some(registry) = Registry::start() else {
        return;
    };
    seed(&registry);
    let tmp = tempfile::tempdir().unwrap();
    let bundle = tmp.path().join("bundle");
    let out = bundler::run(&args(&[
        bundle.to_str().unwrap(),
        &registry.at("app:v1"),
        &registry.at("app:v2"),
    ]))
    .unwrap();
    assert!(
        out.contains(&format!("tagged {D1} bundle.local/app:v1\n")),
        "{out}"
    );
    assert!(
        out.contains(&format!("tagged {D2} bundle.local/app:v2\n")),
        "{out}"
    );
    // Only the bundle's names remain.
    let ls = ol("ls", &bundle, &[]).ok().to_string();
    assert_eq!(ls.lines().count(), 2, "{ls}");
    assert!(
        ls.lines().all(|l| l.starts_with("bundle.local/app:")),
        "{ls}"
    );
    // Per image: total = unique + shared; the shared bytes are the same for both (the common
    // layer); the layout holds each shared byte once.
    let figures: Vec<(u64, u64, u64)> = out
        .lines()
        .filter(|l| l.starts_with("image "))
        .map(|l| {
            let w: Vec<&str> = l.split(' ').collect();
            (
                w[3].parse().unwrap(),
                w[5].parse().unwrap(),
                w[7].parse().unwrap(),
            )
        })
        .collect();
    assert_eq!(figures.len(), 2, "{out}");
    let size = |d: &str| {
        std::fs::metadata(fixtures().join("umoci/blobs/sha256").join(&d[7..]))
            .unwrap()
            .len()
    };
    assert_eq!(figures[0].2, size(LAYER), "{out}");
    assert_eq!(figures[1].2, size(LAYER), "{out}");
    assert_eq!(figures[0].1, size(D1) + size(CONFIG1), "{out}");
    for (total, unique, shared) in &figures {
        assert_eq!(*total, unique + shared);
    }
    let stored = figures[0].1 + figures[1].1 + size(LAYER);
    assert!(
        out.ends_with(&format!("layout 6 blobs {stored} bytes\n")),
        "{out}"
    );
    ol("fsck", &bundle, &[]).ok();
}

#[test]
fn airgap_ships_only_what_the_far_side_lacks() {
    let Some(registry) = Registry::start() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let t = |n: &str| tmp.path().join(n).to_str().unwrap().to_string();
    // The far side holds umoci's v1 already (its manifest, config and the shared layer).
    run(["init", &t("base")]).ok();
    run([
        "export",
        fixtures().join("umoci").to_str().unwrap(),
        &t("v1.tar"),
        "v1",
    ])
    .ok();
    run(["import", &t("v1.tar"), &t("base")]).ok();
    support::copy_dir(
        tmp.path().join("base").as_path(),
        tmp.path().join("target").as_path(),
    );
    let out = airgap::run(&args(&[
        fixtures().join("skopeo").to_str().unwrap(),
        &t("base"),
        &t("transfer.tar"),
        &t("target"),
        &registry.at("mirror"),
        "docker.io/library/alpine:3.16",
    ]))
    .unwrap();
    // alpine:3.16 is umoci's v2: its manifest, config and second layer travel; the shared layer
    // stays behind.
    assert!(out.starts_with("exported 1 image: 3 blobs ("), "{out}");
    assert!(out.contains(", 1 left to the base\n"), "{out}");
    assert!(
        out.contains("imported 1 image: 3 blobs written, 0 already present\n"),
        "{out}"
    );
    assert!(
        out.ends_with(&format!(
            "pushed {}/mirror/library/alpine:3.16 {D2}\n",
            registry.addr
        )),
        "{out}"
    );
    // The registry serves the exact bytes the source layout holds.
    let pulled = tmp.path().join("check");
    run([
        "pull",
        &registry.at("mirror/library/alpine:3.16"),
        pulled.to_str().unwrap(),
    ])
    .ok();
    let got = run(["resolve", pulled.to_str().unwrap(), "3.16"])
        .ok()
        .trim()
        .to_string();
    assert_eq!(got, D2);
}
