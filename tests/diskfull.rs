//! Disk full (ENOSPC) during a blob write and during the index.json rewrite, on a real small tmpfs the
//! test mounts: a clear error, the old index.json intact, no temporary file left behind. And gc where
//! it matters most: on a file system with no free inodes (it must free space, not need it), and as
//! a dry run on a read-only file system.
//! Mounting needs root (CI runs as root); elsewhere the tests say so and skip, unless CI=true.

use crate::support;

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
        SmallFs::mount_with(&format!("size={size}"))
    }

    /// Mounts with tmpfs options `opts` (`size=1m,nr_inodes=64`).
    fn mount_with(opts: &str) -> Option<SmallFs> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fs");
        fs::create_dir(&path).unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", opts, "tmpfs"])
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

impl SmallFs {
    /// Uses up every free inode with empty files; returns how many it took.
    fn fill_inodes(&self) -> usize {
        let dir = self.path.join("inodes");
        fs::create_dir(&dir).unwrap();
        for n in 0.. {
            match fs::File::create(dir.join(n.to_string())) {
                Ok(_) => {}
                Err(e) => {
                    assert_eq!(e.raw_os_error(), Some(28), "ENOSPC expected: {e}");
                    return n;
                }
            }
        }
        unreachable!()
    }

    /// Free blocks of the file system.
    fn free_blocks(&self) -> u64 {
        let out = Command::new("stat")
            .args(["-f", "-c", "%a"])
            .arg(&self.path)
            .output()
            .unwrap();
        String::from_utf8(out.stdout)
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    }

    /// Makes the file system read-only.
    fn remount_read_only(&self) {
        let ok = Command::new("mount")
            .args(["-o", "remount,ro"])
            .arg(&self.path)
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "remount read-only");
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

/// Digests of the umoci fixture's image `v2`, which only its own entry reaches.
const V2_BLOBS: [&str; 3] = [
    support::digests::D2,
    support::digests::CONFIG2,
    support::digests::LAYER2,
];

/// The umoci fixture at `root` with its `v2` entry dropped from index.json by hand (no tool of ours
/// has written there, so there is no `.ocilayout` state): `v2`'s three blobs are garbage.
fn umoci_without_v2(root: &Path) {
    support::copy_dir(&support::fixtures().join("umoci"), root);
    let mut index: serde_json::Value =
        serde_json::from_slice(&fs::read(root.join("index.json")).unwrap()).unwrap();
    index["manifests"]
        .as_array_mut()
        .unwrap()
        .retain(|e| e["digest"] != support::digests::D2);
    fs::write(root.join("index.json"), index.to_string()).unwrap();
}

fn blob_exists(root: &Path, digest: &str) -> bool {
    root.join("blobs/sha256")
        .join(digest.strip_prefix("sha256:").unwrap())
        .exists()
}

/// With no free inode, gc still frees space: its lock state, which needs inodes, is made from the
/// garbage it is about to remove (whether `.ocilayout` is missing or only its lock files are), and
/// the lock files end up empty.
#[test]
fn gc_with_no_free_inodes_frees_space() {
    for state in ["none", "a state directory without lock files"] {
        let Some(small) = SmallFs::mount_with("size=4m,nr_inodes=48") else {
            return;
        };
        let root = small.path.join("layout");
        umoci_without_v2(&root);
        if state != "none" {
            fs::create_dir_all(root.join(".ocilayout/tmp")).unwrap();
        }
        assert!(small.fill_inodes() > 0);
        let blocks_before = small.free_blocks();
        let before = support::snapshot(&root);
        let run = support::run(["gc", "--json", root.to_str().unwrap()]);
        let v: serde_json::Value = serde_json::from_str(run.ok()).unwrap();
        assert_eq!(v["removed"], 3, "{state}: {v}");
        for d in V2_BLOBS {
            assert!(!blob_exists(&root, d), "{state}: {d} kept");
        }
        // Nothing else changed but our state; the image v1 is whole.
        let after = support::snapshot(&root);
        let outside_state = |s: &[(PathBuf, Vec<u8>)]| -> Vec<PathBuf> {
            s.iter()
                .map(|(p, _)| p.clone())
                .filter(|p| !p.starts_with(root.join(".ocilayout")))
                .filter(|p| !V2_BLOBS.iter().any(|d| p.ends_with(&d[7..])))
                .collect()
        };
        assert_eq!(outside_state(&after), outside_state(&before), "{state}");
        support::run(["fsck", root.to_str().unwrap()]).ok();
        for lock in ["writers.lock", "index.lock"] {
            let meta = fs::metadata(root.join(".ocilayout").join(lock)).unwrap();
            assert_eq!(
                meta.len(),
                0,
                "{state}: {lock} holds a garbage blob's bytes"
            );
        }
        // The space is free (blocks: with exactly three garbage blobs, their inodes became our
        // state).
        assert!(
            small.free_blocks() > blocks_before,
            "{state}: no space freed"
        );
        // And gc runs again as usual, with nothing to do.
        let run = support::run(["gc", "--json", root.to_str().unwrap()]);
        let v: serde_json::Value = serde_json::from_str(run.ok()).unwrap();
        assert_eq!(v["removed"], 0, "{state}: {v}");
    }
}

/// `gc --dry-run` on a read-only file system: it reports exactly what gc would remove, whether the
/// lock files exist (they are opened for reading) or not (the dry run takes no locks and says so),
/// and changes nothing; a real gc fails with one clear line.
#[test]
fn gc_dry_run_on_a_read_only_layout() {
    for state in ["no lock files", "lock files from an earlier run"] {
        let Some(small) = SmallFs::mount("4m") else {
            return;
        };
        let root = small.path.join("layout");
        umoci_without_v2(&root);
        if state != "no lock files" {
            support::run(["gc", "--dry-run", root.to_str().unwrap()]).ok();
            assert!(root.join(".ocilayout/index.lock").exists());
        }
        small.remount_read_only();
        let before = support::snapshot(&root);
        let run = support::run(["gc", "--dry-run", "--json", root.to_str().unwrap()]);
        let v: serde_json::Value = serde_json::from_str(run.ok()).unwrap();
        assert_eq!(v["removed"], 3, "{state}: {v}");
        let mut want: Vec<&str> = V2_BLOBS.to_vec();
        want.sort();
        assert_eq!(v["digests"], serde_json::json!(want), "{state}: {v}");
        assert_eq!(
            run.stderr.contains("took no locks"),
            state == "no lock files",
            "{state}: {run:#?}"
        );
        let run = support::run(["gc", root.to_str().unwrap()]);
        run.fails(1, "Read-only file system");
        assert_eq!(support::snapshot(&root), before, "{state}");
    }
}
