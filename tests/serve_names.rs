//! Every named image of a served layout is reachable, whatever registry its name carries: the
//! repository each name is served under (`HOST_PORT/...` for a registry with a port, `?ns=HOST`),
//! `_catalog` listing only valid names, pagination that stays in its repository, the note about
//! bare tags, `--addr :PORT`, a server whose stdout goes away; and the `registries.conf` and `hosts.toml` of `docs/serve.md`, as
//! written there, through skopeo, podman and containerd.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use crate::support::containerd;
use crate::support::digests::*;
use crate::support::serve::{get, Serve};
use crate::support::{bin, fixture_copy, have, ol};

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

/// The `containerd` fixture, with `myreg:5000/app:v1` (D1) added.
fn layout_with_a_port() -> (tempfile::TempDir, std::path::PathBuf) {
    let (t, dir) = fixture_copy("containerd");
    let r = ol("tag", &dir, &["ghcr.io/acme/tool:1.0", "myreg:5000/app:v1"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = ol("tag", &dir, &[D1, "ghcr.io/acme/tool:2.0"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    (t, dir)
}

#[test]
fn every_name_is_served_under_a_valid_repository() {
    let (_t, dir) = layout_with_a_port();
    let s = Serve::start(&dir, &[]);
    let catalog = get(&s.addr, "/v2/_catalog", &[]).json();
    let repos: Vec<&str> = catalog["repositories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    assert_eq!(
        repos,
        [
            "ghcr.io/acme/tool",
            "library/alpine",
            "localhost_5000/team/app",
            "myreg_5000/app",
            "quay.io/acme/tool"
        ]
    );
    let accept = [("Accept", OCI_MANIFEST)];
    let cases: &[(&str, &str)] = &[
        ("/v2/myreg_5000/app/manifests/v1", D2),
        ("/v2/app/manifests/v1?ns=myreg:5000", D2),
        ("/v2/app/manifests/v1?ns=myreg%3A5000", D2),
        ("/v2/localhost_5000/team/app/manifests/dev", D2),
        ("/v2/team/app/manifests/dev?ns=localhost:5000", D2),
        ("/v2/library/alpine/manifests/3.16", D1),
        ("/v2/alpine/manifests/3.16?ns=docker.io", D1),
        ("/v2/ghcr.io/acme/tool/manifests/1.0", D2),
        ("/v2/acme/tool/manifests/1.0?ns=ghcr.io", D2),
    ];
    for (path, digest) in cases {
        let r = get(&s.addr, path, &accept);
        assert_eq!(
            r.status,
            200,
            "{path}: {}",
            String::from_utf8_lossy(&r.body)
        );
        assert_eq!(r.header("docker-content-digest"), Some(*digest), "{path}");
    }
    // Every repository the catalog lists answers its tags.
    for repo in repos {
        let r = get(&s.addr, &format!("/v2/{repo}/tags/list"), &[]);
        assert_eq!(r.status, 200, "{repo}");
    }
}

/// The next page of a mirror's tag list is a page of the same repository: the `Link` keeps `ns`.
#[test]
fn tag_pages_keep_their_repository() {
    let (_t, dir) = layout_with_a_port();
    let s = Serve::start(&dir, &[]);
    let mut path = "/v2/acme/tool/tags/list?ns=ghcr.io&n=1".to_string();
    let mut tags = Vec::new();
    for _ in 0..5 {
        let r = get(&s.addr, &path, &[]);
        assert_eq!(r.status, 200, "{path}");
        for t in r.json()["tags"].as_array().unwrap() {
            tags.push(t.as_str().unwrap().to_string());
        }
        let Some(link) = r.header("link") else { break };
        path = link
            .trim_start_matches('<')
            .split('>')
            .next()
            .unwrap()
            .to_string();
        assert!(path.contains("ns=ghcr.io"), "{link}");
    }
    assert_eq!(tags, ["1.0", "2.0"]);
}

/// Reads the server's stderr until its startup line, with `--default-repo` or without.
fn startup_note(dir: &Path, extra: &[&str]) -> String {
    let mut child = Command::new(bin())
        .arg("serve")
        .arg(dir)
        .args(["--addr", "127.0.0.1:0"])
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut text = String::new();
    while !text.contains("serving ") {
        if err.read_line(&mut text).unwrap() == 0 {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    text
}

#[test]
fn a_layout_of_bare_tags_says_how_it_is_served() {
    let (_t, dir) = fixture_copy("umoci");
    let note = startup_note(&dir, &[]);
    assert!(
        note.contains("3 entries are named by a bare tag only") && note.contains("--default-repo"),
        "{note}"
    );
    let note = startup_note(&dir, &["--default-repo", "bundle"]);
    assert!(note.contains("served as library/bundle:TAG"), "{note}");
    let (_t2, named) = fixture_copy("multiarch");
    let note = startup_note(&named, &[]);
    assert!(!note.contains("bare tag"), "{note}");
}

/// `--addr :PORT` listens on every interface, loopback included.
#[test]
fn an_empty_host_listens_everywhere() {
    let (_t, dir) = fixture_copy("containerd");
    let mut child = Command::new(bin())
        .arg("serve")
        .arg(&dir)
        .args(["--addr", ":0", "--json"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&line).unwrap();
    let addr = v["addr"].as_str().unwrap().to_string();
    // Every interface: IPv6 and IPv4 together, or IPv4 alone on a system without IPv6.
    assert!(
        addr.starts_with("[::]:") || addr.starts_with("0.0.0.0:"),
        "{addr}"
    );
    let port = addr.rsplit(':').next().unwrap();
    assert_ne!(port, "0");
    for host in ["127.0.0.1", "[::1]"] {
        if host == "[::1]" && addr.starts_with("0.0.0.0:") {
            continue;
        }
        let r = get(&format!("{host}:{port}"), "/v2/", &[]);
        assert_eq!(r.status, 200, "{host}");
    }
    let _ = child.kill();
    let _ = child.wait();
    let r = ol("serve", &dir, &["--addr", "nonsense"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
}

/// A server whose stdout reader went away (`serve --json -v | head -1`) keeps answering: the
/// request lines it can no longer write are dropped, never a panic on an answering thread.
#[test]
fn a_closed_stdout_does_not_stop_the_server() {
    let (_t, dir) = fixture_copy("containerd");
    let mut child = Command::new(bin())
        .args(["-v", "serve"])
        .arg(&dir)
        .args(["--addr", "127.0.0.1:0", "--json"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    out.read_line(&mut line).unwrap();
    drop(out);
    let v: serde_json::Value = serde_json::from_str(&line).unwrap();
    let addr = v["addr"].as_str().unwrap().to_string();
    for _ in 0..3 {
        assert_eq!(get(&addr, "/v2/library/alpine/tags/list", &[]).status, 200);
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// The first fenced block of `docs/serve.md` that contains `marker`, with the documented server
/// address replaced by `addr`.
fn doc_block(marker: &str, addr: &str) -> String {
    let doc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/serve.md"))
        .unwrap();
    let block = doc
        .split("```")
        .skip(1)
        .step_by(2)
        .find(|b| b.contains(marker))
        .unwrap_or_else(|| panic!("no block with {marker} in docs/serve.md"));
    let body = block.split_once('\n').map_or(block, |(_, b)| b);
    body.replace("127.0.0.1:5000", addr)
}

#[test]
fn registries_conf_from_the_docs() {
    if !have("skopeo") {
        return;
    }
    let (_t, dir) = layout_with_a_port();
    let s = Serve::start(&dir, &[]);
    let conf_dir = tempfile::tempdir().unwrap();
    let conf = conf_dir.path().join("registries.conf");
    std::fs::write(&conf, doc_block("[[registry.mirror]]", &s.addr)).unwrap();
    let conf = conf.to_str().unwrap();
    for (image, digest) in [
        ("myreg:5000/app:v1", D2),
        ("ghcr.io/acme/tool:1.0", D2),
        ("docker.io/library/alpine:3.16", D1),
    ] {
        let out = Command::new("skopeo")
            .args(["--registries-conf", conf, "inspect", "--raw"])
            .arg(format!("docker://{image}"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "skopeo {image}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            crate::support::registry::sha256(&out.stdout),
            digest,
            "{image}"
        );
    }
    if !have("podman") {
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let podman = |args: &[&str]| {
        let out = Command::new("podman")
            .env("CONTAINERS_REGISTRIES_CONF", conf)
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
    podman(&["pull", "--quiet", "myreg:5000/app:v1"]);
    let got = podman(&[
        "image",
        "inspect",
        "--format",
        "{{.Digest}}",
        "myreg:5000/app:v1",
    ]);
    assert_eq!(got.trim(), D2);
}

#[test]
fn containerd_hosts_toml_from_the_docs() {
    let Some(c) = containerd::Containerd::start() else {
        return;
    };
    let (_t, dir) = layout_with_a_port();
    let s = Serve::start(&dir, &[]);
    let hosts = c.root().join("certs.d");
    let registry_dir = hosts.join("myreg:5000");
    std::fs::create_dir_all(&registry_dir).unwrap();
    std::fs::write(
        registry_dir.join("hosts.toml"),
        doc_block("certs.d/myreg:5000/hosts.toml", &s.addr),
    )
    .unwrap();
    let image = "myreg:5000/app:v1";
    c.ok(&[
        "images",
        "pull",
        "--hosts-dir",
        hosts.to_str().unwrap(),
        "--snapshotter",
        "native",
        image,
    ]);
    assert_eq!(c.image_digest(image), D2);
}
