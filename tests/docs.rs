//! Man pages and shell completions are generated from the clap definitions; these tests fail when the
//! committed copies in `man/` and `completions/` are stale. Refresh them with
//! `cargo run -- generate man man` and `cargo run -- generate completions SHELL completions`.

use crate::support;

use std::fs;
use std::path::Path;

fn assert_same_dir(generated: &Path, committed: &Path, refresh: &str) {
    let names = |d: &Path| {
        let mut v: Vec<String> = fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    assert_eq!(
        names(generated),
        names(committed),
        "{} is stale: run `{refresh}`",
        committed.display()
    );
    for name in names(generated) {
        assert!(
            fs::read(generated.join(&name)).unwrap() == fs::read(committed.join(&name)).unwrap(),
            "{}/{name} is stale: run `{refresh}`",
            committed.display()
        );
    }
}

#[test]
fn man_pages_are_current() {
    let tmp = tempfile::tempdir().unwrap();
    support::run(["generate", "man", tmp.path().to_str().unwrap()]).ok();
    let committed = Path::new(env!("CARGO_MANIFEST_DIR")).join("man");
    assert_same_dir(tmp.path(), &committed, "cargo run -- generate man man");
}

#[test]
fn completions_are_current() {
    let tmp = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish"] {
        support::run([
            "generate",
            "completions",
            shell,
            tmp.path().to_str().unwrap(),
        ])
        .ok();
    }
    let committed = Path::new(env!("CARGO_MANIFEST_DIR")).join("completions");
    assert_same_dir(
        tmp.path(),
        &committed,
        "cargo run -- generate completions SHELL completions",
    );
}
