//! Registry transport trust (issue 11): credentials only to their origin on every request path,
//! credential helpers that fail or hang, no panic and no hang from what a server or the
//! environment says (token lifetimes, SOCKS proxies, dripping bodies, huge headers), failing fast
//! where retrying cannot help, http/https confusion explained, and the `-v` request log. Against the
//! real `docker-registry` and the misbehaving servers of `support/snoop.rs`.

mod credentials;
mod failures;
mod local;
mod origin;
mod pages;
use crate::support;
use crate::support::registry as registry_support;
use crate::support::snoop;
use crate::support::tokenserver;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use ocilayout::Layout;
use registry_support::{make_image, Registry, Setup};
use snoop::{Reply, Snoop, Socks5};
use support::{have, Run};
use tokenserver::{PASSWORD, USER};

/// A clean environment for the binary: its own HOME with a `bin` directory first on PATH (for
/// credential helpers); nothing else inherited but PATH.
struct Env {
    home: tempfile::TempDir,
}

impl Env {
    fn new() -> Env {
        let home = tempfile::tempdir().unwrap();
        std::fs::create_dir(home.path().join("bin")).unwrap();
        Env { home }
    }

    fn home(&self) -> &Path {
        self.home.path()
    }

    /// An executable script `bin/NAME`.
    fn script(&self, name: &str, body: &str) {
        use std::os::unix::fs::PermissionsExt;
        let p = self.home().join("bin").join(name);
        std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    /// Runs the binary with `vars` set and `stdin` fed in.
    fn run(&self, args: &[&str], vars: &[(&str, &str)], stdin: &[u8]) -> Run {
        self.run_in(None, args, vars, stdin)
    }

    /// [`Env::run`] in the working directory `cwd` when given (else the test's own).
    fn run_in(
        &self,
        cwd: Option<&Path>,
        args: &[&str],
        vars: &[(&str, &str)],
        stdin: &[u8],
    ) -> Run {
        use std::io::Write;
        let path = format!(
            "{}:{}",
            self.home().join("bin").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut cmd = Command::new(support::bin());
        if let Some(cwd) = cwd {
            cmd.current_dir(cwd);
        }
        cmd.args(args)
            .env_clear()
            .env("PATH", path)
            .env("HOME", self.home())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in vars {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn ocilayout");
        let mut input = child.stdin.take().unwrap();
        let _ = input.write_all(stdin);
        drop(input);
        child.wait_with_output().unwrap().into()
    }

    /// `run` as `USER` with `PASSWORD` on stdin.
    fn run_logged_in(&self, args: &[&str]) -> Run {
        let mut all = args.to_vec();
        all.extend(["--username", USER, "--password-stdin"]);
        self.run(&all, &[], format!("{PASSWORD}\n").as_bytes())
    }
}

/// A layout holding one image named `docker.io/library/app:1`; (guard, path).
fn source_layout(seed: u64) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("src");
    let layout = Layout::init(&dir).unwrap();
    make_image(&layout, "docker.io/library/app:1", seed, &[3000, 70_000]);
    (tmp, dir)
}

/// The password in every form it could leak in.
fn secrets() -> Vec<String> {
    vec![
        PASSWORD.to_string(),
        base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}")),
    ]
}

#[track_caller]
fn no_secrets(run: &Run) {
    for s in secrets() {
        assert!(
            !run.stdout.contains(&s) && !run.stderr.contains(&s),
            "secret {s:?} shown: {run:#?}"
        );
    }
}

/// `htpasswd` Basic auth for `USER` in `dir`: the registry's `auth:` section.
fn htpasswd_auth(dir: &Path) -> String {
    let out = Command::new("htpasswd")
        .args(["-Bbn", USER, PASSWORD])
        .output()
        .unwrap();
    assert!(out.status.success());
    let file = dir.join("htpasswd");
    std::fs::write(&file, &out.stdout).unwrap();
    format!(
        "auth:\n  htpasswd:\n    realm: ocilayout-test\n    path: {}\n",
        file.display()
    )
}

/// `-v` prints one line per request (method, URL, status, bytes, time); `-vv` adds the headers,
/// with `Authorization` redacted, and no form of the password appears anywhere.
#[test]
fn verbose_logs_each_request_and_no_secret() {
    if !have("docker-registry") || !have("htpasswd") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let reg = Registry::start_with(&Setup {
        tls: None,
        auth: Some(htpasswd_auth(dir.path())),
    })
    .expect("docker-registry");
    let env = Env::new();
    let (_g, src) = source_layout(11);
    let src = src.to_str().unwrap();
    let dest = reg.at("app:1");
    let pushed = env.run_logged_in(&[
        "-v",
        "push",
        "--plain-http",
        src,
        "docker.io/library/app:1",
        &dest,
    ]);
    pushed.ok();
    let out = dir.path().join("out");
    let out = out.to_str().unwrap();
    let pulled = env.run_logged_in(&["-vv", "pull", "--plain-http", &dest, out]);
    pulled.ok();
    for run in [&pushed, &pulled] {
        no_secrets(run);
    }
    let manifest_url = format!("http://{}/v2/app/manifests/1", reg.addr);
    // -v: a 401, then the same request answered.
    let line = |run: &Run, method: &str, url: &str, status: u16| {
        run.stderr
            .lines()
            .filter(|l| l.starts_with(&format!("ocilayout: {method} {url} -> {status}")))
            .filter(|l| l.ends_with(" ms"))
            .count()
    };
    assert_eq!(line(&pushed, "PUT", &manifest_url, 201), 1, "{pushed:#?}");
    assert!(
        line(
            &pushed,
            "POST",
            &format!("http://{}/v2/app/blobs/uploads/", reg.addr),
            202
        ) >= 2,
        "{pushed:#?}"
    );
    assert!(
        line(&pulled, "HEAD", &manifest_url, 401) >= 1,
        "{pulled:#?}"
    );
    assert!(
        line(&pulled, "HEAD", &manifest_url, 200) >= 1,
        "{pulled:#?}"
    );
    assert!(
        !pushed.stderr.contains("  > "),
        "-v shows no headers: {pushed:#?}"
    );
    // -vv: the headers, the credentials redacted.
    assert!(
        pulled
            .stderr
            .contains("ocilayout:   > authorization: <redacted>"),
        "{pulled:#?}"
    );
    assert!(
        pulled
            .stderr
            .contains("ocilayout:   < docker-content-digest: sha256:"),
        "{pulled:#?}"
    );
    assert!(
        !pulled.stderr.contains("authorization: Basic"),
        "{pulled:#?}"
    );
    // Without -v: nothing but the summary.
    let quiet = env.run_logged_in(&["pull", "--plain-http", &dest, out]);
    assert!(quiet.ok().contains("up to date"), "{quiet:#?}");
    assert_eq!(quiet.stderr, "", "{quiet:#?}");
}

/// A SOCKS proxy in the environment is used (it made ureq panic, built without SOCKS support):
/// `ALL_PROXY=socks5h://...` carries a pull from the real registry, and the relay saw the way.
#[test]
fn socks_proxies_carry_requests() {
    let Some(reg) = Registry::start() else {
        return;
    };
    let env = Env::new();
    let (_g, src) = source_layout(12);
    let dest = reg.at("app:1");
    env.run(
        &[
            "push",
            "--plain-http",
            src.to_str().unwrap(),
            "docker.io/library/app:1",
            &dest,
        ],
        &[],
        b"",
    )
    .ok();
    for scheme in ["socks5", "socks5h"] {
        let relay = Socks5::start();
        let out = env.home().join(scheme);
        let proxy = format!("{scheme}://{}", relay.addr);
        let pulled = env.run(
            &["pull", "--plain-http", &dest, out.to_str().unwrap()],
            &[("ALL_PROXY", &proxy)],
            b"",
        );
        assert!(pulled.ok().contains("pulled"), "{pulled:#?}");
        assert!(
            relay.asked().contains(&reg.addr),
            "{scheme}: {:?}",
            relay.asked()
        );
    }
}

/// A credential helper that fails says which helper and its exit status, never what it printed
/// (which can be the secret); one that never answers is stopped after `--timeout`.
#[test]
fn credential_helpers_that_fail_or_hang() {
    let server = Snoop::start(|_| Reply::basic_challenge());
    let env = Env::new();
    std::fs::create_dir_all(env.home().join(".docker")).unwrap();
    let port = server.addr.rsplit(':').next().unwrap();
    std::fs::write(
        env.home().join(".docker/config.json"),
        format!(r#"{{"credHelpers":{{"127.0.0.1:{port}":"leaky","localhost:{port}":"stuck"}}}}"#),
    )
    .unwrap();
    env.script(
        "docker-credential-leaky",
        "cat >/dev/null\necho '{\"Username\":\"joe\",\"Secret\":\"helper-secret-42\"}'\necho 'helper-secret-42' >&2\nexit 3",
    );
    env.script("docker-credential-stuck", "exec sleep 600");
    let out = env.home().join("out");
    let out = out.to_str().unwrap();
    let leaky = env.run(
        &[
            "-vv",
            "pull",
            "--plain-http",
            &format!("{}/app:1", server.addr),
            out,
        ],
        &[],
        b"",
    );
    let err = leaky.fails(1, "credential helper docker-credential-leaky failed");
    assert!(err.contains("exit status 3"), "{leaky:#?}");
    assert!(!err.contains("helper-secret-42"), "{leaky:#?}");
    assert!(!leaky.stdout.contains("helper-secret-42"), "{leaky:#?}");

    let started = Instant::now();
    let stuck = env.run(
        &[
            "pull",
            "--plain-http",
            "--timeout",
            "2",
            &format!("localhost:{port}/app:1"),
            out,
        ],
        &[],
        b"",
    );
    let took = started.elapsed();
    stuck.fails(
        1,
        "credential helper docker-credential-stuck failed for localhost",
    );
    assert!(stuck.stderr.contains("no answer within 2 s"), "{stuck:#?}");
    assert!(took < Duration::from_secs(20), "took {took:?}");
}
