//! Hostile clients, bounded, all at once against a live server while a normal client pulls: floods
//! of upload sessions, clients that never read, wrong passwords, one-byte ranges of a blob not yet
//! verified. The normal client must get every byte right, and the server's memory stay bounded.

use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{basic, connect_from, htpasswd, layout_with};
use crate::support::registry::sha256;
use crate::support::serve::{get, Serve};

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// Layer sizes of the image pulled.
const LAYER: usize = 16 << 20;
/// The server's peak resident memory must stay under this, whatever the hostile clients do.
const RSS_BOUND_KB: u64 = 160 << 10;

/// One request from `src`; the status, or 0 when the connection ended without one.
fn status_from(src: [u8; 4], addr: &str, method: &str, path: &str, headers: &str) -> u16 {
    let Ok(mut c) = connect_from(src, addr) else {
        return 0;
    };
    let _ = c.set_read_timeout(Some(Duration::from_secs(10)));
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 0\r\n{headers}\r\n"
    );
    if c.write_all(req.as_bytes()).is_err() {
        return 0;
    }
    let mut head = [0u8; 12];
    match c.read_exact(&mut head) {
        Ok(()) => std::str::from_utf8(&head[9..12])
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0),
        Err(_) => 0,
    }
}

#[test]
fn hostile_clients_do_not_stop_a_normal_pull_nor_grow_the_server() {
    let (tmp, dir, manifest, layers) = layout_with("app:1", &[LAYER, LAYER]);
    let file = htpasswd(tmp.path(), 8, &[("alice", "a-pass"), ("mallory", "m-pass")]);
    let s = Serve::start(
        &dir,
        &[
            "--push",
            "--htpasswd",
            file.to_str().unwrap(),
            "--send-timeout",
            "5",
        ],
    );
    let addr = s.addr.clone();
    let alice = basic("alice", "a-pass");
    let mallory = format!("Authorization: {}\r\n", basic("mallory", "m-pass"));
    let stop = Arc::new(AtomicBool::new(false));
    let rss_start = s.memory_kb("VmRSS");

    // Clients that never read: a blob request each, then silence (127.0.0.2). Unbounded, 300 of
    // them would hold 300 responses' buffers.
    let mut slow = Vec::new();
    for _ in 0..300 {
        if let Ok(mut c) = connect_from([127, 0, 0, 2], &addr) {
            let req = format!(
                "GET /v2/app/blobs/{} HTTP/1.1\r\nHost: x\r\n{mallory}\r\n",
                layers[0]
            );
            let _ = c.write_all(req.as_bytes());
            slow.push(c);
        }
    }
    let mut hostile = Vec::new();
    // Upload sessions opened and abandoned (127.0.0.3).
    let refused = Arc::new(AtomicUsize::new(0));
    {
        let (addr, mallory, refused) = (addr.clone(), mallory.clone(), refused.clone());
        hostile.push(std::thread::spawn(move || {
            for _ in 0..300 {
                let st = status_from(
                    [127, 0, 0, 3],
                    &addr,
                    "POST",
                    "/v2/x/blobs/uploads/",
                    &mallory,
                );
                if st == 429 {
                    refused.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    // Wrong passwords, as fast as the server takes them (127.0.0.4).
    for i in 0..8 {
        let (addr, stop) = (addr.clone(), stop.clone());
        let auth = format!(
            "Authorization: {}\r\n",
            basic("alice", &format!("guess{i}"))
        );
        hostile.push(std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                status_from([127, 0, 0, 4], &addr, "GET", "/v2/", &auth);
            }
        }));
    }
    // One-byte ranges of the blob nobody has verified yet (127.0.0.5).
    for i in 0..8 {
        let (addr, mallory, layer) = (addr.clone(), mallory.clone(), layers[1].clone());
        hostile.push(std::thread::spawn(move || {
            for j in 0..10 {
                let h = format!("{mallory}Range: bytes={}-{}\r\n", i * 10 + j, i * 10 + j);
                status_from(
                    [127, 0, 0, 5],
                    &addr,
                    "GET",
                    &format!("/v2/app/blobs/{layer}"),
                    &h,
                );
            }
        }));
    }

    // Meanwhile, the normal client pulls (from 127.0.0.1), twice.
    std::thread::sleep(Duration::from_millis(500));
    let t = Instant::now();
    for _ in 0..2 {
        let auth = [("Authorization", alice.as_str()), ("Accept", OCI_MANIFEST)];
        let m = get(&addr, "/v2/app/manifests/1", &auth);
        assert_eq!((m.status, &m.body), (200, &manifest));
        let doc: serde_json::Value = serde_json::from_slice(&m.body).unwrap();
        let config = doc["config"]["digest"].as_str().unwrap();
        let mut blobs = vec![config.to_string()];
        blobs.extend(layers.iter().cloned());
        for d in blobs {
            let r = get(&addr, &format!("/v2/app/blobs/{d}"), &auth);
            assert!(r.complete, "{d}: a complete transfer");
            assert_eq!((r.status, sha256(&r.body)), (200, d.clone()));
        }
    }
    let pulled = t.elapsed();
    let rss_during = s.memory_kb("VmRSS");
    stop.store(true, Ordering::Relaxed);
    for h in hostile {
        h.join().unwrap();
    }
    let peak = s.memory_kb("VmHWM");
    eprintln!(
        "abuse: two pulls of {} MiB in {pulled:?}; server RSS {rss_start} kB at start, {rss_during} kB \
         under abuse, peak {peak} kB; {} session openings refused",
        (4 * LAYER) >> 20,
        refused.load(Ordering::Relaxed)
    );
    assert!(peak < RSS_BOUND_KB, "the server's peak RSS was {peak} kB");
    assert!(
        refused.load(Ordering::Relaxed) > 0,
        "the session cap was hit"
    );
    drop(slow);
    assert_eq!(get(&addr, "/v2/", &[("Authorization", &alice)]).status, 200);
}
