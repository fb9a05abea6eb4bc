//! A private containerd for the tests: its own root, state and sockets in a temporary directory (the
//! CRI plugin off), stopped when the guard drops; `ctr` runs against it in its own namespace. Shared
//! by the archive tests (`ctr images import/export`) and the serve tests (pulls, mirrors).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::have;

/// A running containerd.
pub struct Containerd {
    pub dir: tempfile::TempDir,
    socket: PathBuf,
    child: Child,
}

impl Containerd {
    /// Starts containerd, or returns `None` (after saying so) when it or `ctr` is missing.
    pub fn start() -> Option<Containerd> {
        if !have("containerd") || !have("ctr") {
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let socket = d.join("containerd.sock");
        let config = d.join("config.toml");
        std::fs::write(
            &config,
            format!(
                "version = 2\nroot = {:?}\nstate = {:?}\n\
                 disabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n\
                 [grpc]\n  address = {:?}\n[ttrpc]\n  address = {:?}\n",
                d.join("root"),
                d.join("state"),
                socket,
                d.join("t.sock"),
            ),
        )
        .unwrap();
        let child = Command::new("containerd")
            .arg("--config")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(d.join("log")).unwrap())
            .spawn()
            .expect("spawn containerd");
        let c = Containerd { dir, socket, child };
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(20) {
            if c.ctr(&["version"]).status.success() {
                return Some(c);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "containerd did not start: {}",
            std::fs::read_to_string(c.dir.path().join("log")).unwrap_or_default()
        );
    }

    /// Runs `ctr ARGS...` and returns what it did.
    pub fn ctr(&self, args: &[&str]) -> std::process::Output {
        Command::new("ctr")
            .arg("--address")
            .arg(&self.socket)
            .args(["--namespace", "tests"])
            .args(args)
            .output()
            .expect("run ctr")
    }

    /// Runs `ctr ARGS...`; panics with its stderr on failure; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.ctr(args);
        assert!(
            out.status.success(),
            "ctr {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The digest containerd recorded for an image.
    pub fn image_digest(&self, name: &str) -> String {
        let out = self.ok(&["images", "ls", &format!("name=={name}")]);
        out.lines()
            .nth(1)
            .and_then(|l| l.split_whitespace().nth(2))
            .unwrap_or_else(|| panic!("{name} not in: {out}"))
            .to_string()
    }

    /// A `hosts.toml` directory that sends pulls of `registry` to `mirror` (plain HTTP).
    pub fn mirror(&self, registry: &str, upstream: &str, mirror: &str) -> PathBuf {
        let hosts = self.dir.path().join("certs.d");
        let dir = hosts.join(registry);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("hosts.toml"),
            format!(
                "server = \"{upstream}\"\n[host.\"http://{mirror}\"]\n  capabilities = [\"pull\", \"resolve\"]\n"
            ),
        )
        .unwrap();
        hosts
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(5) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
