//! Interop with the tools whose layouts we read and write (issue #2 item 5): skopeo and umoci read what
//! we tag, we resolve what they write to the same bytes they do, and our gc leaves the blobs umoci's gc
//! leaves. Each test is skipped when its tool is missing (and fails under CI=true, see `have`).

use crate::support;

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;
use std::process::Command;

use serde_json::Value;
use support::digests::*;
use support::{fixture_copy, have, ol};

/// Runs an external tool; returns (status, stdout bytes, stderr).
fn tool(program: &str, args: &[&str]) -> (i32, Vec<u8>, String) {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run {program}: {e}"));
    (
        out.status.code().unwrap_or(-1),
        out.stdout,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[track_caller]
fn tool_ok(program: &str, args: &[&str]) -> Vec<u8> {
    let (code, stdout, stderr) = tool(program, args);
    assert_eq!(code, 0, "{program} {args:?}: {stderr}");
    stdout
}

/// `skopeo inspect --raw oci:DIR:REF`: the manifest bytes skopeo resolves REF to.
fn skopeo_raw(dir: &Path, reference: &str) -> Vec<u8> {
    tool_ok(
        "skopeo",
        &[
            "inspect",
            "--raw",
            &format!("oci:{}:{reference}", dir.display()),
        ],
    )
}

fn sha256(bytes: &[u8]) -> String {
    ocilayout::digest::sha256(bytes).to_string()
}

fn blob(dir: &Path, digest: &str) -> Vec<u8> {
    let (alg, hex) = digest.split_once(':').unwrap();
    fs::read(dir.join("blobs").join(alg).join(hex)).unwrap()
}

fn blobs(dir: &Path) -> BTreeSet<String> {
    fs::read_dir(dir.join("blobs/sha256"))
        .unwrap()
        .map(|e| format!("sha256:{}", e.unwrap().file_name().to_string_lossy()))
        .collect()
}

fn ref_names(dir: &Path) -> Vec<(String, String, String)> {
    let index: Value = serde_json::from_slice(&fs::read(dir.join("index.json")).unwrap()).unwrap();
    index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| {
            let r = e["annotations"]["org.opencontainers.image.ref.name"].as_str()?;
            Some((
                r.to_string(),
                e["digest"].as_str().unwrap().to_string(),
                e["mediaType"].as_str().unwrap().to_string(),
            ))
        })
        .collect()
}

/// The layouts umoci and skopeo wrote resolve to the digests of fixtures/README.md, and for every
/// ref.name skopeo's reader and ours pick the same bytes (or we refuse where skopeo silently takes
/// the first of several).
#[test]
fn tool_written_layouts_resolve_like_the_tools() {
    if !have("skopeo") {
        return;
    }
    let readme: &[(&str, &str, &str)] = &[
        ("umoci", "v1", D1),
        ("umoci", "v2", D2),
        ("umoci", "latest", D1),
        ("skopeo", "alpine-like", D1),
        ("skopeo", "docker.io/library/alpine:3.16", D2),
        ("skopeo", "alpine:3.17", D2),
        ("skopeo", "localhost:5000/team/app:dev", D1),
    ];
    for (fixture, reference, digest) in readme {
        let (_t, dir) = fixture_copy(fixture);
        assert_eq!(ol("resolve", &dir, &[reference]).ok().trim(), *digest);
    }
    for fixture in ["umoci", "skopeo", "containerd", "multiarch", "artifact"] {
        let (_t, dir) = fixture_copy(fixture);
        let names = ref_names(&dir);
        for (r, digest, media_type) in &names {
            if !media_type.starts_with("application/vnd.oci.image.") {
                continue; // skopeo's oci: reader knows OCI manifests and indexes only
            }
            let ours = ol("resolve", &dir, &[r]);
            let distinct: BTreeSet<&str> = names
                .iter()
                .filter(|(n, ..)| n == r)
                .map(|(_, d, _)| d.as_str())
                .collect();
            if distinct.len() > 1 {
                ours.fails(1, "ambiguous");
                continue;
            }
            let raw = skopeo_raw(&dir, r);
            assert_eq!(sha256(&raw), *digest, "skopeo: {fixture} {r}");
            assert_eq!(ours.ok().trim(), digest, "ours: {fixture} {r}");
            assert_eq!(raw, blob(&dir, digest));
        }
    }
}

/// What umoci tags, we resolve.
#[test]
fn umoci_tags_resolve() {
    if !have("umoci") {
        return;
    }
    let (_t, dir) = fixture_copy("umoci");
    let image = |t: &str| format!("{}:{t}", dir.display());
    tool_ok("umoci", &["tag", "--image", &image("v2"), "from-umoci"]);
    assert_eq!(ol("resolve", &dir, &["from-umoci"]).ok().trim(), D2);
    tool_ok("umoci", &["rm", "--image", &image("v1")]);
    ol("resolve", &dir, &["v1"]).fails(1, "not found");
    assert_eq!(ol("fsck", &dir, &[]).code, 0);
}

/// After `ocilayout tag DIR v1 docker.io/library/foo:1.2`, skopeo reads it by the bare tag (ref.name
/// is the tag alone) and gets the blob's bytes; with `--full-ref-name` by the full name; skopeo can
/// copy it out, and umoci lists it.
#[test]
fn skopeo_and_umoci_read_what_we_tag() {
    if !have("skopeo") || !have("umoci") {
        return;
    }
    let (t, dir) = fixture_copy("umoci");
    ol("tag", &dir, &["v1", "docker.io/library/foo:1.2"]).ok();
    ol(
        "tag",
        &dir,
        &["v2", "--full-ref-name", "ghcr.io/acme/bar:2.0"],
    )
    .ok();
    ol("tag", &dir, &["v2", "localhost:5000/team/app:dev"]).ok();

    assert_eq!(skopeo_raw(&dir, "1.2"), blob(&dir, D1));
    assert_eq!(skopeo_raw(&dir, "ghcr.io/acme/bar:2.0"), blob(&dir, D2));
    assert_eq!(skopeo_raw(&dir, "dev"), blob(&dir, D2));

    // A full copy through skopeo's reader and writer; the copy checks clean and resolves alike.
    let out = t.path().join("copy");
    tool_ok(
        "skopeo",
        &[
            "copy",
            "--quiet",
            &format!("oci:{}:1.2", dir.display()),
            &format!("oci:{}:copied", out.display()),
        ],
    );
    assert_eq!(ol("resolve", &out, &["copied"]).ok().trim(), D1);
    assert_eq!(ol("fsck", &out, &[]).code, 0);

    let listed =
        String::from_utf8(tool_ok("umoci", &["ls", "--layout", dir.to_str().unwrap()])).unwrap();
    let listed: BTreeSet<&str> = listed.lines().collect();
    for want in ["v1", "v2", "latest", "1.2", "ghcr.io/acme/bar:2.0", "dev"] {
        assert!(listed.contains(want), "umoci ls lacks {want}: {listed:?}");
    }
    // umoci reads the manifest and config we named.
    tool_ok(
        "umoci",
        &["stat", "--image", &format!("{}:1.2", dir.display())],
    );
}

/// `umoci gc --layout A` and `ocilayout gc B` on identical copies with the same entries untagged leave
/// the same blobs, except where umoci departs from docs/gc.md (asserted, so a change on either side is
/// noticed).
#[test]
fn gc_leaves_the_blobs_umoci_gc_leaves() {
    if !have("umoci") {
        return;
    }
    /// (fixture, refs untagged, blobs only umoci keeps, blobs only we keep)
    type Case<'a> = (&'a str, &'a [&'a str], &'a [&'a str], &'a [&'a str]);
    let cases: &[Case] = &[
        ("umoci", &[], &[], &[]),
        ("umoci", &["v2"], &[], &[]),
        ("umoci", &["v1", "latest"], &[], &[]),
        ("umoci", &["v1", "v2", "latest"], &[], &[]),
        ("skopeo", &["alpine:3.16", "alpine:3.17"], &[], &[]),
        ("containerd", &["dev", "ghcr.io/acme/tool:1.0"], &[], &[]),
        ("multiarch", &["multi:1"], &[], &[]),
        ("multiarch", &["nested:1"], &[], &[]),
        ("multiarch", &["multi:1", "nested:1"], &[], &[]),
        ("artifact", &[SBOM], &[], &[]),
        ("artifact", &["mystery"], &[], &[]),
        // umoci follows an artifact's `subject` and keeps a referrer entry forever; we do not
        // follow `subject` upward, and collect the SBOM's entry once its subject has gone.
        (
            "artifact",
            &["app:1"],
            &[D1, CONFIG1, LAYER, SBOM, EMPTY, SBOM_LAYER],
            &[],
        ),
        // umoci 0.4.7 does not descend Docker manifest lists; we do.
        ("docker", &["v2s2"], &[], &[V2S2, CONFIG1, LAYER]),
    ];
    for (fixture, untag, only_umoci, only_ours) in cases {
        let (_ta, a) = fixture_copy(fixture);
        let (_tb, b) = fixture_copy(fixture);
        if !untag.is_empty() {
            ol("untag", &b, untag).ok();
            fs::copy(b.join("index.json"), a.join("index.json")).unwrap();
        }
        tool_ok("umoci", &["gc", "--layout", a.to_str().unwrap()]);
        ol("gc", &b, &[]).ok();
        let (ka, kb) = (blobs(&a), blobs(&b));
        let got_a: BTreeSet<&str> = ka.difference(&kb).map(String::as_str).collect();
        let got_b: BTreeSet<&str> = kb.difference(&ka).map(String::as_str).collect();
        let ctx = format!("{fixture} untag {untag:?}");
        assert_eq!(
            got_a,
            only_umoci.iter().copied().collect(),
            "only umoci kept: {ctx}"
        );
        assert_eq!(
            got_b,
            only_ours.iter().copied().collect(),
            "only we kept: {ctx}"
        );
    }

    // A true cross-tool run: umoci untags in A, we untag in B; same entries, then same blobs.
    let (_ta, a) = fixture_copy("umoci");
    let (_tb, b) = fixture_copy("umoci");
    tool_ok("umoci", &["rm", "--image", &format!("{}:v2", a.display())]);
    ol("untag", &b, &["v2"]).ok();
    let ia: Value = serde_json::from_slice(&fs::read(a.join("index.json")).unwrap()).unwrap();
    let ib: Value = serde_json::from_slice(&fs::read(b.join("index.json")).unwrap()).unwrap();
    assert_eq!(ia["manifests"], ib["manifests"]);
    tool_ok("umoci", &["gc", "--layout", a.to_str().unwrap()]);
    ol("gc", &b, &[]).ok();
    assert_eq!(blobs(&a), blobs(&b));
    assert_eq!(blobs(&b).len(), 3);
}
