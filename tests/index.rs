//! index.json that keeps what is not ours: names implied by other tools' conventions, rewrites that
//! keep every field and entry they do not change, partial archives, and index growth at scale.

mod support;

use std::fs;
use std::path::Path;

use serde_json::{json, Value};
use support::{digests::*, fixture_copy, ol};

fn entry(digest: &str, size: u64, annotations: Value) -> Value {
    json!({
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": digest,
        "size": size,
        "annotations": annotations,
    })
}

fn write_index(dir: &Path, manifests: Vec<Value>) {
    let index = json!({"schemaVersion": 2, "manifests": manifests});
    fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
}

/// containerd names a plain `foo` `docker.io/library/foo` with no tag and no ref.name: its tag is
/// `latest`, in `ls` and when resolving the bare tag, by the fast scan and by `untag` alike.
#[test]
fn a_bare_tag_implied_by_the_name_resolves() {
    let (_tmp, dir) = fixture_copy("umoci");
    write_index(
        &dir,
        vec![
            entry(
                D1,
                345,
                json!({"io.containerd.image.name": "docker.io/library/foo"}),
            ),
            entry(
                D2,
                499,
                json!({"io.containerd.image.name": "ghcr.io/acme/bar:1"}),
            ),
        ],
    );
    let ls: Value = serde_json::from_str(ol("ls", &dir, &["--json"]).ok()).unwrap();
    assert_eq!(ls[0]["tag"], "latest", "{ls}");
    assert_eq!(ol("resolve", &dir, &["latest"]).ok().trim(), D1);
    assert_eq!(ol("resolve", &dir, &["1"]).ok().trim(), D2);
    ol("tag", &dir, &["latest", "copy:1"]).ok();
    ol("untag", &dir, &["latest"]).ok();
    let ls: Value = serde_json::from_str(ol("ls", &dir, &["--json"]).ok()).unwrap();
    let names: Vec<&str> = ls
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["ghcr.io/acme/bar:1", "docker.io/library/copy:1"]);
}
