//! index.json that keeps what is not ours: names implied by other tools' conventions, rewrites that
//! keep every field and entry they do not change, partial archives, and index growth at scale.

use crate::support;
use crate::support::containerd;

use std::fs;
use std::path::Path;

use serde_json::{json, Value};
use support::{digests::*, fixture_copy, ol};

fn entry(digest: &str, size: u64, annotations: Value) -> Value {
    json!({
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": digest,
        "size": size,
        "annotations": annotations,
    })
}

fn write_index(dir: &Path, manifests: Vec<Value>) {
    let index = json!({"schemaVersion": 2, "manifests": manifests});
    fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
}

/// containerd names a plain `foo` `docker.io/library/foo` with no tag and no ref.name: its tag is
/// `latest`, in `ls` and when resolving the bare tag, by the fast scan and by `untag` alike.
#[test]
fn a_bare_tag_implied_by_the_name_resolves() {
    let (_tmp, dir) = fixture_copy("umoci");
    write_index(
        &dir,
        vec![
            entry(
                D1,
                345,
                json!({"io.containerd.image.name": "docker.io/library/foo"}),
            ),
            entry(
                D2,
                499,
                json!({"io.containerd.image.name": "ghcr.io/acme/bar:1"}),
            ),
        ],
    );
    let ls: Value = serde_json::from_str(ol("ls", &dir, &["--json"]).ok()).unwrap();
    assert_eq!(ls[0]["tag"], "latest", "{ls}");
    assert_eq!(ol("resolve", &dir, &["latest"]).ok().trim(), D1);
    assert_eq!(ol("resolve", &dir, &["1"]).ok().trim(), D2);
    ol("tag", &dir, &["latest", "copy:1"]).ok();
    ol("untag", &dir, &["latest"]).ok();
    let ls: Value = serde_json::from_str(ol("ls", &dir, &["--json"]).ok()).unwrap();
    let names: Vec<&str> = ls
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["ghcr.io/acme/bar:1", "docker.io/library/copy:1"]);
}

/// `ctr images export` writes the whole index but only the local platform's blobs. import refuses
/// it naming the platforms present and the way through; `import --platform` stores that platform's
/// manifest under the name.
#[test]
fn a_partial_containerd_export_is_explained_and_imported_by_platform() {
    if !support::have("containerd") || !support::have("ctr") || !nix_root() {
        return;
    }
    let (local, other, manifest) = match std::env::consts::ARCH {
        "x86_64" => ("linux/amd64", "linux/arm64/v8", D1),
        "aarch64" => ("linux/arm64/v8", "linux/amd64", ARM),
        other => {
            eprintln!("skipping: the fixture has no image for {other}");
            return;
        }
    };
    let tmp = tempfile::tempdir().unwrap();
    let whole = tmp.path().join("multi.tar");
    let part = tmp.path().join("part.tar");
    let s = |p: &Path| p.to_str().unwrap().to_string();
    ol(
        "export",
        &support::fixtures().join("multiarch"),
        &[&s(&whole), "docker.io/library/multi:1"],
    )
    .ok();
    let Some(containerd) = containerd::Containerd::start() else {
        return;
    };
    containerd.ok(&[
        "images",
        "import",
        "--all-platforms",
        "--no-unpack",
        &s(&whole),
    ]);
    containerd.ok(&["images", "export", &s(&part), "docker.io/library/multi:1"]);

    let dir = tmp.path().join("layout");
    let run = support::run(["import", &s(&part), &s(&dir)]);
    let err = run.fails(1, "only some platforms");
    for want in [
        "docker.io/library/multi:1",
        &format!("present: {local}"),
        &format!("missing: {other}"),
        &format!("import --platform {local}"),
    ] {
        assert!(err.contains(want), "{want}: {err}");
    }
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(!dir.exists());

    support::run(["import", "--platform", other, &s(&part), &s(&dir)]).fails(1, "refused");
    assert!(!dir.exists());

    support::run(["import", "--platform", local, &s(&part), &s(&dir)]).ok();
    assert_eq!(ol("resolve", &dir, &["multi:1"]).ok().trim(), manifest);
    ol("fsck", &dir, &[]).ok();
    // Only the chosen platform's closure is stored, nothing more.
    let blobs = fs::read_dir(dir.join("blobs/sha256")).unwrap().count();
    let gc: Value = serde_json::from_str(ol("gc", &dir, &["--json"]).ok()).unwrap();
    assert_eq!(gc["removed"], 0, "{gc}");
    assert_eq!(blobs, 3);
}

/// containerd needs root; under CI the test runs as root, so there not being root is a failure.
fn nix_root() -> bool {
    let root = std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0");
    if !root {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true: the containerd test must run as root"
        );
        eprintln!("skipping: containerd needs root");
    }
    root
}

/// The index.json corpus (tests/index-corpus/README.md says where each file comes from).
const CORPUS: [&str; 9] = [
    "containerd",
    "containerd-indented",
    "skopeo",
    "umoci",
    "podman",
    "oras",
    "regclient",
    "buildkit",
    "synthetic",
];

fn corpus(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/index-corpus")
        .join(format!("{name}.json"));
    fs::read_to_string(path).unwrap()
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&fs::read(path).unwrap()).unwrap()
}

/// Every top-level key but `manifests`.
fn top_level(index: &Value) -> serde_json::Map<String, Value> {
    let mut top = index.as_object().unwrap().clone();
    top.remove("manifests");
    top
}

/// After `tag` and `untag` every entry the commands did not touch equals the original as a JSON value,
/// and so does every top-level key, for index.json files written by every tool in the corpus.
#[test]
fn tag_and_untag_keep_every_untouched_entry_of_every_tool() {
    for name in CORPUS {
        let (_tmp, dir) = fixture_copy("umoci");
        let text = corpus(name);
        let original: Value = serde_json::from_str(&text).unwrap();
        let originals = original["manifests"].as_array().unwrap().clone();
        // The corpus, and one entry of ours to tag from.
        let mut doc = original.clone();
        doc["manifests"].as_array_mut().unwrap().push(entry(
            D1,
            345,
            json!({"io.containerd.image.name": "docker.io/library/source:1",
                   "org.opencontainers.image.ref.name": "1"}),
        ));
        fs::write(dir.join("index.json"), serde_json::to_vec(&doc).unwrap()).unwrap();

        ol("tag", &dir, &["source:1", "added:1", "example.com/more:2"]).ok();
        let tagged = read_json(&dir.join("index.json"));
        assert_eq!(
            tagged["manifests"].as_array().unwrap().len(),
            originals.len() + 3
        );
        ol(
            "untag",
            &dir,
            &["added:1", "example.com/more:2", "source:1"],
        )
        .ok();

        let after = read_json(&dir.join("index.json"));
        assert_eq!(
            top_level(&after),
            top_level(&original),
            "{name}: top-level keys"
        );
        assert_eq!(after["manifests"].as_array().unwrap(), &originals, "{name}");
    }
}

/// Tagging an entry with the name it already carries under another convention changes only its
/// `annotations`; every other key of it, and every other entry, stays.
#[test]
fn renaming_in_place_replaces_only_annotations() {
    let (_tmp, dir) = fixture_copy("umoci");
    fs::write(dir.join("index.json"), corpus("synthetic")).unwrap();
    let original = read_json(&dir.join("index.json"));
    ol("tag", &dir, &["renamed:3", "renamed:3"]).ok();
    let after = read_json(&dir.join("index.json"));
    let (before, now) = (&original["manifests"], &after["manifests"]);
    for i in 0..3 {
        assert_eq!(now[i], before[i], "entry {i}");
    }
    let mut want = before[3].clone();
    want["annotations"] = json!({
        "io.containerd.image.name": "docker.io/library/renamed:3",
        "org.opencontainers.image.ref.name": "3",
        "x-keep": "yes",
    });
    assert_eq!(now[3], want);
    assert_eq!(top_level(&after), top_level(&original));
}

/// An archive's entries keep every field when imported, and the layout's own entries keep theirs.
#[test]
fn import_keeps_every_field_of_both_indexes() {
    let (tmp, src) = fixture_copy("umoci");
    let synthetic = corpus("synthetic");
    fs::write(src.join("index.json"), &synthetic).unwrap();
    let archive = tmp.path().join("a.tar");
    let status = std::process::Command::new("tar")
        .arg("-C")
        .arg(&src)
        .args([
            "-cf",
            archive.to_str().unwrap(),
            "oci-layout",
            "index.json",
            "blobs",
        ])
        .status()
        .unwrap();
    assert!(status.success());

    // Into a layout whose own index.json is another tool's.
    let (_tmp2, dir) = fixture_copy("umoci");
    let oras = corpus("oras");
    fs::write(dir.join("index.json"), &oras).unwrap();
    support::run(["import", archive.to_str().unwrap(), dir.to_str().unwrap()]).ok();
    let after = read_json(&dir.join("index.json"));
    let ours: Value = serde_json::from_str(&oras).unwrap();
    let theirs: Value = serde_json::from_str(&synthetic).unwrap();
    let mut want = ours["manifests"].as_array().unwrap().clone();
    want.extend(theirs["manifests"].as_array().unwrap().iter().cloned());
    assert_eq!(after["manifests"].as_array().unwrap(), &want);
    assert_eq!(top_level(&after), top_level(&ours));
}

/// An index grows in n log n at worst: an archive of 80,000 unnamed entries (one digest, every
/// descriptor different) and 80,000 named ones imports in seconds into a layout that holds them all
/// already (every entry compared with every slot took minutes), and again over itself.
#[test]
fn eighty_thousand_entries_merge_in_seconds() {
    let (tmp, src) = fixture_copy("umoci");
    let n = 80_000;
    let mut manifests: Vec<Value> = (0..n)
        .map(|i| entry(D1, 345, json!({"org.example.n": i.to_string()})))
        .collect();
    manifests.extend((0..n).map(|i| {
        entry(
            D2,
            499,
            json!({"io.containerd.image.name": format!("example.com/bulk/img{i}:t")}),
        )
    }));
    write_index(&src, manifests);
    let archive = tmp.path().join("big.tar");
    let s = |p: &Path| p.to_str().unwrap().to_string();
    ol("export", &src, &[&s(&archive)]).ok();
    let dest = tmp.path().join("dest");
    let started = std::time::Instant::now();
    support::run(["import", &s(&archive), &s(&dest)]).ok();
    support::run(["import", &s(&archive), &s(&dest)]).ok();
    let took = started.elapsed();
    let (got, want) = (
        read_json(&dest.join("index.json")),
        read_json(&src.join("index.json")),
    );
    // Not assert_eq: the message would print 160,000 entries.
    let (got, want) = (got["manifests"].as_array(), want["manifests"].as_array());
    assert_eq!(got.map(Vec::len), Some(2 * n));
    assert!(got == want, "the entries differ");
    // Generous for a debug build on a loaded machine; the quadratic merge took minutes.
    assert!(took.as_secs() < 120, "two imports took {took:?}");
}

/// A ustar header for a regular file `name` of `size` bytes.
fn tar_header(name: &str, size: u64) -> [u8; 512] {
    let mut h = [0u8; 512];
    h[..name.len()].copy_from_slice(name.as_bytes());
    h[100..107].copy_from_slice(b"0000644");
    h[108..115].copy_from_slice(b"0000000");
    h[116..123].copy_from_slice(b"0000000");
    h[124..135].copy_from_slice(format!("{size:011o}").as_bytes());
    h[136..147].copy_from_slice(b"00000000000");
    h[156] = b'0';
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    h[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
    h
}

/// A `.tar.gz` whose index.json inflates to 1 GiB (a few MB compressed) is refused at the member's
/// header, before a byte of it is inflated or stored, and leaves no directory behind.
#[test]
fn an_index_json_bomb_is_refused_before_it_is_read() {
    use std::io::Write;
    let tmp = tempfile::tempdir().unwrap();
    let archive = tmp.path().join("bomb.tar.gz");
    let mut gz = flate2::write::GzEncoder::new(
        fs::File::create(&archive).unwrap(),
        flate2::Compression::best(),
    );
    let layout = br#"{"imageLayoutVersion":"1.0.0"}"#;
    gz.write_all(&tar_header("oci-layout", layout.len() as u64))
        .unwrap();
    gz.write_all(layout).unwrap();
    gz.write_all(&[0u8; 512][..512 - layout.len()]).unwrap();
    gz.write_all(&tar_header("index.json", 1 << 30)).unwrap();
    // The first megabyte of the bomb: valid JSON entries, repeated (the rest would follow).
    let one = serde_json::to_vec(&entry(D1, 345, json!({"n": "x"}))).unwrap();
    let mut head = b"{\"schemaVersion\":2,\"manifests\":[".to_vec();
    while head.len() < 1 << 20 {
        head.extend_from_slice(&one);
        head.push(b',');
    }
    gz.write_all(&head).unwrap();
    gz.finish().unwrap();

    let dir = tmp.path().join("layout");
    let run = support::run(["import", archive.to_str().unwrap(), dir.to_str().unwrap()]);
    let err = run.fails(1, "index.json in the archive is 1073741824 bytes");
    assert!(err.contains("over the limit of"), "{err}");
    assert!(!dir.exists());
}
