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

/// The committed pages (which `man_pages_are_current` keeps equal to the generated ones): each
/// has EXIT STATUS and EXAMPLES; every `ocilayout-X(1)` a page names is a page that exists; a
/// synopsis names the command as it is typed (`ocilayout serve`), never `ocilayout-serve`.
#[test]
fn man_pages_are_complete_and_point_only_at_pages_that_exist() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("man");
    let pages: Vec<String> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(pages.contains(&"ocilayout.1".to_string()), "{pages:?}");
    for page in &pages {
        let text = fs::read_to_string(dir.join(page)).unwrap();
        for section in [
            ".SH \"EXIT STATUS\"",
            ".SH \"EXAMPLES\"",
            ".SH \"SEE ALSO\"",
        ] {
            assert!(text.contains(section), "{page} lacks {section}");
        }
        // Every reference to a page of ours, in whatever section.
        let plain = text.replace("\\-", "-");
        for (i, _) in plain.match_indices("ocilayout-") {
            let rest = &plain[i..];
            let Some(end) = rest.find("(1)") else {
                continue;
            };
            let name = &rest[..end];
            if name.chars().all(|c| c.is_ascii_lowercase() || c == '-') {
                assert!(
                    pages.contains(&format!("{name}.1")),
                    "{page} names {name}(1), which does not exist"
                );
            }
        }
        let synopsis = plain
            .lines()
            .skip_while(|l| *l != ".SH SYNOPSIS")
            .nth(1)
            .unwrap_or_else(|| panic!("{page} has no synopsis"));
        let command = page
            .trim_end_matches(".1")
            .replacen("ocilayout-", "ocilayout ", 1);
        assert!(
            synopsis.starts_with(&format!("\\fB{command}\\fR")),
            "{page}: {synopsis}"
        );
    }
}
