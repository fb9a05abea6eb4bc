//! `index.json` (docs/names.md, docs/store.md): arbitrary bytes written as the `index.json` of a layout that holds every
//! fixture blob, then read the two ways the library reads it: the full `Layout::read_index`, and the
//! borrowed fast scan of `resolve`. Never a panic; an error is one line; and wherever the full read
//! accepts the index, the fast scan gives the same answer, or the same error, for every name asked.

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use ocilayout::oci_spec::image::Descriptor;
use ocilayout::resolve::{self, CONTAINERD_NAME, REF_NAME};
use ocilayout::Result;
use ocilayout_fuzz::{assert_one_line, FixtureLayout};

/// Names a user might type: tags, names, digests of fixture blobs (manifests and indexes), and
/// malformed ones.
const QUERIES: &[&str] = &[
    "latest",
    "1",
    "1.0",
    "3.16",
    "v1",
    "alpine",
    "alpine:3.16",
    "docker.io/library/alpine:3.16",
    "multi:1",
    "ghcr.io/acme/tool:1.0",
    "localhost:5000/team/app:dev",
    "alpine@sha256:d72195534bcc2ebf9df34eec4f3c3adec4ae0b09d22bb40644397823c06fe290",
    "sha256:d72195534bcc2ebf9df34eec4f3c3adec4ae0b09d22bb40644397823c06fe290",
    "sha256:ecb24d58728d9afb00088439a373386121d3974de5869af043fd1759253a28c5",
    "sha256:f7f81e057ea48d7d670562694e272bb71f4ef756c6d87bba634cb98b8d672022",
    "sha256:0000000000000000000000000000000000000000000000000000000000000000",
    "sha256:../../x",
    "Bad:Name",
    "",
];

/// Entries whose names become queries too, so that hits are explored, not only misses.
const NAMED_ENTRIES: usize = 4;

fn scratch_layout() -> &'static FixtureLayout {
    static SCRATCH: OnceLock<FixtureLayout> = OnceLock::new();
    SCRATCH.get_or_init(|| {
        FixtureLayout::new(
            "ocilayout-fuzz-index-",
            &["linux/amd64", "linux/arm64", "linux/arm/v7"],
        )
    })
}

/// An answer as it can be compared: the descriptor, or the error message.
fn answer(r: Result<Descriptor>) -> std::result::Result<Descriptor, String> {
    match r {
        Ok(d) => Ok(d),
        Err(e) => {
            assert_one_line(&e);
            Err(e.to_string())
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let s = scratch_layout();
    let layout = &s.layout;
    std::fs::write(layout.root().join("index.json"), data).expect("write index.json");

    let full = layout.read_index();
    let mut queries: Vec<String> = QUERIES.iter().map(|q| q.to_string()).collect();
    match &full {
        Ok(index) => {
            for d in index.manifests() {
                // What `ls` shows of each entry.
                let names = resolve::entry_names(d);
                if let Some(n) = &names.name {
                    assert!(n.tag().is_some() || n.digest().is_some(), "{n:?}");
                }
                resolve::display_name(d);
            }
            for d in index.manifests().iter().take(NAMED_ENTRIES) {
                let annotations = d.annotations().as_ref();
                for key in [CONTAINERD_NAME, REF_NAME] {
                    if let Some(v) = annotations.and_then(|a| a.get(key)) {
                        queries.push(v.clone());
                    }
                }
                queries.push(d.digest().to_string());
            }
        }
        Err(e) => assert_one_line(e),
    }

    for q in &queries {
        let fast = answer(layout.resolve(q, None));
        if let Ok(index) = &full {
            let slow = answer(resolve::resolve_in(layout, index, q));
            assert_eq!(fast, slow, "resolve and resolve_in disagree on {q:?}");
        }
    }
    // Platform descent from what the first query that resolves names, through fixture indexes.
    if let Some(q) = queries
        .iter()
        .find(|q| layout.resolve(q, None).is_ok())
    {
        for p in &s.platforms {
            if let Err(e) = layout.resolve(q, Some(p)) {
                assert_one_line(&e);
            }
        }
    }
});
