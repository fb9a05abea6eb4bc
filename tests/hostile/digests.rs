//! The table of malformed digests in every place a digest can appear: (a) arguments,
//! (b) index.json, (c) stored manifests and indexes, (d) archives, (e) registry headers.

use super::*;

// ---- (a) arguments ---------------------------------------------------------------------------

/// Every command that takes a digest, given a malformed one: exit 1 with `invalid digest` (or, for
/// an argument that has no digest form at all, `not found` naming it), before anything is read or
/// written, before any connection.
#[test]
fn bad_digests_as_arguments() {
    let sb = Sandbox::new("umoci");
    let out = sb.beside("out.tar");
    let mut f = Failures::default();
    let mut cases = 0;
    for bad in bad_digests().iter().filter(|b| b.argv) {
        let d = bad.digest.as_str();
        let url = format!("oci-layout://{}@{d}", sb.d());
        let tagged = format!("foo@{d}");
        let dest = format!("{NOWHERE}/x@{d}");
        let nowhere = format!("{NOWHERE}/x:1");
        // (args, whether the digest sits inside a reference, which parses it whatever its form)
        let cmds: Vec<(Vec<&str>, bool)> = vec![
            (vec!["resolve", sb.d(), d], false),
            (vec!["resolve", sb.d(), d, "--json"], false),
            (vec!["resolve", &url], false),
            (vec!["tag", sb.d(), d, "new:1"], false),
            (vec!["tag", sb.d(), "v1", &tagged], true),
            (vec!["untag", sb.d(), d], false),
            (vec!["export", sb.d(), &out, d], false),
            (vec!["push", "--plain-http", sb.d(), d, &nowhere], false),
            (vec!["push", "--plain-http", sb.d(), "v1", &dest], true),
            (vec!["pull", "--plain-http", &dest, sb.d()], true),
        ];
        for (args, in_reference) in cmds {
            cases += 1;
            let before = sb.state();
            let r = run(&args);
            let what = format!("{} {:?} ({})", args[0], &args[1..], bad.what);
            let what: String = what.chars().take(300).collect();
            let needle = match (
                bad.digestish || in_reference,
                args[1].starts_with("oci-layout"),
            ) {
                (true, _) => "invalid digest",
                // `@` and then no digest: part of the path, which then names no layout.
                (false, true) => "not an OCI image layout",
                (false, false) => "not found in",
            };
            f.refused(&r, 1, &[needle], &what);
            sb.unchanged(&mut f, &before, &what);
        }
    }
    f.assert_none(cases);
}

// ---- (b) index.json --------------------------------------------------------------------------

/// index.json whose second entry carries a malformed digest: every command that reads the index
/// refuses, naming index.json and the entry; nothing is written, not even by gc, export or import.
#[test]
fn bad_digests_in_index_json() {
    let good_archive = {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("a.tar");
        let src = fixtures().join("umoci");
        run(["export", src.to_str().unwrap(), path.to_str().unwrap()]).ok();
        fs::read(path).unwrap()
    };
    let (f, cases) = each_in_parallel(&bad_digests(), |bad, f| {
        let mut cases = 0;
        let sb = Sandbox::new("umoci");
        let path = sb.dir.join("index.json");
        let mut index: Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
        index["manifests"][1]["digest"] = bad.digest.clone().into();
        fs::write(&path, serde_json::to_vec(&index).unwrap()).unwrap();
        let url = format!("oci-layout://{}:v1", sb.d());
        let out = sb.beside("out.tar");
        let nowhere = format!("{NOWHERE}/x:1");
        let cmds: Vec<Vec<&str>> = vec![
            vec!["ls", sb.d()],
            vec!["ls", sb.d(), "--json"],
            vec!["resolve", sb.d(), "v1"],
            vec!["resolve", &url],
            vec!["fsck", sb.d()],
            vec!["fsck", sb.d(), "--json"],
            vec!["tag", sb.d(), "v1", "x:1"],
            vec!["untag", sb.d(), "v1"],
            vec!["gc", sb.d()],
            vec!["gc", sb.d(), "--dry-run"],
            vec!["export", sb.d(), &out],
            vec!["export", sb.d(), &out, "v1"],
            vec!["push", "--plain-http", sb.d(), "v1", &nowhere],
            vec!["sync", "--plain-http", sb.d(), NOWHERE],
        ];
        let mut runs: Vec<(String, Run)> = Vec::new();
        for args in &cmds {
            let before = sb.state();
            let what = format!("{} ({}) on index.json", args.join(" "), bad.what);
            runs.push((what.clone(), run(args)));
            sb.unchanged(f, &before, &what);
        }
        let before = sb.state();
        let what = format!("import ({}) into the layout", bad.what);
        runs.push((
            what.clone(),
            run_with_stdin(["import", "-", sb.d()], &good_archive),
        ));
        sb.unchanged(f, &before, &what);
        for (what, r) in runs {
            cases += 1;
            f.refused(&r, 1, &["index.json", "manifests[1]", "digest"], &what);
        }
        cases
    });
    f.assert_none(cases);
}

// ---- (c) manifests and indexes in the layout -------------------------------------------------

/// Where in a stored document the malformed digest sits.
#[derive(Clone, Copy, Debug)]
enum Slot {
    Config,
    Layer,
    IndexChild,
}

impl Slot {
    /// The field the error must name.
    fn field(self) -> &'static str {
        match self {
            Slot::Config => "config.digest",
            Slot::Layer => "layers[1].digest",
            Slot::IndexChild => "manifests[0].digest",
        }
    }

    /// The document, with `bad` in the place.
    fn document(self, bad: &str) -> Value {
        let config = json!({"mediaType": OCI_CONFIG, "digest": CONFIG1, "size": 8});
        let layer = json!({"mediaType": OCI_LAYER, "digest": LAYER, "size": 8});
        let bad_desc = |mt: &str| json!({"mediaType": mt, "digest": bad, "size": 8});
        match self {
            Slot::Config => json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                                    "config": bad_desc(OCI_CONFIG), "layers": [layer]}),
            Slot::Layer => json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                                   "config": config, "layers": [layer, bad_desc(OCI_LAYER)]}),
            Slot::IndexChild => json!({"schemaVersion": 2, "mediaType": OCI_INDEX,
                "manifests": [{"mediaType": OCI_MANIFEST, "digest": bad, "size": 8,
                               "platform": {"os": "linux", "architecture": "amd64"}}]}),
        }
    }

    fn media_type(self) -> &'static str {
        match self {
            Slot::IndexChild => OCI_INDEX,
            _ => OCI_MANIFEST,
        }
    }
}

/// Stored documents with a malformed digest in a config, a layer or an index's child, named
/// `evil-config`, `evil-layer` and `evil-index`: fsck reports each by digest and field, one line
/// each; gc refuses; resolve (through the index), export and push refuse naming the field, before
/// any connection. Nothing is written anywhere.
#[test]
fn bad_digests_inside_stored_manifests() {
    let children = [Slot::Config, Slot::Layer, Slot::IndexChild];
    let (f, cases) = each_in_parallel(&bad_digests(), |bad, f| {
        let mut cases = 0;
        let sb = Sandbox::new("umoci");
        let mut stored = Vec::new();
        for child in children {
            let bytes = serde_json::to_vec(&child.document(&bad.digest)).unwrap();
            let m = sb.put_blob(&bytes);
            let name = format!("evil-{child:?}").to_lowercase();
            sb.add_entry(json!({"mediaType": child.media_type(), "digest": m,
                                "size": bytes.len(), "annotations": {REF_NAME: name}}));
            stored.push((child, m, name));
        }
        let out = sb.beside("out.tar");
        let nowhere = format!("{NOWHERE}/x:1");
        let what = |cmd: &str| format!("{cmd} ({})", bad.what);
        let before = sb.state();

        cases += 1;
        let r = run(["fsck", sb.d()]);
        // One line per damaged document, then the summary (both on stdout).
        let problem_lines = r
            .stdout
            .lines()
            .filter(|l| stored.iter().any(|(_, m, _)| l.contains(m.as_str())))
            .count();
        f.check(
            r.code == 1 && problem_lines == 3 && r.stdout.lines().count() == 4,
            || format!("{}: {r:?}", what("fsck")),
        );
        f.check(r.stdout.len() < 4096, || {
            format!("{}: {} bytes on stdout", what("fsck"), r.stdout.len())
        });
        for (child, m, _) in &stored {
            let line = r
                .stdout
                .lines()
                .find(|l| l.contains(m.as_str()))
                .unwrap_or("");
            f.check(
                line.contains("unreadable") && line.contains(child.field()),
                || {
                    format!(
                        "{}: no line for {m} naming {}: {r:?}",
                        what("fsck"),
                        child.field()
                    )
                },
            );
        }
        cases += 1;
        let r = run(["fsck", sb.d(), "--json"]);
        let report: Value = serde_json::from_str(&r.stdout).unwrap_or_default();
        let reported: BTreeSet<&str> = report["problems"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| p["digest"].as_str())
            .collect();
        let want: BTreeSet<&str> = stored.iter().map(|(_, m, _)| m.as_str()).collect();
        f.check(r.code == 1 && reported == want, || {
            format!("{}: {r:?}", what("fsck --json"))
        });

        // Whole-layout commands stop at the first damaged document, whichever it is.
        for args in [
            vec!["gc", sb.d()],
            vec!["gc", sb.d(), "--dry-run"],
            vec!["export", sb.d(), &out],
        ] {
            cases += 1;
            let r = run(&args);
            f.refused(&r, 1, &[], &what(&args.join(" ")));
            f.check(
                stored
                    .iter()
                    .any(|(c, m, _)| r.stderr.contains(m.as_str()) && r.stderr.contains(c.field())),
                || {
                    format!(
                        "{}: names no damaged document: {r:?}",
                        what(&args.join(" "))
                    )
                },
            );
        }
        for (child, m, name) in &stored {
            let mut refusals = vec![
                vec!["export", sb.d(), &out, name],
                vec!["push", "--plain-http", sb.d(), name, &nowhere],
            ];
            if let Slot::IndexChild = child {
                refusals.push(vec!["resolve", sb.d(), name, "--platform", "linux/amd64"]);
            }
            for args in refusals {
                cases += 1;
                let r = run(&args);
                let needles: &[&str] = match args[0] {
                    // resolve names the field; the index's digest is what the user asked for.
                    "resolve" => &[child.field()],
                    _ => &[m, child.field()],
                };
                f.refused(&r, 1, needles, &what(&args.join(" ")));
            }
        }
        sb.unchanged(f, &before, &what("every command"));
        cases
    });
    f.assert_none(cases);
}

// ---- (d) archives ----------------------------------------------------------------------------

/// An archive with a malformed digest as a member name (`blobs/<alg>/<hex>`), in its index.json, or
/// in its manifest's config: refused as a whole, naming the member, `index.json in the archive` and
/// the entry, or the manifest and field; the target layout is unchanged, a new target not created.
#[test]
fn bad_digests_in_archives() {
    let image = Image::new();
    let (f, cases) = each_in_parallel(&bad_digests(), |bad, f| {
        let what = |place: &str| format!("{place} ({})", bad.what);

        // The member name: a digest's `:` becomes the directory separator.
        let name = format!("blobs/{}", bad.digest.replacen(':', "/", 1));
        let archive = image.archive_with(&member(name.as_bytes(), b"x"), &image.index());
        // A name past the pax limit is refused by the tar reader before it is a name at all.
        let needle = if name.len() > 64 << 10 {
            "pax header"
        } else {
            "archive member \"blobs/"
        };
        import_refused(f, &archive, &[needle], &what("member name"));

        let mut index: Value = serde_json::from_slice(&image.index()).unwrap();
        index["manifests"][0]["digest"] = bad.digest.clone().into();
        let archive = image.archive_with(&[], &serde_json::to_vec(&index).unwrap());
        import_refused(
            f,
            &archive,
            &["index.json in the archive", "manifests[0]", "digest"],
            &what("index.json"),
        );

        let evil = Image::with_manifest(|_, layer| {
            json!({
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": {"mediaType": OCI_CONFIG, "digest": bad.digest, "size": 8},
                "layers": [{"mediaType": OCI_LAYER, "digest": sha256(layer), "size": layer.len()}],
            })
        });
        let m = sha256(&evil.manifest);
        import_refused(
            f,
            &evil.archive(),
            &[&m, "config.digest"],
            &what("manifest config"),
        );
        6
    });
    f.assert_none(cases);
}

// ---- (e) registry headers --------------------------------------------------------------------

/// A registry that answers with a malformed digest in a header: `Docker-Content-Digest` on manifest
/// `GET`/`HEAD` (pull, and push's check for what is there), on a finished upload, and in the upload
/// `Location` (whose `digest=` the registry then echoes). Each pull or push fails naming the header
/// (a header over ureq's 64 KiB limit is refused as such); the layout is unchanged and nothing is
/// written beside it.
#[test]
fn bad_digests_in_registry_headers() {
    let rows: Vec<Bad> = bad_digests().into_iter().filter(|b| b.header).collect();
    let (f, cases) = each_in_parallel(&rows, |bad, f| {
        let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
        let d = leak(bad.digest.clone());
        let sb = Sandbox::new("umoci");
        let before = sb.state();
        let what = |place: &str| format!("{place} ({})", bad.what);
        let header = if d.len() > 64 << 10 {
            "header is too big"
        } else {
            "Docker-Content-Digest"
        };
        let push = |fault: Fault| {
            let server = badserver::start(fault);
            let dest = format!("{}/bad/img:2", server.addr);
            run(["push", "--plain-http", sb.d(), "v1", &dest])
        };

        let server = badserver::start(Fault::ManifestDigestHeaderIs(d));
        let r = run(["pull", "--plain-http", &server.image(), sb.d()]);
        f.refused(
            &r,
            1,
            &[header, "/manifests/1"],
            &what("pull, manifest GET"),
        );
        let r = push(Fault::ManifestDigestHeaderIs(d));
        f.refused(
            &r,
            1,
            &[header, "/manifests/2"],
            &what("push, manifest HEAD"),
        );
        let r = push(Fault::UploadDigestHeaderIs(d));
        f.refused(
            &r,
            1,
            &[header, "/blobs/uploads/"],
            &what("push, upload answer"),
        );
        let location = leak(format!("/v2/bad/img/blobs/uploads/s?digest={d}"));
        let r = push(Fault::UploadLocationIs(location));
        let needle = if d.contains(' ') { "Location" } else { header };
        f.refused(
            &r,
            1,
            &[needle, "/blobs/uploads/"],
            &what("push, upload Location"),
        );
        sb.unchanged(f, &before, &what("pull and push"));
        4
    });
    f.assert_none(cases);
}

/// An upload `Location` that is no http(s) URL is refused naming it, before anything is sent there.
#[test]
fn hostile_upload_locations() {
    let sb = Sandbox::new("umoci");
    let before = sb.state();
    let mut f = Failures::default();
    let locations = [
        "file:///etc/passwd",
        "http://[::1",
        "ftp://127.0.0.1/x",
        "http:///nohost",
    ];
    for location in locations {
        let server = badserver::start(Fault::UploadLocationIs(location));
        let dest = format!("{}/bad/img:2", server.addr);
        let r = run(["push", "--plain-http", sb.d(), "v1", &dest]);
        f.refused(&r, 1, &["upload Location", location], location);
        f.check(
            server
                .log()
                .iter()
                .all(|s| s.method != "PUT" && s.method != "PATCH"),
            || format!("{location}: an upload was sent: {:?}", server.log()),
        );
    }
    sb.unchanged(&mut f, &before, "hostile Locations");
    f.assert_none(locations.len());
}

/// A registry manifest whose config digest is malformed: the pull fails naming the field and the
/// image, and the layout is unchanged.
#[test]
fn bad_digests_inside_registry_manifests() {
    let (f, cases) = each_in_parallel(&bad_digests(), |bad, f| {
        let body = serde_json::to_vec(&Slot::Config.document(&bad.digest)).unwrap();
        let server = badserver::start(Fault::ManifestBody(Box::leak(body.into_boxed_slice())));
        let sb = Sandbox::new("umoci");
        let before = sb.state();
        let what = format!("pull, manifest config ({})", bad.what);
        let r = run(["pull", "--plain-http", &server.image(), sb.d()]);
        f.refused(&r, 1, &["config.digest", &server.image()], &what);
        sb.unchanged(f, &before, &what);
        1
    });
    f.assert_none(cases);
}
