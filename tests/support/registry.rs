//! A real registry for the interop tests: `docker-registry serve` (CNCF distribution) on a free
//! loopback port with its storage in a temporary directory, stopped when the guard drops. Also
//! helpers that drive skopeo against it and build images straight into a layout.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ocilayout::oci_spec::image::{Descriptor, DescriptorBuilder, MediaType};
use ocilayout::tag::{self, NameOptions};
use ocilayout::{Layout, Reference};

use crate::support::have;

/// How to run a registry: TLS with a certificate and key (PEM paths), and an `auth:` section of the
/// configuration (YAML, starting at `auth:`).
#[derive(Default)]
pub struct Setup {
    pub tls: Option<(PathBuf, PathBuf)>,
    pub auth: Option<String>,
}

/// A running `docker-registry`; killed on drop.
pub struct Registry {
    /// `127.0.0.1:PORT`.
    pub addr: String,
    dir: tempfile::TempDir,
    child: Child,
}

impl Registry {
    /// Starts a registry, or returns `None` (after saying so) when `docker-registry` is missing.
    /// Under `CI=true` a missing tool fails instead.
    pub fn start() -> Option<Registry> {
        Registry::start_with(&Setup::default())
    }

    /// Starts a registry with TLS and/or authentication (see [`Setup`]).
    pub fn start_with(setup: &Setup) -> Option<Registry> {
        if !have("docker-registry") {
            return None;
        }
        for _ in 0..10 {
            let port = TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let dir = tempfile::tempdir().unwrap();
            let config = dir.path().join("config.yml");
            std::fs::write(
                &config,
                format!(
                    "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n  \
                     delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n{}{}",
                    dir.path().join("data").display(),
                    setup.tls.as_ref().map_or(String::new(), |(cert, key)| format!(
                        "  tls:\n    certificate: {}\n    key: {}\n",
                        cert.display(),
                        key.display()
                    )),
                    setup.auth.as_deref().unwrap_or("")
                ),
            )
            .unwrap();
            let mut child = Command::new("docker-registry")
                .arg("serve")
                .arg(&config)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start docker-registry");
            let addr = format!("127.0.0.1:{port}");
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    break; // the port was taken meanwhile: try another
                }
                if ping(&addr) {
                    return Some(Registry { addr, dir, child });
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("docker-registry did not start");
    }

    /// The storage root (`docker/registry/v2/...` lives under it).
    pub fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Where the registry keeps a blob's bytes on disk.
    pub fn blob_path(&self, digest: &str) -> PathBuf {
        let hex = digest.strip_prefix("sha256:").unwrap();
        self.data()
            .join("docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }

    /// `127.0.0.1:PORT/<path>`.
    pub fn at(&self, path: &str) -> String {
        format!("{}/{path}", self.addr)
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn ping(addr: &str) -> bool {
    let Ok(mut s) = TcpStream::connect(addr) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if s.write_all(b"GET /v2/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .is_err()
    {
        return false;
    }
    // Any HTTP answer means it is up: 200, a 401 when it wants credentials, a 400 from a TLS port.
    let mut buf = [0u8; 12];
    s.read_exact(&mut buf).is_ok() && buf.starts_with(b"HTTP/1.")
}

/// Runs skopeo with TLS verification off for the loopback registry; panics with its stderr on failure.
pub fn skopeo(args: &[&str]) -> Vec<u8> {
    let out = Command::new("skopeo")
        .args(args)
        .output()
        .expect("run skopeo");
    assert!(
        out.status.success(),
        "skopeo {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// `skopeo copy` between two transports, with TLS off on both sides.
pub fn skopeo_copy(extra: &[&str], src: &str, dest: &str) {
    let mut args = vec![
        "copy",
        "--quiet",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
    ];
    args.extend_from_slice(extra);
    args.extend_from_slice(&[src, dest]);
    skopeo(&args);
}

/// The exact manifest bytes the registry serves for `image` (`host:port/name:tag`).
pub fn skopeo_raw(image: &str) -> Vec<u8> {
    skopeo(&[
        "inspect",
        "--raw",
        "--tls-verify=false",
        &format!("docker://{image}"),
    ])
}

/// `sha256:<hex>` of bytes.
pub fn sha256(bytes: &[u8]) -> String {
    ocilayout::digest::sha256(bytes).to_string()
}

/// Deterministic pseudo-random bytes (xorshift), so layers do not compress or repeat.
pub fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

fn desc(media_type: &str, digest: &str, size: usize) -> Descriptor {
    DescriptorBuilder::default()
        .media_type(MediaType::from(media_type))
        .digest(ocilayout::digest::parse(digest).unwrap())
        .size(size as u64)
        .build()
        .unwrap()
}

/// Writes an OCI image with one layer per entry of `layers` (random bytes of that size) into
/// `layout` and names it `name`. Returns the manifest's descriptor.
pub fn make_image(layout: &Layout, name: &str, seed: u64, layers: &[usize]) -> Descriptor {
    let store = layout.blobs();
    let mut layer_descs = Vec::new();
    for (i, size) in layers.iter().enumerate() {
        let bytes = noise(seed * 1000 + i as u64, *size);
        let d = store.put_bytes(&bytes).unwrap();
        layer_descs.push(desc(
            "application/vnd.oci.image.layer.v1.tar",
            d.as_ref(),
            bytes.len(),
        ));
    }
    let config = format!(
        r#"{{"architecture":"amd64","os":"linux","rootfs":{{"type":"layers","diff_ids":[{}]}},"config":{{}}}}"#,
        layer_descs
            .iter()
            .map(|d| format!("\"{}\"", d.digest()))
            .collect::<Vec<_>>()
            .join(",")
    );
    let config_d = store.put_bytes(config.as_bytes()).unwrap();
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": desc("application/vnd.oci.image.config.v1+json", config_d.as_ref(), config.len()),
        "layers": layer_descs,
    });
    let bytes = serde_json::to_vec(&manifest).unwrap();
    let d = store.put_bytes(&bytes).unwrap();
    let root = desc(
        "application/vnd.oci.image.manifest.v1+json",
        d.as_ref(),
        bytes.len(),
    );
    let name = Reference::parse(name).unwrap();
    layout
        .update_index(|idx| {
            tag::apply_names(idx, &root, &[name], &NameOptions::default());
            Ok(())
        })
        .unwrap();
    root
}

/// Files left under a layout's temporary directory.
pub fn temp_files(layout: &Path) -> usize {
    std::fs::read_dir(layout.join(".ocilayout/tmp")).map_or(0, |d| d.count())
}
