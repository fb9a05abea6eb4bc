//! Manifests and indexes as the graph walk reads them (`graph::parse_children`, `graph::walk`; the same
//! parse serves gc, fsck, export, pull and push), and the platform descent of
//! `platform::select_platform`. The input is stored as a blob of a layout that holds every fixture
//! blob, so that children that name real blobs are walked too. Never a panic: a document that is not a manifest is recorded on its node, and the
//! walk's result keeps its promises (post-order, every child in the graph).

#![no_main]

use std::collections::HashMap;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use ocilayout::digest;
use ocilayout::graph::{self, Problem, MANIFEST_LIMIT};
use ocilayout::oci_spec::image::{Descriptor, MediaType};
use ocilayout::platform;
use ocilayout_fuzz::{assert_one_line, FixtureLayout};

fn scratch_layout() -> &'static FixtureLayout {
    static SCRATCH: OnceLock<FixtureLayout> = OnceLock::new();
    SCRATCH.get_or_init(|| {
        FixtureLayout::new(
            "ocilayout-fuzz-manifest-",
            &["linux/amd64", "linux/arm64/v8", "windows/amd64"],
        )
    })
}

fuzz_target!(|data: &[u8]| {
    let s = scratch_layout();
    let store = s.layout.blobs();

    let parsed = graph::parse_children(data);
    match &parsed {
        Ok(p) => {
            for c in &p.children {
                digest::validate(c.digest()).expect("children's digests are validated");
            }
        }
        Err(e) => assert_one_line(e),
    }

    // The document as a blob of the layout (a fixture blob is already there and stays).
    let d = digest::sha256(data);
    let path = store.path(&d).unwrap();
    let existed = path.exists();
    if !existed {
        std::fs::write(&path, data).expect("write the blob");
    }
    assert_eq!(store.read_verified(&d, MANIFEST_LIMIT).unwrap(), data);

    for media_type in [graph::OCI_INDEX, graph::OCI_MANIFEST] {
        let root = Descriptor::new(MediaType::from(media_type), data.len() as u64, d.clone());
        let g = graph::walk(store, [&root]).expect("the walk records problems on nodes");
        check_graph(&g, &root, parsed.as_ref().ok());
    }

    // Platform descent, reading the document itself and fixture blobs below it: as an index, and as
    // a single-platform manifest whose config's platform is checked.
    let as_index = Descriptor::new(MediaType::ImageIndex, data.len() as u64, d.clone());
    let as_manifest = Descriptor::new(MediaType::ImageManifest, data.len() as u64, d.clone());
    for (root, p) in s
        .platforms
        .iter()
        .flat_map(|p| [(&as_index, p), (&as_manifest, p)])
    {
        // The document is a blob of the layout (written above), so the descent reads it and the
        // fixture blobs below it from the store, verified, as any resolution does.
        let found = platform::select_platform(&s.layout, root.clone(), p);
        match found {
            Ok(m) => assert!(!graph::is_index(m.media_type().as_ref()), "{m:?}"),
            Err(e) => assert_one_line(&e),
        }
    }

    if !existed {
        std::fs::remove_file(&path).expect("remove the blob");
    }
});

fn check_graph(g: &graph::Graph, root: &Descriptor, parsed: Option<&graph::Parsed>) {
    let last = g.nodes.last().expect("the root is in the graph");
    assert_eq!(&last.descriptor, root, "the root comes last (post-order)");
    assert!(last.verified, "the root was read and verified");
    match (parsed, &last.problem) {
        (None, Some(Problem::Unreadable(why))) => assert!(!why.contains('\n'), "{why:?}"),
        (None, other) => panic!("an unparseable document recorded as {other:?}"),
        (Some(p), problem) => {
            let own = p.media_type.as_deref();
            let want_mismatch = own.is_some_and(|m| m != root.media_type().to_string());
            match problem {
                None => assert!(!want_mismatch),
                Some(Problem::MediaTypeMismatch { document, .. }) => {
                    assert!(want_mismatch);
                    assert_eq!(Some(document.as_str()), own);
                }
                Some(other) => panic!("a parsed document recorded as {other}"),
            }
            if problem.is_none() || want_mismatch {
                let digests: Vec<_> = p.children.iter().map(|c| c.digest().clone()).collect();
                assert_eq!(last.children, digests);
            }
        }
    }
    // Every node once, children before parents.
    let mut position = HashMap::new();
    for (i, n) in g.nodes.iter().enumerate() {
        assert!(
            position.insert(n.descriptor.digest().clone(), i).is_none(),
            "a blob twice in the graph"
        );
        assert!(g.contains(n.descriptor.digest()));
    }
    for (i, n) in g.nodes.iter().enumerate() {
        for c in &n.children {
            let at = position.get(c).expect("every child is in the graph");
            assert!(
                *at < i || c == n.descriptor.digest(),
                "a child after its parent"
            );
        }
    }
}
