//! The suite's "Content Discovery" category: tags listed in order, limited by `n` and continued
//! after `last`; the referrers of a manifest (pushed before and after it), filtered by
//! `artifactType`, of a digest nothing refers to, and of a subject that was never pushed.

use super::client::{expect, Client};
use super::data::{Data, ANNOTATION, ARTIFACT_A, OCI_INDEX, OCI_MANIFEST, TAG};

fn tags(c: &Client, query: &str) -> Vec<String> {
    let r = c.send("GET", &format!("/v2/<name>/tags/list{query}"), &[], b"");
    assert_eq!(r.status, 200, "tags/list{query}");
    serde_json::from_value(r.json()["tags"].clone()).unwrap()
}

fn referrers(c: &Client, digest: &str, query: &str) -> (serde_json::Value, Option<String>) {
    let r = c.send(
        "GET",
        &format!("/v2/<name>/referrers/{digest}{query}"),
        &[],
        b"",
    );
    assert_eq!(r.status, 200, "referrers of {digest}");
    assert_eq!(r.header("content-type"), Some(OCI_INDEX));
    (
        r.json(),
        r.header("oci-filters-applied").map(str::to_string),
    )
}

pub fn run(c: &Client, d: &Data) {
    // Setup.
    for b in [&d.configs[2], &d.layer] {
        expect(&c.upload(&b.digest, &b.content), "populate blob", true, &[]);
    }
    for i in 0..4 {
        for tag in [format!("test{i}"), format!("TEST{i}")] {
            let r = c.put_manifest(&tag, OCI_MANIFEST, &d.manifests[2].content);
            expect(&r, "populate tags", true, &[]);
        }
    }
    // References: the empty JSON blob, a referrer's blob, then referrers before their subject.
    assert_eq!(
        d.empty_json.digest,
        "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
    );
    for b in [&d.empty_json, &d.ref_blob_a] {
        expect(&c.upload(&b.digest, &b.content), "populate blob", true, &[]);
    }
    let subject = |r: &crate::support::serve::Reply, want: &str| {
        expect(r, "populate a referrer", true, &[]);
        assert_eq!(r.header("oci-subject"), Some(want));
    };
    for (m, ty) in [
        (&d.refs_a_config, OCI_MANIFEST),
        (&d.refs_a_layer, OCI_MANIFEST),
        (&d.refs_index, OCI_INDEX),
    ] {
        subject(
            &c.put_manifest(&m.digest, ty, &m.content),
            &d.manifests[4].digest,
        );
    }
    for b in [&d.configs[4], &d.layer] {
        expect(&c.upload(&b.digest, &b.content), "populate blob", true, &[]);
    }
    let r = c.put_manifest(TAG, OCI_MANIFEST, &d.manifests[4].content);
    expect(&r, "populate the subject", true, &[]);
    expect(
        &c.upload(&d.ref_blob_b.digest, &d.ref_blob_b.content),
        "populate blob",
        true,
        &[],
    );
    for m in [&d.refs_b_config, &d.refs_b_layer] {
        subject(
            &c.put_manifest(&m.digest, OCI_MANIFEST, &m.content),
            &d.manifests[4].digest,
        );
    }
    let m = &d.refs_c_layer;
    subject(
        &c.put_manifest(&m.digest, OCI_MANIFEST, &m.content),
        &d.manifests[3].digest,
    );

    // Listing tags: sorted (lexically, or as the bytes sort), `n` limits, `last` continues.
    let all = tags(c, "");
    let mut lexical = all.clone();
    lexical.sort_by_key(|t| t.to_lowercase());
    let mut bytewise = all.clone();
    bytewise.sort();
    assert!(all == lexical || all == bytewise, "{all:?}");
    let half = all.len() / 2;
    assert_eq!(tags(c, &format!("?n={half}")).len(), half);
    let first = tags(c, &format!("?n={half}"));
    let last = &first[half - 1];
    let next = tags(c, &format!("?n={half}&last={last}"));
    assert!(next.len() <= half);
    assert!(!next.contains(last), "{next:?} after {last}");

    // Listing referrers.
    let (index, _) = referrers(c, &d.dummy, "");
    assert_eq!(index["manifests"].as_array().unwrap().len(), 0);
    let check = |index: &serde_json::Value, n: usize| {
        let manifests = index["manifests"].as_array().unwrap();
        assert_eq!(manifests.len(), n, "{index}");
        assert_ne!(manifests[0]["digest"], manifests[1]["digest"]);
        for m in manifests {
            let annotations = m["annotations"].as_object().unwrap();
            assert_eq!(annotations.len(), 1, "{m}");
            let digest = m["digest"].as_str().unwrap();
            assert_eq!(
                annotations[ANNOTATION].as_str(),
                d.annotation_of(digest),
                "{m}"
            );
        }
    };
    check(&referrers(c, &d.manifests[4].digest, "").0, 5);
    let (index, filters) = referrers(
        c,
        &d.manifests[4].digest,
        &format!("?artifactType={ARTIFACT_A}"),
    );
    // The filter is applied, and says so.
    assert_eq!(filters.as_deref(), Some("artifactType"));
    check(&index, 2);
    let (index, _) = referrers(c, &d.manifests[3].digest, "");
    let manifests = index["manifests"].as_array().unwrap();
    assert_eq!(manifests.len(), 1);
    assert_eq!(manifests[0]["digest"], d.refs_c_layer.digest.as_str());

    // Teardown: manifests, then blobs.
    let delete = |path: String| {
        let r = c.send("DELETE", &path, &[], b"");
        expect(&r, &format!("DELETE {path}"), true, &[404, 405]);
    };
    for m in [
        &d.refs_index,
        &d.manifests[2],
        &d.manifests[4],
        &d.refs_a_config,
        &d.refs_a_layer,
        &d.refs_b_config,
        &d.refs_b_layer,
        &d.refs_c_layer,
    ] {
        delete(format!("/v2/<name>/manifests/{}", m.digest));
    }
    for b in [&d.configs[2], &d.layer] {
        delete(format!("/v2/<name>/blobs/{}", b.digest));
    }
    for m in [
        &d.refs_index,
        &d.refs_a_config,
        &d.refs_a_layer,
        &d.manifests[4],
        &d.refs_b_config,
        &d.refs_b_layer,
    ] {
        delete(format!("/v2/<name>/manifests/{}", m.digest));
    }
    for b in [&d.configs[4], &d.ref_blob_a, &d.ref_blob_b, &d.empty_json] {
        delete(format!("/v2/<name>/blobs/{}", b.digest));
    }
}
