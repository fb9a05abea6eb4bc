//! The suite's "Content Management" category: DELETE of a tag, of a manifest by digest (gone
//! afterwards, and from the tag list), and of blobs (gone afterwards).

use super::client::{expect, Client};
use super::data::{Data, OCI_MANIFEST, TAG};

fn tag_count(c: &Client) -> Option<usize> {
    let r = c.send("GET", "/v2/<name>/tags/list", &[], b"");
    expect(&r, "tags/list", false, &[200, 404]);
    (r.status == 200).then(|| r.json()["tags"].as_array().map_or(0, Vec::len))
}

pub fn run(c: &Client, d: &Data) {
    // Setup.
    for b in [&d.configs[3], &d.layer] {
        expect(&c.upload(&b.digest, &b.content), "populate blob", true, &[]);
    }
    let r = c.put_manifest(TAG, OCI_MANIFEST, &d.manifests[3].content);
    expect(&r, "populate a tag", true, &[]);
    let before = tag_count(c).expect("the tag list after a tag was pushed");

    // Manifest delete.
    let r = c.send("DELETE", &format!("/v2/<name>/manifests/{TAG}"), &[], b"");
    expect(&r, "DELETE of a tag", false, &[400, 202, 405]);
    if r.status == 400 {
        assert_eq!(r.code(), "UNSUPPORTED");
    }
    let digest = &d.manifests[3].digest;
    let r = c.send(
        "DELETE",
        &format!("/v2/<name>/manifests/{digest}"),
        &[],
        b"",
    );
    expect(&r, "DELETE of a manifest by digest", false, &[202, 404]);
    let r = c.send("GET", &format!("/v2/<name>/manifests/{digest}"), &[], b"");
    expect(&r, "GET of a deleted manifest", false, &[404, 200]);
    match tag_count(c) {
        Some(n) => assert_eq!(n, before - 1),
        None => assert_eq!(before, 1),
    }

    // Blob delete.
    let mut deleted = true;
    for b in [&d.configs[3], &d.layer] {
        let r = c.send(
            "DELETE",
            &format!("/v2/<name>/blobs/{}", b.digest),
            &[],
            b"",
        );
        expect(&r, "DELETE of a blob", false, &[202, 404, 405]);
        deleted = r.status != 405;
    }
    if deleted {
        let r = c.send(
            "GET",
            &format!("/v2/<name>/blobs/{}", d.configs[3].digest),
            &[],
            b"",
        );
        assert_eq!(r.status, 404, "GET of a deleted blob");
    }
}
