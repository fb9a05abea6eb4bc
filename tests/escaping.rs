//! Control characters from names and paths (newline, tab, ESC and OSC sequences, bidirectional
//! overrides) are escaped in every line the program prints, results and errors alike, so a hostile
//! name can neither forge a row nor reach the terminal. And `tag` refuses a name that resolve and
//! untag would read as a digest.

use crate::support;

use std::fs;
use std::path::Path;

use support::digests::*;
use support::{copy_dir, fixtures, ol, run};

/// A ref.name that tries everything: a forged row, a forged column, an OSC title sequence, a bidi
/// override.
const EVIL: &str = "evil\nforged\trow\u{1b}]0;owned\u{7}\u{202e}txt";
/// How it is shown.
const EVIL_SHOWN: &str = "evil\\nforged\\trow\\u{1b}]0;owned\\u{7}\\u{202e}txt";

/// Whether `text` holds a control character other than the line ends (and, when `tabs`, the tab
/// column separators).
fn raw_controls(text: &str, tabs: bool) -> Vec<char> {
    text.chars()
        .filter(|&c| {
            (c.is_control() || ('\u{202a}'..='\u{202e}').contains(&c))
                && c != '\n'
                && !(tabs && c == '\t')
        })
        .collect()
}

fn layout_with_evil_names(dir: &Path) {
    copy_dir(&fixtures().join("umoci"), dir);
    let index = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": D1, "size": 345,
             "annotations": {"org.opencontainers.image.ref.name": EVIL}},
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": D2, "size": 499,
             "annotations": {"org.opencontainers.image.ref.name": "v2",
                             "io.containerd.image.name": EVIL}},
        ]
    });
    fs::write(dir.join("index.json"), index.to_string()).unwrap();
}

#[test]
fn every_line_escapes_control_characters() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("l");
    let evil_dir = tmp.path().join(format!("dir{EVIL}"));
    let evil_dir_shown = format!("dir{EVIL_SHOWN}");
    // (what, arguments, which stream must show the escaped text, the text, tabs are columns)
    type Case<'a> = (&'a str, Vec<String>, &'a str, String, bool);
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let cases: Vec<Case> = vec![
        (
            "ls",
            vec!["ls".into(), s(&dir)],
            "stdout",
            EVIL_SHOWN.into(),
            true,
        ),
        (
            "untag -v",
            vec!["untag".into(), "-v".into(), s(&dir), D1.into()],
            "stderr",
            EVIL_SHOWN.into(),
            false,
        ),
        (
            "init",
            vec!["init".into(), s(&evil_dir)],
            "stdout",
            evil_dir_shown.clone(),
            false,
        ),
        (
            "tag -v in a path",
            vec![
                "tag".into(),
                "-v".into(),
                s(&evil_dir),
                "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a".into(),
                "x:1".into(),
            ],
            "stderr",
            evil_dir_shown.clone(),
            false,
        ),
        (
            "an error naming the path",
            vec!["ls".into(), s(&evil_dir.join("missing"))],
            "stderr",
            evil_dir_shown.clone(),
            false,
        ),
    ];
    layout_with_evil_names(&dir);
    for (what, args, stream, shown, tabs) in cases {
        let out = run(&args);
        let text = if stream == "stdout" {
            &out.stdout
        } else {
            &out.stderr
        };
        assert!(text.contains(&shown), "{what}: {shown:?} not in {out:#?}");
        for t in [&out.stdout, &out.stderr] {
            assert!(
                raw_controls(t, tabs).is_empty(),
                "{what}: raw controls in {out:#?}"
            );
        }
        if tabs {
            // One row per entry, four columns each.
            let rows: Vec<&str> = out.stdout.lines().collect();
            assert_eq!(rows.len(), 2, "{what}: {out:#?}");
            assert!(
                rows.iter().all(|r| r.split('\t').count() == 4),
                "{what}: {out:#?}"
            );
        }
    }
}

/// `sha256:<hex>`, `blake3:<hex>` or any `word:` and 32+ hex digits as a new name: refused, since
/// resolve and untag read such an input as a digest and the name could never be used.
#[test]
fn tag_refuses_digest_shaped_names() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("l");
    copy_dir(&fixtures().join("umoci"), &dir);
    let before = fs::read(dir.join("index.json")).unwrap();
    let hex = D2.strip_prefix("sha256:").unwrap();
    for name in [
        D2.to_string(),
        format!("blake3:{hex}"),
        format!("sha512:{hex}"),
        format!("myapp:{}", &hex[..32]),
    ] {
        ol("tag", &dir, &["v1", &name]).fails(1, "shape of a digest");
        assert_eq!(fs::read(dir.join("index.json")).unwrap(), before, "{name}");
    }
    // Shorter hex, and a full name, are names.
    ol("tag", &dir, &["v1", "myapp:deadbeef"]).ok();
    let full = format!("docker.io/library/myapp:{hex}");
    ol("tag", &dir, &["v1", &full]).ok();
    assert_eq!(ol("resolve", &dir, &[&full]).ok().trim(), D1);
}
