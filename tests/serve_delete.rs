//! `serve --delete`: DELETE of a tag, of a manifest by digest and of a blob, by the rules of
//! `untag` and `gc` (a blob an image reaches stays), `405` without the flag; and error bodies that
//! never show a path of the server.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use crate::support::digests::*;
use crate::support::fixture_copy;
use crate::support::serve::{request, Reply, Serve};

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

fn delete(s: &Serve, path: &str) -> Reply {
    request(&s.addr, "DELETE", path, &[], b"")
}

fn get(s: &Serve, path: &str) -> Reply {
    request(&s.addr, "GET", path, &[("Accept", OCI_MANIFEST)], b"")
}

fn names(dir: &Path) -> Vec<String> {
    let out = crate::support::ol("ls", dir, &["--json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let mut names: Vec<String> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|e| format!("{} {}", e["name"], e["digest"].as_str().unwrap()))
        .collect();
    names.sort();
    names
}

fn blob_exists(dir: &Path, d: &str) -> bool {
    dir.join("blobs/sha256")
        .join(d.trim_start_matches("sha256:"))
        .exists()
}

#[test]
fn without_the_flag_every_delete_is_unsupported() {
    let (_t, dir) = fixture_copy("containerd");
    let before = names(&dir);
    for extra in [&[][..], &["--push"][..]] {
        let s = Serve::start(&dir, extra);
        for path in [
            "/v2/library/alpine/manifests/3.16".to_string(),
            format!("/v2/library/alpine/manifests/{D1}"),
            format!("/v2/library/alpine/blobs/{LAYER}"),
        ] {
            let r = delete(&s, &path);
            assert_eq!(
                (r.status, r.code().as_str()),
                (405, "UNSUPPORTED"),
                "{path} {extra:?}"
            );
        }
    }
    assert_eq!(names(&dir), before);
}

#[test]
fn deletes_follow_the_rules_of_untag_and_gc() {
    let (_t, dir) = fixture_copy("containerd");
    let s = Serve::start(&dir, &["--delete"]);
    // A blob an image reaches stays.
    let r = delete(&s, &format!("/v2/library/alpine/blobs/{LAYER}"));
    assert_eq!((r.status, r.code().as_str()), (409, "DENIED"));
    assert!(blob_exists(&dir, LAYER));
    // A tag: that name goes, the digest's other names stay.
    let r = delete(&s, "/v2/library/alpine/manifests/3.16");
    assert_eq!(r.status, 202, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(get(&s, "/v2/library/alpine/manifests/3.16").status, 404);
    assert_eq!(
        get(&s, &format!("/v2/library/alpine/manifests/{D1}")).status,
        200
    );
    assert!(!names(&dir).iter().any(|n| n.contains("alpine:3.16")));
    assert!(names(&dir)
        .iter()
        .any(|n| n.contains("quay.io/acme/tool:1.0")));
    // A tag that is not there, a name that is no tag.
    assert_eq!(delete(&s, "/v2/library/alpine/manifests/3.16").status, 404);
    assert_eq!(delete(&s, "/v2/library/alpine/manifests/.bad").status, 404);
    // A manifest by digest: every entry with it, then the manifest itself (nothing else reaches it).
    let r = delete(&s, &format!("/v2/ghcr.io/acme/tool/manifests/{D2}"));
    assert_eq!(r.status, 202, "{}", String::from_utf8_lossy(&r.body));
    assert!(
        !names(&dir).iter().any(|n| n.contains(D2)),
        "{:?}",
        names(&dir)
    );
    assert!(!blob_exists(&dir, D2));
    assert_eq!(
        get(&s, &format!("/v2/ghcr.io/acme/tool/manifests/{D2}")).status,
        404
    );
    assert_eq!(
        delete(&s, &format!("/v2/ghcr.io/acme/tool/manifests/{D2}")).status,
        404
    );
    // Its config now reaches nothing named: it may go, once.
    assert!(blob_exists(&dir, CONFIG2));
    assert_eq!(
        delete(&s, &format!("/v2/ghcr.io/acme/tool/blobs/{CONFIG2}")).status,
        202
    );
    assert!(!blob_exists(&dir, CONFIG2));
    let r = delete(&s, &format!("/v2/ghcr.io/acme/tool/blobs/{CONFIG2}"));
    assert_eq!((r.status, r.code().as_str()), (404, "BLOB_UNKNOWN"));
    // The layer D2 shared with D1 stays.
    assert_eq!(
        delete(&s, &format!("/v2/library/alpine/blobs/{LAYER}")).status,
        409
    );
    let fsck = crate::support::ol("fsck", &dir, &[]);
    assert_eq!(fsck.code, 0, "{}{}", fsck.stdout, fsck.stderr);
}

/// What gc keeps, a DELETE keeps: the blobs of a referrer whose subject is named.
#[test]
fn a_referrer_of_a_named_image_keeps_its_blobs() {
    let (_t, dir) = fixture_copy("artifact");
    let s = Serve::start(&dir, &["--delete"]);
    for d in [SBOM, SBOM_LAYER] {
        let r = delete(&s, &format!("/v2/library/app/blobs/{d}"));
        assert_eq!(r.status, 409, "{d}");
    }
    // Once the subject's name goes, the referrer (an unnamed entry) no longer protects anything.
    assert_eq!(delete(&s, "/v2/library/app/manifests/1").status, 202);
    assert_eq!(
        delete(&s, &format!("/v2/library/app/blobs/{SBOM_LAYER}")).status,
        202
    );
}

/// A named manifest that is missing makes what it reaches unknown: no blob goes, as gc refuses.
#[test]
fn a_delete_never_guesses_past_a_missing_manifest() {
    let (_t, dir) = fixture_copy("containerd");
    std::fs::remove_file(dir.join("blobs/sha256").join(&D2[7..])).unwrap();
    let s = Serve::start(&dir, &["--delete"]);
    let r = delete(&s, &format!("/v2/ghcr.io/acme/tool/blobs/{CONFIG2}"));
    assert_eq!((r.status, r.code().as_str()), (409, "DENIED"));
    assert!(blob_exists(&dir, CONFIG2));
    let body = String::from_utf8_lossy(&r.body);
    assert!(
        body.contains(D2) && !body.contains(dir.to_str().unwrap()),
        "{body}"
    );
}

/// Entries named by a bare tag are deleted through the default repository, and only those.
#[test]
fn bare_tags_are_deleted_through_the_default_repository() {
    let (_t, dir) = fixture_copy("umoci");
    let s = Serve::start(&dir, &["--delete", "--default-repo", "bundle"]);
    assert_eq!(delete(&s, "/v2/bundle/manifests/v2").status, 202);
    let left = names(&dir);
    assert_eq!(left.len(), 2, "{left:?}");
    assert!(!left.iter().any(|n| n.contains(D2)), "{left:?}");
    assert_eq!(get(&s, "/v2/bundle/manifests/v1").status, 200);
}

/// A failure inside the server, or a blob it refuses, is told without any path of the server;
/// the server's log (`-v`) has the detail.
#[test]
fn error_bodies_never_show_server_paths() {
    let (t, dir) = fixture_copy("containerd");
    let log = t.path().join("log");
    let mut child = Command::new(crate::support::bin())
        .arg("-v")
        .arg("serve")
        .arg(&dir)
        .args(["--addr", "127.0.0.1:0", "--json"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let mut line = String::new();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    out.read_line(&mut line).unwrap();
    // The request lines of -v go to stdout too: keep reading them.
    std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    let v: serde_json::Value = serde_json::from_str(&line).unwrap();
    let addr = v["addr"].as_str().unwrap().to_string();
    let get = |path: &str| request(&addr, "GET", path, &[("Accept", OCI_MANIFEST)], b"");
    let outside = t.path().join("outside");
    std::fs::write(&outside, b"secret").unwrap();
    let config = dir.join("blobs/sha256").join(&CONFIG1[7..]);
    std::fs::remove_file(&config).unwrap();
    std::os::unix::fs::symlink(&outside, &config).unwrap();
    let r = get(&format!("/v2/library/alpine/blobs/{CONFIG1}"));
    assert_eq!(r.status, 404);
    // index.json becomes a directory: nothing can be served, and the client is told so plainly.
    std::fs::remove_file(dir.join("index.json")).unwrap();
    std::fs::create_dir(dir.join("index.json")).unwrap();
    let r2 = get("/v2/library/alpine/manifests/3.16");
    assert_eq!(r2.status, 500);
    let root = t.path().to_str().unwrap();
    for r in [r, r2] {
        let body = String::from_utf8_lossy(&r.body);
        assert!(!body.contains(root) && !body.contains("/blobs/"), "{body}");
        assert!(!r.code().is_empty(), "{body}");
    }
    let _ = child.kill();
    let _ = child.wait();
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(
        log.contains(&format!("{}/index.json", dir.display())),
        "{log}"
    );
}
