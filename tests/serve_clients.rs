//! `ocilayout serve` against clients nobody here wrote: skopeo (inspect, copy from and into it),
//! podman (storage driver vfs, its own root), our own `pull` and `push`, with htpasswd and TLS; gc
//! racing pushes. Byte-identical digests throughout.

use crate::support;
use crate::support::containerd;
use crate::support::registry as registry_support;
use crate::support::serve as serve_support;
use crate::support::tls;

use std::path::Path;
use std::process::Command;

use registry_support::{sha256, skopeo, skopeo_copy, skopeo_raw};
use serve_support::{get, Serve};
use support::digests::*;
use support::{fixture_copy, fixtures, have, ol, run, run_with_stdin};

fn blob(dir: &Path, d: &str) -> Vec<u8> {
    std::fs::read(
        dir.join("blobs/sha256")
            .join(d.trim_start_matches("sha256:")),
    )
    .unwrap()
}

#[test]
fn skopeo_reads_exact_bytes_single_and_multi_arch_oci_and_docker() {
    if !have("skopeo") {
        return;
    }
    let (_t, dir) = fixture_copy("multiarch");
    let (_t2, docker) = fixture_copy("docker");
    let s = Serve::start(&dir, &[]);
    let d = Serve::start(&docker, &["--default-repo", "dock"]);
    // inspect --raw: the stored bytes, under every name a client may use.
    for (server, image, digest) in [
        (&s, "multi:1", MULTI),
        (&s, "library/nested:1", NESTED),
        (&s, &format!("multi@{ARM}") as &str, ARM),
        (&d, "dockerlist:1", DLIST),
        (&d, "dock:v2s2", V2S2),
    ] {
        let raw = skopeo_raw(&format!("{}/{image}", server.addr));
        assert_eq!(sha256(&raw), digest, "{image}");
        let dir = if std::ptr::eq(server, &s) {
            &dir
        } else {
            &docker
        };
        assert_eq!(raw, blob(dir, digest), "{image}");
    }
    let out = skopeo(&[
        "inspect",
        "--tls-verify=false",
        &format!("docker://{}/multi:1", s.addr),
    ]);
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["Digest"], MULTI);
    // copy --all into a layout: every manifest, config and layer arrives with its digest.
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join("copy");
    skopeo_copy(
        &["--all"],
        &format!("docker://{}/multi:1", s.addr),
        &format!("oci:{}:m", dest.display()),
    );
    assert_eq!(ol("resolve", &dest, &["m"]).ok().trim(), MULTI);
    for d in [MULTI, D1, ARM, CONFIG1, ARM_CONFIG, LAYER] {
        assert_eq!(blob(&dest, d), blob(&dir, d), "{d}");
    }
    ol("fsck", &dest, &[]).ok();
    // Docker schema2 (a manifest list and a manifest), kept as they are (`dir:` keeps the bytes).
    let plain = tmp.path().join("dir");
    skopeo_copy(
        &[],
        &format!("docker://{}/dock:v2s2", d.addr),
        &format!("dir:{}", plain.display()),
    );
    assert_eq!(
        sha256(&std::fs::read(plain.join("manifest.json")).unwrap()),
        V2S2
    );
}

#[test]
fn podman_pulls_from_serve() {
    if !have("podman") {
        return;
    }
    let (_t, dir) = fixture_copy("multiarch");
    let (_t2, single) = fixture_copy("containerd");
    let s = Serve::start(&dir, &[]);
    let one = Serve::start(&single, &[]);
    let root = tempfile::tempdir().unwrap();
    let podman = |args: &[&str]| {
        let out = Command::new("podman")
            .arg("--root")
            .arg(root.path().join("root"))
            .arg("--runroot")
            .arg(root.path().join("run"))
            .args(["--storage-driver", "vfs"])
            .args(args)
            .output()
            .expect("run podman");
        assert!(
            out.status.success(),
            "podman {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    // For an index, podman stores the manifest of its platform (amd64 here: D1).
    for (server, image, digest) in [(&one, "alpine:3.16", D1), (&s, "multi:1", D1)] {
        let image = format!("{}/{image}", server.addr);
        podman(&[
            "pull",
            "--quiet",
            "--tls-verify=false",
            "--arch",
            "amd64",
            &image,
        ]);
        let got = podman(&["image", "inspect", "--format", "{{.Digest}}", &image]);
        assert_eq!(got.trim(), digest, "{image}");
    }
}

#[test]
fn containerd_pulls_directly_and_as_a_mirror() {
    let Some(c) = containerd::Containerd::start() else {
        return;
    };
    let (_t, dir) = fixture_copy("multiarch");
    let (_t2, named) = fixture_copy("containerd");
    let s = Serve::start(&dir, &[]);
    let m = Serve::start(&named, &[]);
    // Directly, in plain HTTP: every platform's manifest is fetched, amd64 unpacked.
    let image = format!("{}/multi:1", s.addr);
    c.ok(&[
        "images",
        "pull",
        "--plain-http",
        "--snapshotter",
        "native",
        &image,
    ]);
    assert_eq!(c.image_digest(&image), MULTI);
    // As a mirror for docker.io and ghcr.io at once (hosts.toml): containerd asks for `acme/tool`
    // with `?ns=ghcr.io`, which must not be docker.io's acme/tool.
    let hosts = c.mirror("docker.io", "https://registry-1.docker.io", &m.addr);
    c.mirror("ghcr.io", "https://ghcr.io", &m.addr);
    let hosts = hosts.to_str().unwrap();
    for (image, digest) in [
        ("docker.io/library/alpine:3.16", D1),
        ("ghcr.io/acme/tool:1.0", D2),
    ] {
        c.ok(&[
            "images",
            "pull",
            "--hosts-dir",
            hosts,
            "--snapshotter",
            "native",
            image,
        ]);
        assert_eq!(c.image_digest(image), digest, "{image}");
    }
}

#[test]
fn skopeo_and_ocilayout_push_into_a_push_server() {
    if !have("skopeo") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("l");
    ol("init", &dir, &[]).ok();
    let s = Serve::start(&dir, &["--push"]);
    let a = &s.addr;
    let src = |f: &str, r: &str| format!("oci:{}:{r}", fixtures().join(f).display());
    skopeo_copy(
        &["--all"],
        &src("multiarch", "1"),
        &format!("docker://{a}/multi:1"),
    );
    skopeo_copy(
        &[],
        &src("umoci", "v2"),
        &format!("docker://{a}/ghcr.io/org/app:v2"),
    );
    run([
        "push",
        "--plain-http",
        fixtures().join("docker").to_str().unwrap(),
        "dockerlist:1",
        &format!("{a}/dl:1"),
    ])
    .ok();
    run([
        "push",
        "--plain-http",
        fixtures().join("artifact").to_str().unwrap(),
        "app:1",
        &format!("{a}/app:1"),
    ])
    .ok();
    for (name, digest) in [
        ("docker.io/library/multi:1", MULTI),
        ("ghcr.io/org/app:v2", D2),
        ("dl:1", DLIST),
        ("app:1", D1),
    ] {
        assert_eq!(ol("resolve", &dir, &[name]).ok().trim(), digest, "{name}");
    }
    // The SBOM that refers to app:1 came along and is served by the referrers API.
    let r = get(a, &format!("/v2/app/referrers/{D1}"), &[]);
    assert_eq!(r.json()["manifests"][0]["digest"], SBOM);
    ol("fsck", &dir, &[]).ok();
    assert_eq!(registry_support::temp_files(&dir), 0);
    // And our own pull gets it all back, byte for byte.
    let back = tmp.path().join("back");
    run([
        "pull",
        "--plain-http",
        &format!("{a}/multi:1"),
        &format!("{a}/dl:1"),
        back.to_str().unwrap(),
    ])
    .ok();
    assert_eq!(
        ol("resolve", &back, &[&format!("{a}/dl:1")]).ok().trim(),
        DLIST
    );
    assert_eq!(
        ol("resolve", &back, &[&format!("{a}/multi:1")]).ok().trim(),
        MULTI
    );
    ol("fsck", &back, &[]).ok();
}

#[test]
fn gc_racing_pushes_loses_nothing() {
    if !have("skopeo") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("l");
    ol("init", &dir, &[]).ok();
    let s = Serve::start(&dir, &["--push"]);
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let gc = {
        let (dir, done) = (dir.clone(), done.clone());
        std::thread::spawn(move || {
            let mut rounds = 0;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                ol("gc", &dir, &[]).ok();
                rounds += 1;
            }
            rounds
        })
    };
    let src = |f: &str, r: &str| format!("oci:{}:{r}", fixtures().join(f).display());
    let pushes = [
        ("multiarch", "1", "m1"),
        ("umoci", "v1", "u1"),
        ("umoci", "v2", "u2"),
        ("multiarch", "1", "m2"),
    ];
    for (f, r, tag) in pushes {
        skopeo_copy(
            &["--all"],
            &src(f, r),
            &format!("docker://{}/race:{tag}", s.addr),
        );
    }
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(gc.join().unwrap() > 0);
    for (tag, digest) in [("m1", MULTI), ("u1", D1), ("u2", D2), ("m2", MULTI)] {
        assert_eq!(
            ol("resolve", &dir, &[&format!("race:{tag}")]).ok().trim(),
            digest
        );
    }
    ol("gc", &dir, &[]).ok();
    ol("fsck", &dir, &[]).ok();
}

#[test]
fn htpasswd_and_tls() {
    if !have("htpasswd") || !have("openssl") || !have("skopeo") {
        return;
    }
    let (_t, dir) = fixture_copy("containerd");
    let pki = tls::Pki::new();
    let out = Command::new("htpasswd")
        .args(["-Bbn", "alice", "s3cret"])
        .output()
        .unwrap();
    let file = pki.dir.path().join("htpasswd");
    std::fs::write(&file, &out.stdout).unwrap();
    let s = Serve::start(
        &dir,
        &[
            "--htpasswd",
            file.to_str().unwrap(),
            "--tls-cert",
            pki.server_cert.to_str().unwrap(),
            "--tls-key",
            pki.server_key.to_str().unwrap(),
        ],
    );
    let image = format!("docker://{}/alpine:3.16", s.addr);
    let certs = pki.dir.path().join("certs");
    std::fs::create_dir(&certs).unwrap();
    std::fs::copy(&pki.ca, certs.join("ca.crt")).unwrap();
    let skopeo = |creds: Option<&str>| {
        let mut c = Command::new("skopeo");
        c.args(["inspect", "--raw", "--cert-dir", certs.to_str().unwrap()]);
        if let Some(creds) = creds {
            c.args(["--creds", creds]);
        }
        c.arg(&image).output().unwrap()
    };
    let ok = skopeo(Some("alice:s3cret"));
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert_eq!(sha256(&ok.stdout), D1);
    for creds in [None, Some("alice:wrong"), Some("bob:s3cret")] {
        let out = skopeo(creds);
        assert!(!out.status.success(), "{creds:?}");
        let err = String::from_utf8_lossy(&out.stderr).to_lowercase();
        assert!(
            err.contains("unauthorized") || err.contains("authentication required"),
            "{err}"
        );
    }
    // Our own pull, over TLS with the CA, with the password on stdin.
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join("d");
    let r = run_with_stdin(
        [
            "pull",
            "--cacert",
            pki.ca.to_str().unwrap(),
            "--username",
            "alice",
            "--password-stdin",
            &format!("{}/ghcr.io/acme/tool:1.0", s.addr),
            dest.to_str().unwrap(),
        ],
        b"s3cret\n",
    );
    r.ok();
    assert_eq!(
        ol(
            "resolve",
            &dest,
            &[&format!("{}/ghcr.io/acme/tool:1.0", s.addr)]
        )
        .ok()
        .trim(),
        D2
    );
    // Plain HTTP to the TLS port is no answer at all.
    let plain = std::panic::catch_unwind(|| get(&s.addr, "/v2/", &[]));
    assert!(plain.map_or(true, |r| r.status != 200));
}
