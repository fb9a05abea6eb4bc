//! The library's public API as a user sees it: typed blob readers checked against their
//! descriptors, the host platform, document kinds, typed digests in reports, and the command
//! line's JSON built from those reports.

use crate::support;

use std::fs;

use ocilayout::oci_spec::image::{Descriptor, Digest, MediaType};
use ocilayout::{DocumentKind, Layout, Platform};
use support::digests::*;
use support::{fixture_copy, fixtures, ol, run};

fn digest(s: &str) -> Digest {
    s.parse().unwrap()
}

fn desc(media_type: MediaType, size: u64, d: &str) -> Descriptor {
    Descriptor::new(media_type, size, digest(d))
}

#[test]
fn typed_readers_read_manifest_config_and_index() {
    let layout = Layout::open(fixtures().join("multiarch")).unwrap();
    let entry = layout.resolve("docker.io/library/multi:1", None).unwrap();
    let index = layout.read_image_index(&entry).unwrap();
    assert!(index.manifests().len() >= 2);
    let arm = layout
        .resolve(
            "docker.io/library/multi:1",
            Some(&Platform::parse("linux/arm64").unwrap()),
        )
        .unwrap();
    assert_eq!(arm.digest().to_string(), ARM);
    let manifest = layout.read_manifest(&arm).unwrap();
    assert_eq!(manifest.config().digest().to_string(), ARM_CONFIG);
    let config = layout.read_config(manifest.config()).unwrap();
    assert_eq!(config.architecture().to_string(), "arm64");
    // Any JSON blob, as any type.
    let value: serde_json::Value = layout.read_json_blob(manifest.config()).unwrap();
    assert_eq!(value["architecture"], "arm64");
}

#[test]
fn typed_readers_refuse_what_the_descriptor_does_not_describe() {
    let (_tmp, dir) = fixture_copy("umoci");
    let layout = Layout::open(&dir).unwrap();
    let manifest = desc(MediaType::ImageManifest, 345, D1);
    assert_eq!(
        layout
            .read_manifest(&manifest)
            .unwrap()
            .config()
            .digest()
            .to_string(),
        CONFIG1
    );
    let cases: Vec<(Descriptor, &str)> = vec![
        // A size other than the blob's.
        (desc(MediaType::ImageManifest, 344, D1), "size mismatch"),
        // A manifest read as an index: the descriptor says otherwise.
        (
            desc(MediaType::ImageManifest, 345, D1),
            "not an OCI image index",
        ),
        // A blob that is not there.
        (desc(MediaType::ImageManifest, 345, EMPTY), "missing"),
    ];
    assert!(layout
        .read_manifest(&cases[0].0)
        .unwrap_err()
        .to_string()
        .contains(cases[0].1));
    let err = layout
        .read_image_index(&cases[1].0)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("OCI image manifest") && err.contains(D1),
        "{err}"
    );
    assert!(layout
        .read_manifest(&cases[2].0)
        .unwrap_err()
        .to_string()
        .contains(cases[2].1));
    // A descriptor that lies about the media type: the document's own shape decides too.
    let lying = desc(MediaType::ImageIndex, 345, D1);
    let err = layout.read_image_index(&lying).unwrap_err().to_string();
    assert!(err.contains("the document says"), "{err}");
    // Corrupt content of the right size is refused by its digest.
    let path = dir.join("blobs/sha256").join(&D1["sha256:".len()..]);
    let mut bytes = fs::read(&path).unwrap();
    bytes[0] ^= 1;
    let _ = fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o644));
    fs::write(&path, bytes).unwrap();
    let err = layout.read_manifest(&manifest).unwrap_err().to_string();
    assert!(err.contains("digest mismatch"), "{err}");
}

#[test]
fn host_platform_and_document_kinds() {
    let host = Platform::host();
    assert_eq!(
        host.to_string(),
        Platform::parse(&host.to_string()).unwrap().to_string()
    );
    let layout = Layout::open(fixtures().join("docker")).unwrap();
    for (d, kind) in [
        (V2S2, DocumentKind::DockerManifest),
        (DLIST, DocumentKind::DockerList),
    ] {
        let path = layout.blobs().path(&digest(d)).unwrap();
        assert_eq!(
            DocumentKind::detect(&fs::read(path).unwrap()),
            Some(kind),
            "{d}"
        );
    }
}

#[test]
fn reports_carry_typed_digests() {
    let (_tmp, dir) = fixture_copy("skopeo");
    let layout = Layout::open(&dir).unwrap();
    let report = ocilayout::tag::tag(
        &layout,
        "alpine-like",
        &["docker.io/library/alpine:3.16"],
        &Default::default(),
    )
    .unwrap();
    let d1: Digest = digest(D1);
    assert_eq!(report.digest, d1);
    assert_eq!(report.moved[0].from, digest(D2));
    assert_eq!(report.moved[0].to, d1);
    let untagged = ocilayout::tag::untag(&layout, &["alpine-like"]).unwrap();
    assert_eq!(untagged[0].digest, d1);
}

/// The JSON of `import --json` and `fsck --json` is built from reports that carry typed digests; it
/// stays byte for byte what it was when they carried strings.
#[test]
fn cli_json_is_unchanged_by_typed_digests() {
    let tmp = tempfile::tempdir().unwrap();
    let archive = tmp.path().join("c.tar");
    let (_s, skopeo) = fixture_copy("skopeo");
    run([
        "export".as_ref(),
        fixtures().join("containerd").as_os_str(),
        archive.as_os_str(),
    ])
    .ok();
    let out = run([
        "import".as_ref(),
        "--json".as_ref(),
        archive.as_os_str(),
        skopeo.as_os_str(),
    ]);
    let want = format!(
        r#"{{
  "images": 5,
  "blobs_written": 0,
  "blobs_skipped": 6,
  "bytes": 0,
  "ignored": 0,
  "moved": [
    {{
      "name": "docker.io/library/alpine:3.16",
      "from": "{D2}",
      "to": "{D1}"
    }},
    {{
      "name": "localhost:5000/team/app:dev",
      "from": "{D1}",
      "to": "{D2}"
    }}
  ]
}}
"#
    );
    assert_eq!(out.ok(), want);

    let (_u, umoci) = fixture_copy("umoci");
    let layer = umoci.join("blobs/sha256").join(&LAYER["sha256:".len()..]);
    let _ = fs::set_permissions(&layer, std::os::unix::fs::PermissionsExt::from_mode(0o644));
    let mut bytes = fs::read(&layer).unwrap();
    bytes.push(b'x');
    fs::write(&layer, bytes).unwrap();
    let out = ol("fsck", &umoci, &["--json"]);
    assert_eq!(out.code, 1);
    let want = format!(
        r#"{{
  "ok": false,
  "checked": 6,
  "problems": [
    {{
      "digest": "{LAYER}",
      "problem": "size mismatch: expected 230 bytes, found 231"
    }}
  ]
}}
"#
    );
    assert_eq!(out.stdout, want);
}

/// An input that names entries with different digests is an error whose candidates are values:
/// each entry's name and its descriptor as `index.json` holds it, whichever way the entries were
/// read (the scan of `resolve`, parsed descriptors, the entries of a rewrite). The message lists
/// them as it always did.
#[test]
fn ambiguity_errors_carry_candidates_as_values() {
    let (_tmp, dir) = fixture_copy("containerd");
    let layout = Layout::open(&dir).unwrap();
    let check = |what: &str, err: ocilayout::Error| {
        let shown = err.to_string();
        let ocilayout::Error::Ambiguous {
            input, candidates, ..
        } = err
        else {
            panic!("{what}: {shown}");
        };
        assert_eq!(input, "1.0", "{what}");
        let got: Vec<(&str, &Digest, u64, MediaType)> = candidates
            .iter()
            .map(|c| {
                (
                    c.name.as_str(),
                    c.descriptor.digest(),
                    c.descriptor.size(),
                    c.descriptor.media_type().clone(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                (
                    "ghcr.io/acme/tool:1.0",
                    &digest(D2),
                    499,
                    MediaType::ImageManifest
                ),
                (
                    "quay.io/acme/tool:1.0",
                    &digest(D1),
                    345,
                    MediaType::ImageManifest
                ),
            ],
            "{what}"
        );
        // The whole descriptor, annotations included.
        let names: Vec<&str> = candidates
            .iter()
            .map(|c| {
                c.descriptor.annotations().as_ref().unwrap()["io.containerd.image.name"].as_str()
            })
            .collect();
        assert_eq!(
            names,
            ["ghcr.io/acme/tool:1.0", "quay.io/acme/tool:1.0"],
            "{what}"
        );
        assert_eq!(
            shown,
            format!(
                "\"1.0\" is ambiguous in {}; candidates: ghcr.io/acme/tool:1.0 ({D2}), \
                 quay.io/acme/tool:1.0 ({D1})",
                dir.display()
            ),
            "{what}"
        );
    };
    let index = layout.read_index().unwrap();
    check("resolve", layout.resolve("1.0", None).unwrap_err());
    check(
        "resolve_in",
        ocilayout::resolve::resolve_in(&layout, &index, "1.0").unwrap_err(),
    );
    check(
        "tag",
        ocilayout::tag::tag(&layout, "1.0", &["x:1"], &Default::default()).unwrap_err(),
    );
    check(
        "untag",
        ocilayout::tag::untag(&layout, &["1.0"]).unwrap_err(),
    );
    check("du", ocilayout::du::du(&layout, &["1.0"]).unwrap_err());
    check(
        "rm",
        ocilayout::rm::rm(&layout, &["1.0"], &Default::default()).unwrap_err(),
    );
    assert_eq!(
        Layout::open(&dir).unwrap().read_index().unwrap(),
        index,
        "nothing changed"
    );
}

/// Errors name blobs by typed digest: a platform an index lacks, content that is not its digest
/// (expected and found), a reachable manifest that is missing.
#[test]
fn errors_carry_typed_digests() {
    let layout = Layout::open(fixtures().join("multiarch")).unwrap();
    let s390x = Platform::parse("linux/s390x").unwrap();
    match layout.resolve("docker.io/library/multi:1", Some(&s390x)) {
        Err(ocilayout::Error::NoPlatform {
            digest: d,
            available,
            ..
        }) => {
            assert_eq!(d, digest(MULTI));
            assert_eq!(available, ["linux/amd64", "linux/arm64/v8"]);
        }
        other => panic!("{other:?}"),
    }

    let (_u, umoci) = fixture_copy("umoci");
    let layout = Layout::open(&umoci).unwrap();
    let path = layout.blobs().path(&digest(LAYER)).unwrap();
    let _ = fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o644));
    let mut bytes = fs::read(&path).unwrap();
    bytes[0] ^= 1;
    fs::write(&path, &bytes).unwrap();
    match layout.blobs().read_verified(&digest(LAYER), 1 << 20) {
        Err(ocilayout::Error::DigestMismatch {
            expected, found, ..
        }) => {
            assert_eq!(expected, digest(LAYER));
            assert_eq!(found, ocilayout::digest::sha256(&bytes));
        }
        other => panic!("{other:?}"),
    }

    let (_s, skopeo) = fixture_copy("skopeo");
    let layout = Layout::open(&skopeo).unwrap();
    fs::remove_file(layout.blobs().path(&digest(D2)).unwrap()).unwrap();
    match ocilayout::gc::gc(&layout, &Default::default()) {
        Err(ocilayout::Error::Damaged {
            digest: d, what, ..
        }) => {
            assert_eq!(d, digest(D2));
            assert_eq!(what, "reachable manifest");
        }
        other => panic!("{other:?}"),
    }
}

/// `du`, `inspect`, `rm` and `copy` report typed digests, and their `--json` stays what it was
/// when they were strings.
#[test]
fn more_reports_carry_typed_digests() {
    let (_tmp, dir) = fixture_copy("skopeo");
    let layout = Layout::open(&dir).unwrap();
    let usage = ocilayout::du::du(&layout, &[]).unwrap();
    let digests: Vec<&Digest> = usage.images.iter().map(|i| &i.digest).collect();
    assert_eq!(
        digests,
        [&digest(D1), &digest(D2), &digest(D2), &digest(D1)]
    );

    let source = ocilayout::inspect::LayoutSource(&layout);
    let found = layout
        .resolve("docker.io/library/alpine:3.16", None)
        .unwrap();
    let i = ocilayout::inspect::inspect(&source, &found).unwrap();
    assert_eq!(i.digest, digest(D2));
    assert_eq!(i.config.as_ref().unwrap().digest, digest(LAYER2));
    assert_eq!(i.layers.as_ref().unwrap()[0].digest, digest(LAYER));

    let (_a, artifact) = fixture_copy("artifact");
    let alayout = Layout::open(&artifact).unwrap();
    let sbom = alayout.resolve(SBOM, None).unwrap();
    let i =
        ocilayout::inspect::inspect(&ocilayout::inspect::LayoutSource(&alayout), &sbom).unwrap();
    assert_eq!(i.subject, Some(digest(D1)));
    let out = ol("inspect", &artifact, &["--json", SBOM]);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["digest"], SBOM);
    assert_eq!(v["subject"], D1);

    let plan = ocilayout::rm::rm(
        &layout,
        &["docker.io/library/alpine:3.16"],
        &ocilayout::rm::RmOptions { dry_run: true },
    )
    .unwrap();
    assert_eq!(plan.untagged[0].digest, digest(D2));

    let out = ol("du", &dir, &["--json"]);
    let want = format!(
        r#"{{
  "images": [
    {{
      "name": "alpine-like",
      "digest": "{D1}",
      "total": 1059,
      "unique": 829,
      "shared": 230
    }},
    {{
      "name": "docker.io/library/alpine:3.16",
      "digest": "{D2}",
      "total": 1587,
      "unique": 1357,
      "shared": 230
    }},
    {{
      "name": "docker.io/library/alpine:3.17",
      "digest": "{D2}",
      "total": 1587,
      "unique": 1357,
      "shared": 230
    }},
    {{
      "name": "localhost:5000/team/app:dev",
      "digest": "{D1}",
      "total": 1059,
      "unique": 829,
      "shared": 230
    }}
  ],
  "total": 2416,
  "reachable": 2416,
  "garbage": 0
}}
"#
    );
    assert_eq!(out.stdout, want);
    let out = ol(
        "rm",
        &dir,
        &["--json", "--dry-run", "docker.io/library/alpine:3.16"],
    );
    let want = format!(
        r#"{{
  "removed": 0,
  "freed_bytes": 0,
  "dry_run": true,
  "untagged": [
    {{
      "name": "docker.io/library/alpine:3.16",
      "digest": "{D2}"
    }}
  ],
  "removed_entries": [],
  "digests": []
}}
"#
    );
    assert_eq!(out.stdout, want);

    let tmp = tempfile::tempdir().unwrap();
    let dst = tmp.path().join("new");
    let out = run([
        "copy".to_string(),
        "--json".to_string(),
        format!(
            "oci-layout://{}:docker.io/library/alpine:3.16",
            dir.display()
        ),
        format!("oci-layout://{}:x", dst.display()),
    ]);
    let want = format!(
        r#"{{
  "source": "oci-layout://{}:docker.io/library/alpine:3.16",
  "digest": "{D2}",
  "destination": "oci-layout://{}/docker.io/library/alpine:x",
  "blobs_written": 4,
  "blobs_skipped": 0,
  "bytes": 1587,
  "moved": []
}}
"#,
        dir.display(),
        dst.display()
    );
    assert_eq!(out.ok(), want);
}
