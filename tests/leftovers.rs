//! What a failed command leaves behind, and what a command says it kept: a failed pull, import or
//! copy into a new nested path removes every folder it created (and nothing else); an export error
//! names the user's path, never a temporary file; `import --platform` reports the blobs it kept, not
//! the ones it wrote and then removed again.

use std::fs;
use std::path::Path;

use crate::support::{fixture_copy, fixtures, run, Run};

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A loopback port nobody listens on: a connection to it is refused at once.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// Every command that creates a layout, each failing after it made the layout's folders: the first
/// folder it created is gone again, and what was there before (the folder above, a file and a folder
/// beside the new one) is untouched.
#[test]
fn a_failed_command_into_a_new_nested_path_leaves_nothing() {
    let port = closed_port();
    let tmp = tempfile::tempdir().unwrap();
    // A layout missing a layer: copying its image fails after the destination was made.
    let (_b, broken) = fixture_copy("umoci");
    let layer = crate::support::digests::LAYER;
    fs::remove_file(broken.join("blobs/sha256").join(&layer[7..])).unwrap();
    let garbage = tmp.path().join("garbage.tar");
    fs::write(&garbage, vec![b'x'; 4096]).unwrap();
    let source_registry = format!("127.0.0.1:{port}/acme/tool:1");
    let cases: Vec<(&str, Vec<String>)> = vec![
        (
            "pull",
            vec!["pull".into(), source_registry.clone(), "{T}".into()],
        ),
        (
            "import",
            vec!["import".into(), s(&garbage).into(), "{T}".into()],
        ),
        (
            "copy from a registry",
            vec![
                "copy".into(),
                format!("docker://{source_registry}"),
                "oci-layout://{T}:1".into(),
            ],
        ),
        (
            "copy from a damaged layout",
            vec![
                "copy".into(),
                format!("oci-layout://{}:v1", s(&broken)),
                "oci-layout://{T}:1".into(),
            ],
        ),
    ];
    let mut failures = Vec::new();
    for (what, args) in cases {
        for depth in 1..=3 {
            let case = tempfile::tempdir().unwrap();
            let base = case.path().join("existing");
            fs::create_dir(&base).unwrap();
            fs::write(base.join("sibling.txt"), b"keep me").unwrap();
            fs::create_dir(base.join("sibling-dir")).unwrap();
            // existing/new/..., `depth` folders deep, the last one the layout.
            let first = base.join("new");
            let mut target = first.clone();
            for n in 1..depth {
                target = target.join(format!("level{n}"));
            }
            let args: Vec<String> = args.iter().map(|a| a.replace("{T}", s(&target))).collect();
            let out: Run = run(&args);
            let mut entries: Vec<String> = fs::read_dir(&base)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            entries.sort();
            let kept = fs::read(base.join("sibling.txt")).ok();
            if out.code != 1
                || entries != ["sibling-dir", "sibling.txt"]
                || kept.as_deref() != Some(&b"keep me"[..])
            {
                failures.push(format!(
                    "{what}, {depth} new folder(s): exit {}, existing/ holds {entries:?}: {}",
                    out.code,
                    out.stderr.trim()
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A folder that was there before a failed import is kept, even when the import created the layout
/// inside it (only what the import made goes).
#[test]
fn a_failed_import_keeps_the_folders_that_were_there() {
    let tmp = tempfile::tempdir().unwrap();
    let garbage = tmp.path().join("garbage.tar");
    fs::write(&garbage, vec![b'x'; 4096]).unwrap();
    let parent = tmp.path().join("a/b");
    fs::create_dir_all(&parent).unwrap();
    let target = parent.join("c/d");
    run(["import", s(&garbage), s(&target)]).fails(1, "archive");
    assert!(parent.is_dir());
    assert_eq!(fs::read_dir(&parent).unwrap().count(), 0);
}

/// An export that cannot write its archive names the archive as the user gave it, never the
/// temporary file it writes first.
#[test]
fn an_export_error_names_the_users_path() {
    let tmp = tempfile::tempdir().unwrap();
    let umoci = fixtures().join("umoci");
    let in_a_missing_folder = tmp.path().join("missing/dir/out.tar");
    // A folder that is a file: the temporary file cannot be made beside the target either.
    fs::write(tmp.path().join("a-file"), b"").unwrap();
    let under_a_file = tmp.path().join("a-file/out.tar");
    for target in [&in_a_missing_folder, &under_a_file] {
        let out = run(["export", s(&umoci), s(target)]);
        let err = out.fails(1, s(target));
        assert!(!err.contains(".tmp-"), "{err}");
    }
}

/// `import --platform` reports what it kept: the written blobs are the new files in the store and
/// their bytes, not the other platforms' blobs it stored and removed again.
#[test]
fn import_with_a_platform_reports_what_it_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let archive = tmp.path().join("multi.tar");
    run(["export", s(&fixtures().join("multiarch")), s(&archive)]).ok();
    let blobs = |dir: &Path| -> Vec<(String, u64)> {
        match fs::read_dir(dir.join("blobs/sha256")) {
            Err(_) => Vec::new(),
            Ok(entries) => entries
                .map(|e| {
                    let e = e.unwrap();
                    let name = e.file_name().to_string_lossy().into_owned();
                    (name, e.metadata().unwrap().len())
                })
                .collect(),
        }
    };
    let (_u, umoci) = fixture_copy("umoci");
    let fresh = tmp.path().join("fresh");
    for (dir, platform) in [
        (fresh.as_path(), "linux/arm64/v8"),
        (fresh.as_path(), "linux/amd64"),
        (umoci.as_path(), "linux/amd64"),
    ] {
        let before = blobs(dir);
        let out = run([
            "import",
            "--platform",
            platform,
            "--json",
            s(&archive),
            s(dir),
        ]);
        let report: serde_json::Value = serde_json::from_str(out.ok()).unwrap();
        let after = blobs(dir);
        let new: Vec<_> = after.iter().filter(|b| !before.contains(b)).collect();
        let new_bytes: u64 = new.iter().map(|(_, n)| n).sum();
        let case = format!("{platform} into {}: {report}", s(dir));
        assert_eq!(report["blobs_written"], new.len(), "{case}");
        assert_eq!(report["bytes"], new_bytes, "{case}");
        // What was already there and is part of the kept image: the manifest, its config and layer.
        let kept =
            report["blobs_written"].as_u64().unwrap() + report["blobs_skipped"].as_u64().unwrap();
        assert_eq!(kept, 3, "{case}");
        // The human line says the same.
        let text = run(["import", "--platform", platform, s(&archive), s(dir)]);
        assert!(
            text.ok()
                .contains("0 blobs written (0 bytes), 3 already present"),
            "{case}: {text:?}"
        );
    }
}
