//! The suite's "Push" category: streamed, monolithic and chunked blob uploads (out-of-order and
//! repeated chunks refused with 416, the status of a stale session), cross-repository mounts, and
//! manifest uploads by tag, with no layers, then read back by digest.

use super::client::{expect, location, with_query, Client};
use super::data::{Data, EMPTY_LAYER_TAG, NONEXISTENT, OCI_MANIFEST};

const OCTETS: (&str, &str) = ("Content-Type", "application/octet-stream");

pub fn run(c: &Client, d: &Data) {
    let blob = |m: &str, digest: &str| c.send(m, &format!("/v2/<name>/blobs/{digest}"), &[], b"");

    // Blob upload streamed.
    let r = c.send("POST", "/v2/<name>/blobs/uploads/", &[], b"");
    let r = c.send("PATCH", location(&r), &[OCTETS], &d.blob_a.content);
    assert_eq!(r.status, 202, "PATCH with the blob in its body");
    let put = with_query(location(&r), &[("digest", &d.blob_a.digest)]);
    let r = c.send("PUT", &put, &[OCTETS], b"");
    assert_eq!(r.status, 201, "PUT closing a streamed upload");
    assert!(!location(&r).is_empty());

    // Blob upload monolithic.
    assert_eq!(blob("GET", &d.dummy).status, 404);
    let cfg = &d.configs[1];
    let post = with_query("/v2/<name>/blobs/uploads/", &[("digest", &cfg.digest)]);
    let last = c.send("POST", &post, &[OCTETS], &cfg.content);
    assert!(!location(&last).is_empty());
    expect(&last, "POST with digest and blob", false, &[201, 202]);
    let r = blob("GET", &cfg.digest);
    assert_eq!(r.status, if last.status == 202 { 404 } else { 200 });
    let r = c.send("POST", "/v2/<name>/blobs/uploads/", &[], b"");
    assert_eq!(r.status, 202, "POST opening a session");
    let put = with_query(location(&r), &[("digest", &cfg.digest)]);
    let r = c.send("PUT", &put, &[OCTETS], &cfg.content);
    assert_eq!(r.status, 201, "PUT of a whole blob");
    assert!(!location(&r).is_empty());
    assert_eq!(blob("GET", &cfg.digest).status, 200);
    let r = c.upload(&d.layer.digest, &d.layer.content);
    assert_eq!(r.status, 201, "PUT of a layer");
    assert!(!location(&r).is_empty());
    assert_eq!(blob("GET", &d.layer.digest).status, 200);

    // Blob upload chunked: 22 bytes, then 20.
    let (chunk1, chunk2) = d.blob_b.content.split_at(22);
    let range1 = format!("0-{}", chunk1.len() - 1);
    let range2 = format!("{}-{}", chunk1.len(), d.blob_b.content.len() - 1);
    let patch = |url: &str, range: &str, chunk: &[u8]| {
        c.send("PATCH", url, &[OCTETS, ("Content-Range", range)], chunk)
    };
    let r = c.send("POST", "/v2/<name>/blobs/uploads/", &[], b"");
    let r = patch(location(&r), &range2, chunk2);
    assert_eq!(r.status, 416, "a chunk out of order");
    let session = c.send("POST", "/v2/<name>/blobs/uploads/", &[], b"");
    let url = location(&session).to_string();
    let r = patch(&url, &range1, chunk1);
    assert_eq!(r.status, 202, "the first chunk");
    assert_eq!(r.header("range"), Some(range1.as_str()));
    let r = patch(&url, &range1, chunk1);
    assert_eq!(r.status, 416, "the first chunk again");
    let r = c.send("GET", &url, &[], b"");
    assert_eq!(r.status, 204, "the status of a session");
    assert_eq!(r.header("range"), Some(range1.as_str()));
    let r = patch(location(&r), &range2, chunk2);
    assert_eq!(r.status, 202, "the second chunk");
    let whole = format!("0-{}", d.blob_b.content.len() - 1);
    assert_eq!(r.header("range"), Some(whole.as_str()));
    let put = with_query(location(&r), &[("digest", &d.blob_b.digest)]);
    let r = c.send("PUT", &put, &[OCTETS], b"");
    assert_eq!(r.status, 201, "PUT closing a chunked upload");
    assert!(!location(&r).is_empty());

    // Cross-repository blob mount.
    let other = format!("conformance-{}", &d.dummy[7..19]);
    let mount = |params: &[(&str, &str)]| {
        let path = with_query(&format!("/v2/{other}/blobs/uploads/"), params);
        c.send("POST", &path.replace("<name>", &c.name), &[], b"")
    };
    let r = mount(&[("mount", &d.dummy)]);
    assert_eq!(r.status, 202, "a mount of an unknown blob opens a session");
    assert!(!location(&r).is_empty());
    let last = mount(&[("mount", &d.blob_a.digest), ("from", "<name>")]);
    expect(&last, "a mount from another repository", false, &[201, 202]);
    if last.status == 201 {
        assert_eq!(
            location(&last),
            format!("/v2/{other}/blobs/{}", d.blob_a.digest)
        );
        assert_eq!(c.send("GET", location(&last), &[], b"").status, 200);
    } else {
        assert!(location(&last).starts_with(&format!("/v2/{other}/blobs/uploads/")));
    }
    // With automatic content discovery (every repository shares one store), a mount without
    // `from` of a blob the layout holds is a mount too.
    let r = mount(&[("mount", &d.blob_a.digest)]);
    assert_eq!(r.status, 201, "a mount without from");

    // Manifest upload.
    let manifest = |reference: &str| {
        c.send(
            "GET",
            &format!("/v2/<name>/manifests/{reference}"),
            &[("Accept", OCI_MANIFEST)],
            b"",
        )
    };
    assert_eq!(manifest(NONEXISTENT).status, 404);
    for i in 0..4 {
        let r = c.put_manifest(&format!("test{i}"), OCI_MANIFEST, &d.manifests[1].content);
        assert_eq!(r.status, 201, "PUT of a manifest by tag");
        assert!(!location(&r).is_empty());
    }
    let r = c.put_manifest(
        EMPTY_LAYER_TAG,
        OCI_MANIFEST,
        &d.empty_layer_manifest.content,
    );
    assert_eq!(r.status, 201, "a manifest with no layers");
    assert!(!location(&r).is_empty());
    let r = manifest(&d.manifests[1].digest);
    assert_eq!(r.status, 200);
    assert_eq!(r.body, d.manifests[1].content);

    // Teardown.
    for m in [&d.manifests[1], &d.empty_layer_manifest] {
        let r = c.send(
            "DELETE",
            &format!("/v2/<name>/manifests/{}", m.digest),
            &[],
            b"",
        );
        expect(&r, "delete a manifest", true, &[405]);
    }
    for b in [cfg, &d.layer] {
        expect(
            &blob("DELETE", &b.digest),
            "delete a blob",
            true,
            &[404, 405],
        );
    }
}
