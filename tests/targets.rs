//! Where `export` writes: a regular file replaced atomically keeping its mode (a new one 0644 less
//! the umask), a link to a file followed, a FIFO, a character device and `/dev/fd/N` written in place;
//! a reader that quits early is exit 1 with one line; SIGINT, SIGTERM and SIGHUP remove the temporary
//! file, and one left by `kill -9` is removed by the next export to the same path.

use crate::support;
use crate::support::registry as registry_support;

use std::fs;
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ocilayout::Layout;
use registry_support::make_image;
use support::{bin, run};

/// A layout with one image whose layer has `size` random bytes.
fn layout_with(dir: &Path, size: usize) -> PathBuf {
    let path = dir.join("layout");
    let layout = Layout::init(&path).unwrap();
    make_image(&layout, "big:1", 7, &[size]);
    path
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The archive a plain export to a new file writes (exports are deterministic).
fn reference_archive(layout: &Path, dir: &Path) -> Vec<u8> {
    let path = dir.join("reference.tar");
    run(["export", s(layout), s(&path)]).ok();
    fs::read(path).unwrap()
}

fn temp_files(dir: &Path, name: &str) -> Vec<String> {
    let prefix = format!(".{name}.tmp-");
    fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with(&prefix))
        .collect()
}

#[test]
fn a_regular_file_is_replaced_atomically_keeping_its_mode() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = layout_with(tmp.path(), 1000);
    let want = reference_archive(&layout, tmp.path());

    // An existing 0600 archive stays 0600 (it became 0644).
    let private = tmp.path().join("private.tar");
    fs::write(&private, b"old").unwrap();
    fs::set_permissions(&private, fs::Permissions::from_mode(0o600)).unwrap();
    run(["export", s(&layout), s(&private)]).ok();
    assert_eq!(fs::read(&private).unwrap(), want);
    let mode = fs::metadata(&private).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode, 0o600);

    // A new archive: 0644 less the umask.
    let new = tmp.path().join("new.tar");
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "umask 027; exec '{}' export '{}' '{}'",
            bin().display(),
            s(&layout),
            s(&new)
        ))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let mode = fs::metadata(&new).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode, 0o640);

    // A link to an archive: the file it points at is replaced, the link stays a link.
    let link = tmp.path().join("link.tar");
    std::os::unix::fs::symlink(&private, &link).unwrap();
    run(["export", s(&layout), s(&link)]).ok();
    assert!(fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(fs::read(&private).unwrap(), want);
    assert!(temp_files(tmp.path(), "private.tar").is_empty());
}

#[test]
fn a_fifo_a_device_and_dev_fd_are_written_in_place() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = layout_with(tmp.path(), 200_000);
    let want = reference_archive(&layout, tmp.path());

    // A FIFO: its reader gets the archive and the FIFO stays a FIFO (it was replaced, and its reader
    // hung).
    let fifo = tmp.path().join("fifo");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let (tx, rx) = std::sync::mpsc::channel();
    {
        let fifo = fifo.clone();
        // A reader whose FIFO was replaced waits for ever: the test fails instead of hanging.
        std::thread::spawn(move || tx.send(fs::read(fifo).unwrap()));
    }
    run(["export", s(&layout), s(&fifo)]).ok();
    let got = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the FIFO's reader got nothing (was the FIFO replaced?)");
    assert_eq!(got, want);
    assert!(fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo());

    // A character device. As root a private null device, so that the test cannot harm /dev/null.
    let null = if unsafe { libc::geteuid() } == 0 {
        let null = tmp.path().join("null");
        assert!(Command::new("mknod")
            .arg(&null)
            .args(["c", "1", "3"])
            .status()
            .unwrap()
            .success());
        null
    } else {
        PathBuf::from("/dev/null")
    };
    run(["export", s(&layout), s(&null)]).ok();
    let meta = fs::symlink_metadata(&null).unwrap();
    assert!(meta.file_type().is_char_device(), "{meta:?}");
    assert!(temp_files(tmp.path(), "null").is_empty());

    // /dev/fd/3 onto a pipe (what `>(cmd)` hands over).
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "exec '{}' export '{}' /dev/fd/3 3>&1 >/dev/null",
            bin().display(),
            s(&layout)
        ))
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(out.stdout, want);
}

/// A reader that quits early leaves a truncated archive: exit 1 with one line, for `-` and a FIFO.
#[test]
fn a_reader_that_quits_early_is_a_failure() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = layout_with(tmp.path(), 1 << 20);
    for target in ["-", "fifo"] {
        let mut child = if target == "-" {
            Command::new(bin())
                .args(["export", s(&layout), "-"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        } else {
            let fifo = tmp.path().join("fifo");
            assert!(Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .unwrap()
                .success());
            Command::new(bin())
                .args(["export", s(&layout), s(&fifo)])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        };
        let mut head = vec![0u8; 1000];
        if target == "-" {
            child.stdout.take().unwrap().read_exact(&mut head).unwrap();
        } else {
            let mut f = fs::File::open(tmp.path().join("fifo")).unwrap();
            f.read_exact(&mut head).unwrap();
        }
        // The reader goes away.
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{target}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{target}: {stderr}");
        assert!(
            stderr.contains("closed the pipe before the archive was complete"),
            "{target}: {stderr}"
        );
    }
}

/// Starts an export of `layout` to `path` and waits until its temporary file exists.
fn export_until_temp(layout: &Path, path: &Path) -> std::process::Child {
    let child = Command::new(bin())
        .args(["export", "--gzip", s(layout), s(path)])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let name = path.file_name().unwrap().to_str().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while temp_files(path.parent().unwrap(), name).is_empty() {
        assert!(Instant::now() < deadline, "no temporary file appeared");
        std::thread::sleep(Duration::from_millis(2));
    }
    child
}

#[test]
fn an_interrupted_export_leaves_no_temporary_file() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = layout_with(tmp.path(), 24 << 20);
    let path = tmp.path().join("out.tar.gz");
    for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        let mut child = export_until_temp(&layout, &path);
        unsafe { libc::kill(child.id() as i32, signal) };
        let status = child.wait().unwrap();
        assert_eq!(status.signal(), Some(signal), "{status:?}");
        assert!(temp_files(tmp.path(), "out.tar.gz").is_empty(), "{signal}");
        assert!(!path.exists());
    }

    // kill -9 cannot be caught: the next export to the same path removes what it left.
    let mut child = export_until_temp(&layout, &path);
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(temp_files(tmp.path(), "out.tar.gz").len(), 1);
    // Another target's temporary file, and one of a live process, are not touched.
    let other = tmp.path().join(".other.tar.tmp-999999999-0");
    fs::write(&other, b"x").unwrap();
    let live = tmp
        .path()
        .join(format!(".out.tar.gz.tmp-{}-0", std::process::id()));
    fs::write(&live, b"x").unwrap();
    run(["export", "--gzip", s(&layout), s(&path)]).ok();
    assert_eq!(
        temp_files(tmp.path(), "out.tar.gz"),
        [live.file_name().unwrap().to_str().unwrap()]
    );
    assert!(other.exists());
}
