//! Data integrity through a real registry: every byte pushed is verified against its digest as it
//! is read from the layout (a corrupt local blob never completes an upload, monolithic or chunked),
//! and layouts addressed with sha512 make the round trip with their digests unchanged.

use crate::support;
use crate::support::registry as registry_support;

use std::fs;
use std::io::{Seek, SeekFrom, Write};

use ocilayout::oci_spec::image::Digest;
use ocilayout::progress::Silent;
use ocilayout::registry::{Client, ClientConfig};
use ocilayout::sync::{self, PushOptions};
use ocilayout::{Layout, Reference};
use registry_support::{make_image, Registry};
use support::run;

/// The digest of the first layer of the manifest `root` names in `layout`.
fn first_layer(layout: &Layout, root: &Digest) -> Digest {
    let bytes = fs::read(layout.blobs().path(root).unwrap()).unwrap();
    let m: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    m["layers"][0]["digest"].as_str().unwrap().parse().unwrap()
}

/// Flips one byte of a blob in place: same size, different bytes.
fn corrupt(path: &std::path::Path, at: u64) {
    let mut f = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .unwrap();
    let mut byte = [0u8; 1];
    f.seek(SeekFrom::Start(at)).unwrap();
    std::io::Read::read_exact(&mut f, &mut byte).unwrap();
    f.seek(SeekFrom::Start(at)).unwrap();
    f.write_all(&[byte[0] ^ 0x55]).unwrap();
}

fn plain_client(chunk_size: u64) -> Client {
    Client::new(ClientConfig {
        plain_http: true,
        chunk_size,
        ..ClientConfig::default()
    })
    .unwrap()
}

/// A layer corrupted on disk (same size) is refused while it streams, whatever the upload path and
/// wherever the damage is: the push fails naming the digest and the blob's path, and the registry
/// does not have the blob afterwards.
#[test]
fn a_corrupt_local_blob_is_never_uploaded() {
    let Some(reg) = Registry::start() else { return };
    const SIZE: usize = 3_000_000;
    // (chunk size: monolithic when the blob fits, PATCH chunks otherwise; where the damage is)
    let cases: [(&str, u64, u64); 4] = [
        ("monolithic, first byte", 64 << 20, 0),
        ("monolithic, last byte", 64 << 20, SIZE as u64 - 1),
        ("chunked, first chunk", 1 << 20, 10),
        ("chunked, last chunk", 1 << 20, SIZE as u64 - 1),
    ];
    for (i, (what, chunk, at)) in cases.into_iter().enumerate() {
        let tmp = tempfile::tempdir().unwrap();
        let src = Layout::init(tmp.path().join("src")).unwrap();
        let root = make_image(&src, "docker.io/library/bad:1", 40 + i as u64, &[SIZE]);
        let layer = first_layer(&src, root.digest());
        let path = src.blobs().path(&layer).unwrap();
        corrupt(&path, at);
        let client = plain_client(chunk);
        let dest = Reference::parse(&reg.at(&format!("case{i}/bad:1"))).unwrap();
        let err = sync::push(
            &client,
            &src,
            &root,
            &dest,
            &PushOptions::default(),
            &Silent,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains(layer.as_ref()), "{what}: {err}");
        assert!(err.contains(&path.display().to_string()), "{what}: {err}");
        let repo = client.repository(&reg.addr, &format!("case{i}/bad"), false);
        assert_eq!(repo.head_blob(&layer).unwrap(), None, "{what}");
        assert_eq!(repo.head_manifest("1").unwrap(), None, "{what}");
    }
}

/// The same through the command line: exit status 1 and one message naming digest and path.
#[test]
fn push_of_a_corrupt_layer_exits_1_naming_it() {
    let Some(reg) = Registry::start() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let src = Layout::init(tmp.path().join("src")).unwrap();
    let root = make_image(&src, "docker.io/library/bad:1", 7, &[200_000, 1000]);
    let layer = first_layer(&src, root.digest());
    let path = src.blobs().path(&layer).unwrap();
    corrupt(&path, 123);
    let dir = src.root().to_str().unwrap();
    let out = run(["push", "--plain-http", dir, "bad:1", &reg.at("cli/bad:1")]);
    let err = out.fails(1, layer.as_ref());
    assert!(err.contains(&path.display().to_string()), "{err}");
    assert!(err.contains("corrupt"), "{err}");
    let out = run(["sync", "--plain-http", dir, &reg.at("mirror")]);
    out.fails(1, &path.display().to_string());
    let client = plain_client(64 << 20);
    for repo in ["cli/bad", "mirror/library/bad"] {
        let repo = client.repository(&reg.addr, repo, false);
        assert_eq!(repo.head_blob(&layer).unwrap(), None, "{repo:?}");
    }
}

/// Stores `bytes` under their sha512 digest; returns a descriptor for them.
fn put512(layout: &Layout, media_type: &str, bytes: &[u8]) -> serde_json::Value {
    use sha2::Digest as _;
    let d = format!("sha512:{:x}", sha2::Sha512::digest(bytes));
    let digest: Digest = d.parse().unwrap();
    let size = bytes.len() as u64;
    layout
        .blobs()
        .put_reader(&mut &bytes[..], &digest, Some(size))
        .unwrap();
    serde_json::json!({"mediaType": media_type, "digest": d, "size": size})
}

/// A layout whose every blob, the manifest included, is addressed with sha512: one image with two
/// layers, named `docker.io/library/wide:1`. Returns the manifest's descriptor.
fn sha512_image(layout: &Layout) -> serde_json::Value {
    const LAYER: &str = "application/vnd.oci.image.layer.v1.tar";
    let layers: Vec<_> = [70_001, 3]
        .iter()
        .enumerate()
        .map(|(i, len)| put512(layout, LAYER, &registry_support::noise(i as u64, *len)))
        .collect();
    let config =
        r#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
    let config = put512(
        layout,
        "application/vnd.oci.image.config.v1+json",
        config.as_bytes(),
    );
    let m = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": config,
        "layers": layers,
    });
    let bytes = serde_json::to_vec(&m).unwrap();
    let root = put512(layout, "application/vnd.oci.image.manifest.v1+json", &bytes);
    let desc = serde_json::from_value(root.clone()).unwrap();
    let name = Reference::parse("docker.io/library/wide:1").unwrap();
    layout
        .update_index(|idx| {
            ocilayout::tag::apply_names(idx, &desc, &[name], &Default::default());
            Ok(())
        })
        .unwrap();
    root
}

/// Every blob file of a layout, as `alg:hex`.
fn blob_digests(dir: &std::path::Path) -> std::collections::BTreeSet<String> {
    let mut out = std::collections::BTreeSet::new();
    for alg in ["sha256", "sha512"] {
        let Ok(entries) = fs::read_dir(dir.join("blobs").join(alg)) else {
            continue;
        };
        for e in entries {
            out.insert(format!(
                "{alg}:{}",
                e.unwrap().file_name().to_string_lossy()
            ));
        }
    }
    out
}

/// A sha512 layout pushed to distribution (which answers with its own sha256 in
/// Docker-Content-Digest, and keeps manifests under that digest only) comes back by tag with the
/// same bytes: config and layers under their sha512 digests, the manifest under the registry's
/// sha256 for the same bytes. A second push and a second pull find everything in place.
#[test]
fn sha512_layouts_round_trip_through_a_registry() {
    let Some(reg) = Registry::start() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let src = Layout::init(tmp.path().join("src")).unwrap();
    let root = sha512_image(&src);
    let root_digest: Digest = root["digest"].as_str().unwrap().parse().unwrap();
    let manifest = fs::read(src.blobs().path(&root_digest).unwrap()).unwrap();
    let s = src.root().to_str().unwrap();
    let image = reg.at("wide:1");
    run(["push", "--plain-http", s, "wide:1", &image]).ok();
    let client = plain_client(64 << 20);
    let desc = serde_json::from_value(root.clone()).unwrap();
    let dest = Reference::parse(&image).unwrap();
    let again = sync::push(
        &client,
        &src,
        &desc,
        &dest,
        &PushOptions::default(),
        &Silent,
    )
    .unwrap();
    assert_eq!((again.transferred, again.skipped), (0, 4), "{again:?}");

    let back = tmp.path().join("back");
    let b = back.to_str().unwrap();
    run(["pull", "--plain-http", &image, b]).ok();
    let canonical = registry_support::sha256(&manifest);
    assert_eq!(run(["resolve", b, &image]).ok().trim(), canonical);
    let mut want = blob_digests(src.root());
    want.remove(root_digest.as_ref());
    want.insert(canonical.clone());
    assert_eq!(blob_digests(&back), want);
    let path = back.join("blobs/sha256").join(&canonical[7..]);
    assert_eq!(fs::read(path).unwrap(), manifest);
    run(["fsck", b]).ok();
    let layout = Layout::open(&back).unwrap();
    let second = sync::pull(&client, &layout, &[dest], &Default::default(), &Silent).unwrap();
    assert!(second.ok(), "{:?}", second.failures);
    assert_eq!(second.summary.transferred, 0, "{:?}", second.summary);
}
