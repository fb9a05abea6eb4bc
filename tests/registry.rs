//! Registry interop: pull, push and sync against the real `docker-registry` on loopback, checked with
//! skopeo; and the robustness cases against a misbehaving server of our own.

use crate::support;
use crate::support::badserver;
use crate::support::registry as registry_support;

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use badserver::Fault;
use ocilayout::progress::Silent;
use ocilayout::registry::{Client, ClientConfig};
use ocilayout::sync::{self, PullOptions, PushOptions};
use ocilayout::{Layout, Reference};
use registry_support::{make_image, sha256, skopeo_copy, skopeo_raw, temp_files, Registry};
use support::digests::*;
use support::{fixture_copy, fixtures, run, run_with_stdin, snapshot};

/// A fixture layout, read in place (only skopeo and read-only commands get these paths).
fn fixture(name: &str) -> String {
    fixtures().join(name).display().to_string()
}

/// A private copy of a fixture layout, for commands that take locks in the layout they read.
fn fixture_dir(name: &str) -> (tempfile::TempDir, String) {
    let (tmp, path) = fixture_copy(name);
    (tmp, path.display().to_string())
}

/// Puts the multi-arch fixture (index and both platforms) on the registry as `multi:1`, byte for byte.
fn push_multiarch(reg: &Registry) {
    skopeo_copy(
        &["--all", "--preserve-digests"],
        &format!("oci:{}:1", fixture("multiarch")),
        &format!("docker://{}", reg.at("multi:1")),
    );
}

fn resolve(dir: &Path, name: &str) -> String {
    run(["resolve", dir.to_str().unwrap(), name])
        .ok()
        .trim()
        .to_string()
}

fn index_json(dir: &Path) -> serde_json::Value {
    serde_json::from_slice(&fs::read(dir.join("index.json")).unwrap()).unwrap()
}

/// skopeo pushes a multi-arch OCI index and a Docker schema2 image; we pull both, byte for byte:
/// the digests are what `skopeo inspect --raw` serves, every platform is there, fsck is clean.
#[test]
fn pulls_multiarch_index_and_docker_schema2_byte_for_byte() {
    let Some(reg) = Registry::start() else { return };
    push_multiarch(&reg);
    skopeo_copy(
        &["--format", "v2s2"],
        &format!("oci:{}:v1", fixture("umoci")),
        &format!("docker://{}", reg.at("docker/img:v2s2")),
    );
    let multi_raw = skopeo_raw(&reg.at("multi:1"));
    let docker_raw = skopeo_raw(&reg.at("docker/img:v2s2"));
    assert_eq!(sha256(&multi_raw), MULTI);
    assert!(String::from_utf8_lossy(&docker_raw)
        .contains("application/vnd.docker.distribution.manifest.v2+json"));

    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("pulled");
    let d = dir.to_str().unwrap();
    run([
        "pull",
        "--plain-http",
        &reg.at("multi:1"),
        &reg.at("docker/img:v2s2"),
        d,
    ])
    .ok();
    assert_eq!(resolve(&dir, &reg.at("multi:1")), sha256(&multi_raw));
    assert_eq!(
        resolve(&dir, &reg.at("docker/img:v2s2")),
        sha256(&docker_raw)
    );
    let entries = index_json(&dir)["manifests"].as_array().unwrap().clone();
    let docker = entries
        .iter()
        .find(|e| e["digest"] == sha256(&docker_raw).as_str())
        .unwrap();
    assert_eq!(
        docker["mediaType"],
        "application/vnd.docker.distribution.manifest.v2+json"
    );
    assert_eq!(
        docker["annotations"]["io.containerd.image.name"],
        reg.at("docker/img:v2s2").as_str()
    );
    // Both platforms came along: --platform resolves locally without the network.
    for p in ["linux/amd64", "linux/arm64/v8"] {
        run(["resolve", d, &reg.at("multi:1"), "--platform", p]).ok();
    }
    let fsck = run(["fsck", d]);
    fsck.ok();
    assert_eq!(
        fs::read(dir.join("blobs/sha256").join(&MULTI[7..])).unwrap(),
        multi_raw
    );
    // By digest: stored under the name with the digest, nothing fetched twice.
    let by_digest = format!("{}@{MULTI}", reg.at("multi"));
    let out = run(["pull", "--plain-http", &by_digest, d]);
    assert!(out.ok().contains("0 blobs transferred"), "{out:#?}");
    assert_eq!(resolve(&dir, &by_digest), MULTI);
}

/// `--platform` stores the one manifest for that platform under the name.
#[test]
fn pull_platform_picks_one_manifest() {
    let Some(reg) = Registry::start() else { return };
    push_multiarch(&reg);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("arm");
    let d = dir.to_str().unwrap();
    run([
        "pull",
        "--plain-http",
        "--platform",
        "linux/arm64",
        &reg.at("multi:1"),
        d,
    ])
    .ok();
    let want = run([
        "resolve",
        &fixture("multiarch"),
        "docker.io/library/multi:1",
        "--platform",
        "linux/arm64",
    ])
    .ok()
    .trim()
    .to_string();
    assert_eq!(resolve(&dir, &reg.at("multi:1")), want);
    assert!(!dir.join("blobs/sha256").join(&MULTI[7..]).exists());
    run(["fsck", d]).ok();

    // A single-platform image is checked against its config: the arm64 manifest by digest is not
    // pulled for linux/amd64, and nothing is named.
    let single = reg.at(&format!("multi@{ARM}"));
    let before = fs::read(dir.join("index.json")).unwrap();
    let wrong = run([
        "pull",
        "--plain-http",
        "--platform",
        "linux/amd64",
        &single,
        d,
    ]);
    wrong.fails(
        1,
        &format!("{ARM} is an image for linux/arm64/v8, not linux/amd64"),
    );
    assert_eq!(fs::read(dir.join("index.json")).unwrap(), before);
    run([
        "pull",
        "--plain-http",
        "--platform",
        "linux/arm64",
        &single,
        d,
    ])
    .ok();
    assert_eq!(resolve(&dir, &single), ARM);
    run(["fsck", d]).ok();
    // Into a new layout: the config read for the check is downloaded once and counted once.
    let fresh = tmp.path().join("fresh");
    let f = fresh.to_str().unwrap();
    let out = run([
        "pull",
        "--plain-http",
        "--platform",
        "linux/arm64",
        &single,
        f,
    ])
    .ok()
    .to_string();
    let blobs = fs::read_dir(fresh.join("blobs/sha256")).unwrap().count();
    assert!(
        out.contains(&format!("{blobs} blobs transferred")) && out.contains(" 0 skipped"),
        "{out}"
    );
    run(["fsck", f]).ok();
}

/// Pull from one registry, push to another repository, and skopeo reads the copy: same bytes.
#[test]
fn pull_then_push_elsewhere_then_skopeo_reads_it() {
    let Some(reg) = Registry::start() else { return };
    push_multiarch(&reg);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("l");
    let d = dir.to_str().unwrap();
    run(["pull", "--plain-http", &reg.at("multi:1"), d]).ok();
    let out = run([
        "push",
        "--plain-http",
        d,
        &reg.at("multi:1"),
        &reg.at("copy/multi:2"),
    ]);
    out.ok();
    assert_eq!(sha256(&skopeo_raw(&reg.at("copy/multi:2"))), MULTI);
    let back = tmp.path().join("skopeo-copy");
    skopeo_copy(
        &["--all", "--preserve-digests"],
        &format!("docker://{}", reg.at("copy/multi:2")),
        &format!("oci:{}:x", back.display()),
    );
    // A second push skips everything.
    let again = run([
        "push",
        "--plain-http",
        d,
        &reg.at("multi:1"),
        &reg.at("copy/multi:2"),
    ]);
    assert!(again.stdout.contains("0 blobs transferred"), "{again:#?}");
}

/// `sync DIR host/prefix` pushes every named image under the prefix, referrers included (under
/// the fallback tag, as distribution 2.8 has no referrers API), and a pull brings them back.
#[test]
fn sync_to_a_mirror_prefix_with_referrers() {
    let Some(reg) = Registry::start() else { return };
    let dest = reg.at("mirror");
    // ghcr.io/acme/tool:1.0 and quay.io/acme/tool:1.0 both map to mirror/acme/tool:1.0: the
    // second is refused rather than overwriting the first; everything else goes.
    let (_c, containerd) = fixture_dir("containerd");
    let (_a, artifact) = fixture_dir("artifact");
    let out = run(["sync", "--plain-http", &containerd, &dest]);
    out.fails(1, "quay.io/acme/tool:1.0");
    assert!(out.stderr.contains("not overwriting"), "{out:#?}");
    run(["sync", "--plain-http", &artifact, &dest]).ok();
    let cases = [
        ("mirror/library/alpine:3.16", "d72195534bcc"),
        ("mirror/acme/tool:1.0", "fe406964010a"),
        ("mirror/team/app:dev", "fe406964010a"),
        ("mirror/library/app:1", "d72195534bcc"),
    ];
    for (name, prefix) in cases {
        let raw = skopeo_raw(&reg.at(name));
        assert!(
            sha256(&raw).starts_with(&format!("sha256:{prefix}")),
            "{name}"
        );
    }
    let fallback = format!(
        "mirror/library/app:sha256-{}",
        "d72195534bcc2ebf9df34eec4f3c3adec4ae0b09d22bb40644397823c06fe290"
    );
    assert!(String::from_utf8_lossy(&skopeo_raw(&reg.at(&fallback))).contains(SBOM));

    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("back");
    let d = dir.to_str().unwrap();
    run(["pull", "--plain-http", &reg.at("mirror/library/app:1"), d]).ok();
    let entries = index_json(&dir)["manifests"].as_array().unwrap().clone();
    let sbom = entries
        .iter()
        .find(|e| e["digest"] == SBOM)
        .expect("the SBOM came along");
    assert!(
        sbom.get("annotations").is_none(),
        "kept without a name: {sbom}"
    );
    // Reachable: gc keeps it, fsck checks it.
    run(["gc", d]).ok();
    assert!(dir.join("blobs/sha256").join(&SBOM[7..]).exists());
    run(["fsck", d]).ok();
    // A second sync changes nothing.
    let again = run(["sync", "--plain-http", &artifact, &dest]);
    assert!(again.stdout.contains("up to date"), "{again:#?}");
}

/// A second pull of the same image fetches no blob and rewrites no file.
#[test]
fn second_pull_fetches_and_rewrites_nothing() {
    let Some(reg) = Registry::start() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let src = Layout::init(tmp.path().join("src")).unwrap();
    make_image(
        &src,
        "docker.io/library/big:1",
        1,
        &[300_000, 200_000, 100_000],
    );
    run([
        "sync",
        "--plain-http",
        src.root().to_str().unwrap(),
        &reg.addr,
    ])
    .ok();

    let dir = tmp.path().join("l");
    let d = dir.to_str().unwrap();
    run(["pull", "--plain-http", &reg.at("library/big:1"), d]).ok();
    let before = snapshot(&dir);
    let modified = fs::metadata(dir.join("index.json"))
        .unwrap()
        .modified()
        .unwrap();
    let again = run(["pull", "--plain-http", &reg.at("library/big:1"), d]);
    again.ok();
    assert!(again.stdout.contains("up to date"), "{again:#?}");
    assert!(again.stdout.contains("0 blobs transferred"), "{again:#?}");
    assert_eq!(snapshot(&dir), before);
    assert_eq!(
        fs::metadata(dir.join("index.json"))
            .unwrap()
            .modified()
            .unwrap(),
        modified
    );
}

/// A blob changed on the registry's disk is refused: exit 1 naming the digest, nothing named, no
/// temporary file left.
#[test]
fn tampered_blob_on_the_registry_is_refused() {
    let Some(reg) = Registry::start() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let src = Layout::init(tmp.path().join("src")).unwrap();
    make_image(&src, "docker.io/library/victim:1", 2, &[50_000]);
    run([
        "sync",
        "--plain-http",
        src.root().to_str().unwrap(),
        &reg.addr,
    ])
    .ok();
    let manifest: serde_json::Value =
        serde_json::from_slice(&skopeo_raw(&reg.at("library/victim:1"))).unwrap();
    let layer = manifest["layers"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let path = reg.blob_path(&layer);
    let mut bytes = fs::read(&path).unwrap();
    bytes[100] ^= 0x55;
    fs::write(&path, bytes).unwrap();

    let dir = tmp.path().join("l");
    let d = dir.to_str().unwrap();
    run(["init", d]).ok();
    let out = run(["pull", "--plain-http", &reg.at("library/victim:1"), d]);
    out.fails(1, &layer);
    assert!(index_json(&dir)["manifests"].as_array().unwrap().is_empty());
    assert!(!dir.join("blobs/sha256").join(&layer[7..]).exists());
    assert_eq!(temp_files(&dir), 0);
}

/// Blobs over the chunk size go up in PATCH chunks and come back intact, through the library API.
#[test]
fn chunked_upload_round_trips() {
    let Some(reg) = Registry::start() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let src = Layout::init(tmp.path().join("src")).unwrap();
    let root = make_image(&src, "docker.io/library/chunky:1", 3, &[3_500_000, 10]);
    let client = Client::new(ClientConfig {
        plain_http: true,
        chunk_size: 1 << 20,
        ..ClientConfig::default()
    })
    .unwrap();
    let opts = PushOptions::default();
    let first = Reference::parse(&reg.at("one/chunky:1")).unwrap();
    let s = sync::push(&client, &src, &root, &first, &opts, &Silent).unwrap();
    assert_eq!((s.transferred, s.mounted), (4, 0), "{s:?}");
    let second = Reference::parse(&reg.at("two/chunky:1")).unwrap();
    let s = sync::push(&client, &src, &root, &second, &opts, &Silent).unwrap();
    assert_eq!(s.transferred, 4, "{s:?}");
    let dir = tmp.path().join("back");
    let back = Layout::init(&dir).unwrap();
    let images = [Reference::parse(&reg.at("two/chunky:1")).unwrap()];
    let r = sync::pull(&client, &back, &images, &PullOptions::default(), &Silent).unwrap();
    assert!(r.ok(), "{:?}", r.failures);
    assert_eq!(r.summary.transferred, 4);
    run(["fsck", dir.to_str().unwrap()]).ok();
}

/// Two images sharing blobs in one sync: uploaded once, then mounted into the second repository.
#[test]
fn sync_mounts_shared_blobs_across_repositories() {
    let Some(reg) = Registry::start() else { return };
    let (_m, multiarch) = fixture_dir("multiarch");
    let out = run(["sync", "--plain-http", &multiarch, &reg.at("m")]);
    out.ok();
    assert!(out.stdout.contains("mounted"), "{out:#?}");
}

fn pull_bad(fault: Fault) -> (badserver::BadServer, tempfile::TempDir, support::Run) {
    let server = badserver::start(fault);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("l");
    // An existing layout, so that what a failed pull leaves in it can be checked (a failed pull into
    // a new directory leaves none: tests/takeover.rs).
    run(["init", dir.to_str().unwrap()]).ok();
    let out = run([
        "pull",
        "--plain-http",
        &server.image(),
        dir.to_str().unwrap(),
    ]);
    (server, tmp, out)
}

fn layer_gets(server: &badserver::BadServer) -> Vec<Option<String>> {
    server
        .log()
        .into_iter()
        .filter(|s| s.method == "GET" && s.path.ends_with(&server.layer))
        .map(|s| s.range)
        .collect()
}

/// 429 with Retry-After and 503 are retried; the pull succeeds and waited as told.
#[test]
fn retries_429_and_503() {
    let start = Instant::now();
    let (_s, tmp, out) = pull_bad(Fault::RateLimited(2));
    out.ok();
    assert!(
        start.elapsed() >= Duration::from_secs(2),
        "Retry-After: 1 was honoured twice"
    );
    run(["fsck", tmp.path().join("l").to_str().unwrap()]).ok();
    let (_s, _tmp, out) = pull_bad(Fault::Unavailable(3));
    out.ok();
}

/// A download broken half-way resumes with Range from where it stopped.
#[test]
fn broken_download_resumes_with_range() {
    let (server, tmp, out) = pull_bad(Fault::ResetMidBody);
    out.ok();
    let gets = layer_gets(&server);
    assert_eq!(gets.len(), 2, "{gets:?}");
    assert_eq!(gets[0], None);
    let resumed_at: u64 = gets[1]
        .as_deref()
        .and_then(|r| r.strip_prefix("bytes="))
        .and_then(|r| r.trim_end_matches('-').parse().ok())
        .expect("a Range request");
    assert!(resumed_at > 0 && resumed_at < 1 << 20, "{resumed_at}");
    run(["fsck", tmp.path().join("l").to_str().unwrap()]).ok();
}

/// A server that answers Range with 200, or with a Content-Range that does not continue, gets the
/// download restarted from zero, and the result is still verified.
#[test]
fn ignored_or_wrong_range_restarts() {
    for fault in [Fault::IgnoreRange, Fault::WrongContentRange] {
        let (server, tmp, out) = pull_bad(fault);
        out.ok();
        assert!(layer_gets(&server).len() >= 2, "{fault:?}");
        run(["fsck", tmp.path().join("l").to_str().unwrap()]).ok();
    }
}

/// Bodies that always break, wrong bytes, a wrong Docker-Content-Digest, one that is not a digest
/// (said to be invalid, not passed off as the digest the content has): exit 1 with a message
/// naming the digest, nothing committed, no temporary file.
#[test]
fn bad_content_fails_naming_the_digest_and_commits_nothing() {
    let cases = [
        (Fault::AlwaysTruncated, "failed after"),
        (Fault::CorruptLayer, "digest mismatch"),
        (Fault::WrongBlobDigestHeader, "Docker-Content-Digest"),
        (
            Fault::MalformedBlobDigestHeader,
            "(its Docker-Content-Digest): invalid digest \"sha256:wrong\"",
        ),
    ];
    for (fault, needle) in cases {
        let (server, tmp, out) = pull_bad(fault);
        let stderr = out.fails(1, &server.layer);
        assert!(stderr.contains(needle), "{fault:?}: {stderr}");
        let dir = tmp.path().join("l");
        assert!(index_json(&dir)["manifests"].as_array().unwrap().is_empty());
        assert!(!dir.join("blobs/sha256").join(&server.layer[7..]).exists());
        assert!(!dir
            .join("blobs/sha256")
            .join(&server.manifest[7..])
            .exists());
        assert_eq!(temp_files(&dir), 0, "{fault:?}");
    }
}

/// A manifest whose bytes do not match the registry's Docker-Content-Digest, or over 4 MiB, is
/// refused.
#[test]
fn bad_manifests_are_refused() {
    let (_s, _tmp, out) = pull_bad(Fault::WrongManifestDigestHeader);
    out.fails(1, "digest mismatch");
    let (_s, _tmp, out) = pull_bad(Fault::HugeManifest);
    out.fails(1, "over the limit");
    let (_s, _tmp, out) = pull_bad(Fault::Schema1);
    out.fails(1, "schema 1");
}

/// Credentials answer the registry's Basic challenge, and a blob redirected to another host is
/// fetched there without them.
#[test]
fn redirects_do_not_carry_credentials_to_another_host() {
    let server = badserver::start(Fault::RedirectWithAuth);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("l");
    let out = run_with_stdin(
        [
            "pull",
            "--plain-http",
            "--username",
            "joe",
            "--password-stdin",
            &server.image(),
            dir.to_str().unwrap(),
        ],
        b"s3cret\n",
    );
    out.ok();
    assert!(!out.stdout.contains("s3cret") && !out.stderr.contains("s3cret"));
    let log = server.log();
    let storage: Vec<_> = log
        .iter()
        .filter(|s| s.path.starts_with("/storage/"))
        .collect();
    assert_eq!(storage.len(), 1, "{log:?}");
    assert_eq!(
        storage[0].authorization, None,
        "credentials went to another host"
    );
    let blob = log
        .iter()
        .find(|s| s.method == "GET" && s.path.ends_with(&server.layer))
        .unwrap();
    // base64("joe:s3cret")
    assert_eq!(
        blob.authorization.as_deref(),
        Some("Basic am9lOnMzY3JldA==")
    );
    run(["fsck", dir.to_str().unwrap()]).ok();
}

/// The tags list follows Link pagination on the real registry.
#[test]
fn tags_list_follows_pagination() {
    let Some(reg) = Registry::start() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let src = Layout::init(tmp.path().join("src")).unwrap();
    let root = make_image(&src, "docker.io/library/tagged:1", 4, &[10]);
    let client = Client::new(ClientConfig {
        plain_http: true,
        ..ClientConfig::default()
    })
    .unwrap();
    client.ping(&reg.addr).unwrap();
    let mut want = Vec::new();
    for t in ["a", "b", "c", "d", "e"] {
        let dest = Reference::parse(&reg.at(&format!("paged:{t}"))).unwrap();
        sync::push(
            &client,
            &src,
            &root,
            &dest,
            &PushOptions::default(),
            &Silent,
        )
        .unwrap();
        want.push(t.to_string());
    }
    let repo = client.repository(&reg.addr, "paged", false);
    let mut got = repo.tags_paged(Some(2)).unwrap();
    got.sort();
    assert_eq!(got, want);
    assert_eq!(repo.tags().unwrap().len(), 5);
    let absent = client
        .repository(&reg.addr, "absent", false)
        .tags()
        .unwrap_err()
        .to_string();
    assert!(absent.contains("NAME_UNKNOWN"), "{absent}");
}

/// gc racing a pull never deletes what the pull is about to name: the config arrives long before the
/// slow layer, unnamed meanwhile, and a gc started in between waits for the pull instead of sweeping it.
#[test]
fn gc_racing_a_pull_deletes_nothing_it_needs() {
    let server = badserver::start(Fault::SlowLayer);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("l");
    let d = dir.to_str().unwrap().to_string();
    run(["init", &d]).ok();
    let image = server.image();
    let pull = {
        let d = d.clone();
        std::thread::spawn(move || run(["pull", "--plain-http", &image, &d]))
    };
    std::thread::sleep(Duration::from_millis(700));
    let gc = run(["gc", &d]);
    gc.ok();
    pull.join().unwrap().ok();
    run(["fsck", &d]).ok();
    assert_eq!(resolve(&dir, &server.image()), server.manifest);
}
