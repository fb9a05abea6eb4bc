//! Symbolic links in a layout's own state: every write command (init, tag, untag, gc, import, export,
//! pull, push) runs on layouts whose `.ocilayout`, `.ocilayout/tmp`, lock files, `blobs`,
//! `blobs/sha256` or `index.json` is a link (dangling, to a directory outside, to a file outside).
//! Whatever each does, nothing outside the layout changes (a sibling tree is snapshotted: names,
//! types, sizes, mtimes, content hashes, link targets), and a refusal is one clear line.

use crate::support;
use crate::support::registry as registry_support;

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{symlink, MetadataExt};
use std::path::{Path, PathBuf};

use registry_support::{sha256, Registry};
use support::{copy_dir, fixtures, run};

/// Where a link points.
#[derive(Clone, Copy, Debug)]
enum Kind {
    /// At nothing (`outside/missing`).
    Dangling,
    /// At a directory outside, holding a copy of what the layout had there, or a file when the path
    /// is a file of ours.
    Dir,
    /// At a file outside (a copy of index.json for `index.json`).
    File,
}

/// The paths of our own state that a link replaces.
const PATHS: [&str; 7] = [
    ".ocilayout",
    ".ocilayout/tmp",
    ".ocilayout/index.lock",
    ".ocilayout/writers.lock",
    "blobs",
    "blobs/sha256",
    "index.json",
];

/// A garbage blob planted in the layout (and in the copies outside), so gc has something to delete.
const GARBAGE: &[u8] = b"garbage no entry reaches";

/// One entry of a tree as the snapshot sees it.
#[derive(Debug, PartialEq, Eq)]
enum Node {
    Dir {
        mtime: i64,
        mtime_ns: i64,
    },
    File {
        size: u64,
        mtime: i64,
        mtime_ns: i64,
        sha256: String,
    },
    Link {
        target: PathBuf,
    },
    Other,
}

/// Every entry under `dir`, not following links.
fn tree(dir: &Path) -> BTreeMap<PathBuf, Node> {
    let mut out = BTreeMap::new();
    for entry in walkdir::WalkDir::new(dir).follow_links(false) {
        let entry = entry.unwrap();
        let m = entry.path().symlink_metadata().unwrap();
        let node = if m.file_type().is_symlink() {
            Node::Link {
                target: fs::read_link(entry.path()).unwrap(),
            }
        } else if m.is_dir() {
            Node::Dir {
                mtime: m.mtime(),
                mtime_ns: m.mtime_nsec(),
            }
        } else if m.is_file() {
            Node::File {
                size: m.len(),
                mtime: m.mtime(),
                mtime_ns: m.mtime_nsec(),
                sha256: ocilayout::digest::sha256(&fs::read(entry.path()).unwrap()).to_string(),
            }
        } else {
            Node::Other
        };
        out.insert(entry.path().strip_prefix(dir).unwrap().to_path_buf(), node);
    }
    out
}

/// A copy of the umoci fixture with a `.ocilayout/tmp` holding a leftover and a garbage blob, and
/// the sibling `outside` tree; `path` of the layout replaced by a link of `kind`. Returns the layout.
fn setup(root: &Path, path: &str, kind: Kind) -> PathBuf {
    let layout = root.join("layout");
    copy_dir(&fixtures().join("umoci"), &layout);
    fs::create_dir_all(layout.join(".ocilayout/tmp")).unwrap();
    fs::write(layout.join(".ocilayout/tmp/blob-1-0"), b"leftover").unwrap();
    fs::write(layout.join(".ocilayout/index.lock"), b"").unwrap();
    fs::write(layout.join(".ocilayout/writers.lock"), b"").unwrap();
    fs::write(
        layout.join("blobs/sha256").join(
            ocilayout::digest::sha256(GARBAGE)
                .to_string()
                .strip_prefix("sha256:")
                .unwrap(),
        ),
        GARBAGE,
    )
    .unwrap();
    let outside = root.join("outside");
    fs::create_dir_all(&outside).unwrap();
    fs::write(outside.join("precious"), b"not the layout's").unwrap();
    let real = layout.join(path);
    let target = match kind {
        Kind::Dangling => outside.join("missing"),
        Kind::Dir => {
            let dir = outside.join("dir");
            if real.is_dir() {
                copy_dir(&real, &dir);
            } else {
                fs::create_dir_all(&dir).unwrap();
            }
            fs::write(dir.join("precious"), b"not the layout's").unwrap();
            dir
        }
        Kind::File => {
            let file = outside.join("file");
            if path == "index.json" {
                fs::copy(&real, &file).unwrap();
            } else {
                fs::write(&file, b"not the layout's").unwrap();
            }
            file
        }
    };
    if real.is_dir() {
        fs::remove_dir_all(&real).unwrap();
    } else {
        fs::remove_file(&real).unwrap();
    }
    symlink(&target, &real).unwrap();
    layout
}

/// The write commands, as argument lists for a layout at `dir` (`{L}`), an archive (`{A}`), an
/// export target (`{O}`) and the registry (`{R}`).
const COMMANDS: [(&str, &[&str]); 8] = [
    ("init", &["init", "{L}"]),
    ("tag", &["tag", "{L}", "v1", "renamed"]),
    ("untag", &["untag", "{L}", "v2"]),
    ("gc", &["gc", "{L}"]),
    ("import", &["import", "{A}", "{L}"]),
    ("export", &["export", "{L}", "{O}"]),
    ("pull", &["pull", "--plain-http", "{R}/img:1", "{L}"]),
    (
        "push",
        &["push", "--plain-http", "{L}", "v1", "{R}/pushed:1"],
    ),
];

#[test]
fn nothing_outside_the_layout_changes_through_a_symlink_in_its_state() {
    let reg = Registry::start();
    let tmp = tempfile::tempdir().unwrap();
    let archive = tmp.path().join("a.tar");
    let clean = tmp.path().join("clean");
    copy_dir(&fixtures().join("multiarch"), &clean);
    run(["export", clean.to_str().unwrap(), archive.to_str().unwrap()]).ok();
    if let Some(reg) = &reg {
        let image = reg.at("img:1");
        run([
            "push",
            "--plain-http",
            clean.to_str().unwrap(),
            "multi:1",
            &image,
        ])
        .ok();
    }
    let mut table = Vec::new();
    let mut failures = Vec::new();
    let mut n = 0;
    for path in PATHS {
        for kind in [Kind::Dangling, Kind::Dir, Kind::File] {
            for (command, args) in COMMANDS {
                if reg.is_none() && matches!(command, "pull" | "push") {
                    continue;
                }
                n += 1;
                let root = tmp.path().join(format!("case{n}"));
                let layout = setup(&root, path, kind);
                let before = tree(&root.join("outside"));
                let args: Vec<String> = args
                    .iter()
                    .map(|a| {
                        a.replace("{L}", layout.to_str().unwrap())
                            .replace("{A}", archive.to_str().unwrap())
                            .replace("{O}", root.join("out.tar").to_str().unwrap())
                            .replace("{R}", reg.as_ref().map_or("", |r| r.addr.as_str()))
                    })
                    .collect();
                let out = run(&args);
                let after = tree(&root.join("outside"));
                let case = format!("{command} with {path} -> {kind:?}");
                let first = out.stderr.lines().next().unwrap_or("").to_string();
                table.push(format!("{case}: exit {} {first}", out.code));
                if before != after {
                    failures.push(format!(
                        "{case}: the outside tree changed\nbefore {before:#?}\nafter {after:#?}"
                    ));
                }
                let lines = out.stderr.trim_end().lines().count();
                if !(out.code == 0 || (out.code == 1 && (1..=2).contains(&lines)))
                    || out.stderr.contains("panicked")
                {
                    failures.push(format!("{case}: not a clean outcome: {out:#?}"));
                }
                // Where the link is our own state that the command must write, lock or sweep, the
                // refusal names the link.
                if refused(command, path, kind) && !out.stderr.contains("symbolic link") {
                    failures.push(format!(
                        "{case}: expected a refusal naming the link: {out:#?}"
                    ));
                }
                // A refused gc removed nothing: the garbage blob is still there (where blobs/ is
                // itself the link, the blob lives outside and the tree check covers it).
                let garbage = layout.join("blobs/sha256").join(&sha256(GARBAGE)[7..]);
                if command == "gc"
                    && out.code != 0
                    && !path.starts_with("blobs")
                    && !garbage.exists()
                {
                    failures.push(format!("{case}: a refused gc removed a blob: {out:#?}"));
                }
                fs::remove_dir_all(&root).unwrap();
            }
        }
    }
    // Shown with --nocapture: what each command did with each link.
    println!("{}", table.join("\n"));
    assert!(
        failures.is_empty(),
        "{}\n\nall cases:\n{}",
        failures.join("\n"),
        table.join("\n")
    );
}

/// Whether `command` must refuse a link at `path`: commands that take the index lock refuse links at
/// `.ocilayout` and `index.lock`; gc (which sweeps blobs and temporary files and takes both locks)
/// refuses every link in our state but `index.json` (which it only reads), and tag and untag refuse to
/// replace a linked `index.json`.
fn refused(command: &str, path: &str, kind: Kind) -> bool {
    let locks_index = matches!(command, "tag" | "untag" | "gc" | "import" | "pull");
    match path {
        ".ocilayout" | ".ocilayout/index.lock" => locks_index,
        ".ocilayout/writers.lock" => matches!(command, "gc" | "import" | "pull" | "export"),
        ".ocilayout/tmp" => command == "gc",
        // (A dangling link or one to a file fails earlier, as blobs missing or unreadable.)
        "blobs" | "blobs/sha256" => command == "gc" && matches!(kind, Kind::Dir),
        "index.json" => matches!(command, "tag" | "untag") && matches!(kind, Kind::File),
        _ => false,
    }
}
