//! `import` of docker-archive tarballs (`docker save`, `podman save --format docker-archive`, skopeo's
//! `docker-archive:`): config and layer bytes kept exactly, one manifest per image named after its
//! `RepoTags`, links between members resolved inside the archive, hostile variants refused whole.

use crate::support;

use std::fs;
use std::path::Path;
use std::process::Command;

use ocilayout::digest;
use serde_json::{json, Value};
use support::{fixtures, have, run, snapshot};

fn header(path: &str, kind: u8, size: u64, link: &str) -> [u8; 512] {
    let mut h = [0u8; 512];
    h[..path.len()].copy_from_slice(path.as_bytes());
    h[100..107].copy_from_slice(b"0000644");
    h[108..115].copy_from_slice(b"0000000");
    h[116..123].copy_from_slice(b"0000000");
    h[124..135].copy_from_slice(format!("{size:011o}").as_bytes());
    h[136..147].copy_from_slice(b"00000000000");
    h[156] = kind;
    h[157..157 + link.len()].copy_from_slice(link.as_bytes());
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    h[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
    h
}

/// A tar stream of `(path, kind, content, link target)` members.
fn tar(members: &[(&str, u8, &[u8], &str)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (path, kind, data, link) in members {
        out.extend_from_slice(&header(path, *kind, data.len() as u64, link));
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.extend_from_slice(&[0u8; 1024]);
    out
}

/// One image in the legacy `docker save` shape: its layer in a directory, linked from a second
/// directory (as docker does for a layer two v1 IDs share), a config named by its digest.
struct Image {
    layer: Vec<u8>,
    config: Vec<u8>,
}

impl Image {
    fn new(layer: &[u8]) -> Image {
        let config = json!({
            "architecture": "amd64", "os": "linux",
            "config": {"Cmd": ["/bin/sh"]},
            "rootfs": {"type": "layers", "diff_ids": [digest::sha256(layer).to_string()]},
        });
        Image {
            layer: layer.to_vec(),
            config: serde_json::to_vec(&config).unwrap(),
        }
    }

    fn config_name(&self) -> String {
        format!("{}.json", digest::sha256(&self.config).digest())
    }
}

fn manifest_json(images: &[(&str, &[&str], &[&str])]) -> Vec<u8> {
    let list: Vec<Value> = images
        .iter()
        .map(|(config, tags, layers)| json!({"Config": config, "RepoTags": tags, "Layers": layers}))
        .collect();
    serde_json::to_vec(&list).unwrap()
}

fn import(archive: &[u8], dir: &Path) -> support::Run {
    let path = dir.with_extension("tar");
    fs::write(&path, archive).unwrap();
    run(["import".as_ref(), path.as_os_str(), dir.as_os_str()])
}

fn index(dir: &Path) -> Value {
    serde_json::from_slice(&fs::read(dir.join("index.json")).unwrap()).unwrap()
}

fn blob(dir: &Path, d: &str) -> Vec<u8> {
    let (alg, hex) = d.split_once(':').unwrap();
    fs::read(dir.join("blobs").join(alg).join(hex)).unwrap()
}

/// Names and manifest digests of the layout, as `ls --json` shows them.
fn names(dir: &Path) -> Vec<(String, String)> {
    let out = run(["ls".as_ref(), dir.as_os_str(), "--json".as_ref()]);
    let rows: Vec<Value> = serde_json::from_str(out.ok()).unwrap();
    rows.iter()
        .map(|r| {
            (
                r["name"].as_str().unwrap_or("-").to_string(),
                r["digest"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn hand_made_multi_image_archive_with_links_converts_each_image() {
    let a = Image::new(b"layer of image a");
    let b = Image::new(b"layer of image b");
    let manifest = manifest_json(&[
        (
            &a.config_name(),
            &["example.com/a:1", "a:latest"],
            &["aaaa/layer.tar"],
        ),
        // b's layer through a symbolic link to a hard link to the file.
        (&b.config_name(), &["b:2"], &["bbbb/layer.tar"]),
    ]);
    let archive = tar(&[
        ("aaaa/", b'5', b"", ""),
        ("aaaa/layer.tar", b'0', &a.layer, ""),
        ("shared/layer.tar", b'0', &b.layer, ""),
        ("cccc/layer.tar", b'1', b"", "shared/layer.tar"),
        ("bbbb/layer.tar", b'2', b"", "../cccc/layer.tar"),
        (&a.config_name(), b'0', &a.config, ""),
        (&b.config_name(), b'0', &b.config, ""),
        ("aaaa/VERSION", b'0', b"1.0", ""),
        ("manifest.json", b'0', &manifest, ""),
        ("repositories", b'0', b"{}", ""),
    ]);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("layout");
    import(&archive, &dir).ok();
    let got = names(&dir);
    let wanted: Vec<&str> = got.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        wanted,
        [
            "example.com/a:1",
            "docker.io/library/a:latest",
            "docker.io/library/b:2"
        ]
    );
    assert_eq!(got[0].1, got[1].1, "two names of one image, one manifest");
    for (image, (_, d)) in [(&a, &got[0]), (&b, &got[2])] {
        let m: Value = serde_json::from_slice(&blob(&dir, d)).unwrap();
        assert_eq!(m["mediaType"], "application/vnd.oci.image.manifest.v1+json");
        // The image ID (config digest) and the layer bytes are the archive's.
        let config = m["config"]["digest"].as_str().unwrap();
        assert_eq!(config, digest::sha256(&image.config).to_string());
        assert_eq!(blob(&dir, config), image.config);
        let layer = m["layers"][0]["digest"].as_str().unwrap();
        assert_eq!(blob(&dir, layer), image.layer);
        assert_eq!(
            m["layers"][0]["mediaType"],
            "application/vnd.oci.image.layer.v1.tar"
        );
    }
    let entry = &index(&dir)["manifests"][0];
    assert_eq!(
        entry["platform"],
        json!({"architecture": "amd64", "os": "linux"})
    );
    // Members no image uses (VERSION, repositories) are not left in the store.
    let stored = fs::read_dir(dir.join("blobs/sha256")).unwrap().count();
    assert_eq!(stored, 6, "two configs, two layers, two manifests");
    run(["fsck".as_ref(), dir.as_os_str()]).ok();
    // Importing again changes nothing.
    let before = snapshot(&dir);
    import(&archive, &dir).ok();
    assert_eq!(snapshot(&dir), before);
}

#[test]
fn hostile_docker_archives_are_refused_whole() {
    let a = Image::new(b"layer of image a");
    let good = |layers: &[&str]| manifest_json(&[(&a.config_name(), &["a:1"], layers)]);
    let cfg = a.config_name();
    let wrong = Image::new(b"another layer");
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "symlink to an absolute path",
            tar(&[
                ("l/layer.tar", b'2', b"", "/etc/passwd"),
                (&cfg, b'0', &a.config, ""),
                ("manifest.json", b'0', &good(&["l/layer.tar"]), ""),
            ]),
            "points outside the archive",
        ),
        (
            "symlink climbing out",
            tar(&[
                ("l/layer.tar", b'2', b"", "../../etc/passwd"),
                (&cfg, b'0', &a.config, ""),
                ("manifest.json", b'0', &good(&["l/layer.tar"]), ""),
            ]),
            "symbolic link to \"../../etc/passwd\" points outside the archive",
        ),
        (
            "hard link to an absolute path",
            tar(&[
                ("l/layer.tar", b'1', b"", "/etc/passwd"),
                ("manifest.json", b'0', &good(&["l/layer.tar"]), ""),
            ]),
            "hard link",
        ),
        (
            "symlink loop",
            tar(&[
                ("x", b'2', b"", "y"),
                ("y", b'2', b"", "x"),
                (&cfg, b'0', &a.config, ""),
                ("manifest.json", b'0', &good(&["x"]), ""),
            ]),
            "links to follow",
        ),
        (
            "a layer named but missing",
            tar(&[
                (&cfg, b'0', &a.config, ""),
                ("manifest.json", b'0', &good(&["gone/layer.tar"]), ""),
            ]),
            "not in the archive",
        ),
        (
            "a manifest.json path climbing out",
            tar(&[
                (&cfg, b'0', &a.config, ""),
                ("manifest.json", b'0', &good(&["../layer.tar"]), ""),
            ]),
            "outside the archive",
        ),
        (
            "a layer that is not the config's diff_id",
            tar(&[
                ("l.tar", b'0', &wrong.layer, ""),
                (&cfg, b'0', &a.config, ""),
                ("manifest.json", b'0', &good(&["l.tar"]), ""),
            ]),
            "diff_id",
        ),
        (
            "a member twice (file, then a link over it)",
            tar(&[
                ("l.tar", b'0', &a.layer, ""),
                ("l.tar", b'2', b"", "other"),
                (&cfg, b'0', &a.config, ""),
                ("manifest.json", b'0', &good(&["l.tar"]), ""),
            ]),
            "appears twice",
        ),
        (
            "a symlink as a blob",
            tar(&[
                ("blobs/sha256/x", b'2', b"", "../../l.tar"),
                ("manifest.json", b'0', &good(&["l.tar"]), ""),
            ]),
            "symbolic links are not allowed",
        ),
        (
            "RepoTags that are no name",
            tar(&[
                ("l.tar", b'0', &a.layer, ""),
                (&cfg, b'0', &a.config, ""),
                (
                    "manifest.json",
                    b'0',
                    &manifest_json(&[(&cfg, &["no such name!"], &["l.tar"])]),
                    "",
                ),
            ]),
            "RepoTags",
        ),
        (
            "manifest.json that is not one",
            tar(&[("manifest.json", b'0', b"{\"Config\": 1}", "")]),
            "not a docker-archive manifest",
        ),
    ];
    for (what, archive, needle) in cases {
        let tmp = tempfile::tempdir().unwrap();
        // Into a new directory: nothing is left behind.
        let fresh = tmp.path().join("fresh");
        import(&archive, &fresh).fails(1, needle);
        assert!(!fresh.exists(), "{what}: the directory it created is gone");
        // Into an existing layout: nothing changes.
        let dir = tmp.path().join("umoci");
        support::copy_dir(&fixtures().join("umoci"), &dir);
        let before = snapshot(&dir);
        import(&archive, &dir).fails(1, needle);
        assert_eq!(snapshot(&dir), before, "{what}: the layout is unchanged");
    }
}

/// A docker 25+ archive is an OCI layout too, with legacy layer directories that link into
/// `blobs/sha256/`: imported as the layout it is, the links harmless.
#[test]
fn oci_layout_with_docker_links_is_imported() {
    let src = fixtures().join("umoci");
    let mut members: Vec<(String, u8, Vec<u8>, String)> = vec![
        (
            "oci-layout".into(),
            b'0',
            fs::read(src.join("oci-layout")).unwrap(),
            String::new(),
        ),
        (
            "index.json".into(),
            b'0',
            fs::read(src.join("index.json")).unwrap(),
            String::new(),
        ),
    ];
    for e in fs::read_dir(src.join("blobs/sha256")).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().into_string().unwrap();
        members.push((
            format!("blobs/sha256/{name}"),
            b'0',
            fs::read(e.path()).unwrap(),
            String::new(),
        ));
        members.push((
            format!("{name}/layer.tar"),
            b'2',
            Vec::new(),
            format!("../blobs/sha256/{name}"),
        ));
    }
    members.push(("manifest.json".into(), b'0', b"[]".to_vec(), String::new()));
    let borrowed: Vec<(&str, u8, &[u8], &str)> = members
        .iter()
        .map(|(p, k, d, l)| (p.as_str(), *k, d.as_slice(), l.as_str()))
        .collect();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("layout");
    import(&tar(&borrowed), &dir).ok();
    assert_eq!(index(&dir)["manifests"], index(&src)["manifests"]);
    run(["fsck".as_ref(), dir.as_os_str()]).ok();
}

/// skopeo writes a docker-archive of a fixture image; the import keeps the image ID and the layers'
/// diff_ids, names it from RepoTags, and skopeo reads the result back.
#[test]
fn skopeo_docker_archive_round_trips() {
    if !have("skopeo") || !have("tar") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let skopeo = |args: &[&str]| {
        let out = Command::new("skopeo").args(args).output().unwrap();
        assert!(
            out.status.success(),
            "skopeo {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let umoci = fixtures().join("umoci");
    let mut archives = Vec::new();
    for (tag, name) in [("v1", "example.com/team/app:1.0"), ("v2", "alpine:3.16")] {
        let out = tmp.path().join(format!("{tag}.tar"));
        skopeo(&[
            "copy",
            "-q",
            &format!("oci:{}:{tag}", umoci.display()),
            &format!("docker-archive:{}:{name}", out.display()),
        ]);
        archives.push(out);
    }
    let extra_tag = tmp.path().join("tagged.tar");
    skopeo(&[
        "copy",
        "-q",
        "--additional-tag",
        "localhost:5000/extra:x",
        &format!("oci:{}:v1", umoci.display()),
        &format!("docker-archive:{}:app:1", extra_tag.display()),
    ]);

    // One image per archive, two names with --additional-tag.
    let dir = tmp.path().join("layout");
    for a in archives.iter().chain([&extra_tag]) {
        run(["import".as_ref(), a.as_os_str(), dir.as_os_str()]).ok();
    }
    let got = names(&dir);
    let listed: Vec<&str> = got.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        listed,
        [
            "example.com/team/app:1.0",
            "docker.io/library/alpine:3.16",
            "docker.io/library/app:1",
            "localhost:5000/extra:x"
        ]
    );
    for (archive, (_, d)) in archives.iter().zip(&got) {
        let unpacked = tmp.path().join("unpacked");
        let _ = fs::remove_dir_all(&unpacked);
        fs::create_dir(&unpacked).unwrap();
        let st = Command::new("tar")
            .arg("-xf")
            .arg(archive)
            .arg("-C")
            .arg(&unpacked)
            .status()
            .unwrap();
        assert!(st.success());
        let list: Value =
            serde_json::from_slice(&fs::read(unpacked.join("manifest.json")).unwrap()).unwrap();
        let config_member = list[0]["Config"].as_str().unwrap();
        let config = fs::read(unpacked.join(config_member)).unwrap();
        let m: Value = serde_json::from_slice(&blob(&dir, d)).unwrap();
        assert_eq!(
            m["config"]["digest"].as_str().unwrap(),
            digest::sha256(&config).to_string(),
            "the image ID does not change"
        );
        let cfg: Value = serde_json::from_slice(&config).unwrap();
        let layers: Vec<&str> = m["layers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["digest"].as_str().unwrap())
            .collect();
        let diff_ids: Vec<&str> = cfg["rootfs"]["diff_ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l.as_str().unwrap())
            .collect();
        assert_eq!(layers, diff_ids, "layers hash to the config's diff_ids");
    }
    run(["fsck".as_ref(), dir.as_os_str()]).ok();
    // skopeo reads the converted images (it sees OCI manifests only).
    let out = Command::new("skopeo")
        .args(["inspect", "--raw", &format!("oci:{}:1.0", dir.display())])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        digest::sha256(&out.stdout).to_string(),
        got[0].1,
        "skopeo sees the manifest import wrote"
    );

    // A multi-image archive: the two archives' members together under one manifest.json.
    let merged = tmp.path().join("merged");
    fs::create_dir(&merged).unwrap();
    let mut list = Vec::new();
    for archive in &archives {
        let st = Command::new("tar")
            .arg("-xf")
            .arg(archive)
            .arg("-C")
            .arg(&merged)
            .status()
            .unwrap();
        assert!(st.success());
        let m: Value =
            serde_json::from_slice(&fs::read(merged.join("manifest.json")).unwrap()).unwrap();
        list.push(m[0].clone());
    }
    fs::write(
        merged.join("manifest.json"),
        serde_json::to_vec(&list).unwrap(),
    )
    .unwrap();
    let multi = tmp.path().join("multi.tar");
    let st = Command::new("tar")
        .arg("-cf")
        .arg(&multi)
        .arg("-C")
        .arg(&merged)
        .arg(".")
        .status()
        .unwrap();
    assert!(st.success());
    let fresh = tmp.path().join("fresh");
    run(["import".as_ref(), multi.as_os_str(), fresh.as_os_str()]).ok();
    assert_eq!(
        names(&fresh),
        got[..2].to_vec(),
        "the same manifests, by the same names"
    );
}
