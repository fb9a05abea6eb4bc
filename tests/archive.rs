//! `export` and `import` (docs/archives.md, issue #5): round trips, chosen references, pipes, skopeo interop,
//! hostile archives, kill -9 during an import, incremental exports against a base.

use crate::support;

use std::collections::BTreeSet;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use ocilayout::oci_spec::image::Descriptor;
use ocilayout::{digest, graph, Layout};
use serde_json::{json, Value};
use support::{fixture_copy, fixtures, have, run, run_with_stdin, snapshot, FIXTURES};

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The entries of a layout's index.json.
fn entries(dir: &Path) -> Vec<Descriptor> {
    Layout::open(dir)
        .unwrap()
        .read_index()
        .unwrap()
        .manifests()
        .clone()
}

/// The member names of a tar (plain or gzip) archive.
fn members(archive: &[u8]) -> Vec<String> {
    let reader: Box<dyn Read> = if archive.starts_with(&[0x1f, 0x8b]) {
        Box::new(flate2::read::GzDecoder::new(archive))
    } else {
        Box::new(archive)
    };
    let mut ar = tar::Archive::new(reader);
    ar.entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
        .collect()
}

/// The blob members of an archive, as digests.
fn blob_members(archive: &[u8]) -> BTreeSet<String> {
    members(archive)
        .iter()
        .filter_map(|m| {
            let rest = m.strip_prefix("blobs/")?;
            let (alg, hex) = rest.split_once('/')?;
            (!hex.is_empty()).then(|| format!("{alg}:{hex}"))
        })
        .collect()
}

/// The digests of the closure of `roots` in `dir`.
fn closure(dir: &Path, roots: &[Descriptor]) -> BTreeSet<String> {
    let layout = Layout::open(dir).unwrap();
    let g = graph::walk(layout.blobs(), roots).unwrap();
    assert_eq!(g.problems().count(), 0);
    g.nodes
        .iter()
        .map(|n| n.descriptor.digest().to_string())
        .collect()
}

fn fsck_clean(dir: &Path) {
    run(["fsck", s(dir)]).ok();
}

#[test]
fn round_trip_keeps_names_and_digests() {
    for name in FIXTURES {
        let tmp = tempfile::tempdir().unwrap();
        let src = fixtures().join(name);
        for (i, archive) in ["a.tar", "a.tar.gz"].iter().enumerate() {
            let archive = tmp.path().join(archive);
            let dest = tmp.path().join(format!("{name}-{i}"));
            run(["export", s(&src), s(&archive)]).ok();
            run(["import", s(&archive), s(&dest)]).ok();
            assert_eq!(entries(&dest), entries(&src), "{name}");
            let ls =
                |d: &Path| serde_json::from_str::<Value>(run(["ls", "--json", s(d)]).ok()).unwrap();
            assert_eq!(ls(&dest), ls(&src), "{name}");
            fsck_clean(&dest);
            // The archive holds the closure of every entry, nothing else.
            let bytes = fs::read(&archive).unwrap();
            assert_eq!(
                blob_members(&bytes),
                closure(&src, &entries(&src)),
                "{name}"
            );
        }
    }
}

#[test]
fn all_fixtures_merge_into_one_layout() {
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join("all");
    let mut want = 0;
    for name in FIXTURES {
        let archive = tmp.path().join(format!("{name}.tar"));
        run(["export", s(&fixtures().join(name)), s(&archive)]).ok();
        run(["import", s(&archive), s(&dest)]).ok();
        want += entries(&fixtures().join(name)).len();
    }
    // Different fixtures share some names (moved, reported); every digest and name is resolvable.
    let got = entries(&dest);
    assert!(got.len() <= want && got.len() >= 10, "{}", got.len());
    fsck_clean(&dest);
    for name in ["docker.io/library/multi:1", "quay.io/acme/tool:1.0", "v2"] {
        run(["resolve", s(&dest), name]).ok();
    }
}

#[test]
fn export_is_deterministic() {
    let tmp = tempfile::tempdir().unwrap();
    let src = fixtures().join("multiarch");
    for (a, b) in [("1.tar", "2.tar"), ("1.tgz", "2.tar.gz")] {
        let (a, b) = (tmp.path().join(a), tmp.path().join(b));
        run(["export", s(&src), s(&a)]).ok();
        run(["export", s(&src), s(&b)]).ok();
        assert_eq!(
            fs::read(&a).unwrap(),
            fs::read(&b).unwrap(),
            "{}",
            a.display()
        );
    }
    let bytes = fs::read(tmp.path().join("1.tar")).unwrap();
    let mut ar = tar::Archive::new(&bytes[..]);
    let mut names = Vec::new();
    for e in ar.entries().unwrap() {
        let e = e.unwrap();
        let h = e.header();
        assert_eq!(
            (h.mtime().unwrap(), h.uid().unwrap(), h.gid().unwrap()),
            (0, 0, 0)
        );
        assert_eq!(h.username().unwrap(), Some(""));
        let dir = h.entry_type().is_dir();
        assert_eq!(h.mode().unwrap(), if dir { 0o755 } else { 0o644 });
        names.push(e.path().unwrap().to_string_lossy().into_owned());
    }
    assert_eq!(
        &names[..4],
        ["oci-layout", "index.json", "blobs/", "blobs/sha256/"]
    );
    let blobs = &names[4..];
    assert!(blobs.windows(2).all(|w| w[0] < w[1]), "{blobs:?}");
    // GNU tar reads it and extracts a layout.
    if have("tar") {
        let out = tmp.path().join("x");
        fs::create_dir(&out).unwrap();
        let st = Command::new("tar")
            .args(["xf", s(&tmp.path().join("1.tar")), "-C", s(&out)])
            .status()
            .unwrap();
        assert!(st.success());
        fsck_clean(&out);
    }
}

#[test]
fn export_of_chosen_refs_holds_exactly_their_closure() {
    let cases: [(&str, &[&str]); 4] = [
        ("containerd", &["ghcr.io/acme/tool:1.0"]),
        (
            "containerd",
            &["alpine:3.16", "localhost:5000/team/app:dev"],
        ),
        ("multiarch", &["docker.io/library/nested:1"]),
        ("umoci", &["v2"]),
    ];
    let tmp = tempfile::tempdir().unwrap();
    for (i, (fixture, refs)) in cases.iter().enumerate() {
        let src = fixtures().join(fixture);
        let archive = tmp.path().join(format!("{i}.tar"));
        let mut args = vec!["export".to_string(), s(&src).into(), s(&archive).into()];
        args.extend(refs.iter().map(|r| r.to_string()));
        run(&args).ok();
        let chosen: Vec<Descriptor> = entries(&src)
            .into_iter()
            .filter(|e| {
                let layout = ocilayout::Layout::open(&src).unwrap();
                refs.iter().any(|r| layout.resolve(r, None).unwrap() == *e)
            })
            .collect();
        assert_eq!(chosen.len(), refs.len(), "{fixture} {refs:?}");
        let bytes = fs::read(&archive).unwrap();
        assert_eq!(
            blob_members(&bytes),
            closure(&src, &chosen),
            "{fixture} {refs:?}"
        );
        let dest = tmp.path().join(format!("d{i}"));
        run(["import", s(&archive), s(&dest)]).ok();
        assert_eq!(entries(&dest), chosen);
        fsck_clean(&dest);
    }
    run(["export", s(&fixtures().join("containerd")), "-", "1.0"]).fails(1, "ambiguous");
    run(["export", s(&fixtures().join("umoci")), "-", "nope"]).fails(1, "not found");
}

#[test]
fn stdout_pipes_into_stdin() {
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join("piped");
    for gzip in [false, true] {
        let mut export = Command::new(support::bin());
        export.args(["export", s(&fixtures().join("multiarch")), "-"]);
        if gzip {
            export.arg("--gzip");
        }
        let mut producer = export.stdout(Stdio::piped()).spawn().unwrap();
        let status = Command::new(support::bin())
            .args(["import", "-", s(&dest)])
            .stdin(producer.stdout.take().unwrap())
            .status()
            .unwrap();
        assert!(producer.wait().unwrap().success());
        assert!(status.success());
        assert_eq!(entries(&dest), entries(&fixtures().join("multiarch")));
    }
    fsck_clean(&dest);
}

#[test]
fn skopeo_reads_what_we_export() {
    if !have("skopeo") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    for archive in ["u.tar", "u.tar.gz"] {
        let archive = tmp.path().join(archive);
        run(["export", s(&fixtures().join("umoci")), s(&archive)]).ok();
        let out = tmp.path().join(format!(
            "sk-{}",
            archive.extension().unwrap().to_string_lossy()
        ));
        let st = Command::new("skopeo")
            .args(["copy", "--quiet"])
            .arg(format!("oci-archive:{}:v2", archive.display()))
            .arg(format!("oci:{}:copied", out.display()))
            .status()
            .unwrap();
        assert!(st.success());
        let d = run(["resolve", s(&out), "copied"]).ok().trim().to_string();
        assert_eq!(
            d,
            run(["resolve", s(&fixtures().join("umoci")), "v2"])
                .ok()
                .trim()
        );
    }
}

#[test]
fn we_import_what_skopeo_writes() {
    if !have("skopeo") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let archive = tmp.path().join("sk.tar");
    let st = Command::new("skopeo")
        .args(["copy", "--quiet"])
        .arg(format!("oci:{}:v1", fixtures().join("umoci").display()))
        .arg(format!(
            "oci-archive:{}:example.com/app:7",
            archive.display()
        ))
        .status()
        .unwrap();
    assert!(st.success());
    let dest = tmp.path().join("d");
    run(["import", s(&archive), s(&dest)]).ok();
    let d = run(["resolve", s(&dest), "example.com/app:7"])
        .ok()
        .trim()
        .to_string();
    assert_eq!(
        d,
        run(["resolve", s(&fixtures().join("umoci")), "v1"])
            .ok()
            .trim()
    );
    fsck_clean(&dest);
}

#[test]
fn docker_manifest_names_config_and_layers() {
    let tmp = tempfile::tempdir().unwrap();
    let archive = tmp.path().join("d.tar");
    run([
        "export",
        s(&fixtures().join("multiarch")),
        s(&archive),
        "--docker-manifest",
    ])
    .ok();
    let bytes = fs::read(&archive).unwrap();
    let mut ar = tar::Archive::new(&bytes[..]);
    let mut manifest = None;
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        if e.path().unwrap().to_str() == Some("manifest.json") {
            let mut text = String::new();
            e.read_to_string(&mut text).unwrap();
            manifest = Some(serde_json::from_str::<Value>(&text).unwrap());
        }
    }
    let manifest = manifest.expect("a manifest.json member");
    let names = members(&bytes);
    let records = manifest.as_array().unwrap();
    assert_eq!(records.len(), 2);
    assert_eq!(
        records[1]["RepoTags"],
        json!(["docker.io/library/nested:1"])
    );
    assert_eq!(records[0]["Config"], records[1]["Config"]);
    assert_eq!(records[0]["RepoTags"], json!(["docker.io/library/multi:1"]));
    for r in records {
        let config = r["Config"].as_str().unwrap();
        assert!(names.iter().any(|n| n == config), "{config}");
        for l in r["Layers"].as_array().unwrap() {
            assert!(names.iter().any(|n| n == l.as_str().unwrap()), "{l}");
        }
    }
    // The amd64 manifest is the one chosen from the index: its config is the umoci v1 config.
    let v1 = fs::read(fixtures().join(
        "umoci/blobs/sha256/d72195534bcc2ebf9df34eec4f3c3adec4ae0b09d22bb40644397823c06fe290",
    ))
    .unwrap();
    let v1: Value = serde_json::from_slice(&v1).unwrap();
    let config_hex = v1["config"]["digest"]
        .as_str()
        .unwrap()
        .trim_start_matches("sha256:");
    assert_eq!(
        records[0]["Config"],
        json!(format!("blobs/sha256/{config_hex}"))
    );
}

#[test]
fn export_refuses_to_ship_a_corrupt_blob() {
    let (_tmp, src) = fixture_copy("umoci");
    let layout = Layout::open(&src).unwrap();
    let g = graph::walk(layout.blobs(), &entries(&src)).unwrap();
    let layer = g
        .nodes
        .iter()
        .find(|n| n.descriptor.media_type().to_string().contains("layer"))
        .unwrap();
    let path = layout.blobs().path(layer.descriptor.digest()).unwrap();
    let mut bytes = fs::read(&path).unwrap();
    bytes[0] ^= 0xff;
    fs::write(&path, bytes).unwrap();
    let archive = src.parent().unwrap().join("out.tar");
    let out = run(["export", s(&src), s(&archive)]);
    // It says where: the blob's file in the layout, and what it should and does hash to.
    let err = out.fails(1, "digest mismatch");
    let expected = format!(
        "{}: digest mismatch: expected {}",
        path.display(),
        layer.descriptor.digest()
    );
    assert!(err.contains(&expected), "{err}");
    assert!(!archive.exists());
    let leftovers: Vec<_> = fs::read_dir(src.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.to_string_lossy().contains("tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn import_reports_a_name_that_moves() {
    let (_tmp, dest) = fixture_copy("containerd");
    let archive = dest.parent().unwrap().join("m.tar");
    // skopeo/ names docker.io/library/alpine:3.16 with another digest (in ref.name).
    run([
        "export",
        s(&fixtures().join("skopeo")),
        s(&archive),
        "docker.io/library/alpine:3.16",
    ])
    .ok();
    let before = run(["resolve", s(&dest), "alpine:3.16"])
        .ok()
        .trim()
        .to_string();
    let out = run(["import", s(&archive), s(&dest)]);
    out.ok();
    assert!(
        out.stderr
            .contains("moved docker.io/library/alpine:3.16 from"),
        "{out:#?}"
    );
    let after = run(["resolve", s(&dest), "alpine:3.16"])
        .ok()
        .trim()
        .to_string();
    assert_ne!(before, after);
    // One entry carries the name.
    let named: Vec<_> = entries(&dest)
        .iter()
        .filter(|e| {
            ocilayout::resolve::entry_name(*e).map(|n| n.to_string())
                == Some("docker.io/library/alpine:3.16".into())
        })
        .cloned()
        .collect();
    assert_eq!(named.len(), 1);
    fsck_clean(&dest);
}

/// index.json is not capped (docs/store.md): an archive whose index.json is far over the 4 MiB manifest
/// limit imports whole, and importing it again over itself moves nothing (merging is linear, so
/// 20,000 names take moments, not the hours a pairwise name comparison would).
#[test]
fn a_large_index_imports_whole() {
    let (_t, src) = fixture_copy("umoci");
    let mut index: Value =
        serde_json::from_slice(&fs::read(src.join("index.json")).unwrap()).unwrap();
    let first = index["manifests"][0].clone();
    let names = 20_000;
    index["manifests"] = (0..names)
        .map(|i| {
            let mut e = first.clone();
            e["annotations"] = json!({
                "io.containerd.image.name": format!("example.com/bulk/img{i}:t{i}"),
                "org.opencontainers.image.ref.name": format!("t{i}"),
            });
            e
        })
        .collect();
    let bytes = serde_json::to_vec(&index).unwrap();
    assert!(bytes.len() > 4 << 20, "{} bytes", bytes.len());
    fs::write(src.join("index.json"), &bytes).unwrap();

    let tmp = tempfile::tempdir().unwrap();
    let archive = tmp.path().join("big.tar");
    run(["export", s(&src), s(&archive)]).ok();
    let dest = tmp.path().join("dest");
    run(["import", s(&archive), s(&dest)]).ok();
    assert_eq!(entries(&dest).len(), names);
    let again = run(["import", s(&archive), s(&dest)]);
    again.ok();
    assert!(!again.stderr.contains("moved"), "{again:#?}");
    assert_eq!(entries(&dest), entries(&src));
    let resolved = run(["resolve", s(&dest), "example.com/bulk/img19999:t19999"]);
    assert_eq!(resolved.ok().trim(), first["digest"].as_str().unwrap());
    fsck_clean(&dest);
}

#[test]
fn incremental_export_against_a_base() {
    let tmp = tempfile::tempdir().unwrap();
    let archive = tmp.path().join("inc.tar");
    // multiarch/ shares its amd64 manifest, config and layer with umoci/.
    let out = run([
        "export",
        s(&fixtures().join("multiarch")),
        s(&archive),
        "--base",
        s(&fixtures().join("umoci")),
    ]);
    out.ok();
    assert!(out.stdout.contains("left out"), "{out:#?}");
    let bytes = fs::read(&archive).unwrap();
    let full = closure(
        &fixtures().join("multiarch"),
        &entries(&fixtures().join("multiarch")),
    );
    let shipped = blob_members(&bytes);
    let base = closure(
        &fixtures().join("umoci"),
        &entries(&fixtures().join("umoci")),
    );
    assert_eq!(shipped, full.difference(&base).cloned().collect());
    assert!(shipped.len() < full.len());

    // The side that has the base takes it.
    let (_t, receiver) = fixture_copy("umoci");
    run(["import", s(&archive), s(&receiver)]).ok();
    run([
        "resolve",
        s(&receiver),
        "multi:1",
        "--platform",
        "linux/amd64",
    ])
    .ok();
    fsck_clean(&receiver);
    // A side without the base refuses it and is left as it was (not even created).
    let empty = tmp.path().join("none");
    run(["import", s(&archive), s(&empty)]).fails(1, "neither in the archive nor in");
    assert!(!empty.exists());
    run([
        "export",
        s(&fixtures().join("umoci")),
        "-",
        "--base",
        s(&fixtures().join("umoci")),
        "--docker-manifest",
    ])
    .fails(1, "--base");
}

// ---- hostile archives ------------------------------------------------------------------------

/// A raw ustar header, written byte by byte so that nothing refuses the paths we want to test.
fn raw_header(path: &[u8], kind: u8, size: u64, link: &[u8]) -> [u8; 512] {
    let mut h = [0u8; 512];
    h[..path.len()].copy_from_slice(path);
    h[100..107].copy_from_slice(b"0000644");
    h[108..115].copy_from_slice(b"0000000");
    h[116..123].copy_from_slice(b"0000000");
    h[124..135].copy_from_slice(format!("{size:011o}").as_bytes());
    h[136..147].copy_from_slice(b"00000000000");
    h[156] = kind;
    h[157..157 + link.len()].copy_from_slice(link);
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    h[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
    h
}

/// One raw member: header, content, padding.
fn raw_member(path: &[u8], kind: u8, data: &[u8], link: &[u8]) -> Vec<u8> {
    let mut out = raw_header(path, kind, data.len() as u64, link).to_vec();
    out.extend_from_slice(data);
    out.resize(out.len().div_ceil(512) * 512, 0);
    out
}

fn raw_end() -> Vec<u8> {
    vec![0u8; 1024]
}

/// A small valid layout as raw members: a layer, config, manifest and index naming it `evil:1`.
struct Parts {
    layer: Vec<u8>,
    config: Vec<u8>,
    manifest: Vec<u8>,
}

impl Parts {
    fn new(manifest_padding: usize) -> Parts {
        let layer = b"not really a tar layer, but a blob".to_vec();
        let config =
            br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#
                .to_vec();
        let m = json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest::sha256(&config).to_string(), "size": config.len()},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": digest::sha256(&layer).to_string(), "size": layer.len()}],
        });
        let mut manifest = serde_json::to_vec(&m).unwrap();
        manifest.extend(std::iter::repeat_n(b' ', manifest_padding));
        Parts {
            layer,
            config,
            manifest,
        }
    }

    fn index(&self) -> Vec<u8> {
        serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "manifests": [{
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": digest::sha256(&self.manifest).to_string(),
                "size": self.manifest.len(),
                "annotations": {"io.containerd.image.name": "docker.io/library/evil:1"},
            }],
        }))
        .unwrap()
    }

    fn blob(bytes: &[u8]) -> Vec<u8> {
        let name = format!("blobs/sha256/{}", digest::sha256(bytes).digest());
        raw_member(name.as_bytes(), b'0', bytes, b"")
    }

    /// The archive with `skip` blobs left out, `extra` members appended before the index.
    fn archive(&self, skip: &[&[u8]], extra: Vec<u8>) -> Vec<u8> {
        let mut out = raw_member(
            b"oci-layout",
            b'0',
            br#"{"imageLayoutVersion":"1.0.0"}"#,
            b"",
        );
        for b in [&self.layer, &self.config, &self.manifest] {
            if !skip.contains(&b.as_slice()) {
                out.extend(Parts::blob(b));
            }
        }
        out.extend(extra);
        out.extend(raw_member(b"index.json", b'0', &self.index(), b""));
        out.extend(raw_end());
        out
    }
}

#[test]
fn hostile_archives_are_refused_and_the_target_is_unchanged() {
    let p = Parts::new(0);
    let big = Parts::new(4 << 20);
    let hex = digest::sha256(b"x").digest().to_string();
    let pax_path = {
        let record = "29 path=../../../../tmp/evil\n";
        assert_eq!(record.len(), 29);
        let mut m = raw_member(b"PaxHeader", b'x', record.as_bytes(), b"");
        m.extend(raw_member(b"innocent", b'0', b"boo", b""));
        m
    };
    let long_name = {
        let mut m = raw_member(b"././@LongLink", b'L', b"blobs/../../../evil\0", b"");
        m.extend(raw_member(b"innocent", b'0', b"boo", b""));
        m
    };
    let mut wrong_content = Parts::blob(b"the real content");
    wrong_content[..512].copy_from_slice(&raw_header(
        format!("blobs/sha256/{hex}").as_bytes(),
        b'0',
        16,
        b"",
    ));
    let mut bad_checksum = raw_member(b"oci-layout", b'0', b"{}", b"");
    bad_checksum[150] ^= 1;
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "dot-dot",
            p.archive(&[], raw_member(b"../evil", b'0', b"x", b"")),
            "\"..\" is not allowed",
        ),
        (
            "nested dot-dot",
            p.archive(
                &[],
                raw_member(b"blobs/sha256/../../../evil", b'0', b"x", b""),
            ),
            "\"..\"",
        ),
        (
            "absolute",
            p.archive(&[], raw_member(b"/tmp/evil", b'0', b"x", b"")),
            "absolute paths",
        ),
        ("pax path", p.archive(&[], pax_path), "\"..\""),
        ("gnu long name", p.archive(&[], long_name), "\"..\""),
        (
            "symlink",
            p.archive(
                &[],
                raw_member(
                    format!("blobs/sha256/{hex}").as_bytes(),
                    b'2',
                    b"",
                    b"/etc/passwd",
                ),
            ),
            "symbolic links",
        ),
        (
            "hardlink",
            p.archive(
                &[],
                raw_member(b"blobs/sha256/x", b'1', b"", b"/etc/passwd"),
            ),
            "hard links",
        ),
        (
            "char device",
            p.archive(&[], raw_member(b"dev", b'3', b"", b"")),
            "device files",
        ),
        (
            "block device",
            p.archive(&[], raw_member(b"dev", b'4', b"", b"")),
            "device files",
        ),
        (
            "fifo",
            p.archive(&[], raw_member(b"fifo", b'6', b"", b"")),
            "FIFOs",
        ),
        (
            "content not its name",
            p.archive(&[], wrong_content),
            "not to its name",
        ),
        (
            "bad blob name",
            p.archive(&[], raw_member(b"blobs/sha256/ABC", b'0', b"x", b"")),
            "not a blob name",
        ),
        (
            "closure missing",
            p.archive(&[&p.layer], Vec::new()),
            "neither in the archive nor in",
        ),
        (
            "manifest over 4 MiB",
            big.archive(&[], Vec::new()),
            "over the limit",
        ),
        (
            "not a layout",
            raw_member(b"manifest.json", b'0', b"[]", b"")
                .into_iter()
                .chain(raw_end())
                .collect(),
            "no oci-layout",
        ),
        (
            "no index",
            raw_member(
                b"oci-layout",
                b'0',
                br#"{"imageLayoutVersion":"1.0.0"}"#,
                b"",
            )
            .into_iter()
            .chain(raw_end())
            .collect(),
            "no index.json",
        ),
        ("empty input", Vec::new(), "no oci-layout"),
        ("garbage", vec![b'x'; 2000], "not a valid tar stream"),
        (
            "cut in padding",
            p.archive(&[], Vec::new())[..1600].to_vec(),
            "truncated member",
        ),
        ("bad checksum", bad_checksum, "checksum"),
        (
            "truncated",
            p.archive(&[], Vec::new())[..1550].to_vec(),
            "ends inside a member",
        ),
    ];
    for (what, archive, needle) in &cases {
        // Into an existing layout: nothing changes, not even a blob that the archive held first.
        let (_tmp, dest) = fixture_copy("umoci");
        let before = snapshot(&dest);
        run_with_stdin(["import", "-", s(&dest)], archive).fails(1, needle);
        assert_eq!(snapshot(&dest), before, "{what}");
        assert!(!Path::new("/tmp/evil").exists(), "{what}");
        // Into a directory that does not exist: it is not left behind.
        let fresh = dest.parent().unwrap().join("fresh");
        run_with_stdin(["import", "-", s(&fresh)], archive).fails(1, needle);
        assert!(!fresh.exists(), "{what}");
    }
    // The same parts, unharmed, import fine (so each case above fails for its own reason).
    let tmp = tempfile::tempdir().unwrap();
    run_with_stdin(
        ["import", "-", s(&tmp.path().join("ok"))],
        &p.archive(&[], Vec::new()),
    )
    .ok();
    run(["resolve", s(&tmp.path().join("ok")), "evil:1"]).ok();
}

#[test]
fn a_refused_import_into_an_empty_directory_leaves_it_empty() {
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join("empty");
    fs::create_dir(&dest).unwrap();
    let p = Parts::new(0);
    run_with_stdin(
        ["import", "-", s(&dest)],
        &p.archive(&[&p.config], Vec::new()),
    )
    .fails(1, "neither in the archive");
    assert_eq!(fs::read_dir(&dest).unwrap().count(), 0);
}

// ---- kill -9 ---------------------------------------------------------------------------------

/// A deterministic generator (xorshift64*), so the test kills at the same moments every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let n = self.next().to_le_bytes();
            chunk.copy_from_slice(&n[..chunk.len()]);
        }
    }
}

/// A layout of `images` images with `layers` random layers of `layer_size` bytes each.
pub fn random_layout(dir: &Path, images: usize, layers: usize, layer_size: usize, seed: u64) {
    let layout = Layout::init(dir).unwrap();
    let mut rng = Rng(seed);
    let mut buf = vec![0u8; layer_size];
    for i in 0..images {
        let mut layer_descs = Vec::new();
        for _ in 0..layers {
            rng.fill(&mut buf);
            let d = layout.blobs().put_bytes(&buf).unwrap();
            layer_descs.push(json!({"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": d.to_string(), "size": buf.len()}));
        }
        let config = format!(r#"{{"architecture":"amd64","os":"linux","image":{i}}}"#);
        let config_d = layout.blobs().put_bytes(config.as_bytes()).unwrap();
        let manifest = serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_d.to_string(), "size": config.len()},
            "layers": layer_descs,
        }))
        .unwrap();
        let md = layout.blobs().put_bytes(&manifest).unwrap();
        let entry: Descriptor = serde_json::from_value(json!({
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": md.to_string(),
            "size": manifest.len(),
            "annotations": {
                "io.containerd.image.name": format!("example.com/random/img{i}:latest"),
                "org.opencontainers.image.ref.name": "latest",
            },
        }))
        .unwrap();
        layout
            .update_index(|idx| {
                idx.push(ocilayout::layout::Entry::new(entry));
                Ok(())
            })
            .unwrap();
    }
}

/// Every blob hashes to its name, index.json parses, every entry's closure is present and sound.
fn assert_sound(dir: &Path) {
    let layout = Layout::open(dir).unwrap();
    for (d, _) in layout.blobs().list().unwrap() {
        let mut f = layout.blobs().open(&d).unwrap();
        let mut h = digest::HashingReader::new(&mut f, digest::Algorithm::of(&d).unwrap());
        std::io::copy(&mut h, &mut std::io::sink()).unwrap();
        assert_eq!(h.finish().0, d, "{}", dir.display());
    }
    let index = layout.read_index().unwrap();
    let g = graph::walk(layout.blobs(), index.manifests()).unwrap();
    assert_eq!(g.problems().count(), 0, "{}", dir.display());
}

#[test]
fn kill_9_during_import_leaves_the_layout_sound_and_a_rerun_completes() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    random_layout(&src, 4, 4, 4 << 20, 7);
    let archive = tmp.path().join("big.tar");
    run(["export", s(&src), s(&archive)]).ok();

    // How long a whole import takes here, to spread the kills over it.
    let timing = tmp.path().join("timing");
    let start = std::time::Instant::now();
    run(["import", s(&archive), s(&timing)]).ok();
    let full = start.elapsed().as_micros() as u64;

    let dest = tmp.path().join("dest");
    run(["init", s(&dest)]).ok();
    let mut rng = Rng(0x5eed);
    for _ in 0..10 {
        let mut child = Command::new(support::bin())
            .args(["import", s(&archive), s(&dest)])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let delay = rng.next() % full.max(1);
        std::thread::sleep(std::time::Duration::from_micros(delay));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        assert_sound(&dest);
    }
    run(["import", s(&archive), s(&dest)]).ok();
    assert_sound(&dest);
    assert_eq!(entries(&dest), entries(&src));
    fsck_clean(&dest);
}

/// For the benchmark script and manual checks: `cargo test --test tests -- --ignored --exact archive::make_random_layout`
/// with OCILAYOUT_BENCH_DIR and OCILAYOUT_BENCH_MIB set.
#[test]
#[ignore]
fn make_random_layout() {
    let dir = PathBuf::from(std::env::var("OCILAYOUT_BENCH_DIR").unwrap());
    let mib: usize = std::env::var("OCILAYOUT_BENCH_MIB")
        .unwrap()
        .parse()
        .unwrap();
    // 8 images of 8 layers each.
    random_layout(&dir, 8, 8, (mib << 20) / 64, 1);
}

/// `import --full-ref-name` writes each full name into `ref.name` too, as `tag`, `pull` and `copy`
/// do, keeping every other annotation; without it the entries keep the annotations they came with.
#[test]
fn import_with_full_ref_names() {
    let tmp = tempfile::tempdir().unwrap();
    let archive = tmp.path().join("c.tar");
    run([
        "export",
        s(&fixtures().join("containerd")),
        s(&archive),
        "ghcr.io/acme/tool:1.0",
        "alpine:3.16",
    ])
    .ok();
    let ref_names = |dir: &Path| -> Vec<(String, String)> {
        let index: serde_json::Value =
            serde_json::from_slice(&fs::read(dir.join("index.json")).unwrap()).unwrap();
        let mut out: Vec<(String, String)> = index["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                let a = &e["annotations"];
                (
                    a["io.containerd.image.name"].as_str().unwrap().to_string(),
                    a["org.opencontainers.image.ref.name"]
                        .as_str()
                        .unwrap()
                        .to_string(),
                )
            })
            .collect();
        out.sort();
        out
    };
    let plain = tmp.path().join("plain");
    run(["import", s(&archive), s(&plain)]).ok();
    assert_eq!(
        ref_names(&plain),
        [
            ("docker.io/library/alpine:3.16".into(), "3.16".into()),
            ("ghcr.io/acme/tool:1.0".into(), "1.0".into()),
        ]
    );
    let full = tmp.path().join("full");
    run(["import", "--full-ref-name", s(&archive), s(&full)]).ok();
    assert_eq!(
        ref_names(&full),
        [
            (
                "docker.io/library/alpine:3.16".into(),
                "docker.io/library/alpine:3.16".into()
            ),
            (
                "ghcr.io/acme/tool:1.0".into(),
                "ghcr.io/acme/tool:1.0".into()
            ),
        ]
    );
    run(["fsck", s(&full)]).ok();
}
