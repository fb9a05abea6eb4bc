//! The everyday commands: `inspect`, `tags`, `rm` and `du`, on layouts written by umoci, skopeo and
//! scripts (fixtures/), and against the real `docker-registry`.

use crate::support;
use crate::support::registry as registry_support;

use std::fs;
use std::path::Path;

use ocilayout::registry::{Client, ClientConfig};
use registry_support::{sha256, skopeo_copy, Registry};
use support::digests::*;
use support::{fixture_copy, fixtures, have, run, snapshot};

/// v2's config and its own layer. (support's `CONFIG2` and `LAYER2` name them the other way round:
/// `CONFIG2` is the layer, `LAYER2` the config, as `inspect` and the manifest show.)
const V2_CONFIG: &str = LAYER2;
const V2_LAYER: &str = CONFIG2;

fn fixture(name: &str) -> String {
    fixtures().join(name).display().to_string()
}

fn json(out: &str) -> serde_json::Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

fn blob_size(dir: &Path, digest: &str) -> u64 {
    let hex = digest.strip_prefix("sha256:").unwrap();
    fs::metadata(dir.join("blobs/sha256").join(hex))
        .unwrap()
        .len()
}

/// `inspect --raw` prints the exact manifest bytes and `--config` the exact config bytes, so they hash
/// to the digests; `--json` describes the same document; for layouts written by umoci, skopeo and
/// containerd-style scripts, images, indexes and Docker schema2.
#[test]
fn inspect_prints_exact_bytes_and_describes_them() {
    let cases = [
        ("umoci", "v1", D1, Some(CONFIG1)),
        ("umoci", "v2", D2, Some(V2_CONFIG)),
        ("skopeo", "alpine:3.16", D2, Some(V2_CONFIG)),
        ("skopeo", "alpine-like", D1, Some(CONFIG1)),
        ("containerd", "ghcr.io/acme/tool:1.0", D2, Some(V2_CONFIG)),
        ("docker", "v2s2", V2S2, None),
        ("multiarch", "multi:1", MULTI, None),
        ("multiarch", "nested:1", NESTED, None),
    ];
    for (layout, reference, digest, config) in cases {
        let dir = fixture(layout);
        let raw = run(["inspect", "--raw", &dir, reference]);
        assert_eq!(raw.code, 0, "{layout} {reference}: {}", raw.stderr);
        assert_eq!(
            sha256(raw.stdout.as_bytes()),
            digest,
            "{layout} {reference}"
        );
        let j = json(run(["inspect", "--json", &dir, reference]).ok());
        assert_eq!(j["digest"], digest, "{layout} {reference}");
        assert_eq!(j["size"], raw.stdout.len() as u64);
        assert!(j["annotations"].is_object());
        assert!(j["referrers"].is_array());
        if let Some(config) = config {
            assert_eq!(j["config"]["digest"], config);
            assert_eq!(j["config"]["os"], "linux");
            assert_eq!(j["config"]["architecture"], "amd64");
            let layers = j["layers"].as_array().unwrap();
            assert!(!layers.is_empty());
            let sum: u64 = layers.iter().map(|l| l["size"].as_u64().unwrap()).sum();
            let total = j["size"].as_u64().unwrap() + j["config"]["size"].as_u64().unwrap() + sum;
            assert_eq!(j["total"], total);
            for l in layers {
                assert!(l["digest"].as_str().unwrap().starts_with("sha256:"));
                assert!(l["mediaType"].as_str().unwrap().contains("layer"));
            }
            let c = run(["inspect", "--config", &dir, reference]);
            assert_eq!(sha256(c.ok().as_bytes()), config);
        }
    }
    let j = json(run(["inspect", "--json", &fixture("multiarch"), "multi:1"]).ok());
    let platforms: Vec<(&str, &str)> = j["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["digest"].as_str().unwrap(),
                m["platform"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(platforms, [(D1, "linux/amd64"), (ARM, "linux/arm64/v8")]);
}

/// `--platform` descends first; an oci-layout:// URL works like DIR REF; the human output names the
/// config's platform, the layers and the referrers.
#[test]
fn inspect_descends_reads_urls_and_shows_referrers() {
    let url = format!("oci-layout://{}/multi:1", fixture("multiarch"));
    let j = json(run(["inspect", "--json", "--platform", "linux/arm64/v8", &url]).ok());
    assert_eq!(j["digest"], ARM);
    assert_eq!(j["config"]["digest"], ARM_CONFIG);
    assert_eq!(j["config"]["variant"], "v8");
    let j = json(run(["inspect", "--json", &fixture("artifact"), "app:1"]).ok());
    assert_eq!(j["referrers"][0]["digest"], SBOM);
    assert_eq!(
        j["referrers"][0]["artifactType"],
        "application/vnd.example.sbom"
    );
    let human = run(["inspect", &fixture("artifact"), "app:1"])
        .ok()
        .to_string();
    for needle in [
        D1,
        CONFIG1,
        LAYER,
        SBOM,
        "linux/amd64",
        "application/vnd.example.sbom",
    ] {
        assert!(human.contains(needle), "{needle} missing from:\n{human}");
    }
    let j = json(run(["inspect", "--json", &fixture("artifact"), SBOM]).ok());
    assert_eq!(j["subject"], D1);
    assert_eq!(j["artifactType"], "application/vnd.example.sbom");
    assert_eq!(j["layers"][0]["digest"], SBOM_LAYER);
    run(["inspect", &fixture("umoci"), "nope"]).fails(1, "nope");
    run(["inspect", "--raw", "--json", &fixture("umoci"), "v1"]).fails(2, "--json");
}

/// `rm` of an image that shares nothing removes its entry and exactly its blobs, and what it reports
/// is what is gone; the other names still resolve, fsck is clean, gc finds nothing left, and umoci
/// still reads the layout.
#[test]
fn rm_removes_what_only_the_image_reaches() {
    let (_tmp, dir) = fixture_copy("umoci");
    let d = dir.to_str().unwrap();
    let expected: u64 = [D2, V2_CONFIG, V2_LAYER]
        .iter()
        .map(|x| blob_size(&dir, x))
        .sum();
    let du = json(run(["du", "--json", d, "v2"]).ok());
    assert_eq!(du["images"][0]["unique"], expected);
    let dry = json(run(["rm", "--dry-run", "--json", d, "v2"]).ok());
    assert_eq!(dry["freed_bytes"], expected);
    assert_eq!(dry["dry_run"], true);
    assert!(dir.join("blobs/sha256").join(&D2[7..]).exists());
    let j = json(run(["rm", "--json", d, "v2"]).ok());
    assert_eq!(j["freed_bytes"], expected);
    assert_eq!(j["untagged"][0]["name"], "v2");
    assert_eq!(j["untagged"][0]["digest"], D2);
    let mut gone: Vec<&str> = j["digests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    gone.sort();
    let mut want = vec![D2, V2_CONFIG, V2_LAYER];
    want.sort();
    assert_eq!(j["removed"], 3);
    assert_eq!(gone, want);
    for g in &gone {
        assert!(!dir.join("blobs/sha256").join(&g[7..]).exists(), "{g}");
    }
    assert_eq!(run(["resolve", d, "v1"]).ok().trim(), D1);
    assert_eq!(run(["resolve", d, "latest"]).ok().trim(), D1);
    run(["fsck", d]).ok();
    assert_eq!(
        json(run(["gc", "--dry-run", "--json", d]).ok())["removed"],
        0
    );
    if have("umoci") {
        let out = std::process::Command::new("umoci")
            .args(["ls", "--layout", d])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let tags = String::from_utf8_lossy(&out.stdout);
        assert!(tags.contains("v1") && tags.contains("latest") && !tags.contains("v2"));
    }
}

/// Removing one of two names of one image frees nothing; an unknown or ambiguous reference changes
/// nothing at all (all or nothing), exit 1.
#[test]
fn rm_is_all_or_nothing_and_keeps_what_others_reach() {
    let (_tmp, dir) = fixture_copy("umoci");
    let d = dir.to_str().unwrap();
    let before = snapshot(&dir);
    run(["rm", d, "v2", "nope"]).fails(1, "nope");
    assert_eq!(snapshot(&dir), before);
    let j = json(run(["rm", "--json", d, "latest"]).ok());
    assert_eq!(j["freed_bytes"], 0);
    assert_eq!(j["removed"], 0);
    assert_eq!(run(["resolve", d, "v1"]).ok().trim(), D1);
    let (_tmp2, c) = fixture_copy("containerd");
    let c = c.to_str().unwrap();
    let before = snapshot(Path::new(c));
    run(["rm", c, "1.0"]).fails(1, "ambiguous");
    assert_eq!(snapshot(Path::new(c)), before);
}

/// `rm` of an image takes its referrer entries (an SBOM, as oras stores it) and what only they reach.
#[test]
fn rm_takes_the_referrers_of_the_image() {
    let (_tmp, dir) = fixture_copy("artifact");
    let d = dir.to_str().unwrap();
    let j = json(run(["rm", "--json", d, "app:1"]).ok());
    assert_eq!(j["removed_entries"][0]["digest"], SBOM);
    assert_eq!(j["removed_entries"][0]["subject"], D1);
    let ls = json(run(["ls", "--json", d]).ok());
    let left: Vec<&str> = ls
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["digest"].as_str().unwrap())
        .collect();
    assert_eq!(left, [MYSTERY]);
    for g in [D1, CONFIG1, LAYER, SBOM, SBOM_LAYER, EMPTY] {
        assert!(!dir.join("blobs/sha256").join(&g[7..]).exists(), "{g}");
    }
    run(["fsck", d]).ok();
    assert_eq!(
        json(run(["gc", "--dry-run", "--json", d]).ok())["removed"],
        0
    );
}

/// `du`: per image total = unique + shared, unique is what `rm` frees, and the layout's garbage is
/// what gc frees; on layouts written by skopeo and umoci.
#[test]
fn du_agrees_with_rm_and_gc() {
    for layout in [
        "umoci",
        "skopeo",
        "containerd",
        "multiarch",
        "artifact",
        "docker",
    ] {
        let (_tmp, dir) = fixture_copy(layout);
        let d = dir.to_str().unwrap();
        let j = json(run(["du", "--json", d]).ok());
        let on_disk: u64 = fs::read_dir(dir.join("blobs/sha256"))
            .unwrap()
            .map(|e| e.unwrap().metadata().unwrap().len())
            .sum();
        assert_eq!(j["total"], on_disk, "{layout}");
        assert_eq!(j["garbage"], 0, "{layout}");
        assert_eq!(j["reachable"], on_disk, "{layout}");
        for image in j["images"].as_array().unwrap() {
            let (total, unique, shared) = (
                image["total"].as_u64().unwrap(),
                image["unique"].as_u64().unwrap(),
                image["shared"].as_u64().unwrap(),
            );
            assert_eq!(total, unique + shared, "{layout} {image}");
            // Per image: what rm of the image's digest, every name of it, frees.
            let digest = image["digest"].as_str().unwrap();
            let rm = json(run(["rm", "--dry-run", "--json", d, digest]).ok());
            assert_eq!(rm["freed_bytes"], unique, "{layout} {digest}");
        }
    }
    // Garbage: untag an image, and du's garbage is what gc then frees.
    let (_tmp, dir) = fixture_copy("umoci");
    let d = dir.to_str().unwrap();
    run(["untag", d, "v2"]).ok();
    let j = json(run(["du", "--json", d]).ok());
    let gc = json(run(["gc", "--json", d]).ok());
    assert!(gc["freed_bytes"].as_u64().unwrap() > 0);
    assert_eq!(j["garbage"], gc["freed_bytes"]);
    assert_eq!(
        j["reachable"].as_u64().unwrap() + j["garbage"].as_u64().unwrap(),
        j["total"].as_u64().unwrap()
    );
    // The human form has a header and one row per image.
    let human = run(["du", &fixture("umoci")]).ok().to_string();
    assert!(
        human.starts_with("NAME\tDIGEST\tTOTAL\tUNIQUE\tSHARED\n"),
        "{human}"
    );
    assert_eq!(human.lines().count(), 5, "{human}");
    // Sizes a person reads: the v2 image holds 1,587 bytes, 1,357 of them its own.
    let v2 = human.lines().find(|l| l.starts_with("v2\t")).unwrap();
    assert!(v2.ends_with("\t1.5 KiB\t1.3 KiB\t230 B"), "{human}");
    assert!(
        human.contains("layout: total 2.4 KiB, reachable 2.4 KiB, garbage 0 B"),
        "{human}"
    );
}

/// Several names of one image: each shows the image's unique bytes (what `rm` of all its names
/// frees), never 0 because another name of the same image keeps it; a name that is also reached
/// through another image (an index naming it) is not unique.
#[test]
fn du_measures_an_image_not_a_name() {
    let (_tmp, dir) = fixture_copy("skopeo");
    let d = dir.to_str().unwrap();
    let j = json(run(["du", "--json", d]).ok());
    let images = j["images"].as_array().unwrap();
    let mut by_digest: std::collections::BTreeMap<&str, Vec<&serde_json::Value>> =
        Default::default();
    for image in images {
        by_digest
            .entry(image["digest"].as_str().unwrap())
            .or_default()
            .push(image);
    }
    assert!(by_digest.values().any(|v| v.len() > 1), "{j}");
    for (digest, rows) in by_digest {
        let rm = json(run(["rm", "--dry-run", "--json", d, digest]).ok());
        let freed = rm["freed_bytes"].as_u64().unwrap();
        assert!(freed > 0, "{digest}");
        for row in rows {
            assert_eq!(row["unique"], freed, "{digest}: {row}");
        }
    }
    // A platform manifest named on its own and also listed by a named index: removing that name
    // frees nothing (the index still reaches it).
    let (_tmp, dir) = fixture_copy("multiarch");
    let d = dir.to_str().unwrap();
    let index = json(run(["inspect", "--raw", d, "multi:1"]).ok());
    let platform = index["manifests"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let before = json(run(["du", "--json", d, "multi:1"]).ok());
    run(["tag", d, &platform, "docker.io/library/plat:1"]).ok();
    let j = json(run(["du", "--json", d, "multi:1", "plat:1"]).ok());
    assert_eq!(j["images"][1]["unique"], 0, "{j}");
    assert!(j["images"][1]["total"].as_u64().unwrap() > 0, "{j}");
    // The platform manifest was not multi:1's alone before either: nested:1 reaches it too.
    assert_eq!(
        j["images"][0]["unique"], before["images"][0]["unique"],
        "{j}"
    );
    for (row, reference) in [(0, "multi:1"), (1, platform.as_str())] {
        let rm = json(run(["rm", "--dry-run", "--json", d, reference]).ok());
        assert_eq!(rm["freed_bytes"], j["images"][row]["unique"], "{reference}");
    }
}

/// `tags` lists every tag of a repository on the real registry, in text and JSON, with and without the
/// `docker://` prefix; the library follows `Link` pagination page by page.
#[test]
fn tags_lists_every_tag_following_pagination() {
    let Some(reg) = Registry::start() else { return };
    let mut want = Vec::new();
    for t in ["a", "b", "c", "d", "e"] {
        skopeo_copy(
            &["--preserve-digests"],
            &format!("oci:{}:v1", fixture("umoci")),
            &format!("docker://{}", reg.at(&format!("app:{t}"))),
        );
        want.push(t.to_string());
    }
    let text = run(["tags", &reg.at("app")]).ok().to_string();
    let mut lines: Vec<&str> = text.lines().collect();
    lines.sort();
    assert_eq!(lines, want);
    let j = json(run(["tags", "--json", &format!("docker://{}", reg.at("app"))]).ok());
    assert_eq!(j["repository"], reg.at("app"));
    let mut listed: Vec<String> = serde_json::from_value(j["tags"].clone()).unwrap();
    listed.sort();
    assert_eq!(listed, want);
    let client = Client::new(ClientConfig::default()).unwrap();
    // docker-registry sends pages in no particular order; every tag comes exactly once.
    let mut paged = client
        .repository(&reg.addr, "app", false)
        .tags_paged(Some(2))
        .unwrap();
    paged.sort();
    assert_eq!(paged, want);
    // A repository the registry does not know is an error, as crane says (NAME_UNKNOWN).
    for json in [&[][..], &["--json"][..]] {
        let mut args = vec!["tags"];
        args.extend_from_slice(json);
        let nothing = reg.at("nothing-here");
        args.push(&nothing);
        let err = run(&args).fails(1, "NAME_UNKNOWN").to_string();
        assert!(err.contains("tags of 127.0.0.1:"), "{err}");
    }
    run(["tags", &reg.at("app:a")]).fails(2, "repository");
}

/// `inspect` of a registry image: the same answers as from the layout it came from, `--raw` the bytes
/// the registry serves, `--platform` descends through the index on the registry.
#[test]
fn inspect_reads_registry_images() {
    let Some(reg) = Registry::start() else { return };
    skopeo_copy(
        &["--all", "--preserve-digests"],
        &format!("oci:{}:1", fixture("multiarch")),
        &format!("docker://{}", reg.at("multi:1")),
    );
    let image = format!("docker://{}", reg.at("multi:1"));
    let raw = run(["inspect", "--raw", &image]);
    assert_eq!(sha256(raw.ok().as_bytes()), MULTI);
    let j = json(run(["inspect", "--json", &image]).ok());
    assert_eq!(j["digest"], MULTI);
    assert_eq!(j["manifests"][1]["platform"], "linux/arm64/v8");
    let j = json(
        run([
            "inspect",
            "--json",
            "--platform",
            "linux/amd64",
            &reg.at("multi:1"),
        ])
        .ok(),
    );
    assert_eq!(j["digest"], D1);
    assert_eq!(j["config"]["digest"], CONFIG1);
    let local = json(run(["inspect", "--json", &fixture("umoci"), "v1"]).ok());
    assert_eq!(j["layers"], local["layers"]);
    assert_eq!(j["config"], local["config"]);
    let c = run([
        "inspect",
        "--config",
        "--platform",
        "linux/amd64",
        &reg.at("multi:1"),
    ]);
    assert_eq!(sha256(c.ok().as_bytes()), CONFIG1);
    run(["inspect", &reg.at("multi:404")]).fails(1, "multi:404");
}

/// The command line helps: clap's suggestions reach the user, a name without its registry host gets
/// "did you mean", a missing platform lists the platforms there are.
#[test]
fn usage_errors_suggest_and_not_found_names_hint() {
    let r = run(["pul"]);
    let err = r.fails(2, "unrecognized subcommand 'pul'");
    assert!(err.contains("'pull'"), "{err}");
    let r = run(["ls", "--jsn", &fixture("umoci")]);
    assert!(r.fails(2, "--jsn").contains("'--json'"));
    let r = run([
        "resolve",
        "--platfrom",
        "linux/amd64",
        &fixture("umoci"),
        "v1",
    ]);
    assert!(r.fails(2, "--platfrom").contains("'--platform'"));
    let r = run(["resolve", &fixture("containerd"), "team/app:dev"]);
    let err = r.fails(1, "not found");
    assert!(
        err.contains("did you mean localhost:5000/team/app:dev?"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 2, "{err}");
    // Nothing like the name: the second line says what the layout holds.
    let r = run(["resolve", &fixture("umoci"), "nothing:1"]);
    let err = r.fails(1, "not found");
    assert!(!err.contains("did you mean"), "{err}");
    assert!(err.ends_with("  it holds latest, v1, v2\n"), "{err}");
    assert_eq!(err.lines().count(), 2, "{err}");
    let r = run(["resolve", &format!("oci-layout://{}", fixture("multiarch"))]);
    let err = r.fails(1, "\"latest\" not found");
    assert!(
        err.ends_with("  it holds docker.io/library/multi:1, docker.io/library/nested:1\n"),
        "{err}"
    );
    let tmp = tempfile::tempdir().unwrap();
    let empty = tmp.path().display().to_string();
    run(["init", &empty]).ok();
    let r = run(["resolve", &empty, "a:1"]);
    let err = r.fails(1, "not found");
    assert!(err.ends_with("  it holds no named image\n"), "{err}");
    let r = run([
        "resolve",
        "--platform",
        "linux/s390x",
        &fixture("multiarch"),
        "multi:1",
    ]);
    let err = r.fails(1, "no manifest for platform linux/s390x");
    assert!(err.contains("linux/amd64, linux/arm64/v8"), "{err}");
}

/// `sync` shows `SOURCE -> DESTINATION DIGEST` per image, and refuses a destination with a tag, a
/// digest or a URL scheme before reading the layout or contacting anything (exit 2, one error).
#[test]
fn sync_shows_source_and_destination_and_checks_it_first() {
    for bad in ["127.0.0.1:9/m:v1", "https://127.0.0.1:9/m", "mirror"] {
        let r = run(["sync", "--plain-http", "/nonexistent", bad]);
        let err = r.fails(2, "sync destination");
        assert_eq!(err.lines().count(), 1, "{err}");
    }
    let Some(reg) = Registry::start() else { return };
    let (_a, artifact) = fixture_copy("artifact");
    let out = run([
        "sync",
        "--plain-http",
        artifact.to_str().unwrap(),
        &format!("docker://{}", reg.at("mirror")),
    ]);
    let line = format!(
        "docker.io/library/app:1 -> {} {D1}",
        reg.at("mirror/library/app:1")
    );
    assert!(
        out.ok().lines().any(|l| l == line),
        "no line {line:?} in {out:#?}"
    );
}

/// `--json` on the local commands: each prints one JSON object (or array) with its documented keys
/// on stdout; without it, summaries go to stdout too, and nothing but notes to stderr.
#[test]
fn every_local_command_has_json_and_summaries_on_stdout() {
    let tmp = tempfile::tempdir().unwrap();
    let new = tmp.path().join("new");
    let n = new.to_str().unwrap();
    let j = json(run(["init", "--json", n]).ok());
    assert_eq!(j["created"], true);
    assert_eq!(json(run(["init", "--json", n]).ok())["created"], false);
    let (_u, umoci) = fixture_copy("umoci");
    let u = umoci.to_str().unwrap();
    let archive = tmp.path().join("a.tar");
    let a = archive.to_str().unwrap();
    // (command line, keys its JSON object has)
    let cases: Vec<(Vec<&str>, &[&str])> = vec![
        (
            vec!["tag", "--json", u, "v2", "app:2"],
            &["digest", "names", "moved"],
        ),
        (vec!["untag", "--json", u, "app:2"], &["untagged"]),
        (
            vec!["export", "--json", u, a],
            &[
                "archive",
                "images",
                "blobs_written",
                "blobs_skipped",
                "bytes",
            ],
        ),
        (
            vec!["import", "--json", a, n],
            &["images", "blobs_written", "blobs_skipped", "bytes", "moved"],
        ),
        (
            vec!["gc", "--json", u],
            &["removed", "freed_bytes", "kept", "dry_run"],
        ),
        (vec!["fsck", "--json", u], &["ok", "checked", "problems"]),
        (
            vec!["du", "--json", u],
            &["images", "total", "reachable", "garbage"],
        ),
        (
            vec!["inspect", "--json", u, "v1"],
            &[
                "digest",
                "mediaType",
                "size",
                "annotations",
                "config",
                "layers",
                "referrers",
            ],
        ),
        (
            vec!["resolve", "--json", u, "v1"],
            &["digest", "mediaType", "size"],
        ),
        (
            vec!["rm", "--json", "--dry-run", u, "v2"],
            &["removed", "freed_bytes", "dry_run", "untagged", "digests"],
        ),
    ];
    for (args, keys) in cases {
        let r = run(&args);
        let j = json(r.ok());
        for k in keys {
            assert!(j.get(k).is_some(), "{args:?}: no {k} in {j}");
        }
        assert_eq!(r.stderr, "", "{args:?}");
    }
    assert!(json(run(["ls", "--json", u]).ok()).is_array());
    run(["export", "--json", u, "-"]).fails(2, "--json");
    // Summaries on stdout.
    let stdout_cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["gc", u], "removed 0 blobs"),
        (vec!["fsck", u], "checked "),
        (vec!["export", u, a], "exported "),
        (vec!["import", a, n], "imported "),
        (vec!["init", n], "already a layout"),
    ];
    for (args, needle) in stdout_cases {
        let r = run(&args);
        assert!(r.ok().contains(needle), "{args:?}: {r:#?}");
        assert!(!r.stderr.contains(needle), "{args:?}: {r:#?}");
    }
}

/// `--json` on every registry command against the real registry: pull, push, sync, copy, tags
/// and inspect.
#[test]
fn registry_commands_have_json() {
    let Some(reg) = Registry::start() else { return };
    let (_u, umoci) = fixture_copy("umoci");
    let u = umoci.to_str().unwrap();
    let j = json(run(["push", "--plain-http", "--json", u, "v1", &reg.at("a/b:1")]).ok());
    assert_eq!(j["images"][0]["digest"], D1);
    assert_eq!(j["images"][0]["unchanged"], false);
    assert!(j["transferred"].as_u64().unwrap() >= 3, "{j}");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("l");
    let d = dir.to_str().unwrap();
    let j = json(run(["pull", "--plain-http", "--json", &reg.at("a/b:1"), d]).ok());
    assert_eq!(j["images"][0]["digest"], D1);
    assert_eq!(j["failures"], serde_json::json!([]));
    let j = json(run(["sync", "--plain-http", "--json", d, &reg.at("m")]).ok());
    assert_eq!(
        j["images"][0]["image"],
        format!("{} -> {}", reg.at("a/b:1"), reg.at("m/a/b:1"))
    );
    assert_eq!(j["images"][0]["digest"], D1);
    // copy in all four directions, tags and inspect of a registry image: stdout is one JSON
    // document, whatever the transfer underneath reported on the way.
    let lay = |dir: &str, rest: &str| format!("oci-layout://{dir}{rest}");
    let copied = tmp.path().join("copied");
    let c = copied.to_str().unwrap();
    let copies = [
        (lay(u, ":v1"), reg.at("c/one:1")),
        (reg.at("c/one:1"), reg.at("c/two:1")),
        (reg.at("c/two:1"), lay(c, "")),
        (lay(u, ":v1"), lay(c, "/example.com/x:1")),
    ];
    for (src, dst) in copies {
        let j = json(run(["copy", "--plain-http", "--json", &src, &dst]).ok());
        assert_eq!(j["digest"], D1, "{src} -> {dst}");
    }
    let j = json(run(["tags", "--plain-http", "--json", &reg.at("c/one")]).ok());
    assert_eq!(j["tags"], serde_json::json!(["1"]), "{j}");
    let j = json(run(["inspect", "--plain-http", "--json", &reg.at("c/two:1")]).ok());
    assert_eq!(j["digest"], D1);
}

/// A write that leaves two images sharing one bare ref.name says so once, naming --full-ref-name;
/// a write that adds no such clash, or writes full names, says nothing. skopeo indeed sees one tag.
#[test]
fn a_shared_bare_ref_name_gets_one_note() {
    let (_u, umoci) = fixture_copy("umoci");
    let u = umoci.to_str().unwrap();
    let r = run(["tag", u, "v1", "ghcr.io/a/app:1.0"]);
    r.ok();
    assert_eq!(r.stderr, "");
    let r = run(["tag", u, "v2", "quay.io/b/tool:1.0"]);
    r.ok();
    assert!(
        r.stderr
            .contains("ref.name \"1.0\" labels ghcr.io/a/app:1.0 and quay.io/b/tool:1.0"),
        "{r:#?}"
    );
    assert!(r.stderr.contains("--full-ref-name"), "{r:#?}");
    assert_eq!(r.stderr.lines().count(), 2, "{r:#?}");
    let again = run(["tag", u, "v2", "quay.io/b/tool:1.0"]);
    assert_eq!(again.stderr, "");
    let full = run(["tag", "--full-ref-name", u, "v2", "quay.io/c/x:1.0"]);
    assert_eq!(full.stderr, "");
    if have("skopeo") {
        // skopeo resolves ref.name "1.0" to the first entry: the second image is hidden from it.
        let raw = std::process::Command::new("skopeo")
            .args(["inspect", "--raw", &format!("oci:{u}:1.0")])
            .output()
            .unwrap();
        assert!(
            raw.status.success(),
            "{}",
            String::from_utf8_lossy(&raw.stderr)
        );
        assert_eq!(sha256(&raw.stdout), D1);
        let full = std::process::Command::new("skopeo")
            .args(["inspect", "--raw", &format!("oci:{u}:quay.io/c/x:1.0")])
            .output()
            .unwrap();
        assert_eq!(sha256(&full.stdout), D2);
    }
}
