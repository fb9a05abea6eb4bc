//! `login` and `logout` against the real `docker-registry` with TLS and htpasswd: credentials are
//! checked before anything is saved; they land where skopeo and podman look (the primary auth file
//! of containers-auth.json(5)), mode 0600, other entries and unknown fields kept; skopeo reads what
//! we write, we read what `skopeo login` writes; logout removes only its entry.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};

use super::registry_support::skopeo;
use super::tokenserver::{PASSWORD, USER};
use super::{basic_tls_registry, no_secrets, secrets, source_layout, tools, Env};
use crate::support::{have, tls::Pki};

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&fs::read(path).unwrap()).unwrap()
}

/// `skopeo login --password-stdin`, TLS verification off for the test's CA.
fn skopeo_login(authfile: &Path, host: &str, password: &str) {
    use std::io::Write;
    let mut child = Command::new("skopeo")
        .args(["login", "--tls-verify=false", "--authfile"])
        .arg(authfile)
        .args(["--username", USER, "--password-stdin", host])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(password.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn login_saves_where_skopeo_reads_and_reads_what_skopeo_saves() {
    if !tools() || !have("skopeo") {
        return;
    }
    let pki = Pki::new();
    let reg = basic_tls_registry(&pki);
    let env = Env::new();
    let ca = pki.ca.to_str().unwrap();
    let runtime = env.home().join("run");
    let vars = [("XDG_RUNTIME_DIR", runtime.as_path())];
    let authfile = runtime.join("containers/auth.json");
    let before = serde_json::json!({
        "auths": {"other.example:5000": {"auth": "b3RoZXI6c2VjcmV0", "email": "kept"}},
        "credHelpers": {"gcr.io": "gcloud"},
        "unknownField": {"kept": true}
    });
    fs::create_dir_all(authfile.parent().unwrap()).unwrap();
    fs::write(&authfile, serde_json::to_vec(&before).unwrap()).unwrap();

    // A wrong password is refused by the registry: nothing is saved.
    let wrong = env.run(
        &[
            "login",
            "--cacert",
            ca,
            "--username",
            USER,
            "--password-stdin",
            &reg.addr,
        ],
        &vars,
        b"wrong-pw\n",
    );
    wrong.fails(1, &format!("login to {}: nothing saved", reg.addr));
    assert!(wrong.stderr.contains("authentication"), "{wrong:#?}");
    no_secrets(&wrong, &secrets());
    assert_eq!(json(&authfile), before);

    // The right one is saved in the primary file, which is private; the rest is kept.
    let ok = env.run(
        &[
            "login",
            "--cacert",
            ca,
            "--username",
            USER,
            "--password-stdin",
            &reg.addr,
        ],
        &vars,
        format!("{PASSWORD}\n").as_bytes(),
    );
    assert_eq!(
        ok.ok(),
        format!(
            "saved credentials for {} in {}\n",
            reg.addr,
            authfile.display()
        )
    );
    no_secrets(&ok, &secrets());
    let after = json(&authfile);
    assert_eq!(
        after["auths"]["other.example:5000"],
        before["auths"]["other.example:5000"]
    );
    assert_eq!(after["credHelpers"], before["credHelpers"]);
    assert_eq!(after["unknownField"], before["unknownField"]);
    assert!(after["auths"][&reg.addr]["auth"].is_string(), "{after}");
    let mode = fs::metadata(&authfile).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);

    // We use it without flags, and skopeo reads it.
    let (_src_guard, src) = source_layout(7);
    let dest = reg.at("team/app:1");
    env.run(
        &[
            "push",
            "--cacert",
            ca,
            src.to_str().unwrap(),
            "docker.io/library/app:1",
            &dest,
        ],
        &vars,
        b"",
    )
    .ok();
    let inspected = skopeo(&[
        "inspect",
        "--tls-verify=false",
        "--raw",
        "--authfile",
        authfile.to_str().unwrap(),
        &format!("docker://{dest}"),
    ]);
    assert!(!inspected.is_empty());

    // What `skopeo login` writes, we read.
    let theirs = env.home().join("skopeo-auth.json");
    skopeo_login(&theirs, &reg.addr, PASSWORD);
    let pulled = env.home().join("pulled");
    env.run(
        &[
            "pull",
            "--cacert",
            ca,
            "--auth-file",
            theirs.to_str().unwrap(),
            &dest,
            pulled.to_str().unwrap(),
        ],
        &[],
        b"",
    )
    .ok();

    // logout removes that entry only; a second logout has nothing to remove.
    let out = env.run(&["logout", &reg.addr], &vars, b"");
    assert!(out.ok().starts_with("removed credentials for "), "{out:#?}");
    let after = json(&authfile);
    assert!(after["auths"].get(&reg.addr).is_none(), "{after}");
    assert_eq!(
        after["auths"]["other.example:5000"],
        before["auths"]["other.example:5000"]
    );
    assert_eq!(after["unknownField"], before["unknownField"]);
    env.run(&["logout", &reg.addr], &vars, b"")
        .fails(1, &format!("not logged in to {}", reg.addr));
    let none = env.run(
        &["pull", "--cacert", ca, &dest, pulled.to_str().unwrap()],
        &vars,
        b"",
    );
    none.fails(1, "no credentials found");

    // logout --all of skopeo's file empties its auths.
    let all = env.run(
        &["logout", "--all", "--auth-file", theirs.to_str().unwrap()],
        &[],
        b"",
    );
    assert_eq!(
        all.ok(),
        format!("removed 1 saved login from {}\n", theirs.display())
    );
    assert_eq!(json(&theirs)["auths"], serde_json::json!({}));
    let again = env.run(
        &[
            "logout",
            "--all",
            "--json",
            "--auth-file",
            theirs.to_str().unwrap(),
        ],
        &[],
        b"",
    );
    let shown: serde_json::Value = serde_json::from_str(again.ok()).unwrap();
    assert_eq!(
        shown,
        serde_json::json!({"removed": 0, "auth_file": theirs.to_str().unwrap()})
    );
}

/// The password never comes from an argument, and without a terminal login asks for
/// `--password-stdin` rather than hang.
#[test]
fn login_never_takes_a_password_argument_nor_hangs_without_a_terminal() {
    let env = Env::new();
    let file = env.home().join("auth.json");
    let file = file.to_str().unwrap();
    env.run(
        &["login", "--password", "x", "h:5000", "--auth-file", file],
        &[],
        b"",
    )
    .fails(2, "--password");
    env.run(&["logout", "--auth-file", file], &[], b"")
        .fails(2, "HOST");
    // No controlling terminal (setsid): a usage error that says what to do.
    if !have("setsid") {
        return;
    }
    let out: crate::support::Run = Command::new("setsid")
        .arg(crate::support::bin())
        .args([
            "login",
            "--username",
            "joe",
            "--auth-file",
            file,
            "127.0.0.1:9",
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap()
        .into();
    out.fails(2, "--password-stdin");
    assert!(!Path::new(file).exists());
}
