//! Trust in a private registry's first hour: a self-signed certificate made the common way (its own
//! CA) is trusted when given with `--cacert`, and only for the server it names; the hint for a
//! refused certificate fits the case; credentials saved by `skopeo login` are found where skopeo
//! saves them, `/run/containers/$UID/auth.json` included.

use crate::support;
use crate::support::registry as registry_support;
use crate::support::tls;

use std::path::Path;
use std::process::{Command, Stdio};

use registry_support::{make_image, Registry, Setup};
use support::{have, run, Run};

const USER: &str = "joe";
const PASSWORD: &str = "s3cret-login-pw";

/// A layout with one image named `docker.io/library/app:1`; (guard, path).
fn source() -> (tempfile::TempDir, String) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("src");
    let layout = ocilayout::Layout::init(&dir).unwrap();
    make_image(&layout, "docker.io/library/app:1", 5, &[5000, 300]);
    (tmp, dir.display().to_string())
}

/// A registry serving `cert`/`key`, with htpasswd Basic auth for joe when `auth`.
fn registry(dir: &Path, cert: &Path, key: &Path, auth: bool) -> Registry {
    let auth = auth.then(|| {
        let out = Command::new("htpasswd")
            .args(["-Bbn", USER, PASSWORD])
            .output()
            .unwrap();
        assert!(out.status.success());
        let htpasswd = dir.join("htpasswd");
        std::fs::write(&htpasswd, &out.stdout).unwrap();
        format!(
            "auth:\n  htpasswd:\n    realm: trust-test\n    path: {}\n",
            htpasswd.display()
        )
    });
    Registry::start_with(&Setup {
        tls: Some((cert.to_path_buf(), key.to_path_buf())),
        auth,
    })
    .expect("docker-registry")
}

/// `openssl req -x509 -newkey ...` makes a certificate that is its own CA. Given with `--cacert` it
/// is trusted for the server that presents it (push and pull work, digests kept); without it, or
/// with another such certificate, the refusal says what to do; a given certificate that does not
/// name the host is not trusted for it.
#[test]
fn a_self_signed_certificate_given_with_cacert_is_trusted_for_its_server() {
    if !(have("docker-registry") && have("openssl")) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let (cert, key) = tls::self_signed(d, "server", "IP:127.0.0.1");
    let (other, _) = tls::self_signed(d, "other", "IP:127.0.0.1,DNS:localhost");
    let reg = registry(d, &cert, &key, false);
    let (_src, src) = source();
    let dest = reg.at("app:1");
    let cert = cert.to_str().unwrap();

    run(["push", "--cacert", cert, &src, "app:1", &dest]).ok();
    let want = run(["resolve", &src, "app:1"]).ok().trim().to_string();
    let back = d.join("back");
    let b = back.to_str().unwrap();
    run(["pull", "--cacert", cert, &dest, b]).ok();
    assert_eq!(run(["resolve", b, &dest]).ok().trim(), want);

    // Given in a bundle beside an unrelated certificate, it is still found.
    let bundle = d.join("bundle.pem");
    let mut pem = std::fs::read(&other).unwrap();
    pem.extend(std::fs::read(cert).unwrap());
    std::fs::write(&bundle, pem).unwrap();
    let out = d.join("bundled");
    run([
        "pull",
        "--cacert",
        bundle.to_str().unwrap(),
        &dest,
        out.to_str().unwrap(),
    ])
    .ok();

    // (extra arguments, the image, what the one-line error must say); the certificate names
    // 127.0.0.1 only, so it is not trusted for localhost.
    let other = other.to_str().unwrap();
    let by_name = dest.replace("127.0.0.1", "localhost");
    let refused: [(&[&str], &str, &[&str]); 3] = [
        (
            &[],
            &dest,
            &["CaUsedAsEndEntity", "self-signed", "--cacert"],
        ),
        (&["--cacert", other], &dest, &["self-signed", "--cacert"]),
        (
            &["--cacert", cert],
            &by_name,
            &["not valid for name \"localhost\"", "host name"],
        ),
    ];
    for (i, (extra, image, needles)) in refused.into_iter().enumerate() {
        let out = d.join(format!("refused{i}"));
        let mut args = vec!["pull"];
        args.extend_from_slice(extra);
        args.extend([image, out.to_str().unwrap()]);
        let r = run(&args);
        for needle in needles {
            r.fails(1, needle);
        }
        assert!(!r.stderr.contains("pass its CA"), "{r:#?}");
    }
}

/// Runs `program` with a clean environment: PATH, HOME and what `vars` add.
fn run_env(program: &Path, args: &[&str], home: &Path, vars: &[(&str, &Path)], stdin: &str) -> Run {
    use std::io::Write;
    let mut cmd = Command::new(program);
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap().into()
}

/// This process's user id (the owner of `/proc/self`).
fn uid() -> u32 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").unwrap().uid()
}

/// Logs out of `registry` with skopeo when dropped, so no login outlives the test.
struct Logout<'a> {
    registry: &'a str,
    home: &'a Path,
    vars: &'a [(&'a str, &'a Path)],
}

impl Drop for Logout<'_> {
    fn drop(&mut self) {
        let skopeo = Path::new("skopeo");
        run_env(skopeo, &["logout", self.registry], self.home, self.vars, "");
    }
}

/// `skopeo login` saves the credentials where containers-auth.json(5) says: in
/// `$XDG_RUNTIME_DIR/containers/auth.json`, or, without `XDG_RUNTIME_DIR`, in
/// `/run/containers/$UID/auth.json`. A pull through the htpasswd TLS registry then finds them
/// there, with nothing else configured.
#[test]
fn credentials_saved_by_skopeo_login_are_found() {
    if !(have("docker-registry") && have("openssl") && have("htpasswd") && have("skopeo")) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let (cert, key) = tls::self_signed(d, "server", "IP:127.0.0.1,DNS:localhost");
    let reg = registry(d, &cert, &key, true);
    let (_src, src) = source();
    let dest = reg.at("app:1");
    let cert = cert.to_str().unwrap();
    let pw = format!("{PASSWORD}\n");
    let push = [
        "push",
        "--cacert",
        cert,
        "--username",
        USER,
        "--password-stdin",
    ];
    let mut args = push.to_vec();
    args.extend([src.as_str(), "app:1", dest.as_str()]);
    support::run_with_stdin(&args, pw.as_bytes()).ok();

    let runtime = d.join("runtime");
    std::fs::create_dir(&runtime).unwrap();
    /// (what, environment variables, where skopeo saves)
    type Case<'a> = (&'a str, Vec<(&'a str, &'a Path)>, std::path::PathBuf);
    let mut cases: Vec<Case> = vec![(
        "XDG_RUNTIME_DIR",
        vec![("XDG_RUNTIME_DIR", runtime.as_path())],
        runtime.join("containers/auth.json"),
    )];
    if uid() == 0 {
        // As root without XDG_RUNTIME_DIR, skopeo writes under /run.
        cases.push((
            "/run/containers/0",
            vec![],
            "/run/containers/0/auth.json".into(),
        ));
    } else {
        eprintln!("note: not root: /run/containers/$UID/auth.json is not exercised");
    }
    for (what, vars, file) in cases {
        let home = tempfile::tempdir().unwrap();
        let skopeo = Path::new("skopeo");
        let login = [
            "login",
            "--tls-verify=false",
            "--username",
            USER,
            "--password-stdin",
        ];
        let mut args = login.to_vec();
        args.push(&reg.addr);
        let _logout = Logout {
            registry: &reg.addr,
            home: home.path(),
            vars: &vars,
        };
        let r = run_env(skopeo, &args, home.path(), &vars, &pw);
        assert_eq!(r.code, 0, "{what}: skopeo login: {r:#?}");
        let saved = std::fs::read_to_string(&file).unwrap_or_default();
        assert!(
            saved.contains(&reg.addr),
            "{what}: skopeo saved elsewhere than {file:?}"
        );

        let out = home.path().join("out");
        let args = ["pull", "--cacert", cert, &dest, out.to_str().unwrap()];
        let bin = support::bin();
        let r = run_env(&bin, &args, home.path(), &vars, "");
        assert_eq!(r.code, 0, "{what}: {r:#?}");
        assert!(!r.stderr.contains(PASSWORD) && !r.stdout.contains(PASSWORD));
        drop(_logout);
        let r = run_env(&bin, &args, home.path(), &vars, "");
        assert_eq!(r.code, 1, "{what}: pulled after logout: {r:#?}");
    }
}
