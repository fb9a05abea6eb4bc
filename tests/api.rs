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
    let entry = ocilayout::resolve::resolve(&layout, "docker.io/library/multi:1", None).unwrap();
    let index = layout.read_image_index(&entry).unwrap();
    assert!(index.manifests().len() >= 2);
    let arm = ocilayout::resolve::resolve(
        &layout,
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
