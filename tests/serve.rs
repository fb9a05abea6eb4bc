//! `ocilayout serve` through the HTTP API itself: the pull endpoints (names, negotiation, Range,
//! pagination, referrers, error bodies), verified content only, changes by other processes, the push
//! endpoints' upload protocol, signals. Real clients (skopeo, podman, containerd, our own pull and
//! push) are in `serve_clients.rs`.

use crate::support;
use crate::support::registry as registry_support;
use crate::support::serve as serve_support;

use std::fs;
use std::path::Path;

use registry_support::{make_image, noise, sha256};
use serve_support::{get, request, request_slowly, Serve};
use support::digests::*;
use support::{fixture_copy, ol};

/// A new layout holding one image `name` whose layers are `sizes` bytes of seeded noise: the
/// temporary directory (kept alive by the caller), the layout's path, the manifest's digest and the
/// layers' digests.
fn image_with_layers(
    name: &str,
    seed: u64,
    sizes: &[usize],
) -> (tempfile::TempDir, std::path::PathBuf, String, Vec<String>) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("l");
    let layout = ocilayout::Layout::init(&dir).unwrap();
    let m = make_image(&layout, name, seed, sizes);
    let manifest: serde_json::Value =
        serde_json::from_slice(&blob(&dir, m.digest().as_ref())).unwrap();
    let layers = manifest["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["digest"].as_str().unwrap().to_string())
        .collect();
    (tmp, dir, m.digest().to_string(), layers)
}

fn blob(dir: &Path, d: &str) -> Vec<u8> {
    fs::read(
        dir.join("blobs/sha256")
            .join(d.trim_start_matches("sha256:")),
    )
    .unwrap()
}

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";

#[test]
fn base_and_manifests_by_name_and_digest() {
    let (_t, dir) = fixture_copy("containerd");
    let s = Serve::start(&dir, &[]);
    let base = get(&s.addr, "/v2/", &[]);
    assert_eq!(base.status, 200);
    assert_eq!(
        base.header("docker-distribution-api-version"),
        Some("registry/2.0")
    );

    // Every way a client names docker.io/library/alpine:3.16, and ghcr.io's image by host or by ns=.
    for (path, want) in [
        ("/v2/alpine/manifests/3.16", D1),
        ("/v2/library/alpine/manifests/3.16", D1),
        ("/v2/library/alpine/manifests/3.16?ns=docker.io", D1),
        ("/v2/alpine/manifests/3.16?ns=index.docker.io", D1),
        ("/v2/ghcr.io/acme/tool/manifests/1.0", D2),
        ("/v2/acme/tool/manifests/1.0?ns=ghcr.io", D2),
        ("/v2/acme/tool/manifests/1.0?ns=quay.io", D1),
        ("/v2/team/app/manifests/dev?ns=localhost:5000", D2),
        (&format!("/v2/alpine/manifests/{D2}") as &str, D2),
    ] {
        for method in ["GET", "HEAD"] {
            let r = request(&s.addr, method, path, &[], b"");
            assert_eq!(
                r.status,
                200,
                "{method} {path}: {}",
                String::from_utf8_lossy(&r.body)
            );
            assert_eq!(r.header("docker-content-digest"), Some(want), "{path}");
            assert_eq!(r.header("content-type"), Some(OCI_MANIFEST), "{path}");
            let stored = blob(&dir, want);
            assert_eq!(r.header("content-length"), Some(&*stored.len().to_string()));
            if method == "GET" {
                assert_eq!(r.body, stored, "{path}: the stored bytes");
            } else {
                assert!(r.body.is_empty());
            }
        }
    }
    // Not there: the spec's codes.
    for (path, status, code) in [
        ("/v2/alpine/manifests/9.9", 404, "MANIFEST_UNKNOWN"),
        ("/v2/nothere/manifests/1", 404, "NAME_UNKNOWN"),
        ("/v2/Alpine/manifests/1", 400, "NAME_INVALID"),
        ("/v2/alpine/manifests/sha256:00", 400, "DIGEST_INVALID"),
        (
            "/v2/alpine/manifests/sha256:0000000000000000000000000000000000000000000000000000000000000000",
            404,
            "MANIFEST_UNKNOWN",
        ),
        (
            &format!("/v2/alpine/manifests/{LAYER}") as &str,
            404,
            "MANIFEST_UNKNOWN",
        ),
        ("/v2/alpine/blobs/sha256:0000000000000000000000000000000000000000000000000000000000000000", 404, "BLOB_UNKNOWN"),
        ("/v2/alpine/blobs/md5:abc", 400, "DIGEST_INVALID"),
        ("/v2/alpine/nothing", 404, "UNSUPPORTED"),
    ] {
        let r = get(&s.addr, path, &[]);
        assert_eq!((r.status, r.code().as_str()), (status, code), "{path}");
        assert_eq!(r.header("content-type"), Some("application/json"));
    }
}

#[test]
fn an_ambiguous_name_is_an_error_listing_each_candidate() {
    // skopeo's layout: ref.name `docker.io/library/alpine:3.16` and `alpine:3.17` both name D2,
    // so give `alpine:3.16` a second entry with another digest.
    let (_t, dir) = fixture_copy("containerd");
    let index = fs::read_to_string(dir.join("index.json")).unwrap();
    let extra = format!(
        r#"{{"mediaType":"{OCI_MANIFEST}","digest":"{D2}","size":499,"annotations":{{"org.opencontainers.image.ref.name":"alpine:3.16"}}}},"#
    );
    fs::write(
        dir.join("index.json"),
        index.replacen("\"manifests\":[", &format!("\"manifests\":[{extra}"), 1),
    )
    .unwrap();
    let s = Serve::start(&dir, &[]);
    let r = get(&s.addr, "/v2/alpine/manifests/3.16", &[]);
    assert_eq!((r.status, r.code().as_str()), (409, "DENIED"));
    let msg = r.json()["errors"][0]["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        msg.contains(D1) && msg.contains(D2) && msg.contains("ambiguous"),
        "{msg}"
    );
}

#[test]
fn bare_tags_are_served_under_the_default_repo() {
    let (_t, dir) = fixture_copy("umoci");
    let s = Serve::start(&dir, &["--default-repo", "bundle"]);
    let r = get(&s.addr, "/v2/bundle/manifests/v2", &[]);
    assert_eq!(r.header("docker-content-digest"), Some(D2));
    let r = get(&s.addr, "/v2/library/bundle/tags/list", &[]);
    assert_eq!(r.json()["tags"], serde_json::json!(["latest", "v1", "v2"]));
    assert_eq!(
        get(&s.addr, "/v2/_catalog", &[]).json()["repositories"],
        serde_json::json!(["library/bundle"])
    );
    assert_eq!(
        get(&s.addr, "/v2/other/manifests/v2", &[]).code(),
        "NAME_UNKNOWN"
    );
    drop(s);
    // Without --default-repo, bare tags are not served under any name.
    let s = Serve::start(&dir, &[]);
    assert_eq!(get(&s.addr, "/v2/bundle/manifests/v2", &[]).status, 404);
    assert_eq!(
        get(&s.addr, "/v2/_catalog", &[]).json()["repositories"],
        serde_json::json!([])
    );
}

#[test]
fn negotiation_never_rewrites_a_manifest() {
    let (_t, dir) = fixture_copy("docker");
    let s = Serve::start(&dir, &[]);
    let path = "/v2/dockerlist/manifests/1";
    for (accept, status) in [
        (None, 200),
        (Some("*/*"), 200),
        (Some(DOCKER_LIST), 200),
        (Some("application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json;q=0.9"), 200),
        (Some(OCI_INDEX), 404),
        (Some("application/vnd.docker.distribution.manifest.v2+json"), 404),
        (Some("application/vnd.docker.distribution.manifest.list.v2+json;q=0"), 404),
    ] {
        let headers: Vec<(&str, &str)> = accept.map(|a| ("Accept", a)).into_iter().collect();
        for method in ["GET", "HEAD"] {
            let r = request(&s.addr, method, path, &headers, b"");
            assert_eq!(r.status, status, "{method} Accept {accept:?}");
            if status == 200 {
                assert_eq!(r.header("content-type"), Some(DOCKER_LIST));
                assert_eq!(r.header("docker-content-digest"), Some(DLIST));
            } else if method == "GET" {
                assert_eq!(r.code(), "MANIFEST_UNKNOWN");
            }
        }
    }
    // A child manifest asked for by digest has the type its own content states.
    let r = get(&s.addr, &format!("/v2/dockerlist/manifests/{V2S2}"), &[]);
    assert_eq!(
        r.header("content-type"),
        Some("application/vnd.docker.distribution.manifest.v2+json")
    );
    assert_eq!(r.body, blob(&dir, V2S2));
}

#[test]
fn blob_ranges() {
    let (_tmp, dir, _, layers) = image_with_layers("big:1", 7, &[1 << 20]);
    let layer = layers[0].clone();
    let bytes = blob(&dir, &layer);
    let size = bytes.len();
    let s = Serve::start(&dir, &[]);
    let path = format!("/v2/big/blobs/{layer}");
    let whole = get(&s.addr, &path, &[]);
    assert_eq!(whole.status, 200);
    assert_eq!(whole.header("accept-ranges"), Some("bytes"));
    assert_eq!(whole.header("docker-content-digest"), Some(&*layer));
    assert!(whole.complete && whole.body == bytes);
    let head = request(&s.addr, "HEAD", &path, &[], b"");
    assert_eq!(head.header("content-length"), Some(&*size.to_string()));
    for (range, from, to) in [
        ("bytes=0-0", 0, 0),
        ("bytes=100-199", 100, 199),
        ("bytes=1000-", 1000, size - 1),
        ("bytes=-10", size - 10, size - 1),
        ("bytes=5-99999999", 5, size - 1),
    ] {
        let r = get(&s.addr, &path, &[("Range", range)]);
        assert_eq!(r.status, 206, "{range}");
        assert_eq!(
            r.header("content-range"),
            Some(&*format!("bytes {from}-{to}/{size}")),
            "{range}"
        );
        assert_eq!(r.body, &bytes[from..=to], "{range}");
    }
    let r = get(&s.addr, &path, &[("Range", &format!("bytes={size}-"))]);
    assert_eq!(r.status, 416);
    assert_eq!(r.header("content-range"), Some(&*format!("bytes */{size}")));
    // A range this server does not do (several) is answered whole.
    let r = get(&s.addr, &path, &[("Range", "bytes=0-1,5-6")]);
    assert_eq!((r.status, r.body.len()), (200, size));
}

#[test]
fn corrupt_content_is_never_served_whole() {
    let (_tmp, dir, manifest, layers) = image_with_layers("bad:1", 3, &[3 << 20, 1000]);
    let [big, small] = [&layers[0], &layers[1]].map(String::clone);
    // Same sizes, one byte changed near the end of each.
    for d in [&big, &small] {
        let path = dir
            .join("blobs/sha256")
            .join(d.trim_start_matches("sha256:"));
        let mut b = fs::read(&path).unwrap();
        let n = b.len();
        b[n - 2] ^= 0xff;
        fs::write(&path, b).unwrap();
    }
    let s = Serve::start(&dir, &[]);
    for d in [&big, &small] {
        let path = format!("/v2/bad/blobs/{d}");
        let r = get(&s.addr, &path, &[]);
        // A large blob's first GET learns of the damage only at the end: the connection is cut
        // before the last chunk, so the client never holds every promised byte. A small one is
        // checked before the answer starts.
        if d == &big {
            assert!(!r.complete, "{d}: a corrupt blob was served whole");
        } else {
            assert_eq!((r.status, r.code().as_str()), (404, "BLOB_UNKNOWN"));
        }
        // Once known, the answer is a plain 404, for whole and ranged requests alike.
        let r = get(&s.addr, &path, &[]);
        assert_eq!((r.status, r.code().as_str()), (404, "BLOB_UNKNOWN"), "{d}");
        assert!(r.json()["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("damaged"));
    }
    drop(s);
    // A fresh server asked for a range first hashes the whole blob before sending any of it.
    let s = Serve::start(&dir, &[]);
    let r = get(
        &s.addr,
        &format!("/v2/bad/blobs/{big}"),
        &[("Range", "bytes=0-9")],
    );
    assert_eq!((r.status, r.code().as_str()), (404, "BLOB_UNKNOWN"));
    // A manifest is read whole and verified before a byte goes out.
    let mpath = dir.join("blobs/sha256").join(&manifest[7..]);
    let mut b = fs::read(&mpath).unwrap();
    b[0] = b' ';
    fs::write(&mpath, b).unwrap();
    let r = get(&s.addr, "/v2/bad/manifests/1", &[]);
    assert_eq!((r.status, r.code().as_str()), (404, "MANIFEST_UNKNOWN"));
}

#[test]
fn tags_and_catalog_paginate() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("l");
    ol("init", &dir, &[]).ok();
    let layout = ocilayout::Layout::init(&dir).unwrap();
    let m = make_image(&layout, "r/app:t0", 1, &[10]);
    let tags: Vec<String> = (1..7).map(|i| format!("docker.io/r/app:t{i}")).collect();
    let mut args: Vec<&str> = vec![m.digest().as_ref()];
    args.extend(tags.iter().map(String::as_str));
    args.extend(["ghcr.io/x/one:1", "quay.io/y/two:1"]);
    ol("tag", &dir, &args).ok();
    let s = Serve::start(&dir, &[]);
    let r = get(&s.addr, "/v2/r/app/tags/list", &[]);
    assert_eq!(r.json()["name"], "r/app");
    assert_eq!(
        r.json()["tags"],
        serde_json::json!(["t0", "t1", "t2", "t3", "t4", "t5", "t6"])
    );
    assert_eq!(r.header("link"), None);
    // Follow the Link headers page by page.
    let mut path = "/v2/r/app/tags/list?n=3".to_string();
    let mut pages = Vec::new();
    loop {
        let r = get(&s.addr, &path, &[]);
        pages.push(r.json()["tags"].clone());
        let Some(link) = r.header("link") else { break };
        assert!(link.ends_with(">; rel=\"next\""), "{link}");
        path = link[1..link.find('>').unwrap()].to_string();
    }
    assert_eq!(
        pages,
        vec![
            serde_json::json!(["t0", "t1", "t2"]),
            serde_json::json!(["t3", "t4", "t5"]),
            serde_json::json!(["t6"])
        ]
    );
    assert_eq!(
        get(&s.addr, "/v2/r/app/tags/list?n=0", &[]).json()["tags"],
        serde_json::json!([])
    );
    assert_eq!(
        get(&s.addr, "/v2/r/app/tags/list?last=t5", &[]).json()["tags"],
        serde_json::json!(["t6"])
    );
    assert_eq!(
        get(&s.addr, "/v2/nope/tags/list", &[]).code(),
        "NAME_UNKNOWN"
    );
    let r = get(&s.addr, "/v2/_catalog?n=2", &[]);
    assert_eq!(
        r.json()["repositories"],
        serde_json::json!(["ghcr.io/x/one", "quay.io/y/two"])
    );
    let link = r.header("link").unwrap();
    assert_eq!(
        link,
        "</v2/_catalog?n=2&last=quay.io%2Fy%2Ftwo>; rel=\"next\""
    );
    let r = get(&s.addr, &link[1..link.find('>').unwrap()], &[]);
    assert_eq!(r.json()["repositories"], serde_json::json!(["r/app"]));
}

/// A layout that keeps referrers the way a registry without the referrers API does (regclient's
/// layouts): an index tagged `sha256-<subject hex>` listing them. The API lists what it lists, but
/// only the manifests the layout holds, and filters them by `artifactType` like any other.
#[test]
fn referrers_listed_under_the_fallback_tag() {
    let (_t, dir) = fixture_copy("artifact");
    let absent = format!("sha256:{}", "ab".repeat(32));
    let listing = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [
            {"mediaType": OCI_MANIFEST, "digest": SBOM, "size": 729,
             "artifactType": "application/vnd.example.sbom"},
            {"mediaType": OCI_MANIFEST, "digest": absent, "size": 100,
             "artifactType": "application/vnd.example.sbom"},
        ],
    }))
    .unwrap();
    let listing_digest = sha256(&listing);
    fs::write(
        dir.join("blobs/sha256").join(&listing_digest[7..]),
        &listing,
    )
    .unwrap();
    let mut index: serde_json::Value =
        serde_json::from_slice(&fs::read(dir.join("index.json")).unwrap()).unwrap();
    let manifests = index["manifests"].as_array_mut().unwrap();
    // The SBOM is known only through the fallback tag.
    manifests.retain(|e| e["digest"] != SBOM);
    manifests.push(serde_json::json!({
        "mediaType": OCI_INDEX,
        "digest": listing_digest,
        "size": listing.len(),
        "annotations": {"org.opencontainers.image.ref.name": format!("sha256-{}", &D1[7..])},
    }));
    fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    let s = Serve::start(&dir, &[]);
    let path = format!("/v2/app/referrers/{D1}");
    let list = get(&s.addr, &path, &[]).json()["manifests"].clone();
    assert_eq!(
        list,
        serde_json::json!([{"mediaType": OCI_MANIFEST, "digest": SBOM, "size": 729,
                            "artifactType": "application/vnd.example.sbom"}])
    );
    let filtered = |t: &str| {
        let r = get(&s.addr, &format!("{path}?artifactType={t}"), &[]);
        r.json()["manifests"].as_array().unwrap().len()
    };
    assert_eq!(filtered("application%2Fvnd.example.sbom"), 1);
    assert_eq!(filtered("application%2Fother"), 0);
}

#[test]
fn referrers_with_artifact_type_filter() {
    let (_t, dir) = fixture_copy("artifact");
    let s = Serve::start(&dir, &[]);
    let path = format!("/v2/app/referrers/{D1}");
    let r = get(&s.addr, &path, &[]);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some(OCI_INDEX));
    let index = r.json();
    let list = index["manifests"].as_array().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["digest"], SBOM);
    assert_eq!(list[0]["artifactType"], "application/vnd.example.sbom");
    assert_eq!(list[0]["size"], 729);
    assert_eq!(list[0]["mediaType"], OCI_MANIFEST);
    assert_eq!(r.header("oci-filters-applied"), None);
    let r = get(
        &s.addr,
        &format!("{path}?artifactType=application%2Fvnd.example.sbom"),
        &[],
    );
    assert_eq!(r.json()["manifests"].as_array().unwrap().len(), 1);
    assert_eq!(r.header("oci-filters-applied"), Some("artifactType"));
    let r = get(
        &s.addr,
        &format!("{path}?artifactType=application/other"),
        &[],
    );
    assert_eq!(r.json()["manifests"], serde_json::json!([]));
    // A subject nobody refers to: an empty index, not an error.
    let r = get(&s.addr, &format!("/v2/app/referrers/{D2}"), &[]);
    assert_eq!(
        (r.status, r.json()["manifests"].clone()),
        (200, serde_json::json!([]))
    );
    assert_eq!(
        get(&s.addr, "/v2/app/referrers/sha256:1", &[]).code(),
        "DIGEST_INVALID"
    );
}

#[test]
fn changes_by_other_processes_show_on_the_next_request() {
    let (_t, dir) = fixture_copy("containerd");
    let s = Serve::start(&dir, &[]);
    assert_eq!(get(&s.addr, "/v2/newname/manifests/1", &[]).status, 404);
    ol("tag", &dir, &["alpine:3.16", "newname:1"]).ok();
    let r = get(&s.addr, "/v2/newname/manifests/1", &[]);
    assert_eq!(r.header("docker-content-digest"), Some(D1));
    // Moving a tag.
    ol("tag", &dir, &["ghcr.io/acme/tool:1.0", "newname:1"]).ok();
    assert_eq!(
        get(&s.addr, "/v2/newname/manifests/1", &[]).header("docker-content-digest"),
        Some(D2)
    );
    // Untag and gc: the name and then the blobs only it reached are gone.
    ol("untag", &dir, &["newname:1"]).ok();
    assert_eq!(get(&s.addr, "/v2/newname/manifests/1", &[]).status, 404);
    // Another process empties index.json; gc then removes every blob.
    fs::write(
        dir.join("index.json"),
        r#"{"schemaVersion":2,"manifests":[]}"#,
    )
    .unwrap();
    assert_eq!(
        get(&s.addr, "/v2/alpine/manifests/3.16", &[]).code(),
        "NAME_UNKNOWN"
    );
    ol("gc", &dir, &[]).ok();
    assert_eq!(
        get(&s.addr, &format!("/v2/alpine/manifests/{D1}"), &[]).status,
        404
    );
    assert_eq!(
        get(&s.addr, &format!("/v2/alpine/blobs/{LAYER}"), &[]).status,
        404
    );
}

#[test]
fn gc_removing_a_blob_being_served_never_half_serves_it() {
    let (_tmp, dir, _, layers) = image_with_layers("big:1", 9, &[8 << 20]);
    let layer = layers[0].clone();
    let s = Serve::start(&dir, &[]);
    let mut removed = false;
    let r = request_slowly(
        &s.addr,
        "GET",
        &format!("/v2/big/blobs/{layer}"),
        &[],
        b"",
        |n| {
            // A quarter in: untag and gc remove the blob from under the transfer.
            if !removed && n > 2 << 20 {
                ol("untag", &dir, &["big:1"]).ok();
                ol("gc", &dir, &[]).ok();
                assert!(!dir
                    .join("blobs/sha256")
                    .join(layer.trim_start_matches("sha256:"))
                    .exists());
                removed = true;
            }
            std::thread::sleep(std::time::Duration::from_micros(200));
        },
    );
    assert!(removed);
    assert!(r.complete, "the transfer was cut");
    assert_eq!(sha256(&r.body), layer, "every byte, the right ones");
    assert_eq!(
        get(&s.addr, &format!("/v2/big/blobs/{layer}"), &[]).status,
        404
    );
}

#[test]
fn writes_need_push() {
    let (_t, dir) = fixture_copy("containerd");
    let before = support::snapshot(&dir);
    let s = Serve::start(&dir, &[]);
    for (method, path) in [
        ("PUT", "/v2/alpine/manifests/x"),
        ("DELETE", "/v2/alpine/manifests/3.16"),
        ("POST", "/v2/alpine/blobs/uploads/"),
        ("PATCH", "/v2/alpine/blobs/uploads/abc"),
        ("PUT", "/v2/alpine/blobs/uploads/abc?digest=sha256:00"),
        ("DELETE", &format!("/v2/alpine/blobs/{LAYER}") as &str),
    ] {
        let r = request(&s.addr, method, path, &[], b"{}");
        assert_eq!(
            (r.status, r.code().as_str()),
            (405, "UNSUPPORTED"),
            "{method} {path}"
        );
    }
    assert_eq!(support::snapshot(&dir), before);
}

#[test]
fn upload_protocol() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("l");
    ol("init", &dir, &[]).ok();
    let s = Serve::start(&dir, &["--push"]);
    let a = &s.addr;
    let data = noise(5, 300_000);
    let d = sha256(&data);
    // Chunked: POST, PATCH, status, a chunk at the wrong offset, PATCH, PUT.
    let r = request(a, "POST", "/v2/up/blobs/uploads/", &[], b"");
    assert_eq!(r.status, 202);
    assert_eq!(r.header("range"), Some("0-0"));
    let loc = r.header("location").unwrap().to_string();
    assert!(r.header("docker-upload-uuid").is_some());
    let r = request(
        a,
        "PATCH",
        &loc,
        &[("Content-Range", "0-99999")],
        &data[..100_000],
    );
    assert_eq!((r.status, r.header("range")), (202, Some("0-99999")));
    let r = get(a, &loc, &[]);
    assert_eq!((r.status, r.header("range")), (204, Some("0-99999")));
    let r = request(a, "PATCH", &loc, &[("Content-Range", "5-10")], b"xxxxxx");
    assert_eq!((r.status, r.header("range")), (416, Some("0-99999")));
    let r = request(a, "PATCH", &loc, &[], &data[100_000..200_000]);
    assert_eq!(r.header("range"), Some("0-199999"));
    let r = request(
        a,
        "PUT",
        &format!("{loc}?digest={d}"),
        &[],
        &data[200_000..],
    );
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.header("docker-content-digest"), Some(&*d));
    assert_eq!(blob(&dir, &d), data);
    assert_eq!(get(a, &loc, &[]).code(), "BLOB_UPLOAD_UNKNOWN");
    // A wrong digest names nothing.
    let r = request(a, "POST", "/v2/up/blobs/uploads/", &[], b"");
    let loc = r.header("location").unwrap().to_string();
    let wrong = sha256(b"something else");
    let r = request(a, "PUT", &format!("{loc}?digest={wrong}"), &[], b"hello");
    assert_eq!((r.status, r.code().as_str()), (400, "DIGEST_INVALID"));
    assert!(!dir
        .join("blobs/sha256")
        .join(wrong.trim_start_matches("sha256:"))
        .exists());
    // Monolithic, then a mount of what is there (and a mount of what is not starts a session).
    let small = b"monolithic blob".to_vec();
    let sd = sha256(&small);
    let r = request(
        a,
        "POST",
        &format!("/v2/up/blobs/uploads/?digest={sd}"),
        &[],
        &small,
    );
    assert_eq!(r.status, 201);
    assert_eq!(blob(&dir, &sd), small);
    let r = request(
        a,
        "POST",
        &format!("/v2/other/blobs/uploads/?mount={sd}&from=up"),
        &[],
        b"",
    );
    assert_eq!(
        (r.status, r.header("docker-content-digest")),
        (201, Some(&*sd))
    );
    let r = request(
        a,
        "POST",
        &format!("/v2/other/blobs/uploads/?mount={wrong}&from=up"),
        &[],
        b"",
    );
    assert_eq!(r.status, 202);
    let r = request(a, "DELETE", r.header("location").unwrap(), &[], b"");
    assert_eq!(r.status, 204);
    // A manifest whose blobs are not there is refused; with them it is named.
    let config = b"{}".to_vec();
    let cd = sha256(&config);
    let manifest = serde_json::json!({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": 2},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": d, "size": data.len()}],
    });
    let mbytes = serde_json::to_vec(&manifest).unwrap();
    let ct = [("Content-Type", OCI_MANIFEST)];
    let r = request(a, "PUT", "/v2/up/manifests/v1", &ct, &mbytes);
    assert_eq!(
        (r.status, r.code().as_str()),
        (400, "MANIFEST_BLOB_UNKNOWN")
    );
    let r = request(
        a,
        "POST",
        &format!("/v2/up/blobs/uploads/?digest={cd}"),
        &[],
        &config,
    );
    assert_eq!(r.status, 201);
    let r = request(a, "PUT", "/v2/up/manifests/v1", &ct, &mbytes);
    assert_eq!(r.status, 201);
    let md = sha256(&mbytes);
    assert_eq!(r.header("docker-content-digest"), Some(&*md));
    assert_eq!(ol("resolve", &dir, &["up:v1"]).ok().trim(), md);
    // By digest: the digest must be the content's.
    let r = request(a, "PUT", &format!("/v2/up/manifests/{wrong}"), &ct, &mbytes);
    assert_eq!(r.code(), "DIGEST_INVALID");
    let r = request(
        a,
        "PUT",
        "/v2/up/manifests/v2",
        &[("Content-Type", OCI_INDEX)],
        &mbytes,
    );
    assert_eq!(r.code(), "MANIFEST_INVALID");
    // A referrer lands as an unnamed entry and is listed.
    let art = serde_json::json!({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": "application/x.sig",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": cd, "size": 2},
        "layers": [],
        "subject": {"mediaType": OCI_MANIFEST, "digest": md, "size": mbytes.len()},
    });
    let abytes = serde_json::to_vec(&art).unwrap();
    let ad = sha256(&abytes);
    let r = request(a, "PUT", &format!("/v2/up/manifests/{ad}"), &ct, &abytes);
    assert_eq!((r.status, r.header("oci-subject")), (201, Some(&*md)));
    let r = get(a, &format!("/v2/up/referrers/{md}"), &[]);
    assert_eq!(r.json()["manifests"][0]["digest"], ad.as_str());
    assert_eq!(
        r.json()["manifests"][0]["artifactType"],
        "application/x.sig"
    );
    let fsck = ol("fsck", &dir, &[]);
    fsck.ok();
    let left: Vec<_> = fs::read_dir(dir.join(".ocilayout/tmp"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn sigterm_stops_cleanly() {
    let (_t, dir) = fixture_copy("umoci");
    let mut s = Serve::start(&dir, &[]);
    assert_eq!(get(&s.addr, "/v2/", &[]).status, 200);
    let (code, took) = s.stop();
    assert_eq!(code, Some(0));
    assert!(took < std::time::Duration::from_secs(5), "{took:?}");
}

#[test]
fn a_large_index_is_not_parsed_per_request() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("l");
    let layout = ocilayout::Layout::init(&dir).unwrap();
    let m = make_image(&layout, "base:1", 2, &[10]);
    // 50,000 entries written straight into index.json.
    let n = 50_000;
    let mut entries: Vec<String> = (0..n)
        .map(|i| {
            format!(
                r#"{{"mediaType":"{OCI_MANIFEST}","digest":"{}","size":{},"annotations":{{"io.containerd.image.name":"docker.io/library/img{i}:latest","org.opencontainers.image.ref.name":"latest"}}}}"#,
                m.digest(),
                m.size()
            )
        })
        .collect();
    entries.push(format!(r#"{{"mediaType":"{OCI_MANIFEST}","digest":"{}","size":{},"annotations":{{"io.containerd.image.name":"docker.io/library/base:1"}}}}"#, m.digest(), m.size()));
    fs::write(
        dir.join("index.json"),
        format!(
            r#"{{"schemaVersion":2,"manifests":[{}]}}"#,
            entries.join(",")
        ),
    )
    .unwrap();
    let s = Serve::start(&dir, &[]);
    let time = |path: &str| {
        let t = std::time::Instant::now();
        let r = get(&s.addr, path, &[]);
        assert_eq!(r.status, 200, "{path}");
        t.elapsed()
    };
    // The server parsed index.json once at startup; a change costs one more parse.
    ol("tag", &dir, &["base:1", "base:2"]).ok();
    let first = time("/v2/base/manifests/2");
    let rounds = 50;
    let t = std::time::Instant::now();
    for i in 0..rounds {
        time(&format!("/v2/img{}/manifests/latest", i * 997 % n));
    }
    let each = t.elapsed() / rounds;
    assert!(
        each * 5 < first,
        "a request took {each:?}, the one after a change {first:?}"
    );
}

#[test]
fn a_symlinked_blob_is_never_streamed() {
    let (tmp, dir, _, layers) = image_with_layers("s:1", 4, &[2 << 20]);
    let layer = layers[0].clone();
    // The blob's name now points at a file outside the layout, larger than what is checked whole
    // before answering: streaming it would send most of it before the digest check fails.
    let secret = tmp.path().join("secret");
    fs::write(&secret, noise(99, 3 << 20)).unwrap();
    let path = dir
        .join("blobs/sha256")
        .join(layer.trim_start_matches("sha256:"));
    fs::remove_file(&path).unwrap();
    std::os::unix::fs::symlink(&secret, &path).unwrap();
    let s = Serve::start(&dir, &[]);
    for range in [None, Some("bytes=0-99")] {
        let headers: Vec<(&str, &str)> = range.map(|r| ("Range", r)).into_iter().collect();
        let r = get(&s.addr, &format!("/v2/s/blobs/{layer}"), &headers);
        assert_eq!(
            (r.status, r.code().as_str()),
            (404, "BLOB_UNKNOWN"),
            "{range:?}"
        );
        assert!(r.json()["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("refused"));
    }
}

#[test]
fn a_blob_verified_once_is_hashed_again_after_any_change() {
    let (_tmp, dir, _, layers) = image_with_layers("v:1", 6, &[3 << 20]);
    let layer = layers[0].clone();
    let s = Serve::start(&dir, &[]);
    let path = format!("/v2/v/blobs/{layer}");
    for _ in 0..2 {
        let r = get(&s.addr, &path, &[]);
        assert!(r.complete && sha256(&r.body) == layer);
    }
    // Rewritten in place, same size: the server must notice it is another file version.
    let file = dir
        .join("blobs/sha256")
        .join(layer.trim_start_matches("sha256:"));
    let mut b = fs::read(&file).unwrap();
    b[10] ^= 1;
    std::thread::sleep(std::time::Duration::from_millis(20));
    fs::OpenOptions::new()
        .write(true)
        .open(&file)
        .and_then(|mut f| std::io::Write::write_all(&mut f, &b))
        .unwrap();
    let r = get(&s.addr, &path, &[]);
    assert!(!r.complete, "a changed blob was served whole");
    assert_eq!(get(&s.addr, &path, &[]).code(), "BLOB_UNKNOWN");
}
