//! Work that must grow with the layout, not with its square: sync finds every image's referrers
//! from one pass over `index.json`'s manifests; a pull reads `index.json` once, not once per image;
//! referrers pushed to a registry without the referrers API update the fallback tag once per
//! subject; `du` marks the layout once for all its images. Counted (blob opens with strace,
//! requests through a forwarder), not timed.

use crate::support;
use crate::support::proxy;
use crate::support::registry as registry_support;

use std::path::Path;
use std::process::Command;

use ocilayout::oci_spec::image::{Descriptor, DescriptorBuilder, MediaType};
use ocilayout::Layout;
use registry_support::{make_image, Registry};
use support::{have, run};

/// Stores a referrer manifest (an artifact with the empty config) whose subject is `subject`, and
/// lists it in `index.json` as an unnamed entry, as a pull of a signed image leaves it.
fn add_referrer(layout: &Layout, subject: &Descriptor, seed: u64) -> Descriptor {
    let store = layout.blobs();
    let empty = store.put_bytes(b"{}").unwrap();
    let m = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "artifactType": "application/vnd.example.sig",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty, "size": 2},
        "layers": [],
        "subject": subject,
        "annotations": {"n": seed.to_string()},
    });
    let bytes = serde_json::to_vec(&m).unwrap();
    let d = store.put_bytes(&bytes).unwrap();
    let desc = DescriptorBuilder::default()
        .media_type(MediaType::ImageManifest)
        .digest(d)
        .size(bytes.len() as u64)
        .build()
        .unwrap();
    let entry = desc.clone();
    layout
        .update_index(|doc| {
            doc.push(ocilayout::layout::Entry::new(entry));
            Ok(())
        })
        .unwrap();
    desc
}

/// A layout of `n` images, each with one referrer.
fn signed_images(dir: &Path, n: u64) -> Layout {
    let layout = Layout::init(dir).unwrap();
    for i in 0..n {
        let root = make_image(
            &layout,
            &format!("docker.io/library/img{i}:t{i}"),
            i + 1,
            &[64],
        );
        add_referrer(&layout, &root, i);
    }
    layout
}

/// Runs the binary under strace; returns how many files it opened whose path contains `needle`.
fn opens(args: &[&str], needle: &str) -> usize {
    traced(args, "trace=openat,open", needle).0
}

/// Runs the binary under strace, tracing the system calls `filter` names; returns how many of them
/// succeeded on a path that contains `needle`, and the command's standard output.
fn traced(args: &[&str], filter: &str, needle: &str) -> (usize, String) {
    let tmp = tempfile::tempdir().unwrap();
    let trace = tmp.path().join("trace");
    let out = Command::new("strace")
        .args(["-f", "-qq", "-e", filter, "-o"])
        .arg(&trace)
        .arg(support::bin())
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let trace = std::fs::read_to_string(trace).unwrap();
    let n = trace
        .lines()
        .filter(|l| l.contains(needle) && !l.contains("= -1"))
        .count();
    (n, String::from_utf8(out.stdout).unwrap())
}

/// A no-op re-sync opens each manifest a small, fixed number of times, however many images there
/// are (it used to read every manifest of the layout for every image: 2n² opens). A no-op re-pull
/// of every image reads index.json once.
#[test]
fn resync_and_repull_do_work_in_proportion_to_the_images() {
    if !have("strace") {
        return;
    }
    let Some(reg) = Registry::start() else { return };
    const N: u64 = 40;
    let tmp = tempfile::tempdir().unwrap();
    let src = signed_images(&tmp.path().join("src"), N);
    let s = src.root().to_str().unwrap();
    run(["sync", "--plain-http", s, &reg.at("m")]).ok();
    let blobs = format!("{s}/blobs/");
    let n = opens(&["sync", "--plain-http", s, &reg.at("m")], &blobs);
    eprintln!("no-op sync of {N} signed images: {n} blob opens");
    // Per image: its manifest and its referrer's for the closures, both again for the one
    // subject → referrers map, and the conservative walk's look at the first bytes of each config
    // (a blob is a manifest when its content says so): 9 each, and a little slack. Quadratic work
    // (what this guards against) was 2n² = 3,200 opens for 40 images.
    assert!(
        n <= 10 * N as usize,
        "{n} blob opens for a no-op sync of {N} images"
    );

    let dir = tmp.path().join("back");
    let d = dir.to_str().unwrap();
    let images: Vec<String> = (0..N)
        .map(|i| reg.at(&format!("m/library/img{i}:t{i}")))
        .collect();
    let mut args = vec!["pull", "--plain-http"];
    args.extend(images.iter().map(String::as_str));
    args.push(d);
    run(&args).ok();
    let index = format!("{d}/index.json");
    let n = opens(&args, &index);
    eprintln!("no-op pull of {N} images: index.json opened {n} times");
    // Once by the pull itself, and before and after by the command line's note about bare
    // ref.names shared by several images: a fixed number, however many images (it was twice per
    // image).
    assert!(
        n <= 3,
        "index.json opened {n} times by a no-op pull of {N} images"
    );
}

/// Pushing an image with many referrers to a registry without the referrers API reads and writes
/// the fallback tag once for all of them (it used to be read and rewritten per referrer).
#[test]
fn referrers_update_the_fallback_tag_once_per_subject() {
    let Some(reg) = Registry::start() else { return };
    const R: u64 = 30;
    let tmp = tempfile::tempdir().unwrap();
    let src = Layout::init(tmp.path().join("src")).unwrap();
    let root = make_image(&src, "docker.io/library/signed:1", 9, &[100]);
    for i in 0..R {
        add_referrer(&src, &root, i);
    }
    let fwd = proxy::Forwarder::start(&reg.addr, proxy::Fault::None);
    let s = src.root().to_str().unwrap();
    run(["push", "--plain-http", s, "signed:1", &fwd.at("signed:1")]).ok();
    let tag = format!("sha256-{}", &root.digest().as_ref()[7..]);
    let count = |method: &str| {
        fwd.log()
            .iter()
            .filter(|r| r.method == method && r.path.contains(&tag))
            .count()
    };
    assert_eq!(count("PUT"), 1, "{:?}", fwd.log().len());
    assert!(
        count("GET") + count("HEAD") <= 4,
        "{} reads",
        count("GET") + count("HEAD")
    );
    let listed = run([
        "pull",
        "--plain-http",
        &reg.at("signed:1"),
        tmp.path().join("b").to_str().unwrap(),
    ]);
    listed.ok();
    let back = Layout::open(tmp.path().join("b")).unwrap();
    assert_eq!(back.read_index().unwrap().manifests().len() as u64, R + 1);
}

/// A layout of `n` images written straight to disk (thousands of blobs; no fsync, no lock): each
/// image has a manifest, a config and a layer of its own, and every image shares one layer. Every
/// tenth image has a second name. Returns the bytes each image holds alone (by image number) and
/// the shared layer's size.
fn many_images(dir: &Path, n: usize) -> (Vec<u64>, u64) {
    use sha2::Digest as _;
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    let put = |media_type: &str, bytes: &[u8]| {
        let hex: String = sha2::Sha256::digest(bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        std::fs::write(blobs.join(&hex), bytes).unwrap();
        serde_json::json!({"mediaType": media_type, "digest": format!("sha256:{hex}"), "size": bytes.len()})
    };
    let layer_type = "application/vnd.oci.image.layer.v1.tar";
    let shared = vec![7u8; 3000];
    let shared_layer = put(layer_type, &shared);
    let mut entries = Vec::new();
    let mut unique = Vec::new();
    for i in 0..n {
        let own = format!("layer of image {i}\n")
            .repeat(1 + i % 7)
            .into_bytes();
        let layer = put(layer_type, &own);
        let config = serde_json::to_vec(&serde_json::json!({
            "architecture": "amd64", "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": [shared_layer["digest"], layer["digest"]]},
        }))
        .unwrap();
        let config_desc = put("application/vnd.oci.image.config.v1+json", &config);
        let manifest = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": config_desc,
            "layers": [shared_layer, layer],
        }))
        .unwrap();
        let m = put("application/vnd.oci.image.manifest.v1+json", &manifest);
        unique.push((own.len() + config.len() + manifest.len()) as u64);
        let names = if i % 10 == 0 { 2 } else { 1 };
        for k in 0..names {
            let mut e = m.clone();
            e["annotations"] = serde_json::json!({
                "io.containerd.image.name": format!("docker.io/library/img{i}:t{k}"),
                "org.opencontainers.image.ref.name": format!("t{k}"),
            });
            entries.push(e);
        }
    }
    let index = serde_json::json!({"schemaVersion": 2, "manifests": entries});
    std::fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    (unique, shared.len() as u64)
}

/// `du` of 500 and of 2,000 images: the same figures as the layout was built with (each name of an
/// image shows the image's own bytes), and four times the images cost about four times the file
/// system calls on blobs. It used to plan a whole marking per image: 16 times the work for 4
/// times the images (250 images took 2.8 s, 2,000 over 2 minutes).
#[test]
fn du_marks_once_for_every_image() {
    if !have("strace") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let mut counts = Vec::new();
    for n in [500, 2000] {
        let dir = tmp.path().join(format!("l{n}"));
        let (unique, shared) = many_images(&dir, n);
        let d = dir.to_str().unwrap();
        let (ops, out) = traced(
            &["du", "--json", d],
            "trace=openat,open,stat,lstat,newfstatat,statx",
            &format!("{d}/blobs/"),
        );
        let j: serde_json::Value = serde_json::from_str(&out).unwrap();
        let images = j["images"].as_array().unwrap();
        assert_eq!(images.len(), n + n.div_ceil(10));
        for image in images {
            let name = image["name"].as_str().unwrap();
            let i: usize = name["docker.io/library/img".len()..name.find(':').unwrap()]
                .parse()
                .unwrap();
            assert_eq!(image["unique"], unique[i], "{name}");
            assert_eq!(image["shared"], shared, "{name}");
        }
        eprintln!("du of {n} images: {ops} file system calls on blobs");
        counts.push(ops);
    }
    // Linear is 4x, n log n about 5x; quadratic (what this guards against) is 16x.
    assert!(
        counts[1] <= 6 * counts[0],
        "du: {} calls on blobs for 500 images, {} for 2,000",
        counts[0],
        counts[1]
    );
}
