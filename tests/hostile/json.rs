//! Deeply nested and huge JSON: in index.json, stored manifests, archives and registries.

use super::*;

/// 100,000 levels of nesting.
const DEPTH: usize = 100_000;

fn nested_arrays() -> String {
    "[".repeat(DEPTH) + &"]".repeat(DEPTH)
}

fn nested_objects() -> String {
    r#"{"a":"#.repeat(DEPTH) + "1" + &"}".repeat(DEPTH)
}

/// Deep nesting in index.json (the whole document, an entry, an annotation), in a stored manifest,
/// in an archive's index.json and manifest, and in a registry's manifest: a clear error with exit
/// status 1, never a crash by stack overflow; nothing written.
#[test]
fn deeply_nested_json_is_refused_without_a_crash() {
    let mut f = Failures::default();
    let mut cases = 0;
    let entry = |annotations: &str| {
        format!(
            r#"{{"mediaType":"{OCI_MANIFEST}","digest":"{D1}","size":345,"annotations":{{"{REF_NAME}":"v1","x":{annotations}}}}}"#
        )
    };
    let indexes = [
        ("document of arrays", nested_arrays()),
        ("document of objects", nested_objects()),
        (
            "an entry",
            format!(r#"{{"schemaVersion":2,"manifests":[{}]}}"#, nested_arrays()),
        ),
        (
            "an annotation",
            format!(
                r#"{{"schemaVersion":2,"manifests":[{}]}}"#,
                entry(&nested_objects())
            ),
        ),
    ];
    for (what, text) in &indexes {
        let sb = Sandbox::new("umoci");
        fs::write(sb.dir.join("index.json"), text).unwrap();
        let before = sb.state();
        let out = sb.beside("out.tar");
        for args in [
            vec!["ls", sb.d()],
            vec!["resolve", sb.d(), "v1"],
            vec!["fsck", sb.d()],
            vec!["gc", sb.d()],
            vec!["tag", sb.d(), "v1", "x:1"],
            vec!["export", sb.d(), &out],
        ] {
            cases += 1;
            let r = run(&args);
            f.refused(
                &r,
                1,
                &["index.json"],
                &format!("{} on index.json: {what}", args[0]),
            );
        }
        sb.unchanged(&mut f, &before, &format!("index.json: {what}"));
    }

    // A stored manifest with a nested layer, and an index with a nested child.
    let sb = Sandbox::new("umoci");
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{{"mediaType":"{OCI_CONFIG}","digest":"{CONFIG1}","size":8}},"layers":[{}]}}"#,
        nested_arrays()
    );
    let index = format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":[{}]}}"#,
        nested_objects()
    );
    let m = sb.put_blob(manifest.as_bytes());
    let i = sb.put_blob(index.as_bytes());
    sb.add_entry(
        json!({"mediaType": OCI_MANIFEST, "digest": m, "size": manifest.len(),
                        "annotations": {REF_NAME: "deep"}}),
    );
    sb.add_entry(
        json!({"mediaType": OCI_INDEX, "digest": i, "size": index.len(),
                        "annotations": {REF_NAME: "deep-index"}}),
    );
    let before = sb.state();
    cases += 1;
    let r = run(["fsck", sb.d()]);
    f.check(
        r.code == 1
            && r.stdout
                .contains(&format!("{m}: unreadable: manifest: layers[0]"))
            && r.stdout
                .contains(&format!("{i}: unreadable: manifest: manifests[0]"))
            && r.stdout.len() < 4096,
        || format!("fsck on nested manifests: {r:?}"),
    );
    let out = sb.beside("out.tar");
    let nowhere = format!("{NOWHERE}/x:1");
    for (args, needles) in [
        (vec!["gc", sb.d()], vec!["refusing to gc"]),
        (
            vec!["export", sb.d(), &out, "deep"],
            vec![m.as_str(), "layers[0]"],
        ),
        (
            vec!["push", "--plain-http", sb.d(), "deep", &nowhere],
            vec![m.as_str(), "layers[0]"],
        ),
        (
            vec!["resolve", sb.d(), "deep-index", "--platform", "linux/amd64"],
            vec!["manifests[0]"],
        ),
    ] {
        cases += 1;
        let r = run(&args);
        f.refused(
            &r,
            1,
            &needles,
            &format!("{} on a nested manifest", args[0]),
        );
    }
    sb.unchanged(&mut f, &before, "nested manifests");

    // Archives.
    let image = Image::new();
    let deep_index = format!(r#"{{"schemaVersion":2,"manifests":[{}]}}"#, nested_arrays());
    cases += 2;
    import_refused(
        &mut f,
        &image.archive_with(&[], deep_index.as_bytes()),
        &["index.json in the archive"],
        "archive index.json nested",
    );
    let deep = Image {
        manifest: manifest.clone().into_bytes(),
        ..Image::new()
    };
    cases += 2;
    import_refused(
        &mut f,
        &deep.archive(),
        &[&sha256(&deep.manifest), "layers[0]"],
        "archive manifest nested",
    );

    // A registry.
    let server = badserver::start(Fault::ManifestBody(Box::leak(
        manifest.into_bytes().into_boxed_slice(),
    )));
    let sb = Sandbox::new("umoci");
    let before = sb.state();
    cases += 1;
    let r = run(["pull", "--plain-http", &server.image(), sb.d()]);
    f.refused(
        &r,
        1,
        &["layers[0]", &server.image()],
        "pull of a nested manifest",
    );
    sb.unchanged(&mut f, &before, "pull of a nested manifest");
    f.assert_none(cases);
}

/// A manifest over 4 MiB: in a layout it is read (the local limit is 64 MiB) but a push refuses to
/// send it and our own import refuses the archive that carries it; over 64 MiB in a layout, fsck
/// and gc report it by digest without reading it; from an archive or a registry it is refused, with
/// the process's memory bounded.
#[test]
fn huge_manifests() {
    let mut f = Failures::default();
    let mut cases = 0;
    let image = Image::new();
    let padded = |pad: usize| {
        let mut m: Value = serde_json::from_slice(&image.manifest).unwrap();
        m["annotations"] = json!({"pad": "x".repeat(pad)});
        serde_json::to_vec(&m).unwrap()
    };
    let big = Image {
        manifest: padded(5 << 20),
        ..Image::new()
    };

    // In a layout: handled locally, refused by push before the manifest is sent.
    let sb = Sandbox::new("umoci");
    for b in [&big.layer, &big.config, &big.manifest] {
        sb.put_blob(b);
    }
    let m = sha256(&big.manifest);
    sb.add_entry(
        json!({"mediaType": OCI_MANIFEST, "digest": m, "size": big.manifest.len(),
                        "annotations": {REF_NAME: "big"}}),
    );
    let before = sb.state();
    cases += 1;
    let (r, rss) = run_measured(&["fsck", sb.d()], None);
    f.check(r.code == 0, || format!("fsck of a 5 MiB manifest: {r:?}"));
    report_rss("fsck, layout with a 5 MiB manifest", rss, 64, &mut f);
    let server = badserver::start(Fault::None);
    let dest = format!("{}/bad/img:2", server.addr);
    cases += 1;
    let r = run(["push", "--plain-http", sb.d(), "big", &dest]);
    f.refused(&r, 1, &["over the limit"], "push of a 5 MiB manifest");
    f.check(
        !server
            .log()
            .iter()
            .any(|s| s.method == "PUT" && s.path.contains("/manifests/")),
        || "push of a 5 MiB manifest: the manifest was sent".into(),
    );
    // Export refuses what import (and registries) would refuse, and leaves no archive behind.
    let out = sb.beside("big.tar");
    cases += 1;
    let r = run(["export", sb.d(), &out, "big"]);
    f.refused(
        &r,
        1,
        &["cannot export", &m, "over the limit"],
        "export of a 5 MiB manifest",
    );
    f.check(!Path::new(&out).exists(), || {
        "export of a 5 MiB manifest left an archive".into()
    });
    sb.unchanged(&mut f, &before, "5 MiB manifest in a layout");

    // Over the local limit: a sparse 65 MiB file under a manifest's name.
    let sb = Sandbox::new("umoci");
    let huge = sha256(b"not the content");
    let file = fs::File::create(sb.dir.join("blobs/sha256").join(&huge[7..])).unwrap();
    file.set_len(65 << 20).unwrap();
    sb.add_entry(
        json!({"mediaType": OCI_MANIFEST, "digest": huge, "size": 65u64 << 20,
                        "annotations": {REF_NAME: "huge"}}),
    );
    let before = sb.state();
    cases += 1;
    let (r, rss) = run_measured(&["fsck", sb.d()], None);
    f.check(
        r.code == 1
            && r.stdout.contains(&format!("{huge}: unreadable"))
            && r.stdout.contains("limit"),
        || format!("fsck of a 65 MiB manifest: {r:?}"),
    );
    report_rss("fsck, layout with a 65 MiB manifest", rss, 64, &mut f);
    cases += 1;
    let r = run(["gc", sb.d()]);
    f.refused(
        &r,
        1,
        &["refusing to gc", &huge],
        "gc past a 65 MiB manifest",
    );
    sb.unchanged(&mut f, &before, "65 MiB manifest in a layout");

    // From an archive and from a registry.
    let sb = Sandbox::new("umoci");
    let before = sb.state();
    cases += 1;
    let (r, rss) = run_measured(&["import", "-", sb.d()], Some(&big.archive()));
    f.refused(&r, 1, &["over the limit"], "import of a 5 MiB manifest");
    report_rss("import, archive with a 5 MiB manifest", rss, 96, &mut f);
    sb.unchanged(&mut f, &before, "import of a 5 MiB manifest");
    let server = badserver::start(Fault::HugeManifest);
    cases += 1;
    let (r, rss) = run_measured(&["pull", "--plain-http", &server.image(), sb.d()], None);
    f.refused(
        &r,
        1,
        &["over the limit", &server.image()],
        "pull of a 5 MiB manifest",
    );
    report_rss("pull, registry manifest of 5 MiB", rss, 64, &mut f);
    sb.unchanged(&mut f, &before, "pull of a 5 MiB manifest");
    f.assert_none(cases);
}

/// Edits the annotations of index.json's first entry (`v1`).
fn with_first_entry(sb: &Sandbox, edit: &dyn Fn(&mut serde_json::Map<String, Value>)) {
    let path = sb.dir.join("index.json");
    let mut index: Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
    edit(
        index["manifests"][0]["annotations"]
            .as_object_mut()
            .unwrap(),
    );
    fs::write(&path, serde_json::to_vec(&index).unwrap()).unwrap();
}

/// An index.json with a 50 MB annotation value is handled: resolve, ls and tag succeed, tag keeps
/// every entry and the value byte for byte, and memory stays within a small multiple of the file.
/// A non-number schemaVersion of 5 MB is refused in a message of at most 2 KiB.
#[test]
fn huge_index_json() {
    let mut f = Failures::default();
    let mut cases = 0;
    // One 50 MB string.
    let sb = Sandbox::new("umoci");
    let big = "x".repeat(50 << 20);
    with_first_entry(&sb, &|a| {
        a.insert("big".into(), big.clone().into());
    });
    cases += 1;
    // v1 is the entry that holds the value: its descriptor is read in full.
    let (r, rss) = run_measured(&["resolve", sb.d(), "v1"], None);
    f.check(r.code == 0 && r.stdout.trim() == D1, || {
        format!("resolve v1: {r:?}")
    });
    report_rss("resolve, index.json with a 50 MB value", rss, 256, &mut f);
    cases += 1;
    let (r, rss) = run_measured(&["ls", sb.d()], None);
    f.check(r.code == 0 && r.stdout.lines().count() == 3, || {
        format!("ls: {:?}", (r.code, &r.stderr))
    });
    report_rss("ls, index.json with a 50 MB value", rss, 256, &mut f);
    cases += 1;
    let (r, rss) = run_measured(&["tag", sb.d(), "v1", "x:1"], None);
    f.check(r.code == 0, || format!("tag: {r:?}"));
    report_rss(
        "tag, index.json with a 50 MB value (rewritten)",
        rss,
        512,
        &mut f,
    );
    let index: Value =
        serde_json::from_slice(&fs::read(sb.dir.join("index.json")).unwrap()).unwrap();
    let entries = index["manifests"].as_array().unwrap();
    f.check(
        entries.len() == 4
            && entries
                .iter()
                .any(|e| e["annotations"]["big"] == big.as_str()),
        || "tag lost an entry or the 50 MB value".into(),
    );

    // A 5 MB string where a number belongs: the parser's message quotes it; ours stays short.
    let sb = Sandbox::new("umoci");
    let path = sb.dir.join("index.json");
    let text = fs::read_to_string(&path).unwrap().replacen(
        r#""schemaVersion":2"#,
        &format!(r#""schemaVersion":"{}""#, "x".repeat(5 << 20)),
        1,
    );
    fs::write(&path, text).unwrap();
    let before = sb.state();
    for args in [vec!["ls", sb.d()], vec!["tag", sb.d(), "v1", "x:1"]] {
        cases += 1;
        let r = run(&args);
        let what = format!("{} on a 5 MB schemaVersion", args[0]);
        f.refused(
            &r,
            1,
            &["index.json", "bytes ...]", "expected u32 at line 1"],
            &what,
        );
    }
    sb.unchanged(&mut f, &before, "5 MB schemaVersion");
    f.assert_none(cases);
}

/// An index.json with 1,000,000 annotations on one entry is handled: resolve and ls succeed, with
/// memory within a small multiple of the file.
#[test]
fn million_annotations_in_index_json() {
    let mut f = Failures::default();
    let mut cases = 0;
    // A million annotations.
    let sb = Sandbox::new("umoci");
    with_first_entry(&sb, &|a| {
        for n in 0..1_000_000 {
            a.insert(format!("k{n}"), "v".into());
        }
    });
    cases += 1;
    let (r, rss) = run_measured(&["resolve", sb.d(), "v2"], None);
    f.check(r.code == 0 && r.stdout.trim() == D2, || {
        format!("resolve v2: {r:?}")
    });
    report_rss("resolve, index.json with 1e6 annotations", rss, 64, &mut f);
    cases += 1;
    let (r, rss) = run_measured(&["ls", sb.d()], None);
    f.check(r.code == 0 && r.stdout.lines().count() == 3, || {
        format!("ls: {:?}", (r.code, &r.stderr))
    });
    report_rss("ls, index.json with 1e6 annotations", rss, 512, &mut f);

    f.assert_none(cases);
}
