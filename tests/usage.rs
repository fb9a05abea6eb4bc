//! The command line's own words: usage lines, suggestions for mistyped subcommands, and counts in
//! summaries ("1 image", never "1 images").

use crate::support;
use crate::support::registry as registry_support;

use std::fs;

use ocilayout::Layout;
use registry_support::Registry;
use support::digests::*;
use support::{fixture_copy, run};

/// A count of one followed by a plural noun (`1 images`): what no summary may say.
fn bad_plural(text: &str) -> Option<String> {
    let words: Vec<&str> = text
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    words
        .windows(2)
        .find(|w| w[0] == "1" && w[1].len() > 1 && w[1].ends_with('s'))
        .map(|w| format!("1 {}", w[1]))
}

/// Every summary with a count, run so that its counts are one: each says `1 image`, `1 blob`,
/// `1 byte`, `1 problem`, and none a `1` with a plural.
#[test]
fn summaries_count_one_in_the_singular() {
    let (_tmp, dir) = fixture_copy("containerd");
    let d = dir.to_str().unwrap();
    let work = tempfile::tempdir().unwrap();
    let archive = work.path().join("one.tar");
    let archive = archive.to_str().unwrap();
    let imported = work.path().join("imported");
    let imported = imported.to_str().unwrap();

    // A second manifest that differs from alpine's only by a newline: removing its name frees
    // exactly that one blob.
    let layout = Layout::open(&dir).unwrap();
    let mut manifest = fs::read(dir.join("blobs/sha256").join(&D1[7..])).unwrap();
    manifest.push(b'\n');
    let twin = layout.blobs().put_bytes(&manifest).unwrap();
    let manifest_size = manifest.len().to_string();
    assert!(run(["tag", d, twin.as_ref(), "twin:1"]).code == 0);
    // A stray blob of one byte for gc.
    fs::write(
        dir.join("blobs/sha256")
            .join(&registry_support::sha256(b"x")[7..]),
        b"x",
    )
    .unwrap();

    let mut cases: Vec<(Vec<String>, String)> = vec![
        (
            vec![
                "export".into(),
                d.into(),
                archive.into(),
                "alpine:3.16".into(),
            ],
            "exported 1 image: 3 blobs (".into(),
        ),
        (
            vec!["import".into(), archive.into(), imported.into()],
            "imported 1 image: 3 blobs written (".into(),
        ),
        (
            vec!["gc".into(), "--dry-run".into(), d.into()],
            "would remove 1 blob (1 byte), kept".into(),
        ),
        (
            vec!["gc".into(), d.into()],
            "removed 1 blob (1 byte), kept".into(),
        ),
        (
            vec!["rm".into(), d.into(), "twin:1".into()],
            format!("removed 1 blob ({manifest_size} bytes)"),
        ),
    ];
    for (args, want) in cases.drain(..) {
        let out = run(&args);
        let stdout = out.ok();
        assert!(stdout.contains(&want), "{args:?}: {stdout}");
        assert_eq!(bad_plural(stdout), None, "{args:?}: {stdout}");
    }

    // fsck: one corrupt blob (same size, other bytes) is one problem.
    let layer = std::path::Path::new(imported)
        .join("blobs/sha256")
        .join(&LAYER[7..]);
    let mut bytes = fs::read(&layer).unwrap();
    bytes[0] ^= 0xff;
    fs::write(&layer, bytes).unwrap();
    let out = run(["fsck", imported]);
    assert_eq!(out.code, 1, "{out:#?}");
    assert!(
        out.stdout.contains("checked 3 blobs, 1 problem\n"),
        "{}",
        out.stdout
    );
    assert_eq!(bad_plural(&out.stdout), None, "{}", out.stdout);

    // push and pull: one image, its blobs, over a real registry.
    let Some(reg) = Registry::start() else { return };
    let dest = reg.at("one/twin:1");
    let out = run(["push", "--no-progress", d, "alpine:3.16", &dest]);
    assert!(out.ok().contains("pushed 1 image: "), "{out:#?}");
    assert_eq!(bad_plural(&out.stdout), None, "{}", out.stdout);
    let pulled = work.path().join("pulled");
    let out = run(["pull", "--no-progress", &dest, pulled.to_str().unwrap()]);
    assert!(out.ok().contains("pulled 1 image: "), "{out:#?}");
    assert_eq!(bad_plural(&out.stdout), None, "{}", out.stdout);
}

#[test]
fn the_plural_check_catches_what_it_should() {
    assert_eq!(
        bad_plural("exported 1 images: 3 blobs").as_deref(),
        Some("1 images")
    );
    assert_eq!(
        bad_plural("checked 3 blobs, 1 problems\n").as_deref(),
        Some("1 problems")
    );
    assert_eq!(
        bad_plural("removed 1 blob (1 bytes)").as_deref(),
        Some("1 bytes")
    );
    assert_eq!(bad_plural("removed 1 blob (1 byte), kept 6"), None);
}

/// A mistyped subcommand is never offered the hidden `generate`, and `delete` is offered `rm`.
#[test]
fn hidden_commands_are_never_suggested() {
    let cases = [
        ("delete", Some("'rm'")),
        ("generat", None),
        ("generates", None),
        ("pul", Some("'pull'")),
    ];
    for (typed, offered) in cases {
        let out = run([typed, "x"]);
        let err = out.fails(2, &format!("unrecognized subcommand '{typed}'"));
        assert!(!err.contains("generate'"), "{typed}: {err}");
        if let Some(offered) = offered {
            assert!(err.contains(offered), "{typed}: {err}");
        }
    }
}

/// `pull`'s usage line names its arguments once each: images, then the directory.
#[test]
fn pull_usage_reads_images_then_dir() {
    let help = run(["pull", "--help"]);
    let usage = help
        .ok()
        .lines()
        .find(|l| l.starts_with("Usage:"))
        .unwrap()
        .to_string();
    assert_eq!(usage, "Usage: ocilayout pull [OPTIONS] <IMAGE>... <DIR>");
    let out = run(["pull", "only-one-argument"]);
    out.fails(2, "Usage: ocilayout pull");
}
