//! Integration tests of the layout core (issue #2): they drive the `ocilayout` binary on copies of the
//! real layouts in `fixtures/` and check docs/names.md (names, resolving), docs/store.md (digests, index.json), docs/gc.md (gc,
//! fsck) and docs/cli.md (command line, JSON shapes, exit statuses, error lines). One module per feature.

use crate::support;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;
use support::digests::*;
use support::{fixture_copy, ol, run, snapshot, Run, FIXTURES};

// The digests of fixtures/README.md.

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
const CONTAINERD_NAME: &str = "io.containerd.image.name";
const REF_NAME: &str = "org.opencontainers.image.ref.name";

fn json(r: &Run) -> Value {
    serde_json::from_str(r.ok()).unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {r:#?}"))
}

fn keys(v: &Value) -> BTreeSet<&str> {
    v.as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .map(String::as_str)
        .collect()
}

fn set<'a>(items: impl IntoIterator<Item = &'a str>) -> BTreeSet<String> {
    items.into_iter().map(str::to_string).collect()
}

fn read_index(dir: &Path) -> Value {
    serde_json::from_slice(&fs::read(dir.join("index.json")).unwrap()).unwrap()
}

fn entries(dir: &Path) -> Vec<Value> {
    read_index(dir)["manifests"].as_array().unwrap().clone()
}

/// The blobs present in a layout, as digests.
fn blobs(dir: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for alg in ["sha256", "sha512"] {
        let Ok(rd) = fs::read_dir(dir.join("blobs").join(alg)) else {
            continue;
        };
        for e in rd {
            out.insert(format!(
                "{alg}:{}",
                e.unwrap().file_name().to_string_lossy()
            ));
        }
    }
    out
}

fn blob_path(dir: &Path, digest: &str) -> PathBuf {
    let (alg, hex) = digest.split_once(':').unwrap();
    dir.join("blobs").join(alg).join(hex)
}

/// Writes `bytes` as a blob and returns its digest.
fn put_blob(dir: &Path, bytes: &[u8]) -> String {
    let d = ocilayout::digest::sha256(bytes).to_string();
    fs::write(blob_path(dir, &d), bytes).unwrap();
    d
}

/// Appends an entry to index.json (test setup, outside the tool).
fn add_entry(dir: &Path, entry: Value) {
    let mut index = read_index(dir);
    index["manifests"].as_array_mut().unwrap().push(entry);
    fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
}

/// Everything under `dir`, directories and the `.ocilayout` state directory included: what a command
/// that must write nothing at all must leave as it found.
fn full_tree(dir: &Path) -> BTreeMap<PathBuf, Option<Vec<u8>>> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .map(|e| {
            let e = e.unwrap();
            let rel = e.path().strip_prefix(dir).unwrap().to_path_buf();
            let content = e.file_type().is_file().then(|| fs::read(e.path()).unwrap());
            (rel, content)
        })
        .collect()
}

/// Asserts that, between two `full_tree`s of a layout's parent, nothing changed outside `layout_name`,
/// and inside it nothing but our `.ocilayout` state (locks, temp dir) when `state_ok`.
#[track_caller]
fn assert_untouched(
    before: &BTreeMap<PathBuf, Option<Vec<u8>>>,
    after: &BTreeMap<PathBuf, Option<Vec<u8>>>,
    layout_name: &str,
    state_ok: bool,
    what: &str,
) {
    let state = Path::new(layout_name).join(".ocilayout");
    let relevant = |m: &BTreeMap<PathBuf, Option<Vec<u8>>>| -> BTreeMap<PathBuf, Option<Vec<u8>>> {
        m.iter()
            .filter(|(p, _)| !(state_ok && p.starts_with(&state)))
            .map(|(p, c)| (p.clone(), c.clone()))
            .collect()
    };
    let (b, a) = (relevant(before), relevant(after));
    if b != a {
        let bk: BTreeSet<_> = b.keys().collect();
        let ak: BTreeSet<_> = a.keys().collect();
        let changed: Vec<_> = bk.intersection(&ak).filter(|p| b[**p] != a[**p]).collect();
        panic!(
            "{what} changed the file system: added {:?}, removed {:?}, changed {:?}",
            ak.difference(&bk).collect::<Vec<_>>(),
            bk.difference(&ak).collect::<Vec<_>>(),
            changed
        );
    }
}

mod resolve {
    use super::*;

    enum Want {
        Digest(&'static str),
        NotFound,
        Ambiguous(&'static [&'static str]),
        NoPlatform,
        WrongPlatform(&'static str),
    }
    use Want::*;

    /// Every fixture layout, every form of name (docs/names.md steps 1-4), platforms through indexes and
    /// manifest lists.
    #[allow(clippy::type_complexity)]
    fn cases() -> Vec<(&'static str, &'static str, Option<&'static str>, Want)> {
        vec![
            // umoci: bare tags; two tags on one digest; digests of entries and of a bare manifest blob.
            ("umoci", "v1", None, Digest(D1)),
            ("umoci", "v2", None, Digest(D2)),
            ("umoci", "latest", None, Digest(D1)),
            ("umoci", D1, None, Digest(D1)),
            ("umoci", D2, None, Digest(D2)),
            ("umoci", CONFIG1, None, NotFound), // a blob, but not a manifest
            ("umoci", "v3", None, NotFound),
            ("umoci", "docker.io/library/v1:latest", None, NotFound),
            // skopeo: ref.name holding a bare tag, a full name, a short name, a host:port name.
            ("skopeo", "alpine-like", None, Digest(D1)),
            ("skopeo", "docker.io/library/alpine:3.16", None, Digest(D2)),
            ("skopeo", "alpine:3.16", None, Digest(D2)),
            ("skopeo", "library/alpine:3.16", None, Digest(D2)),
            (
                "skopeo",
                "index.docker.io/library/alpine:3.16",
                None,
                Digest(D2),
            ),
            ("skopeo", "alpine:3.17", None, Digest(D2)),
            ("skopeo", "docker.io/library/alpine:3.17", None, Digest(D2)),
            ("skopeo", "localhost:5000/team/app:dev", None, Digest(D1)),
            ("skopeo", "3.16", None, Digest(D2)),
            ("skopeo", "3.17", None, Digest(D2)),
            ("skopeo", "dev", None, Digest(D1)),
            ("skopeo", "alpine", None, NotFound), // alpine:latest
            (
                "skopeo",
                "docker.io/library/alpine-like:latest",
                None,
                NotFound,
            ),
            // containerd: io.containerd.image.name wins; a digest-only name; an ambiguous bare tag.
            (
                "containerd",
                "docker.io/library/alpine:3.16",
                None,
                Digest(D1),
            ),
            ("containerd", "alpine:3.16", None, Digest(D1)),
            (
                "containerd",
                "index.docker.io/library/alpine:3.16",
                None,
                Digest(D1),
            ),
            ("containerd", "3.16", None, Digest(D1)),
            ("containerd", "ghcr.io/acme/tool:1.0", None, Digest(D2)),
            ("containerd", "quay.io/acme/tool:1.0", None, Digest(D1)),
            (
                "containerd",
                "1.0",
                None,
                Ambiguous(&["ghcr.io/acme/tool:1.0", "quay.io/acme/tool:1.0", D1, D2]),
            ),
            (
                "containerd",
                "localhost:5000/team/app:dev",
                None,
                Digest(D2),
            ),
            ("containerd", "dev", None, Digest(D2)),
            ("containerd", "app:dev", None, NotFound),
            ("containerd", concat_at("alpine", D1), None, Digest(D1)),
            (
                "containerd",
                concat_at("docker.io/library/alpine", D1),
                None,
                Digest(D1),
            ),
            ("containerd", concat_at("alpine", D2), None, NotFound),
            ("containerd", "ghcr.io/acme/tool:2.0", None, NotFound),
            // multiarch: indexes, nested indexes, platforms; an ambiguous bare tag.
            ("multiarch", "multi:1", None, Digest(MULTI)),
            (
                "multiarch",
                "docker.io/library/nested:1",
                None,
                Digest(NESTED),
            ),
            (
                "multiarch",
                "1",
                None,
                Ambiguous(&[
                    "docker.io/library/multi:1",
                    "docker.io/library/nested:1",
                    MULTI,
                    NESTED,
                ]),
            ),
            ("multiarch", "multi:1", Some("linux/amd64"), Digest(D1)),
            ("multiarch", "multi:1", Some("linux/x86_64"), Digest(D1)),
            ("multiarch", "multi:1", Some("linux/arm64/v8"), Digest(ARM)),
            ("multiarch", "multi:1", Some("linux/arm64"), Digest(ARM)),
            ("multiarch", "multi:1", Some("linux/s390x"), NoPlatform),
            ("multiarch", "multi:1", Some("windows/amd64"), NoPlatform),
            ("multiarch", "nested:1", Some("linux/amd64"), Digest(D1)),
            ("multiarch", "nested:1", Some("linux/arm64/v8"), Digest(ARM)),
            ("multiarch", "nested:1", Some("linux/arm/v7"), NoPlatform),
            ("multiarch", MULTI, Some("linux/arm64"), Digest(ARM)),
            // Manifests and indexes named by no entry, by digest.
            ("multiarch", ARM, None, Digest(ARM)),
            ("multiarch", INNER, None, Digest(INNER)),
            ("multiarch", INNER, Some("linux/amd64"), Digest(D1)),
            // docker: schema2 manifest and manifest list.
            ("docker", "v2s2", None, Digest(V2S2)),
            ("docker", "dockerlist:1", None, Digest(DLIST)),
            ("docker", "1", None, Digest(DLIST)),
            ("docker", "dockerlist:1", Some("linux/amd64"), Digest(V2S2)),
            ("docker", "dockerlist:1", Some("linux/arm64"), NoPlatform),
            ("docker", "v2s2", Some("linux/amd64"), Digest(V2S2)),
            // A plain image manifest is checked against its config's platform.
            (
                "docker",
                "v2s2",
                Some("linux/arm64"),
                WrongPlatform("linux/amd64"),
            ),
            ("multiarch", ARM, Some("linux/arm64"), Digest(ARM)),
            (
                "multiarch",
                ARM,
                Some("linux/amd64"),
                WrongPlatform("linux/arm64/v8"),
            ),
            ("umoci", "v1", Some("linux/amd64"), Digest(D1)),
            (
                "umoci",
                "v1",
                Some("windows/amd64"),
                WrongPlatform("linux/amd64"),
            ),
            // artifact: an unnamed root, an unknown media type.
            ("artifact", "app:1", None, Digest(D1)),
            ("artifact", "1", None, Digest(D1)),
            ("artifact", "mystery", None, Digest(MYSTERY)),
            ("artifact", SBOM, None, Digest(SBOM)),
            ("artifact", "latest", None, NotFound),
        ]
    }

    /// `name@digest` at compile time is awkward; the table keeps `&str` by leaking once.
    fn concat_at(name: &str, digest: &str) -> &'static str {
        Box::leak(format!("{name}@{digest}").into_boxed_str())
    }

    #[test]
    fn table_over_every_fixture() {
        let mut copies = BTreeMap::new();
        for f in FIXTURES {
            let (tmp, dir) = fixture_copy(f);
            let before = full_tree(tmp.path());
            copies.insert(f, (tmp, dir, before));
        }
        for (fixture, input, platform, want) in cases() {
            let (_, dir, _) = &copies[fixture];
            let mut args = vec![input];
            if let Some(p) = platform {
                args.extend(["--platform", p]);
            }
            let r = ol("resolve", dir, &args);
            let ctx = format!("{fixture} {input} {platform:?}");
            match want {
                Digest(d) => assert_eq!(r.ok().trim(), d, "{ctx}"),
                NotFound => {
                    r.fails(1, "not found");
                    assert!(r.stderr.contains(input), "{ctx}: {r:#?}");
                }
                Ambiguous(all) => {
                    r.fails(1, "ambiguous");
                    for c in all {
                        assert!(r.stderr.contains(c), "{ctx}: lacks candidate {c}: {r:#?}");
                    }
                }
                NoPlatform => {
                    r.fails(
                        1,
                        &format!("no manifest for platform {}", platform.unwrap()),
                    );
                }
                WrongPlatform(found) => {
                    r.fails(
                        1,
                        &format!("is an image for {found}, not {}", platform.unwrap()),
                    );
                }
            }
        }
        // Resolving is read-only: not a byte, not a lock file, not a directory written.
        for (f, (tmp, _, before)) in &copies {
            assert_untouched(before, &full_tree(tmp.path()), f, false, "resolve");
        }
    }

    #[test]
    fn json_prints_the_descriptor() {
        let (_t, dir) = fixture_copy("umoci");
        let v = json(&ol("resolve", &dir, &["v2", "--json"]));
        assert_eq!(v["digest"], D2);
        assert_eq!(v["mediaType"], OCI_MANIFEST);
        assert_eq!(v["size"], 499);
        assert_eq!(v["annotations"][REF_NAME], "v2");

        let (_t, dir) = fixture_copy("multiarch");
        let v = json(&ol(
            "resolve",
            &dir,
            &["nested:1", "--platform", "linux/arm64/v8", "--json"],
        ));
        assert_eq!(v["digest"], ARM);
        assert_eq!(v["mediaType"], OCI_MANIFEST);
        assert_eq!(v["size"], 401);
        assert_eq!(v["platform"]["architecture"], "arm64");
        assert_eq!(v["platform"]["os"], "linux");
        assert_eq!(v["platform"]["variant"], "v8");

        let (_t, dir) = fixture_copy("docker");
        let v = json(&ol("resolve", &dir, &["dockerlist:1", "--json"]));
        assert_eq!(v["mediaType"], DOCKER_LIST);
        assert_eq!(
            v["annotations"][CONTAINERD_NAME],
            "docker.io/library/dockerlist:1"
        );
    }

    /// buildkit's `oci-layout://` URLs, with a layout directory whose path contains a `:`.
    #[test]
    fn oci_layout_urls() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("a:b").join("lay");
        support::copy_dir(&support::fixtures().join("containerd"), &dir);
        let umoci = tmp.path().join("um");
        support::copy_dir(&support::fixtures().join("umoci"), &umoci);
        let single = tmp.path().join("single:1");
        support::copy_dir(&support::fixtures().join("multiarch"), &single);
        let s = dir.to_str().unwrap();
        let before = full_tree(tmp.path());
        let cases: Vec<(String, Option<&str>, Result<&str, &str>)> = vec![
            (format!("{s}:3.16"), None, Ok(D1)),
            (format!("{s}:dev"), None, Ok(D2)),
            (format!("{s}/alpine:3.16"), None, Ok(D1)),
            (format!("{s}/docker.io/library/alpine:3.16"), None, Ok(D1)),
            (format!("{s}/ghcr.io/acme/tool:1.0"), None, Ok(D2)),
            (format!("{s}/localhost:5000/team/app:dev"), None, Ok(D2)),
            (format!("{s}@{D2}"), None, Ok(D2)),
            (format!("{s}/alpine@{D1}"), None, Ok(D1)),
            (format!("{s}:1.0"), None, Err("ambiguous")),
            (format!("{s}/alpine"), None, Err("not found")),
            (s.to_string(), None, Err("\"latest\" not found")),
            (
                format!("{s}@sha256:{}", D2[7..].to_uppercase()),
                None,
                Err("invalid digest"),
            ),
            (
                format!("{}/nothere:1", tmp.path().display()),
                None,
                Err("not an OCI image layout"),
            ),
            // No reference: `latest`, which umoci has.
            (format!("{}", umoci.display()), None, Ok(D1)),
            (format!("{}:v2", umoci.display()), None, Ok(D2)),
            // A directory name with ':' that also looks like NAME:TAG.
            (format!("{}:multi:1", single.display()), None, Ok(MULTI)),
            (
                format!("{}/nested:1", single.display()),
                Some("linux/arm64"),
                Ok(ARM),
            ),
        ];
        for (path, platform, want) in cases {
            let url = format!("oci-layout://{path}");
            let mut args: Vec<&str> = vec!["resolve", &url];
            if let Some(p) = platform {
                args.extend(["--platform", p]);
            }
            let r = run(&args);
            match want {
                Ok(d) => assert_eq!(r.ok().trim(), d, "{url}"),
                Err(needle) => {
                    r.fails(1, needle);
                }
            }
        }
        // A relative URL, resolved from the current directory.
        let r: Run = std::process::Command::new(support::bin())
            .args(["resolve", "oci-layout://a:b/lay:3.16"])
            .current_dir(tmp.path())
            .output()
            .unwrap()
            .into();
        assert_eq!(r.ok().trim(), D1);
        assert_untouched(&before, &full_tree(tmp.path()), "a:b", false, "resolve URL");
    }
}

mod ls {
    use super::*;

    type Row = (
        Option<&'static str>,
        Option<&'static str>,
        &'static str,
        &'static str,
        u64,
    );

    fn expected(fixture: &str) -> Vec<Row> {
        match fixture {
            "umoci" => vec![
                (None, Some("v1"), D1, OCI_MANIFEST, 345),
                (None, Some("v2"), D2, OCI_MANIFEST, 499),
                (None, Some("latest"), D1, OCI_MANIFEST, 345),
            ],
            "skopeo" => vec![
                (None, Some("alpine-like"), D1, OCI_MANIFEST, 345),
                (Some("docker.io/library/alpine:3.16"), Some("3.16"), D2, OCI_MANIFEST, 499),
                (Some("docker.io/library/alpine:3.17"), Some("3.17"), D2, OCI_MANIFEST, 499),
                (Some("localhost:5000/team/app:dev"), Some("dev"), D1, OCI_MANIFEST, 345),
            ],
            "containerd" => vec![
                (Some("docker.io/library/alpine:3.16"), Some("3.16"), D1, OCI_MANIFEST, 345),
                (Some("ghcr.io/acme/tool:1.0"), Some("1.0"), D2, OCI_MANIFEST, 499),
                (Some("quay.io/acme/tool:1.0"), Some("1.0"), D1, OCI_MANIFEST, 345),
                (Some("localhost:5000/team/app:dev"), Some("dev"), D2, OCI_MANIFEST, 499),
                (
                    Some(
                        "docker.io/library/alpine@sha256:d72195534bcc2ebf9df34eec4f3c3adec4ae0b09d22bb40644397823c06fe290",
                    ),
                    None,
                    D1,
                    OCI_MANIFEST,
                    345,
                ),
            ],
            "multiarch" => vec![
                (Some("docker.io/library/multi:1"), Some("1"), MULTI, OCI_INDEX, 506),
                (Some("docker.io/library/nested:1"), Some("1"), NESTED, OCI_INDEX, 281),
            ],
            "docker" => vec![
                (None, Some("v2s2"), V2S2, DOCKER_MANIFEST, 423),
                (Some("docker.io/library/dockerlist:1"), Some("1"), DLIST, DOCKER_LIST, 317),
            ],
            "artifact" => vec![
                (Some("docker.io/library/app:1"), Some("1"), D1, OCI_MANIFEST, 345),
                (None, None, SBOM, OCI_MANIFEST, 729),
                (None, Some("mystery"), MYSTERY, "application/vnd.example.unknown", 40),
            ],
            other => panic!("no table for {other}"),
        }
    }

    /// `ls --json` (docs/cli.md): exactly the keys name, tag, digest, mediaType, size, annotations,
    /// artifactType, subject, in index.json order, with every convention's names read (docs/names.md). A
    /// field added to the shape must be added here deliberately.
    #[test]
    fn json_shape_over_every_fixture() {
        let want_keys = BTreeSet::from([
            "name",
            "tag",
            "digest",
            "mediaType",
            "size",
            "annotations",
            "artifactType",
            "subject",
        ]);
        for f in FIXTURES {
            let (tmp, dir) = fixture_copy(f);
            let before = full_tree(tmp.path());
            let v = json(&ol("ls", &dir, &["--json"]));
            let got = v
                .as_array()
                .unwrap_or_else(|| panic!("{f}: not an array: {v}"));
            let want = expected(f);
            assert_eq!(got.len(), want.len(), "{f}: {v:#}");
            let raw = entries(&dir);
            for ((g, w), raw) in got.iter().zip(&want).zip(&raw) {
                assert_eq!(keys(g), want_keys, "{f}: {g}");
                assert_eq!(g["name"].as_str(), w.0, "{f}: {g}");
                assert_eq!(g["tag"].as_str(), w.1, "{f}: {g}");
                assert_eq!(g["digest"], w.2, "{f}: {g}");
                assert_eq!(g["mediaType"], w.3, "{f}: {g}");
                assert_eq!(g["size"], w.4, "{f}: {g}");
                let annotations = raw
                    .get("annotations")
                    .cloned()
                    .unwrap_or(Value::Object(Default::default()));
                assert_eq!(g["annotations"], annotations, "{f}: {g}");
                // Only the artifact fixture's unnamed SBOM entry is an artifact and a referrer.
                let (artifact_type, subject) = if g["digest"] == SBOM {
                    (Some("application/vnd.example.sbom"), Some(D1))
                } else {
                    (None, None)
                };
                assert_eq!(g["artifactType"].as_str(), artifact_type, "{f}: {g}");
                assert_eq!(g["subject"].as_str(), subject, "{f}: {g}");
            }
            // Human output: one line per entry, the name (or tag) first.
            let text = ol("ls", &dir, &[]);
            let lines: Vec<&str> = text.ok().lines().collect();
            assert_eq!(lines.len(), want.len(), "{f}");
            for (line, w) in lines.iter().zip(&want) {
                let shown = w.0.or(w.1).unwrap_or("<none>");
                assert!(line.starts_with(shown) && line.contains(w.2), "{f}: {line}");
            }
            assert_untouched(&before, &full_tree(tmp.path()), f, false, "ls");
        }
    }
}

mod tag {
    use super::*;

    /// The entries whose canonical name (as `ls --json` reads it) is `name`.
    fn named(dir: &Path, name: &str) -> Vec<Value> {
        let v = json(&ol("ls", dir, &["--json"]));
        v.as_array()
            .unwrap()
            .iter()
            .filter(|e| e["name"] == name)
            .cloned()
            .collect()
    }

    #[test]
    fn writes_containerd_style_annotations() {
        let (_t, dir) = fixture_copy("umoci");
        ol("tag", &dir, &["v1", "docker.io/library/foo:1.2"]).ok();
        ol(
            "tag",
            &dir,
            &["v2", "localhost:5000/a/b:c", "bar", "ghcr.io/x/y:z"],
        )
        .ok();
        let all = entries(&dir);
        assert_eq!(all.len(), 3 + 4);
        let find = |name: &str| {
            all.iter()
                .find(|e| e["annotations"][CONTAINERD_NAME] == name)
                .unwrap_or_else(|| panic!("no entry named {name}: {all:#?}"))
                .clone()
        };
        for (name, tag, digest, size) in [
            ("docker.io/library/foo:1.2", "1.2", D1, 345),
            ("localhost:5000/a/b:c", "c", D2, 499),
            ("docker.io/library/bar:latest", "latest", D2, 499),
            ("ghcr.io/x/y:z", "z", D2, 499),
        ] {
            let e = find(name);
            assert_eq!(e["digest"], digest);
            assert_eq!(e["size"], size);
            assert_eq!(e["mediaType"], OCI_MANIFEST);
            assert_eq!(
                e["annotations"],
                serde_json::json!({ CONTAINERD_NAME: name, REF_NAME: tag }),
                "{name}"
            );
        }
        // The originals are untouched, in their places.
        assert_eq!(all[0]["annotations"][REF_NAME], "v1");
        assert_eq!(all[1]["annotations"][REF_NAME], "v2");
        assert_eq!(all[2]["annotations"][REF_NAME], "latest");
    }

    #[test]
    fn full_ref_name_writes_the_full_name() {
        let (_t, dir) = fixture_copy("umoci");
        ol("tag", &dir, &["v1", "--full-ref-name", "foo:1.2"]).ok();
        let e = named(&dir, "docker.io/library/foo:1.2");
        assert_eq!(e.len(), 1);
        assert_eq!(e[0]["annotations"][REF_NAME], "docker.io/library/foo:1.2");
        assert_eq!(
            e[0]["annotations"][CONTAINERD_NAME],
            "docker.io/library/foo:1.2"
        );
        assert_eq!(e[0]["tag"], "1.2");
        // Resolvable by the exact ref.name, the short name and the tag.
        for input in ["docker.io/library/foo:1.2", "foo:1.2", "1.2"] {
            assert_eq!(ol("resolve", &dir, &[input]).ok().trim(), D1, "{input}");
        }
    }

    /// A canonical name labels exactly one entry: tagging an existing name moves it, whatever
    /// convention the old entry used and however the name is spelled.
    #[test]
    fn a_name_moves() {
        // containerd-style entry, spelled short.
        let (_t, dir) = fixture_copy("containerd");
        let r = ol("tag", &dir, &["3.16", "ghcr.io/acme/tool:1.0"]);
        r.ok();
        assert!(r.stderr.contains("moved ghcr.io/acme/tool:1.0"), "{r:#?}");
        let e = named(&dir, "ghcr.io/acme/tool:1.0");
        assert_eq!(e.len(), 1, "{e:#?}");
        assert_eq!(e[0]["digest"], D1);
        assert_eq!(entries(&dir).len(), 5);

        // Default-domain spellings are one name.
        ol("tag", &dir, &["dev", "foo"]).ok();
        ol("tag", &dir, &["3.16", "library/foo:latest"]).ok();
        ol("tag", &dir, &["dev", "docker.io/library/foo"]).ok();
        ol("tag", &dir, &["dev", "index.docker.io/library/foo:latest"]).ok();
        let e = named(&dir, "docker.io/library/foo:latest");
        assert_eq!(e.len(), 1, "{e:#?}");
        assert_eq!(e[0]["digest"], D2);

        // Tagging the same name at the same digest again changes nothing.
        let before = fs::read(dir.join("index.json")).unwrap();
        ol("tag", &dir, &["dev", "foo"]).ok();
        assert_eq!(named(&dir, "docker.io/library/foo:latest").len(), 1);
        assert_eq!(
            entries(&dir).len(),
            serde_json::from_slice::<Value>(&before).unwrap()["manifests"]
                .as_array()
                .unwrap()
                .len()
        );

        // skopeo-style entry (the full name in ref.name) is replaced by a containerd-style one.
        let (_t, dir) = fixture_copy("skopeo");
        ol("tag", &dir, &["alpine-like", "alpine:3.16", "alpine:3.17"]).ok();
        for n in [
            "docker.io/library/alpine:3.16",
            "docker.io/library/alpine:3.17",
        ] {
            let e = named(&dir, n);
            assert_eq!(e.len(), 1, "{n}: {e:#?}");
            assert_eq!(e[0]["digest"], D1);
            assert_eq!(e[0]["annotations"][CONTAINERD_NAME], n);
        }
        assert_eq!(entries(&dir).len(), 4);
    }

    #[test]
    fn keeps_other_annotations() {
        let (_t, dir) = fixture_copy("umoci");
        let mut index = read_index(&dir);
        index["manifests"][1]["annotations"]["org.example.keep"] = "yes".into();
        fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
        ol("tag", &dir, &["v2", "app:2"]).ok();
        let e = named(&dir, "docker.io/library/app:2");
        assert_eq!(e[0]["annotations"]["org.example.keep"], "yes");
        assert_eq!(e[0]["annotations"][REF_NAME], "2");
    }

    #[test]
    fn by_digest_and_to_unnamed_manifests() {
        let (_t, dir) = fixture_copy("multiarch");
        // A manifest no entry names, by digest: its descriptor is made from the blob.
        ol("tag", &dir, &[ARM, "multi:arm64"]).ok();
        let e = named(&dir, "docker.io/library/multi:arm64");
        assert_eq!(e.len(), 1);
        assert_eq!(e[0]["digest"], ARM);
        assert_eq!(e[0]["mediaType"], OCI_MANIFEST);
        assert_eq!(e[0]["size"], 401);
        assert_eq!(ol("fsck", &dir, &[]).code, 0);
    }

    #[test]
    fn refusals_leave_index_json_alone() {
        let (tmp, dir) = fixture_copy("containerd");
        let cases: &[(&[&str], &str)] = &[
            (&["1.0", "x:1"], "ambiguous"),
            (&["nope", "x:1"], "not found"),
            (&["3.16", &*format!("foo@{D1}")], "cannot tag with a digest"),
            (&["3.16", "Foo:1"], "invalid reference"),
            (&["3.16", "foo:-bad"], "invalid reference"),
            (&["3.16", "ok:1", "Bad:1"], "invalid reference"), // all or nothing
        ];
        for (args, needle) in cases {
            let before = full_tree(tmp.path());
            ol("tag", &dir, args).fails(1, needle);
            assert_untouched(
                &before,
                &full_tree(tmp.path()),
                "containerd",
                true,
                "refused tag",
            );
        }
        // The source manifest's blob must be there with its size.
        fs::remove_file(blob_path(&dir, D2)).unwrap();
        let before = full_tree(tmp.path());
        ol("tag", &dir, &["dev", "x:1"]).fails(1, D2);
        assert_untouched(
            &before,
            &full_tree(tmp.path()),
            "containerd",
            true,
            "tag of a missing blob",
        );
    }
}

mod untag {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        entries(dir)
            .iter()
            .map(|e| {
                let a = &e["annotations"];
                a[CONTAINERD_NAME]
                    .as_str()
                    .or(a[REF_NAME].as_str())
                    .unwrap_or("-")
                    .to_string()
            })
            .collect()
    }

    #[test]
    fn removes_what_each_ref_resolves_to() {
        let (_t, dir) = fixture_copy("umoci");
        ol("untag", &dir, &["v1", "latest"]).ok();
        assert_eq!(names(&dir), ["v2"]);

        let (_t, dir) = fixture_copy("umoci");
        ol("untag", &dir, &[D1]).ok(); // a digest removes every entry with it
        assert_eq!(names(&dir), ["v2"]);

        let (_t, dir) = fixture_copy("containerd");
        ol("untag", &dir, &["alpine:3.16"]).ok(); // not the alpine@digest entry
        assert_eq!(
            names(&dir),
            [
                "ghcr.io/acme/tool:1.0",
                "quay.io/acme/tool:1.0",
                "localhost:5000/team/app:dev",
                &format!("docker.io/library/alpine@{D1}"),
            ]
        );
        ol("untag", &dir, &["ghcr.io/acme/tool:1.0", "dev"]).ok();
        assert_eq!(names(&dir).len(), 2);
        // The blobs stay until gc.
        assert!(blob_path(&dir, D2).exists());
    }

    #[test]
    fn all_or_nothing() {
        for (fixture, args, needle) in [
            ("umoci", &["v1", "nope"][..], "\"nope\" not found"),
            ("umoci", &["v2", D1, CONFIG1][..], "not found"),
            ("containerd", &["dev", "1.0"][..], "ambiguous"),
            ("umoci", &["v1", "sha256:../../x"][..], "invalid digest"),
        ] {
            let (tmp, dir) = fixture_copy(fixture);
            let before = full_tree(tmp.path());
            let r = ol("untag", &dir, args);
            r.fails(1, needle);
            assert_untouched(
                &before,
                &full_tree(tmp.path()),
                fixture,
                true,
                "refused untag",
            );
        }
    }
}

mod gc {
    use super::*;

    /// Runs `gc --dry-run`, then `gc`, and checks the dry run listed exactly what the real run removed,
    /// in both the human and the JSON form; returns the removed digests.
    fn dry_then_real(tmp: &Path, name: &str) -> BTreeSet<String> {
        let dir = tmp.join(name);
        let before = blobs(&dir);
        let tree = full_tree(tmp);
        // One digest per line, then the summary ("would remove ...").
        let listed: BTreeSet<String> = set(ol("gc", &dir, &["--dry-run"])
            .ok()
            .lines()
            .filter(|l| !l.starts_with("would remove")));
        let v = json(&ol("gc", &dir, &["--dry-run", "--json"]));
        assert_untouched(&tree, &full_tree(tmp), name, true, "gc --dry-run");
        assert_eq!(v["dry_run"], true);
        assert_eq!(v["removed"], listed.len());
        assert_eq!(v["kept"], before.len() - listed.len());

        let real = json(&ol("gc", &dir, &["--json"]));
        let after = blobs(&dir);
        let removed: BTreeSet<String> = before.difference(&after).cloned().collect();
        assert_eq!(listed, removed, "dry run vs real run in {name}");
        assert_eq!(real["dry_run"], false);
        assert_eq!(real["removed"], removed.len());
        assert_eq!(real["kept"], after.len());
        assert_eq!(real["freed_bytes"], v["freed_bytes"]);
        // What gc leaves is whole: fsck is clean.
        assert_eq!(ol("fsck", &dir, &[]).code, 0, "fsck after gc of {name}");
        removed
    }

    #[test]
    fn dry_run_lists_exactly_what_gc_removes() {
        let cases: &[(&str, &[&str], &[&str])] = &[
            ("umoci", &[], &[]),
            ("umoci", &["v2"], &[D2, CONFIG2, LAYER2]),
            ("umoci", &["v1", "latest"], &[D1, CONFIG1]),
            (
                "umoci",
                &["v1", "v2", "latest"],
                &[D1, D2, CONFIG1, CONFIG2, LAYER, LAYER2],
            ),
            ("multiarch", &["multi:1"], &[MULTI]),
            ("multiarch", &["nested:1"], &[NESTED, INNER]),
            (
                "multiarch",
                &["multi:1", "nested:1"],
                &[MULTI, NESTED, INNER, D1, ARM, CONFIG1, ARM_CONFIG, LAYER],
            ),
            // Docker schema2: the list reaches the manifest, which reaches config and layer.
            ("docker", &["v2s2"], &[]),
            ("docker", &["dockerlist:1"], &[DLIST]),
            (
                "docker",
                &["v2s2", "dockerlist:1"],
                &[DLIST, V2S2, CONFIG1, LAYER],
            ),
            // Artifacts: the unnamed SBOM entry is a root while its subject is named; its subject
            // is not followed upward. Once the subject is gone the SBOM goes with it.
            (
                "artifact",
                &["app:1"],
                &[D1, CONFIG1, LAYER, SBOM, EMPTY, SBOM_LAYER],
            ),
            ("artifact", &[SBOM], &[SBOM, EMPTY, SBOM_LAYER]),
            ("artifact", &["mystery"], &[MYSTERY]),
            ("containerd", &["3.16", "quay.io/acme/tool:1.0"], &[]),
            (
                "containerd",
                &["3.16", "quay.io/acme/tool:1.0", D1],
                &[D1, CONFIG1],
            ),
        ];
        for (fixture, untag, want) in cases {
            let (tmp, dir) = fixture_copy(fixture);
            if !untag.is_empty() {
                ol("untag", &dir, untag).ok();
            }
            let removed = dry_then_real(tmp.path(), fixture);
            assert_eq!(
                removed,
                set(want.iter().copied()),
                "{fixture} untag {untag:?}"
            );
        }
    }

    #[test]
    fn json_shape() {
        let (_t, dir) = fixture_copy("umoci");
        ol("untag", &dir, &["v2"]).ok();
        let freed: u64 = [D2, CONFIG2, LAYER2]
            .iter()
            .map(|d| fs::metadata(blob_path(&dir, d)).unwrap().len())
            .sum();
        for dry in [true, false] {
            let args: &[&str] = if dry {
                &["--dry-run", "--json"]
            } else {
                &["--json"]
            };
            let v = json(&ol("gc", &dir, args));
            let k = keys(&v);
            for key in ["removed", "freed_bytes", "kept", "dry_run"] {
                assert!(k.contains(key), "{key} missing: {v}");
            }
            assert_eq!(v["removed"], 3, "{v}");
            assert_eq!(v["freed_bytes"], freed, "{v}");
            assert_eq!(v["kept"], 3, "{v}");
            assert_eq!(v["dry_run"], dry, "{v}");
        }
        let v = json(&ol("gc", &dir, &["--json"]));
        assert_eq!(
            (v["removed"].as_u64(), v["kept"].as_u64()),
            (Some(0), Some(3))
        );
    }

    /// Unknown media types are kept and not descended by their type; but marking is conservative: a
    /// blob of an unknown type whose content has the shape of a manifest keeps what it refers to.
    #[test]
    fn unknown_media_types_kept_and_manifest_content_descended() {
        let (tmp, dir) = fixture_copy("artifact");
        let orphan = put_blob(&dir, b"only the unknown blob mentions me");
        let doc = serde_json::json!({
            "schemaVersion": 2,
            "config": {"mediaType": "application/octet-stream", "digest": orphan, "size": 33},
            "layers": []
        });
        let bytes = serde_json::to_vec(&doc).unwrap();
        let unknown = put_blob(&dir, &bytes);
        add_entry(
            &dir,
            serde_json::json!({
                "mediaType": "application/vnd.example.other+json",
                "digest": unknown, "size": bytes.len(),
                "annotations": {REF_NAME: "other"}
            }),
        );
        // A JSON document of an unknown type that mentions a digest outside any descriptor field is
        // not a manifest: what it mentions is not kept.
        let stray = put_blob(&dir, b"mentioned, never referred to");
        let note = serde_json::to_vec(&serde_json::json!({"see": stray})).unwrap();
        let note_digest = put_blob(&dir, &note);
        add_entry(
            &dir,
            serde_json::json!({
                "mediaType": "application/vnd.example.note+json",
                "digest": note_digest, "size": note.len(),
                "annotations": {REF_NAME: "note"}
            }),
        );
        let removed = dry_then_real(tmp.path(), "artifact");
        assert_eq!(removed, set([stray.as_str()]));
        for kept in [
            &*unknown,
            &*orphan,
            &*note_digest,
            MYSTERY,
            SBOM,
            EMPTY,
            SBOM_LAYER,
            D1,
            CONFIG1,
            LAYER,
        ] {
            assert!(blob_path(&dir, kept).exists(), "{kept} was removed");
        }
    }

    #[test]
    fn clears_temp_files_but_not_in_a_dry_run() {
        let (_t, dir) = fixture_copy("umoci");
        let tmp = dir.join(".ocilayout/tmp");
        fs::create_dir_all(tmp.join("partial-dir")).unwrap();
        fs::write(tmp.join("blob-99999-0"), b"half a blob").unwrap();
        fs::write(tmp.join("partial-dir/x"), b"x").unwrap();
        ol("gc", &dir, &["--dry-run"]).ok();
        assert_eq!(fs::read_dir(&tmp).unwrap().count(), 2);
        let v = json(&ol("gc", &dir, &["--json"]));
        assert_eq!(fs::read_dir(&tmp).unwrap().count(), 0, "{v}");
        assert_eq!(blobs(&dir).len(), 6);
    }

    /// Files in blobs/ whose names are not digests are not ours to judge: gc leaves them.
    #[test]
    fn leaves_foreign_files() {
        let (_t, dir) = fixture_copy("umoci");
        fs::write(dir.join("blobs/sha256/README"), b"x").unwrap();
        fs::write(dir.join("blobs/sha256/ABCDEF"), b"x").unwrap();
        ol("gc", &dir, &[]).ok();
        assert!(dir.join("blobs/sha256/README").exists());
        assert!(dir.join("blobs/sha256/ABCDEF").exists());
    }

    /// A reachable manifest that cannot be read means its children are unknown: gc refuses and
    /// removes nothing.
    #[test]
    fn refuses_to_sweep_past_damage() {
        let (tmp, dir) = fixture_copy("umoci");
        ol("untag", &dir, &["v2"]).ok();
        let mut bytes = fs::read(blob_path(&dir, D1)).unwrap();
        bytes[10] ^= 1;
        fs::write(blob_path(&dir, D1), &bytes).unwrap();
        let before = full_tree(tmp.path());
        ol("gc", &dir, &[]).fails(1, D1);
        assert_untouched(&before, &full_tree(tmp.path()), "umoci", true, "refused gc");
    }
}

mod fsck {
    use super::*;

    #[test]
    fn clean_fixtures_are_ok() {
        for f in FIXTURES {
            let (tmp, dir) = fixture_copy(f);
            let before = full_tree(tmp.path());
            let r = ol("fsck", &dir, &[]);
            assert_eq!(r.code, 0, "{f}: {r:#?}");
            // Only the summary, on stdout.
            assert_eq!(r.stdout.lines().count(), 1, "{f}: {r:#?}");
            assert!(r.stdout.ends_with(", 0 problems\n"), "{f}: {r:#?}");
            let v = json(&ol("fsck", &dir, &["--json"]));
            assert_eq!(
                keys(&v),
                BTreeSet::from(["ok", "checked", "problems"]),
                "{v}"
            );
            assert_eq!(v["ok"], true, "{f}: {v}");
            assert_eq!(v["problems"], serde_json::json!([]), "{f}");
            // Every blob of every fixture is reachable, and each is checked once.
            assert_eq!(v["checked"], blobs(&dir).len(), "{f}: {v}");
            assert_untouched(&before, &full_tree(tmp.path()), f, false, "fsck");
        }
    }

    enum Damage {
        Flip,
        Truncate,
        Delete,
        Append,
    }

    #[test]
    fn each_damage_reported_by_digest() {
        use Damage::*;
        let cases = [
            ("umoci", LAYER, Flip, "corrupt"),
            ("umoci", CONFIG1, Flip, "corrupt"),
            ("umoci", D2, Flip, "corrupt"),
            ("umoci", LAYER, Truncate, "size mismatch"),
            ("umoci", LAYER2, Append, "size mismatch"),
            ("umoci", CONFIG2, Delete, "missing"),
            ("multiarch", INNER, Delete, "missing"),
            ("multiarch", ARM_CONFIG, Flip, "corrupt"),
            ("docker", V2S2, Truncate, "size mismatch"),
            ("artifact", MYSTERY, Flip, "corrupt"),
            ("artifact", SBOM_LAYER, Delete, "missing"),
        ];
        for (fixture, digest, damage, word) in cases {
            let (tmp, dir) = fixture_copy(fixture);
            let path = blob_path(&dir, digest);
            let mut bytes = fs::read(&path).unwrap();
            match damage {
                Flip => {
                    let i = bytes.len() / 2;
                    bytes[i] ^= 0x20;
                    fs::write(&path, &bytes).unwrap();
                }
                Truncate => fs::write(&path, &bytes[..bytes.len() / 2]).unwrap(),
                Append => {
                    bytes.push(b'\n');
                    fs::write(&path, &bytes).unwrap();
                }
                Delete => fs::remove_file(&path).unwrap(),
            }
            let before = full_tree(tmp.path());
            let r = ol("fsck", &dir, &[]);
            assert_eq!(r.code, 1, "{fixture} {digest}: {r:#?}");
            assert!(!r.stderr.contains("panicked"), "{r:#?}");
            // The problem, then the summary.
            let lines: Vec<&str> = r.stdout.lines().collect();
            assert_eq!(lines.len(), 2, "{fixture} {digest} {word}: {r:#?}");
            assert!(lines[1].starts_with("checked "), "{r:#?}");
            assert!(lines[0].starts_with(&format!("{digest}: {word}")), "{r:#?}");

            let r = ol("fsck", &dir, &["--json"]);
            assert_eq!(r.code, 1);
            let v: Value = serde_json::from_str(&r.stdout).unwrap();
            assert_eq!(v["ok"], false);
            let problems = v["problems"].as_array().unwrap();
            assert_eq!(problems.len(), 1, "{v}");
            assert_eq!(keys(&problems[0]), BTreeSet::from(["digest", "problem"]));
            assert_eq!(problems[0]["digest"], digest);
            assert!(
                problems[0]["problem"].as_str().unwrap().starts_with(word),
                "{v}"
            );
            assert_untouched(&before, &full_tree(tmp.path()), fixture, false, "fsck");
        }
    }

    #[test]
    fn several_problems_each_reported() {
        let (_t, dir) = fixture_copy("umoci");
        fs::remove_file(blob_path(&dir, CONFIG2)).unwrap();
        fs::write(blob_path(&dir, CONFIG1), b"short").unwrap();
        let r = ol("fsck", &dir, &["--json"]);
        assert_eq!(r.code, 1);
        let v: Value = serde_json::from_str(&r.stdout).unwrap();
        let got: BTreeSet<&str> = v["problems"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["digest"].as_str().unwrap())
            .collect();
        assert_eq!(got, BTreeSet::from([CONFIG1, CONFIG2]));
    }

    /// A manifest whose own mediaType disagrees with the descriptor naming it.
    #[test]
    fn media_type_mismatch() {
        let (_t, dir) = fixture_copy("multiarch");
        let mut index = read_index(&dir);
        index["manifests"][0]["mediaType"] = DOCKER_LIST.into();
        fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
        let r = ol("fsck", &dir, &[]);
        assert_eq!(r.code, 1, "{r:#?}");
        assert!(
            r.stdout
                .starts_with(&format!("{MULTI}: media type mismatch")),
            "{r:#?}"
        );
    }
}

mod cli {
    use super::*;

    #[test]
    fn usage_errors_exit_2_in_two_lines() {
        let (_t, dir) = fixture_copy("umoci");
        let d = dir.to_str().unwrap();
        let cases: &[(&[&str], &str)] = &[
            (&[], "Usage"),
            (&["bogus"], "bogus"),
            (&["resolve"], "<DIR>"),
            (&["tag", d, "v1"], "<TARGETS>"),
            (&["untag", d], "<REFS>"),
            (&["ls", "--bogus", d], "--bogus"),
            (&["gc", d, "--dry-run", "extra"], "extra"),
            (
                &["resolve", d, "v1", "--platform", "linux"],
                "invalid platform",
            ),
            (&["resolve", d], "give a REF"),
            (
                &["resolve", "oci-layout://x", "v1"],
                "URL names its reference",
            ),
            (&["-q", "-v", "ls", d], "cannot be used with"),
            // A user name without a password source would send an empty password.
            (
                &["pull", "--username", "joe", "example.com/x:1", d],
                "--password-stdin",
            ),
        ];
        for (args, needle) in cases {
            let r = run(*args);
            if args.is_empty() {
                // Bare `ocilayout` prints its help, as a usage error.
                assert_eq!(r.code, 2, "{r:#?}");
                assert!(r.stderr.contains(needle));
                continue;
            }
            r.fails(2, needle);
        }
    }

    #[test]
    fn help_and_version_succeed() {
        let r = run(["--help"]);
        assert!(r.ok().contains("Usage"));
        let r = run(["--version"]);
        assert!(r.ok().starts_with("ocilayout "));
        let r = run(["gc", "--help"]);
        assert!(r.ok().contains("--dry-run"));
    }

    #[test]
    fn success_and_failure_statuses() {
        let (_t, dir) = fixture_copy("umoci");
        for args in [
            &["ls"][..],
            &["resolve", "v1"],
            &["fsck"],
            &["gc", "--dry-run"],
            &["tag", "v1", "a:1"],
            &["untag", "a:1"],
            &["gc"],
        ] {
            let r = ol(args[0], &dir, &args[1..]);
            assert_eq!(r.code, 0, "{args:?}: {r:#?}");
        }
        ol("resolve", &dir, &["nope"]).fails(1, "not found");
        let q = run(["-q".as_ref(), "gc".as_ref(), dir.as_os_str()]);
        assert_eq!((q.code, q.stderr.as_str()), (0, ""));
    }

    #[test]
    fn init_then_use() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("new");
        ol("init", &dir, &[]).ok();
        assert_eq!(
            fs::read_to_string(dir.join("oci-layout")).unwrap(),
            r#"{"imageLayoutVersion":"1.0.0"}"#
        );
        assert_eq!(read_index(&dir)["manifests"], serde_json::json!([]));
        ol("init", &dir, &[]).ok(); // idempotent
        assert_eq!(json(&ol("ls", &dir, &["--json"])), serde_json::json!([]));
        assert_eq!(json(&ol("fsck", &dir, &["--json"]))["ok"], true);
        ol("resolve", &dir, &["latest"]).fails(1, "not found");
        let other = tmp.path().join("other");
        fs::create_dir(&other).unwrap();
        fs::write(other.join("f"), "x").unwrap();
        ol("init", &other, &[]).fails(1, "not empty");
    }

    /// A closed stdout (`| head`) is success, not an error.
    #[test]
    fn broken_pipe_is_not_an_error() {
        use std::process::{Command, Stdio};
        let (_t, dir) = fixture_copy("umoci");
        for _ in 0..50 {
            ol("tag", &dir, &["v1", &format!("n{}:1", entries(&dir).len())]).ok();
        }
        let mut child = Command::new(support::bin())
            .args(["ls".as_ref(), dir.as_os_str(), "--json".as_ref()])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        assert!(
            out.stderr.is_empty(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Bad input (issue #2 item 5): refused with a clear one- or two-line error, no panic, and nothing
/// written outside the layout; read-only commands write nothing at all.
mod bad_input {
    use super::*;

    fn bad_digests() -> Vec<String> {
        let hex = &D1[7..];
        vec![
            "sha256:../../x".into(),
            "sha256:../../../x".into(),
            format!("sha256:{}", hex.to_uppercase()),
            format!("sha256:{}", &hex[1..]),
            format!("sha256:{hex}0"),
            "md5:d41d8cd98f00b204e9800998ecf8427e".into(),
            format!("sha384:{}", "a".repeat(96)),
            format!("sha512:{hex}"),
            "sha256:".into(),
        ]
    }

    /// (subcommand, args after DIR, read-only)
    fn commands(d: &str) -> Vec<(&'static str, Vec<String>, bool)> {
        vec![
            ("resolve", vec![d.into()], true),
            ("resolve", vec![d.into(), "--json".into()], true),
            ("tag", vec![d.into(), "new:1".into()], false),
            ("tag", vec!["v1".into(), format!("foo@{d}")], false),
            ("untag", vec![d.into()], false),
            ("untag", vec!["v2".into(), d.into()], false),
        ]
    }

    /// A layout in a parent directory with a sentinel file next to it.
    fn setup(fixture: &str) -> (tempfile::TempDir, PathBuf) {
        let (tmp, dir) = fixture_copy(fixture);
        fs::write(tmp.path().join("x"), b"sentinel").unwrap();
        (tmp, dir)
    }

    #[test]
    fn bad_digests_as_arguments() {
        let (tmp, dir) = setup("umoci");
        for d in bad_digests() {
            for (sub, args, read_only) in commands(&d) {
                let before = full_tree(tmp.path());
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                ol(sub, &dir, &args).fails(1, "invalid digest");
                let what = format!("{sub} {args:?}");
                assert_untouched(&before, &full_tree(tmp.path()), "umoci", !read_only, &what);
            }
            let before = full_tree(tmp.path());
            let url = format!("oci-layout://{}@{d}", dir.display());
            let r = run(["resolve", &url]);
            // `@` followed by something that is no digest at all is part of the path.
            if d.len() > "sha256:".len() + 20 {
                r.fails(1, "invalid digest");
            } else {
                assert_eq!(r.code, 1, "{r:#?}");
                r.fails(1, "");
            }
            assert_untouched(&before, &full_tree(tmp.path()), "umoci", false, &url);
        }
    }

    /// Every command on a layout whose index.json is damaged: refused, index.json untouched.
    #[test]
    fn bad_index_json() {
        let good = fs::read_to_string(support::fixtures().join("umoci/index.json")).unwrap();
        let mut texts: Vec<(String, &str)> = bad_digests()
            .into_iter()
            .map(|d| (good.replacen(D2, &d, 1), "index.json"))
            .collect();
        texts.extend([
            ("{".to_string(), "index.json"),
            (String::new(), "index.json"),
            ("[]".to_string(), "index.json"),
            ("not json".to_string(), "index.json"),
            (
                r#"{"schemaVersion":2,"manifests":[{"digest":1}]}"#.to_string(),
                "index.json",
            ),
            (good[..good.len() / 2].to_string(), "index.json"), // truncated
            (good[..good.len() - 3].to_string(), "index.json"),
            (
                good.replacen("\"size\":345", "\"size\":-1", 1),
                "index.json",
            ),
        ]);
        let cmds: &[(&str, &[&str], bool)] = &[
            ("ls", &[], true),
            ("ls", &["--json"], true),
            ("resolve", &["v1"], true),
            ("fsck", &[], true),
            ("fsck", &["--json"], true),
            ("tag", &["v1", "x:1"], false),
            ("untag", &["v1"], false),
            ("gc", &[], false),
            ("gc", &["--dry-run"], false),
        ];
        for (text, needle) in &texts {
            let (tmp, dir) = setup("umoci");
            fs::write(dir.join("index.json"), text).unwrap();
            for (sub, args, read_only) in cmds {
                let before = full_tree(tmp.path());
                let r = ol(sub, &dir, args);
                r.fails(1, needle);
                let what = format!("{sub} {args:?} on index.json {text:?}");
                assert_untouched(&before, &full_tree(tmp.path()), "umoci", !read_only, &what);
            }
            // gc removed nothing.
            assert_eq!(blobs(&dir).len(), 6, "{text}");
        }
        // Missing index.json.
        let (tmp, dir) = setup("umoci");
        fs::remove_file(dir.join("index.json")).unwrap();
        for (sub, args, read_only) in cmds {
            let before = full_tree(tmp.path());
            ol(sub, &dir, args).fails(1, "index.json");
            assert_untouched(&before, &full_tree(tmp.path()), "umoci", !read_only, sub);
        }
    }

    #[test]
    fn not_a_layout() {
        let cases: &[(&str, Option<&[u8]>, &str)] = &[
            ("no oci-layout file", None, "no oci-layout file"),
            (
                "bad version",
                Some(br#"{"imageLayoutVersion":"2.0.0"}"#),
                "imageLayoutVersion",
            ),
            ("not json", Some(b"{"), "oci-layout"),
        ];
        let cmds: &[(&str, &[&str])] = &[
            ("ls", &[]),
            ("resolve", &["v1"]),
            ("tag", &["v1", "x:1"]),
            ("untag", &["v1"]),
            ("gc", &[]),
            ("gc", &["--dry-run"]),
            ("fsck", &[]),
        ];
        for (what, content, needle) in cases {
            let (tmp, dir) = setup("umoci");
            match content {
                None => fs::remove_file(dir.join("oci-layout")).unwrap(),
                Some(c) => fs::write(dir.join("oci-layout"), c).unwrap(),
            }
            for (sub, args) in cmds {
                let before = full_tree(tmp.path());
                ol(sub, &dir, args).fails(1, needle);
                // Not a layout: nothing of ours is written into it either.
                assert_untouched(&before, &full_tree(tmp.path()), "umoci", false, what);
            }
            let url = format!("oci-layout://{}:v1", dir.display());
            run(["resolve", &url]).fails(1, "not an OCI image layout");
        }
        let tmp = tempfile::tempdir().unwrap();
        let missing = tmp.path().join("missing");
        ol("ls", &missing, &[]).fails(1, "no such directory");
        assert!(!missing.exists());
        let file = tmp.path().join("file");
        fs::write(&file, "x").unwrap();
        ol("gc", &file, &[]).fails(1, "not a directory");
    }

    /// A manifest whose children carry bad digests: fsck reports it, gc refuses, resolve through it
    /// fails cleanly, and nothing outside the layout is touched.
    #[test]
    fn bad_digests_inside_a_manifest() {
        for bad in bad_digests() {
            let (tmp, dir) = setup("multiarch");
            let manifest = serde_json::json!({
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": bad, "size": 8},
                "layers": [],
            });
            let bytes = serde_json::to_vec(&manifest).unwrap();
            let m = put_blob(&dir, &bytes);
            let index = serde_json::json!({
                "schemaVersion": 2,
                "mediaType": OCI_INDEX,
                "manifests": [{"mediaType": OCI_MANIFEST, "digest": bad, "size": 8,
                               "platform": {"os": "linux", "architecture": "riscv64"}}],
            });
            let ibytes = serde_json::to_vec(&index).unwrap();
            let i = put_blob(&dir, &ibytes);
            add_entry(
                &dir,
                serde_json::json!({"mediaType": OCI_MANIFEST, "digest": m, "size": bytes.len(), "annotations": {REF_NAME: "evil"}}),
            );
            add_entry(
                &dir,
                serde_json::json!({"mediaType": OCI_INDEX, "digest": i, "size": ibytes.len(), "annotations": {REF_NAME: "evil-index"}}),
            );
            ol("untag", &dir, &["multi:1"]).ok();

            let before = full_tree(tmp.path());
            let r = ol("fsck", &dir, &[]);
            assert_eq!(r.code, 1, "{bad}: {r:#?}");
            assert!(
                r.stdout.contains(&format!("{m}: unreadable")),
                "{bad}: {r:#?}"
            );
            assert!(
                r.stdout.contains(&format!("{i}: unreadable")),
                "{bad}: {r:#?}"
            );
            assert_untouched(&before, &full_tree(tmp.path()), "multiarch", false, "fsck");

            ol(
                "resolve",
                &dir,
                &["evil-index", "--platform", "linux/riscv64"],
            )
            .fails(1, "");
            ol("gc", &dir, &[]).fails(1, "refusing to gc");
            ol("gc", &dir, &["--dry-run"]).fails(1, "refusing to gc");
            assert_untouched(&before, &full_tree(tmp.path()), "multiarch", true, "gc");
            assert_eq!(fs::read(tmp.path().join("x")).unwrap(), b"sentinel");
        }
    }
}

/// `snapshot` from the shared support (which skips `.ocilayout`) agrees with a real write: a tag
/// changes exactly index.json.
#[test]
fn tag_changes_only_index_json() {
    let (_t, dir) = fixture_copy("umoci");
    let before = snapshot(&dir);
    ol("tag", &dir, &["v1", "x:1"]).ok();
    let after = snapshot(&dir);
    let changed: Vec<_> = before
        .iter()
        .zip(&after)
        .filter(|(b, a)| b != a)
        .map(|(b, _)| b.0.clone())
        .collect();
    assert_eq!(before.len(), after.len());
    assert_eq!(changed, [PathBuf::from("index.json")]);
    assert!(
        fs::read_dir(dir.join(".ocilayout/tmp"))
            .map(|d| d.count())
            .unwrap_or(0)
            == 0,
        "a finished write leaves no temp file"
    );
}
