//! The suite's "Pull" category: blobs and manifests by digest and tag, HEAD and GET, unknown ones,
//! the error body of a malformed digest, and a teardown that deletes what the setup pushed.

use super::client::{expect, Client, ERROR_CODES};
use super::data::{Data, NONEXISTENT, OCI_MANIFEST, TAG};

pub fn run(c: &Client, d: &Data) {
    // Setup.
    for b in [&d.configs[0], &d.configs[1], &d.layer] {
        expect(&c.upload(&b.digest, &b.content), "populate blob", true, &[]);
    }
    let r = c.put_manifest(TAG, OCI_MANIFEST, &d.manifests[0].content);
    expect(&r, "populate manifest 0 by tag", true, &[]);
    let r = c.put_manifest(
        &d.manifests[1].digest,
        OCI_MANIFEST,
        &d.manifests[1].content,
    );
    expect(&r, "populate manifest 1 by digest", true, &[]);

    // Pull blobs.
    let blob = |m: &str, digest: &str| c.send(m, &format!("/v2/<name>/blobs/{digest}"), &[], b"");
    assert_eq!(
        blob("HEAD", &d.dummy).status,
        404,
        "HEAD of an unknown blob"
    );
    let r = blob("HEAD", &d.configs[0].digest);
    assert_eq!(r.status, 200, "HEAD of a blob");
    if let Some(h) = r.header("docker-content-digest") {
        assert_eq!(h, d.configs[0].digest);
    }
    assert_eq!(blob("GET", &d.dummy).status, 404, "GET of an unknown blob");
    let r = blob("GET", &d.configs[0].digest);
    assert_eq!(r.status, 200, "GET of a blob");
    assert_eq!(r.body, d.configs[0].content);

    // Pull manifests.
    let accept = [("Accept", OCI_MANIFEST)];
    let manifest = |m: &str, reference: &str, h: &[(&str, &str)]| {
        c.send(m, &format!("/v2/<name>/manifests/{reference}"), h, b"")
    };
    assert_eq!(manifest("HEAD", NONEXISTENT, &[]).status, 404);
    for (reference, want) in [
        (&d.manifests[0].digest, &d.manifests[0]),
        (&d.manifests[1].digest, &d.manifests[1]),
        (&TAG.to_string(), &d.manifests[0]),
    ] {
        let r = manifest("HEAD", reference, &accept);
        assert_eq!(r.status, 200, "HEAD manifest {reference}");
        if let Some(h) = r.header("docker-content-digest") {
            assert_eq!(h, want.digest, "HEAD manifest {reference}");
        }
    }
    assert_eq!(manifest("GET", NONEXISTENT, &[]).status, 404);
    for (reference, want) in [
        (&d.manifests[0].digest, &d.manifests[0]),
        (&d.manifests[1].digest, &d.manifests[1]),
        (&TAG.to_string(), &d.manifests[0]),
    ] {
        let r = manifest("GET", reference, &accept);
        assert_eq!(r.status, 200, "GET manifest {reference}");
        assert_eq!(r.body, want.content, "GET manifest {reference}");
    }

    // Error codes: a 400 carries a spec error body.
    let r = c.send(
        "GET",
        "/v2/<name>/manifests/sha256:totallywrong",
        &[("Content-Type", OCI_MANIFEST)],
        b"blablabla",
    );
    expect(&r, "GET of a malformed digest", false, &[400, 404]);
    if r.status == 400 {
        assert!(ERROR_CODES.contains(&r.code().as_str()), "{:?}", r.code());
    }

    // Teardown: manifests before blobs.
    for m in [&d.manifests[0], &d.manifests[1]] {
        let r = c.send(
            "DELETE",
            &format!("/v2/<name>/manifests/{}", m.digest),
            &[],
            b"",
        );
        expect(&r, "delete a manifest", true, &[405]);
    }
    for b in [&d.configs[0], &d.configs[1], &d.layer] {
        expect(
            &blob("DELETE", &b.digest),
            "delete a blob",
            true,
            &[404, 405],
        );
    }
}
