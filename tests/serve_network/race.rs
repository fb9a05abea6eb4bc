//! A push racing `gc`, forced into its worst interleaving through the server's pause points; and an
//! idle upload session that must not keep `gc` or `rm` waiting.

use std::time::Duration;

use super::{exits_within, layout_with, spawn, wait_until};
use crate::support::ol;
use crate::support::registry::{noise, sha256};
use crate::support::serve::{get, request, Serve};

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

/// A new manifest for the same config and layers: `base` with an annotation.
fn variant(base: &[u8], note: &str) -> Vec<u8> {
    let mut m: serde_json::Value = serde_json::from_slice(base).unwrap();
    m["annotations"] = serde_json::json!({ "note": note });
    serde_json::to_vec(&m).unwrap()
}

#[test]
fn a_push_racing_gc_never_names_a_deleted_manifest() {
    let (tmp, dir, base, _) = layout_with("img:1", &[1000, 2000]);
    let hooks = tmp.path().join("hooks");
    std::fs::create_dir(&hooks).unwrap();
    let s = Serve::start_with_env(
        &dir,
        &["--push"],
        &[("OCILAYOUT_SERVE_TEST_HOOKS", hooks.as_path())],
    );
    let (a, b) = (variant(&base, "a"), variant(&base, "b"));
    let hex = |m: &[u8]| sha256(m).trim_start_matches("sha256:").to_string();
    let put = |tag: &'static str, body: Vec<u8>| {
        let addr = s.addr.clone();
        std::thread::spawn(move || {
            request(
                &addr,
                "PUT",
                &format!("/v2/img/manifests/{tag}"),
                &[("Content-Type", OCI_MANIFEST)],
                &body,
            )
        })
    };
    let put_a = put("a", a.clone());
    let put_b = put("b", b.clone());
    // Both manifests are written into blobs/ and not yet named.
    let at = |m: &[u8]| hooks.join(format!("manifest-written-{}", hex(m)));
    wait_until("both PUTs to write their manifest", || {
        at(&a).exists() && at(&b).exists()
    });
    let mut gc = spawn("gc", &dir, &[]);
    assert_eq!(
        exits_within(&mut gc, Duration::from_secs(1)),
        None,
        "gc waits for the pushes in flight"
    );
    // One PUT finishes; the other is still between writing and naming.
    std::fs::write(hooks.join(format!("manifest-written-{}.go", hex(&a))), "").unwrap();
    assert_eq!(put_a.join().unwrap().status, 201);
    assert_eq!(
        exits_within(&mut gc, Duration::from_secs(3)),
        None,
        "gc must keep waiting while the other PUT is in flight"
    );
    std::fs::write(hooks.join(format!("manifest-written-{}.go", hex(&b))), "").unwrap();
    assert_eq!(put_b.join().unwrap().status, 201);
    assert_eq!(exits_within(&mut gc, Duration::from_secs(60)), Some(0));
    ol("fsck", &dir, &[]).ok();
    for (tag, m) in [("a", &a), ("b", &b)] {
        let r = get(
            &s.addr,
            &format!("/v2/img/manifests/{tag}"),
            &[("Accept", OCI_MANIFEST)],
        );
        assert_eq!((r.status, &r.body), (200, m), "{tag}");
    }
}

#[test]
fn an_idle_upload_session_never_keeps_gc_or_rm_waiting() {
    let (_tmp, dir, _, _) = layout_with("img:1", &[1000]);
    let s = Serve::start(&dir, &["--push"]);
    let data = noise(3, 400_000);
    let r = request(&s.addr, "POST", "/v2/up/blobs/uploads/", &[], b"");
    assert_eq!(r.status, 202);
    let loc = r.header("location").unwrap().to_string();
    let r = request(&s.addr, "PATCH", &loc, &[], &data[..150_000]);
    assert_eq!(r.status, 202);
    // Kept alive, but idle between requests: gc and rm go ahead.
    assert_eq!(get(&s.addr, &loc, &[]).status, 204);
    let mut gc = spawn("gc", &dir, &[]);
    assert_eq!(
        exits_within(&mut gc, Duration::from_secs(60)),
        Some(0),
        "gc finished"
    );
    assert_eq!(get(&s.addr, &loc, &[]).status, 204);
    let mut rm = spawn("rm", &dir, &["img:1"]);
    assert_eq!(exits_within(&mut rm, Duration::from_secs(60)), Some(0));
    // gc left the session's bytes alone: the upload completes with the right content.
    let d = sha256(&data);
    let r = request(
        &s.addr,
        "PUT",
        &format!("{loc}?digest={d}"),
        &[],
        &data[150_000..],
    );
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let stored = std::fs::read(
        dir.join("blobs/sha256")
            .join(d.trim_start_matches("sha256:")),
    );
    assert_eq!(stored.unwrap(), data);
}
