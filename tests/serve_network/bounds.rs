//! Every bound of a server on a network, hit on purpose: upload sessions (count, descriptors, idle
//! expiry, owner), connections per client, clients that stop reading, verification work, and what a
//! HEAD or a manifest PUT may claim.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use super::{basic, htpasswd, layout_with, wait_until};
use crate::support::registry::sha256;
use crate::support::serve::{get, request, Serve};

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";

fn blob_path(dir: &std::path::Path, d: &str) -> std::path::PathBuf {
    dir.join("blobs/sha256")
        .join(d.trim_start_matches("sha256:"))
}

#[test]
fn upload_sessions_are_capped_per_client_and_hold_no_descriptor() {
    let (_tmp, dir, _, _) = layout_with("img:1", &[100]);
    let s = Serve::start(&dir, &["--push", "--max-uploads-per-client", "40"]);
    let before = s.fds();
    let mut open = Vec::new();
    for i in 0..40 {
        let r = request(&s.addr, "POST", "/v2/up/blobs/uploads/", &[], b"");
        assert_eq!(r.status, 202, "session {i}");
        let loc = r.header("location").unwrap().to_string();
        assert_eq!(
            request(&s.addr, "PATCH", &loc, &[], b"some bytes").status,
            202
        );
        open.push(loc);
    }
    // Forty sessions with data: no descriptor each (a few for the runtime are fine).
    let after = s.fds();
    assert!(
        after <= before + 4,
        "{before} descriptors before, {after} after"
    );
    let r = request(&s.addr, "POST", "/v2/up/blobs/uploads/", &[], b"");
    assert_eq!((r.status, r.code().as_str()), (429, "TOOMANYREQUESTS"));
    // Ids are long random hex, none alike.
    let ids: std::collections::HashSet<&str> =
        open.iter().map(|l| l.rsplit('/').next().unwrap()).collect();
    assert_eq!(ids.len(), 40);
    assert!(ids
        .iter()
        .all(|i| i.len() == 32 && i.bytes().all(|c| c.is_ascii_hexdigit())));
    // Cancelling one makes room.
    assert_eq!(request(&s.addr, "DELETE", &open[0], &[], b"").status, 204);
    assert_eq!(
        request(&s.addr, "POST", "/v2/up/blobs/uploads/", &[], b"").status,
        202
    );
}

#[test]
fn idle_upload_sessions_expire_with_their_bytes() {
    let (_tmp, dir, _, _) = layout_with("img:1", &[100]);
    let s = Serve::start(&dir, &["--push", "--upload-idle", "1"]);
    let r = request(&s.addr, "POST", "/v2/up/blobs/uploads/", &[], b"");
    let loc = r.header("location").unwrap().to_string();
    assert_eq!(request(&s.addr, "PATCH", &loc, &[], b"abc").status, 202);
    let parked = dir.join(".ocilayout/uploads");
    assert_eq!(std::fs::read_dir(&parked).unwrap().count(), 1);
    // Watched from outside: a request would count as use.
    wait_until("the idle session's file to go", || {
        std::fs::read_dir(&parked).unwrap().count() == 0
    });
    assert_eq!(get(&s.addr, &loc, &[]).code(), "BLOB_UPLOAD_UNKNOWN");
}

#[test]
fn upload_sessions_belong_to_the_user_who_opened_them() {
    let (tmp, dir, _, _) = layout_with("img:1", &[100]);
    let file = htpasswd(tmp.path(), 4, &[("alice", "a-pass"), ("bob", "b-pass")]);
    let s = Serve::start(&dir, &["--push", "--htpasswd", file.to_str().unwrap()]);
    let (alice, bob) = (basic("alice", "a-pass"), basic("bob", "b-pass"));
    let r = request(
        &s.addr,
        "POST",
        "/v2/up/blobs/uploads/",
        &[("Authorization", &alice)],
        b"",
    );
    assert_eq!(r.status, 202);
    let loc = r.header("location").unwrap().to_string();
    for method in ["GET", "PATCH", "PUT", "DELETE"] {
        let r = request(&s.addr, method, &loc, &[("Authorization", &bob)], b"x");
        assert_eq!(
            (r.status, r.code().as_str()),
            (404, "BLOB_UPLOAD_UNKNOWN"),
            "{method} by another user"
        );
    }
    let r = request(&s.addr, "GET", &loc, &[("Authorization", &alice)], b"");
    assert_eq!(r.status, 204, "the owner's session is intact");
}

/// Whether a new connection gets an answer to `GET /v2/` (a refused one is closed or reset).
fn answered(addr: &str) -> bool {
    let Ok(mut c) = TcpStream::connect(addr) else {
        return false;
    };
    let _ = c.set_read_timeout(Some(Duration::from_secs(30)));
    let _ = c.write_all(b"GET /v2/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let mut buf = [0u8; 12];
    matches!(c.read(&mut buf), Ok(n) if n > 0 && buf.starts_with(b"HTTP/1.1 200"))
}

#[test]
fn connections_are_capped_per_client() {
    let (_tmp, dir, _, _) = layout_with("img:1", &[100]);
    let s = Serve::start(&dir, &["--max-connections-per-client", "4"]);
    let idle: Vec<TcpStream> = (0..4)
        .map(|_| TcpStream::connect(&s.addr).unwrap())
        .collect();
    // The fifth is closed before it is answered.
    wait_until("the cap to refuse a fifth connection", || {
        !answered(&s.addr)
    });
    drop(idle);
    wait_until("a place to free up", || answered(&s.addr));
}

#[test]
fn a_client_that_stops_reading_is_cut_after_the_send_timeout() {
    let (_tmp, dir, _, layers) = layout_with("big:1", &[48 << 20]);
    let s = Serve::start(&dir, &["--send-timeout", "2"]);
    let path = format!("/v2/big/blobs/{}", layers[0]);
    // Verified once, so the slow reads below are plain streams.
    assert_eq!(get(&s.addr, &path, &[]).body.len(), 48 << 20);
    let before = s.fds();
    let mut slow: Vec<TcpStream> = (0..8)
        .map(|_| {
            let mut c = TcpStream::connect(&s.addr).unwrap();
            let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n");
            c.write_all(req.as_bytes()).unwrap();
            c
        })
        .collect();
    wait_until("the slow connections to be open", || s.fds() >= before + 8);
    // Nobody reads: each is cut once its response has stalled for the send timeout.
    wait_until("the stalled connections to be cut", || s.fds() <= before);
    for c in &mut slow {
        c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut got = 0usize;
        let mut buf = vec![0u8; 1 << 20];
        loop {
            match c.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => got += n,
            }
        }
        assert!(got < 48 << 20, "a cut transfer, not a whole blob: {got}");
    }
    // The server still answers.
    assert_eq!(get(&s.addr, "/v2/", &[]).status, 200);
}

/// The server's CPU time so far (user + system), in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = after.split_whitespace().collect();
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

#[test]
fn concurrent_ranges_of_an_unverified_blob_hash_it_once() {
    let size = 32 << 20;
    let (_tmp, dir, _, layers) = layout_with("big:1", &[size, size]);
    let s = Serve::start(&dir, &[]);
    let pid = s.child.id();
    let ranged = |layer: &str, n: usize| {
        let t0 = cpu_ticks(pid);
        let asks: Vec<_> = (0..n)
            .map(|i| {
                let (addr, path) = (s.addr.clone(), format!("/v2/big/blobs/{layer}"));
                std::thread::spawn(move || {
                    let range = format!("bytes={i}-{i}");
                    get(&addr, &path, &[("Range", &range)])
                })
            })
            .collect();
        for a in asks {
            let r = a.join().unwrap();
            assert_eq!((r.status, r.body.len()), (206, 1));
        }
        cpu_ticks(pid) - t0
    };
    let one = ranged(&layers[0], 1).max(1);
    let twenty = ranged(&layers[1], 20);
    assert!(
        twenty < one * 5,
        "twenty concurrent ranges cost {twenty} ticks, one cost {one}: hashed more than once"
    );
}

#[test]
fn head_of_a_damaged_blob_of_the_right_size_is_not_found() {
    // Small (checked before answering) and large (streamed) blobs alike.
    for size in [10_000, 3 << 20] {
        let (_tmp, dir, _, layers) = layout_with("img:1", &[size]);
        let path = blob_path(&dir, &layers[0]);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[size / 2] ^= 0xff;
        std::fs::write(&path, &bytes).unwrap();
        let s = Serve::start(&dir, &[]);
        let r = request(
            &s.addr,
            "HEAD",
            &format!("/v2/img/blobs/{}", layers[0]),
            &[],
            b"",
        );
        assert_eq!(r.status, 404, "HEAD of a damaged blob of {size} bytes");
        let r = get(&s.addr, &format!("/v2/img/blobs/{}", layers[0]), &[]);
        assert!(r.status == 404 || !r.complete, "GET of {size} bytes");
    }
    // An intact one is found.
    let (_tmp, dir, _, layers) = layout_with("img:1", &[10_000]);
    let s = Serve::start(&dir, &[]);
    let r = request(
        &s.addr,
        "HEAD",
        &format!("/v2/img/blobs/{}", layers[0]),
        &[],
        b"",
    );
    assert_eq!((r.status, r.header("content-length")), (200, Some("10000")));
}

#[test]
fn a_manifest_put_stores_only_a_manifest_media_type() {
    let (_tmp, dir, base, _) = layout_with("img:1", &[100]);
    let s = Serve::start(&dir, &["--push"]);
    let mut m: serde_json::Value = serde_json::from_slice(&base).unwrap();
    let no_type = {
        m.as_object_mut().unwrap().remove("mediaType");
        serde_json::to_vec(&m).unwrap()
    };
    let cases: &[(&str, Option<&str>, &[u8], u16)] = &[
        ("plain", Some("text/plain"), &no_type, 400),
        ("octets", Some("application/octet-stream"), &no_type, 400),
        ("json", Some("application/json"), &no_type, 400),
        ("disagrees", Some(OCI_INDEX), &base, 400),
        ("docker-for-oci", Some(DOCKER_MANIFEST), &base, 400),
        ("oci", Some(OCI_MANIFEST), &base, 201),
        (
            "params",
            Some("application/vnd.oci.image.manifest.v1+json; charset=utf-8"),
            &base,
            201,
        ),
        ("untyped", None, &base, 201),
        ("oci-no-field", Some(OCI_MANIFEST), &no_type, 201),
    ];
    for (tag, content_type, body, want) in cases {
        let headers: Vec<(&str, &str)> = content_type
            .map(|c| ("Content-Type", c))
            .into_iter()
            .collect();
        let r = request(
            &s.addr,
            "PUT",
            &format!("/v2/img/manifests/{tag}"),
            &headers,
            body,
        );
        assert_eq!(
            r.status,
            *want,
            "{tag}: {}",
            String::from_utf8_lossy(&r.body)
        );
        if *want == 400 {
            assert_eq!(r.code(), "MANIFEST_INVALID", "{tag}");
        } else {
            let got = get(&s.addr, &format!("/v2/img/manifests/{tag}"), &[]);
            assert_eq!(got.header("content-type"), Some(OCI_MANIFEST), "{tag}");
            assert_eq!(sha256(&got.body), sha256(body), "{tag}");
        }
    }
}
