//! `ocilayout serve` on a network: what a hostile or careless client can and cannot do to it.
//! Pushes racing gc and idle uploads (`race`), every bound and its flag (`bounds`), htpasswd under
//! attack (`auth`), and all of it at once while a normal client pulls (`abuse`).

mod abuse;
mod auth;
mod bounds;
mod race;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::bin;
use crate::support::registry::make_image;

/// A new layout holding one image `name` whose layers are `sizes` bytes of seeded noise: the
/// temporary directory (kept alive by the caller), the layout's path, the manifest's bytes and the
/// layers' digests.
pub fn layout_with(
    name: &str,
    sizes: &[usize],
) -> (tempfile::TempDir, PathBuf, Vec<u8>, Vec<String>) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("l");
    let layout = ocilayout::Layout::init(&dir).unwrap();
    let m = make_image(&layout, name, 7, sizes);
    let bytes = std::fs::read(
        dir.join("blobs/sha256")
            .join(m.digest().as_ref().trim_start_matches("sha256:")),
    )
    .unwrap();
    let manifest: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    let layers = manifest["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["digest"].as_str().unwrap().to_string())
        .collect();
    (tmp, dir, bytes, layers)
}

/// `ocilayout SUBCOMMAND DIR ARGS...` started in the background.
pub fn spawn(subcommand: &str, dir: &Path, args: &[&str]) -> Child {
    Command::new(bin())
        .arg(subcommand)
        .arg(dir)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// The exit code of `child` if it ends within `limit`, else `None` (it keeps running).
pub fn exits_within(child: &mut Child, limit: Duration) -> Option<i32> {
    let t = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status.code().unwrap_or(-1));
        }
        if t.elapsed() > limit {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits (at most a minute) until `cond` holds.
pub fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let t = Instant::now();
    while !cond() {
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "waited a minute for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// An htpasswd file with bcrypt entries of `cost` for these users.
pub fn htpasswd(dir: &Path, cost: u32, users: &[(&str, &str)]) -> PathBuf {
    let path = dir.join("htpasswd");
    for (i, (user, password)) in users.iter().enumerate() {
        let mut cmd = Command::new("htpasswd");
        cmd.args(["-B", "-b", "-C", &cost.to_string()]);
        if i == 0 {
            cmd.arg("-c");
        }
        let ok = cmd.arg(&path).args([user, password]).output().unwrap();
        assert!(
            ok.status.success(),
            "{}",
            String::from_utf8_lossy(&ok.stderr)
        );
    }
    path
}

/// The `Authorization` header of Basic credentials.
pub fn basic(user: &str, password: &str) -> String {
    use base64::Engine;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

/// A TCP connection to `addr` from the loopback address `src` (any of 127.0.0.0/8 works on Linux),
/// so that a test can play clients at different addresses.
pub fn connect_from(src: [u8; 4], addr: &str) -> std::io::Result<std::net::TcpStream> {
    use std::os::fd::FromRawFd;
    let dst: std::net::SocketAddrV4 = addr.parse().unwrap();
    let sockaddr = |ip: [u8; 4], port: u16| libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: port.to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from_ne_bytes(ip),
        },
        sin_zero: [0; 8],
    };
    let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    // SAFETY: plain socket calls on a descriptor this function owns; the addresses are live locals
    // of the size passed.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let from = sockaddr(src, 0);
        let to = sockaddr(dst.ip().octets(), dst.port());
        if libc::bind(fd, (&from as *const libc::sockaddr_in).cast(), len) != 0
            || libc::connect(fd, (&to as *const libc::sockaddr_in).cast(), len) != 0
        {
            let e = std::io::Error::last_os_error();
            libc::close(fd);
            return Err(e);
        }
        Ok(std::net::TcpStream::from_raw_fd(fd))
    }
}
