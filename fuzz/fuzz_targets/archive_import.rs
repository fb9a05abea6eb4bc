//! Archive import (docs/archives.md, `ocilayout import`): the input as a tar stream (or gzip, by its magic)
//! imported into a layout directory that does not exist yet, at `<scratch>/1/2/3/layout`. The answer
//! is `Ok` or a one-line error, never a panic; nothing is written outside the layout directory (each
//! directory above it holds only the one child it was made with); a refused import leaves nothing
//! behind; an accepted one leaves a layout that fsck finds sound, and importing the same archive
//! again writes no blob and changes nothing in its index.
//!
//! A mutated tar header almost never keeps a matching checksum, so each input is also imported with
//! its header checksums repaired (when that changes anything), to reach what lies behind them.

#![no_main]

use std::fs;
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use ocilayout::archive::{self, ImportOptions};
use ocilayout::{fsck, Layout};
use ocilayout_fuzz::{assert_one_line, repair_tar_checksums, scratch};

struct Scratch {
    _dir: tempfile::TempDir,
    /// The directories above the layout, outermost first.
    ancestors: Vec<PathBuf>,
    target: PathBuf,
}

fn scratch_dirs() -> &'static Scratch {
    static SCRATCH: OnceLock<Scratch> = OnceLock::new();
    SCRATCH.get_or_init(|| {
        let dir = scratch("ocilayout-fuzz-import-");
        let mut ancestors = vec![dir.path().to_path_buf()];
        for name in ["1", "2", "3"] {
            let next = ancestors.last().unwrap().join(name);
            fs::create_dir(&next).unwrap();
            ancestors.push(next);
        }
        let target = ancestors.last().unwrap().join("layout");
        Scratch {
            _dir: dir,
            ancestors,
            target,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let s = scratch_dirs();
    import_and_check(s, data);
    if let Some(repaired) = repair_tar_checksums(data) {
        import_and_check(s, &repaired);
    }
});

fn import_and_check(s: &Scratch, data: &[u8]) {
    let result = archive::import(Cursor::new(data), &s.target, &ImportOptions::default());
    check_confined(s);
    match result {
        Err(e) => {
            assert_one_line(&e);
            assert!(
                !s.target.exists(),
                "a refused import left {} behind ({e})",
                s.target.display()
            );
        }
        Ok(report) => {
            let layout = Layout::open(&s.target).expect("an imported layout opens");
            let index = layout.read_index().expect("its index reads");
            // Entries of the archive that share a name were merged into one.
            assert!(index.manifests().len() <= report.images);
            check_files(&s.target);
            let check = fsck::fsck(&layout).expect("fsck runs");
            assert!(
                check.ok,
                "an accepted archive left problems: {:?}",
                check.problems
            );
            // Again, into the layout it made: every blob is there already, and the index stays.
            let again = archive::import(Cursor::new(data), &s.target, &ImportOptions::default())
                .expect("the same archive again");
            assert_eq!(again.blobs_written, 0);
            assert_eq!(layout.read_index().unwrap(), index);
            check_confined(s);
            fs::remove_dir_all(&s.target).unwrap();
        }
    }
}

/// Every directory above the layout holds only the one child it was made with.
fn check_confined(s: &Scratch) {
    let children = s.ancestors[1..].iter().chain(std::iter::once(&s.target));
    for (dir, child) in s.ancestors.iter().zip(children) {
        let names: Vec<_> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        let allowed = child.file_name().unwrap();
        assert!(
            names.iter().all(|n| n == allowed),
            "import wrote outside the layout: {} holds {names:?}",
            dir.display()
        );
    }
}

/// Only directories and regular files in the layout: no link or special file came from the archive.
fn check_files(root: &Path) {
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let entry = entry.unwrap();
            let kind = entry.file_type().unwrap();
            if kind.is_dir() {
                stack.push(entry.path());
            } else {
                assert!(
                    kind.is_file(),
                    "{} is not a regular file",
                    entry.path().display()
                );
            }
        }
    }
}
