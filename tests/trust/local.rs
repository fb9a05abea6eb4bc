//! No network for a local mistake. An argument that names something on disk, typed where a registry
//! reference goes, is refused saying what is there (a folder that is not a layout, a layout, a
//! file); pull's image and directory swapped are caught. Both before any request: every proxy
//! variable points at a recorder that must see nothing, and no folder is created. `docker://` says
//! "registry" explicitly, and then the recorder sees the request.

use super::*;

/// Every path under `dir`, relative, sorted.
fn listing(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            out.push(p.strip_prefix(dir).unwrap().to_path_buf());
            if p.is_dir() && !p.is_symlink() {
                stack.push(p);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn local_mistakes_send_no_request_and_create_nothing() {
    let recorder = Snoop::start(|_| Reply::new(403));
    let proxy = format!("http://{}", recorder.addr);
    let vars = [
        ("HTTPS_PROXY", proxy.as_str()),
        ("HTTP_PROXY", proxy.as_str()),
        ("ALL_PROXY", proxy.as_str()),
    ];
    let env = Env::new();
    let cwd = tempfile::tempdir().unwrap();
    let here = cwd.path();
    std::fs::create_dir(here.join("site")).unwrap();
    std::fs::write(here.join("site/index.html"), "<p>hello</p>").unwrap();
    std::fs::write(here.join("notes.txt"), "notes").unwrap();
    let lay = Layout::init(here.join("lay")).unwrap();
    make_image(&lay, "docker.io/library/app:1", 41, &[100]);
    let before = listing(here);
    let not_a_layout = "site is a folder but not an OCI layout (no oci-layout file)";
    let swapped = "is where the layout directory goes, and it reads as an image reference";
    let cases: [(&[&str], &str); 13] = [
        (&["inspect", "site"], not_a_layout),
        (
            &["inspect", "--platform", "linux/amd64", "site"],
            not_a_layout,
        ),
        (
            &["inspect", "lay"],
            "lay is a local OCI layout, not an image",
        ),
        (&["inspect", "notes.txt"], "notes.txt is a local file"),
        (&["tags", "site"], not_a_layout),
        (&["copy", "site", "oci-layout://out"], not_a_layout),
        (&["copy", "oci-layout://lay:1", "site"], not_a_layout),
        (&["pull", "site", "out"], not_a_layout),
        (&["pull", "alpine:3", "site", "out"], not_a_layout),
        (&["push", "lay", "app:1", "site"], not_a_layout),
        (&["sync", "lay", "site"], not_a_layout),
        (&["pull", "m", "127.0.0.1:5000/acme/tool:2.3"], swapped),
        (&["pull", "alpine", "quay.io/org/app:1"], swapped),
    ];
    for (args, says) in cases {
        let mut all = args.to_vec();
        all.extend(["--timeout", "5"]);
        let run = env.run_in(Some(here), &all, &vars, b"");
        let err = run.fails(2, says);
        assert!(
            err.contains("docker://") || err.contains("did you mean ocilayout pull"),
            "says how to mean the registry: {run:#?}"
        );
        assert!(recorder.log().is_empty(), "{args:?}: {:?}", recorder.log());
        assert_eq!(listing(here), before, "{args:?} created something");
    }
    let err = env
        .run_in(
            Some(here),
            &["pull", "m", "127.0.0.1:5000/acme/tool:2.3"],
            &vars,
            b"",
        )
        .stderr;
    assert!(
        err.contains("did you mean ocilayout pull 127.0.0.1:5000/acme/tool:2.3 m?"),
        "{err}"
    );
    // docker:// means the registry: the recorder sees it asked for (and refuses it).
    let run = env.run_in(
        Some(here),
        &["inspect", "--timeout", "5", "docker://site"],
        &vars,
        b"",
    );
    assert_eq!(run.code, 1, "{run:#?}");
    assert!(
        recorder
            .log()
            .iter()
            .any(|s| s.path.contains("registry-1.docker.io")),
        "{:?}",
        recorder.log()
    );
    assert_eq!(listing(here), before);
}
