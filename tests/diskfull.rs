//! Disk full (ENOSPC) during a blob write and during the index.json rewrite, on a real small tmpfs the
//! test mounts: a clear error, the old index.json intact, no temporary file left behind.
//! Mounting needs root (CI runs as root); elsewhere the tests say so and skip, unless CI=true.

mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use ocilayout::digest::{self, Algorithm};
use ocilayout::Layout;

/// A tmpfs of `size` mounted on a fresh directory, unmounted on drop.
struct SmallFs {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

impl SmallFs {
    fn mount(size: &str) -> Option<SmallFs> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fs");
        fs::create_dir(&path).unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&path)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI=true: mounting a tmpfs for the disk-full tests must work (run as root)"
            );
            eprintln!("skipping: cannot mount a tmpfs here (needs root)");
            return None;
        }
        Some(SmallFs { _dir: dir, path })
    }

    /// Fills the file system up to the last `leave` bytes.
    fn fill(&self, leave: u64) {
        let stat = Command::new("stat")
            .args(["-f", "-c", "%a %S"])
            .arg(&self.path)
            .output()
            .unwrap();
        let out = String::from_utf8(stat.stdout).unwrap();
        let mut it = out.split_whitespace().map(|n| n.parse::<u64>().unwrap());
        let (blocks, size) = (it.next().unwrap(), it.next().unwrap());
        let free = blocks * size;
        let filler = free.saturating_sub(leave);
        fs::write(self.path.join("filler"), vec![0u8; filler as usize]).unwrap();
    }
}

impl Drop for SmallFs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.path).status();
    }
}

fn temp_files(layout: &Path) -> Vec<PathBuf> {
    let tmp = layout.join(".ocilayout/tmp");
    match fs::read_dir(&tmp) {
        Ok(rd) => rd.map(|e| e.unwrap().path()).collect(),
        Err(_) => Vec::new(),
    }
}

#[test]
fn blob_write_on_a_full_disk_fails_cleanly() {
    let Some(small) = SmallFs::mount("512k") else {
        return;
    };
    let root = small.path.join("layout");
    let layout = Layout::init(&root).unwrap();
    let index_before = fs::read(root.join("index.json")).unwrap();
    small.fill(16 * 1024);

    let big = vec![7u8; 256 * 1024];
    let d = digest::sha256(&big);
    let err = layout
        .blobs()
        .put_reader(&mut &big[..], &d, Some(big.len() as u64))
        .unwrap_err()
        .to_string();
    assert!(err.contains("No space left on device"), "{err}");
    assert!(
        err.contains(".ocilayout/tmp"),
        "the error names where: {err}"
    );
    assert!(!err.contains('\n'), "{err}");
    assert_eq!(
        layout.blobs().size(&d).unwrap(),
        None,
        "no partial blob is named"
    );
    assert_eq!(
        temp_files(&root),
        Vec::<PathBuf>::new(),
        "temp files cleaned"
    );
    assert_eq!(fs::read(root.join("index.json")).unwrap(), index_before);

    // A writer dropped midway (as on an error in the caller) also leaves nothing.
    let mut w = layout.blobs().writer(Algorithm::Sha256).unwrap();
    std::io::Write::write_all(&mut w, b"partial").unwrap();
    drop(w);
    assert_eq!(temp_files(&root), Vec::<PathBuf>::new());
}

#[test]
fn index_rewrite_on_a_full_disk_keeps_the_old_index() {
    let Some(small) = SmallFs::mount("1m") else {
        return;
    };
    let root = small.path.join("layout");
    support::copy_dir(&support::fixtures().join("containerd"), &root);
    // A few hundred names so that the rewritten index.json needs more room than is left.
    let targets: Vec<String> = (0..400)
        .map(|i| format!("example.com/many/names:t{i}"))
        .collect();
    let before = fs::read(root.join("index.json")).unwrap();
    small.fill(4 * 1024);

    let mut args = vec![
        "tag".to_string(),
        root.display().to_string(),
        "alpine:3.16".to_string(),
    ];
    args.extend(targets);
    let run = support::run(&args);
    run.fails(1, "No space left on device");
    assert_eq!(
        fs::read(root.join("index.json")).unwrap(),
        before,
        "old index intact"
    );
    assert_eq!(
        temp_files(&root),
        Vec::<PathBuf>::new(),
        "temp files cleaned"
    );

    // With room again the same command succeeds.
    fs::remove_file(small.path.join("filler")).unwrap();
    support::run(&args).ok();
    let ls = support::run(["ls", "--json", root.to_str().unwrap()]);
    let entries: serde_json::Value = serde_json::from_str(ls.ok()).unwrap();
    assert_eq!(entries.as_array().unwrap().len(), 5 + 400);
}

#[test]
fn import_on_a_full_disk_is_refused_and_changes_nothing() {
    let Some(small) = SmallFs::mount("1m") else {
        return;
    };
    // The multi-arch fixture exported: eight blobs, each taking at least a 4 KiB page on tmpfs,
    // more than the 8 KiB left.
    let outside = tempfile::tempdir().unwrap();
    let src = outside.path().join("src");
    support::copy_dir(&support::fixtures().join("multiarch"), &src);
    let archive = outside.path().join("a.tar");
    support::run(["export", src.to_str().unwrap(), archive.to_str().unwrap()]).ok();
    let root = small.path.join("layout");
    support::copy_dir(&support::fixtures().join("umoci"), &root);
    let before = support::snapshot(&root);
    small.fill(8 * 1024);

    let run = support::run(["import", archive.to_str().unwrap(), root.to_str().unwrap()]);
    run.fails(1, "No space left on device");
    assert_eq!(
        support::snapshot(&root),
        before,
        "the layout is exactly as before"
    );
    assert_eq!(
        temp_files(&root),
        Vec::<PathBuf>::new(),
        "temp files cleaned"
    );
}
