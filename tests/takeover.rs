//! Which directories init, import and pull may write into, and what a refused one leaves: a
//! directory holding `index.json` or `blobs/` but no `oci-layout` is refused, naming what is missing;
//! only an empty directory or our own interrupted init is taken over; a failed import or pull into a
//! new directory leaves none behind, but never removes a layout another process completed.

use crate::support;
use crate::support::registry as registry_support;

use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use registry_support::Registry;
use support::{bin, copy_dir, fixtures, ol, run};

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Every file and directory under `dir` (links not followed) with file contents.
fn tree(dir: &Path) -> Vec<(String, Option<Vec<u8>>)> {
    walkdir::WalkDir::new(dir)
        .sort_by_file_name()
        .into_iter()
        .map(|e| {
            let e = e.unwrap();
            let rel = e.path().strip_prefix(dir).unwrap().display().to_string();
            let content = e.file_type().is_file().then(|| fs::read(e.path()).unwrap());
            (rel, content)
        })
        .collect()
}

/// What our init writes as index.json.
const OUR_EMPTY_INDEX: &str =
    "{\"manifests\":[],\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"schemaVersion\":2}\n";

type Setup = fn(&Path);

/// Directories that are not layouts and not ours: refused by every command, left as they were.
const REFUSED: [(&str, Setup, &str); 6] = [
    (
        "a layout that lost only its oci-layout file",
        |d| {
            copy_dir(&fixtures().join("umoci"), d);
            fs::remove_file(d.join("oci-layout")).unwrap();
            let _ = fs::remove_dir_all(d.join(".ocilayout"));
        },
        "holds blobs and index.json",
    ),
    (
        "another program's index.json",
        |d| fs::write(d.join("index.json"), r#"{"theirs":true}"#).unwrap(),
        "holds index.json",
    ),
    (
        "an empty index.json we did not write",
        |d| {
            fs::write(
                d.join("index.json"),
                r#"{"schemaVersion":2,"manifests":[]}"#,
            )
            .unwrap()
        },
        "holds index.json",
    ),
    (
        "blobs alone",
        |d| {
            fs::create_dir_all(d.join("blobs/sha256")).unwrap();
            fs::write(d.join("blobs/sha256/ab"), b"x").unwrap();
        },
        "holds blobs",
    ),
    (
        "our mark with an index.json that names something",
        |d| {
            copy_dir(&fixtures().join("umoci"), d);
            fs::remove_file(d.join("oci-layout")).unwrap();
            fs::create_dir_all(d.join(".ocilayout")).unwrap();
        },
        "is not the empty index our init writes",
    ),
    (
        "a file of someone else's",
        |d| fs::write(d.join("notes.txt"), b"mine").unwrap(),
        "not empty",
    ),
];

/// The commands that create or take over a layout (pull only with a registry).
fn commands(archive: &Path, reg: Option<&Registry>, dir: &Path) -> Vec<Vec<String>> {
    let mut out = vec![
        vec!["init".into(), s(dir).into()],
        vec!["import".into(), s(archive).into(), s(dir).into()],
    ];
    if let Some(reg) = reg {
        out.push(vec![
            "pull".into(),
            "--plain-http".into(),
            reg.at("img:1"),
            s(dir).into(),
        ]);
    }
    out
}

fn archive_and_registry(tmp: &Path) -> (std::path::PathBuf, Option<Registry>) {
    let archive = tmp.join("a.tar");
    let clean = tmp.join("clean");
    copy_dir(&fixtures().join("umoci"), &clean);
    run(["export", s(&clean), s(&archive)]).ok();
    let reg = Registry::start();
    if let Some(reg) = &reg {
        run(["push", "--plain-http", s(&clean), "v1", &reg.at("img:1")]).ok();
    }
    (archive, reg)
}

#[test]
fn a_directory_that_is_not_a_layout_is_refused_and_left_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let (archive, reg) = archive_and_registry(tmp.path());
    let mut n = 0;
    for (what, setup, names) in REFUSED {
        for args in commands(&archive, reg.as_ref(), &tmp.path().join("x")) {
            n += 1;
            let dir = tmp.path().join(format!("case{n}"));
            fs::create_dir(&dir).unwrap();
            setup(&dir);
            let before = tree(&dir);
            let args: Vec<String> = args
                .into_iter()
                .map(|a| a.replace(s(&tmp.path().join("x")), s(&dir)))
                .collect();
            let out = run(&args);
            let err = out.fails(1, "no oci-layout file");
            assert!(err.contains(names), "{what}, {}: {err}", args[0]);
            assert_eq!(tree(&dir), before, "{what}, {}: changed", args[0]);
        }
    }
}

#[test]
fn an_empty_directory_or_our_interrupted_init_is_taken_over() {
    let tmp = tempfile::tempdir().unwrap();
    let (archive, reg) = archive_and_registry(tmp.path());
    let cases: [(&str, Setup); 3] = [
        ("empty", |_| {}),
        ("our mark alone", |d| {
            fs::create_dir(d.join(".ocilayout")).unwrap()
        }),
        ("our init, killed before oci-layout", |d| {
            fs::create_dir_all(d.join(".ocilayout/tmp")).unwrap();
            fs::create_dir_all(d.join("blobs/sha256")).unwrap();
            fs::write(d.join("index.json"), OUR_EMPTY_INDEX).unwrap();
        }),
    ];
    let mut n = 0;
    for (what, setup) in cases {
        for args in commands(&archive, reg.as_ref(), &tmp.path().join("x")) {
            n += 1;
            let dir = tmp.path().join(format!("case{n}"));
            fs::create_dir(&dir).unwrap();
            setup(&dir);
            let args: Vec<String> = args
                .into_iter()
                .map(|a| a.replace(s(&tmp.path().join("x")), s(&dir)))
                .collect();
            run(&args).ok();
            assert!(dir.join("oci-layout").is_file(), "{what}: {}", args[0]);
            ol("fsck", &dir, &[]).ok();
        }
    }
}

/// A failed import or pull into a directory it created leaves no directory; into an empty one,
/// an empty one.
#[test]
fn a_failed_import_or_pull_leaves_no_layout_behind() {
    let tmp = tempfile::tempdir().unwrap();
    let (archive, reg) = archive_and_registry(tmp.path());
    let bad = tmp.path().join("bad.tar");
    let mut bytes = fs::read(&archive).unwrap();
    bytes.truncate(bytes.len() / 2);
    fs::write(&bad, bytes).unwrap();
    let mut cases = vec![vec!["import".to_string(), s(&bad).into()]];
    if let Some(reg) = &reg {
        cases.push(vec![
            "pull".into(),
            "--plain-http".into(),
            reg.at("no/such:1"),
        ]);
    }
    for (i, args) in cases.into_iter().enumerate() {
        let new = tmp.path().join(format!("new{i}/deeper"));
        let empty = tmp.path().join(format!("empty{i}"));
        fs::create_dir(&empty).unwrap();
        for dir in [&new, &empty] {
            let mut all = args.clone();
            all.push(s(dir).into());
            let out = run(&all);
            assert_eq!(out.code, 1, "{out:#?}");
        }
        assert!(!new.exists(), "{args:?} left {new:?}");
        assert_eq!(fs::read_dir(&empty).unwrap().count(), 0, "{args:?}");
    }
}

/// Two imports into the same new directory: the one refused after the other completed removes
/// only its own blobs, not the other's layout (it ran remove_dir_all on it).
#[test]
fn a_refused_import_keeps_the_layout_a_concurrent_import_completed() {
    let tmp = tempfile::tempdir().unwrap();
    let multiarch = tmp.path().join("multiarch");
    copy_dir(&fixtures().join("multiarch"), &multiarch);
    let archive = tmp.path().join("m.tar");
    run(["export", s(&multiarch), s(&archive)]).ok();
    let bytes = fs::read(&archive).unwrap();
    let dir = tmp.path().join("new");

    // The first import creates the directory and streams the first half of the archive...
    let mut first = Command::new(bin())
        .args(["import", "-", s(&dir)])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = first.stdin.take().unwrap();
    stdin.write_all(&bytes[..bytes.len() / 2]).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !dir.join("oci-layout").exists() {
        assert!(Instant::now() < deadline, "the first import did not start");
        std::thread::sleep(Duration::from_millis(5));
    }
    // ...the second completes meanwhile...
    run(["import", s(&archive), s(&dir)]).ok();
    let ls = |dir: &Path| -> serde_json::Value {
        serde_json::from_str(ol("ls", dir, &["--json"]).ok()).unwrap()
    };
    let named = ls(&dir);
    // ...and then the first is refused: its archive ends halfway.
    drop(stdin);
    let out = first.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");

    assert_eq!(ls(&dir), named);
    ol("fsck", &dir, &[]).ok();
}
