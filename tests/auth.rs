//! Registry auth and TLS against the real `docker-registry`: a registry serving TLS with a certificate
//! from a CA the test makes and htpasswd Basic auth; a registry in `auth: token` mode trusting a
//! token server of our own; every source of credentials; the failures, each one line and exit 1;
//! and secrets never printed. Tokens running out mid-transfer are in `auth/renewal.rs`, proxies in
//! `auth/proxies.rs`.

mod login;
mod proxies;
use crate::support::proxy;
use crate::support::registry as registry_support;
mod renewal;
use crate::support;
use crate::support::tls;
use crate::support::tokenserver;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use ocilayout::progress::Silent;
use ocilayout::registry::auth::{Credential, CredentialSources, Given};
use ocilayout::registry::{Client, ClientConfig, RegistryAuth};
use ocilayout::sync::{self, PushOptions};
use ocilayout::{Layout, Reference};
use registry_support::{make_image, Registry, Setup};
use support::{have, Run};
use tls::{Pki, Signer};
use tokenserver::{TokenServer, PASSWORD, REFRESH_TOKEN, USER};

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// A clean environment for the binary: its own HOME and a `bin` directory first on PATH (for
/// credential helpers), nothing else inherited but PATH.
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

    /// Writes `rel` under HOME (creating directories) and returns its path.
    fn write(&self, rel: &str, content: &str) -> PathBuf {
        let p = self.home().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, content).unwrap();
        p
    }

    /// `docker-credential-NAME` on PATH: answers `get` for `server` with joe and `password`.
    fn helper(&self, name: &str, server: &str, password: &str) {
        use std::os::unix::fs::PermissionsExt;
        let p = self.write(
            &format!("bin/docker-credential-{name}"),
            &format!(
                "#!/bin/sh\nread -r server\nif [ \"$1\" = get ] && [ \"$server\" = '{server}' ]; then\n  \
                 printf '{{\"ServerURL\":\"%s\",\"Username\":\"{USER}\",\"Secret\":\"{password}\"}}' \"$server\"\n\
                 else\n  echo 'credentials not found in native keychain'\n  exit 1\nfi\n"
            ),
        );
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    /// `run` as `USER`, the password given on stdin (`--username USER --password-stdin`).
    fn run_logged_in(&self, args: &[&str], password: &[u8]) -> Run {
        let mut all = args.to_vec();
        all.extend(["--username", USER, "--password-stdin"]);
        self.run(&all, &[], password)
    }

    fn run(&self, args: &[&str], vars: &[(&str, &Path)], stdin: &[u8]) -> Run {
        use std::io::Write;
        let path = format!(
            "{}:{}",
            self.home().join("bin").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut cmd = Command::new(support::bin());
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
        input.write_all(stdin).unwrap();
        drop(input);
        child.wait_with_output().unwrap().into()
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

fn tools() -> bool {
    have("docker-registry") && have("openssl") && have("htpasswd")
}

/// A registry with TLS (a certificate from `pki`'s CA) and htpasswd Basic auth for joe.
fn basic_tls_registry(pki: &Pki) -> Registry {
    let out = Command::new("htpasswd")
        .args(["-Bbn", USER, PASSWORD])
        .output()
        .unwrap();
    assert!(out.status.success());
    let htpasswd = pki.dir.path().join("htpasswd");
    std::fs::write(&htpasswd, &out.stdout).unwrap();
    Registry::start_with(&Setup {
        tls: Some((pki.server_cert.clone(), pki.server_key.clone())),
        auth: Some(format!(
            "auth:\n  htpasswd:\n    realm: ocilayout-test\n    path: {}\n",
            htpasswd.display()
        )),
    })
    .expect("docker-registry")
}

/// Asserts that no secret is in a run's output.
#[track_caller]
fn no_secrets(run: &Run, secrets: &[String]) {
    for s in secrets {
        assert!(
            !run.stdout.contains(s.as_str()) && !run.stderr.contains(s.as_str()),
            "secret {s:?} shown: {run:#?}"
        );
    }
}

fn secrets() -> Vec<String> {
    vec![
        PASSWORD.to_string(),
        "wrong-pw".to_string(),
        REFRESH_TOKEN.to_string(),
        b64(&format!("{USER}:{PASSWORD}")),
        b64(&format!("{USER}:wrong-pw")),
    ]
}

/// TLS with the test's CA and htpasswd Basic auth: a push and pull with `--cacert` (a bundle of two
/// certificates) and the right password work; without `--cacert` the certificate is refused; with
/// `--insecure` it works after a warning; a wrong password and no credentials are each one clear line
/// and exit 1; no secret is printed even at -vvv.
#[test]
fn tls_with_a_private_ca_and_basic_auth() {
    if !tools() {
        return;
    }
    let pki = Pki::new();
    let reg = basic_tls_registry(&pki);
    let env = Env::new();
    let (_src_guard, src) = source_layout(1);
    let src = src.to_str().unwrap();
    let dest = reg.at("team/app:1");
    let ca = pki.ca.to_str().unwrap();
    let bundle = pki.bundle();
    let bundle = bundle.to_str().unwrap();
    let pw = format!("{PASSWORD}\n");
    let pushed = env.run_logged_in(
        &[
            "-vvv",
            "push",
            "--cacert",
            ca,
            src,
            "docker.io/library/app:1",
            &dest,
        ],
        pw.as_bytes(),
    );
    pushed.ok();
    no_secrets(&pushed, &secrets());

    let out = env.home().join("pulled");
    let out = out.to_str().unwrap();
    let pulled = env.run_logged_in(
        &["-vvv", "pull", "--cacert", bundle, &dest, out],
        pw.as_bytes(),
    );
    pulled.ok();
    no_secrets(&pulled, &secrets());
    env.run(&["fsck", out], &[], b"").ok();

    // The CA is not trusted without --cacert.
    let untrusted = env.run_logged_in(&["pull", &dest, out], pw.as_bytes());
    untrusted.fails(1, "certificate");
    assert!(untrusted.stderr.contains("--cacert"), "{untrusted:#?}");

    // --insecure works, and says so.
    let insecure = env.run_logged_in(&["pull", "--insecure", &dest, out], pw.as_bytes());
    insecure.ok();
    assert!(
        insecure
            .stderr
            .contains("warning: --insecure: TLS certificates are not verified"),
        "{insecure:#?}"
    );

    let wrong = env.run_logged_in(&["-vvv", "pull", "--cacert", ca, &dest, out], b"wrong-pw\n");
    wrong.fails(
        1,
        &format!(
            "authentication to {} failed: the registry refused the password of user \"joe\" (from --username)",
            reg.addr
        ),
    );
    no_secrets(&wrong, &secrets());

    let none = env.run(&["pull", "--cacert", ca, &dest, out], &[], b"");
    let stderr = none.fails(1, &format!("no credentials found for {}", reg.addr));
    assert!(
        stderr.contains(&env.home().join(".docker/config.json").display().to_string()),
        "{stderr}"
    );
}

/// Every source of credentials, alone, lets a pull through; the first source that has an entry for
/// the registry wins, even when its password is wrong; a file without an entry does not stop the
/// search.
#[test]
fn each_credential_source_in_order() {
    if !tools() {
        return;
    }
    let pki = Pki::new();
    let reg = basic_tls_registry(&pki);
    let (_src_guard, src) = source_layout(2);
    let dest = reg.at("app:1");
    let ca = pki.ca.to_str().unwrap();
    let pw = format!("{PASSWORD}\n");
    Env::new()
        .run_logged_in(
            &[
                "push",
                "--cacert",
                ca,
                src.to_str().unwrap(),
                "docker.io/library/app:1",
                &dest,
            ],
            pw.as_bytes(),
        )
        .ok();

    let auths = |host: &str, password: &str| {
        format!(
            r#"{{"auths":{{"{host}":{{"auth":"{}"}}}}}}"#,
            b64(&format!("{USER}:{password}"))
        )
    };
    let good = auths(&reg.addr, PASSWORD);
    let bad = auths(&reg.addr, "wrong-pw");
    let elsewhere = auths("other.example:5000", PASSWORD);
    let helpers = format!(r#"{{"credHelpers":{{"{}":"octest"}}}}"#, reg.addr);
    let store = r#"{"credsStore":"octest"}"#.to_string();

    /// What one case writes: (file under HOME, content, env var pointing at it or its directory,
    /// whether the var names the directory, whether it is the --auth-file).
    type Place<'a> = (&'a str, &'a String, Option<&'a str>, bool, bool);
    let cases: Vec<(&str, Vec<Place>, bool, bool)> = vec![
        (
            "--auth-file",
            vec![("a/auth.json", &good, None, false, true)],
            false,
            true,
        ),
        (
            "REGISTRY_AUTH_FILE",
            vec![(
                "r/auth.json",
                &good,
                Some("REGISTRY_AUTH_FILE"),
                false,
                false,
            )],
            false,
            true,
        ),
        (
            "XDG_RUNTIME_DIR",
            vec![(
                "run/containers/auth.json",
                &good,
                Some("XDG_RUNTIME_DIR"),
                true,
                false,
            )],
            false,
            true,
        ),
        (
            "DOCKER_CONFIG",
            vec![("dc/config.json", &good, Some("DOCKER_CONFIG"), true, false)],
            false,
            true,
        ),
        (
            "~/.docker/config.json",
            vec![(".docker/config.json", &good, None, false, false)],
            false,
            true,
        ),
        (
            "credHelpers",
            vec![(".docker/config.json", &helpers, None, false, false)],
            true,
            true,
        ),
        (
            "credsStore",
            vec![(".docker/config.json", &store, None, false, false)],
            true,
            true,
        ),
        (
            "--auth-file before REGISTRY_AUTH_FILE",
            vec![
                ("a/auth.json", &bad, None, false, true),
                (
                    "r/auth.json",
                    &good,
                    Some("REGISTRY_AUTH_FILE"),
                    false,
                    false,
                ),
            ],
            false,
            false,
        ),
        (
            "REGISTRY_AUTH_FILE before the docker config",
            vec![
                (
                    "r/auth.json",
                    &bad,
                    Some("REGISTRY_AUTH_FILE"),
                    false,
                    false,
                ),
                (".docker/config.json", &good, None, false, false),
            ],
            false,
            false,
        ),
        (
            "a file without the registry does not stop the search",
            vec![
                (
                    "r/auth.json",
                    &elsewhere,
                    Some("REGISTRY_AUTH_FILE"),
                    false,
                    false,
                ),
                ("dc/config.json", &good, Some("DOCKER_CONFIG"), true, false),
            ],
            false,
            true,
        ),
    ];
    for (name, places, helper, succeeds) in cases {
        let env = Env::new();
        if helper {
            env.helper("octest", &reg.addr, PASSWORD);
        }
        let mut args = vec!["pull".to_string(), "--cacert".into(), ca.into()];
        let mut vars: Vec<(&str, PathBuf)> = Vec::new();
        for (rel, content, var, var_is_dir, is_auth_file) in places {
            let p = env.write(rel, content);
            if is_auth_file {
                args.extend(["--auth-file".to_string(), p.display().to_string()]);
            }
            if let Some(var) = var {
                let value = if var_is_dir {
                    let dir = p.parent().unwrap().to_path_buf();
                    if var == "XDG_RUNTIME_DIR" {
                        dir.parent().unwrap().to_path_buf()
                    } else {
                        dir
                    }
                } else {
                    p.clone()
                };
                vars.push((var, value));
            }
        }
        let out = env.home().join("out");
        args.extend([dest.clone(), out.display().to_string()]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let vars: Vec<(&str, &Path)> = vars.iter().map(|(k, v)| (*k, v.as_path())).collect();
        let run = env.run(&args, &vars, b"");
        if succeeds {
            assert_eq!(run.code, 0, "{name}: {run:#?}");
        } else {
            run.fails(1, "the registry refused the password of user \"joe\"");
        }
        no_secrets(&run, &secrets());
    }
}

/// A registry and the token server it trusts (registry on plain HTTP).
fn token_registry() -> Option<(tempfile::TempDir, TokenServer, Registry)> {
    if !tools() {
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let signer = Signer::new(dir.path());
    let cert = signer.cert.clone();
    let server = TokenServer::start(signer);
    let reg = Registry::start_with(&Setup {
        tls: None,
        auth: Some(server.registry_auth(&cert)),
    })
    .expect("docker-registry");
    Some((dir, server, reg))
}

/// Bearer through the registry's own token mode: a push gets a pull,push token with Basic
/// credentials; a pull with an identity token gets one through the refresh-token grant; a sync that
/// mounts asks for pull on the source repository too. A wrong password and no credentials are one
/// line each, and no password, refresh token or issued token is ever printed.
#[test]
fn bearer_tokens_from_the_registrys_token_server() {
    let Some((_dir, server, reg)) = token_registry() else {
        return;
    };
    let env = Env::new();
    let (_src_guard, src) = source_layout(3);
    let src = src.to_str().unwrap();
    let pw = format!("{PASSWORD}\n");
    let mut runs = Vec::new();

    let pushed = env.run_logged_in(
        &[
            "-vvv",
            "push",
            "--plain-http",
            src,
            "docker.io/library/app:1",
            &reg.at("app:1"),
        ],
        pw.as_bytes(),
    );
    pushed.ok();
    let issued = server.issued();
    assert!(
        issued
            .iter()
            .any(|i| i.grant == "basic" && i.scopes == ["repository:app:pull,push"]),
        "{issued:?}"
    );
    runs.push(pushed);

    let auth_file = env.write(
        "auth.json",
        &format!(
            r#"{{"auths":{{"{}":{{"identitytoken":"{REFRESH_TOKEN}"}}}}}}"#,
            reg.addr
        ),
    );
    let out = env.home().join("pulled");
    let pulled = env.run(
        &[
            "-vvv",
            "pull",
            "--plain-http",
            "--auth-file",
            auth_file.to_str().unwrap(),
            &reg.at("app:1"),
            out.to_str().unwrap(),
        ],
        &[],
        b"",
    );
    pulled.ok();
    assert!(
        server
            .issued()
            .iter()
            .any(|i| i.grant == "refresh" && i.scopes == ["repository:app:pull"]),
        "{:?}",
        server.issued()
    );
    runs.push(pulled);
    env.run(&["fsck", out.to_str().unwrap()], &[], b"").ok();

    // Two names for one image: the second repository mounts the blobs of the first.
    let both = env.home().join("both");
    let layout = Layout::init(&both).unwrap();
    make_image(&layout, "docker.io/library/one:1", 4, &[5000]);
    make_image(&layout, "docker.io/library/two:1", 4, &[5000]);
    let synced = env.run_logged_in(
        &[
            "sync",
            "--plain-http",
            "--jobs",
            "1",
            both.to_str().unwrap(),
            &reg.at("mirror"),
        ],
        pw.as_bytes(),
    );
    synced.ok();
    assert!(synced.stdout.contains("mounted"), "{synced:#?}");
    let issued = server.issued();
    assert!(
        issued.iter().any(|i| i.scopes.len() == 2
            && i.scopes[0].ends_with(":pull,push")
            && i.scopes[1].ends_with(":pull")
            && i.scopes[0] != i.scopes[1]),
        "no mount scope in {issued:?}"
    );
    runs.push(synced);

    let wrong = env.run_logged_in(
        &[
            "-vvv",
            "pull",
            "--plain-http",
            &reg.at("app:1"),
            out.to_str().unwrap(),
        ],
        b"wrong-pw\n",
    );
    wrong.fails(
        1,
        &format!(
            "authentication to {} failed: the token server {} refused user \"joe\" (from --username): 401",
            reg.addr, server.realm
        ),
    );
    runs.push(wrong);

    let none = env.run(
        &[
            "pull",
            "--plain-http",
            &reg.at("app:1"),
            out.to_str().unwrap(),
        ],
        &[],
        b"",
    );
    none.fails(1, &format!("no credentials found for {}", reg.addr));
    runs.push(none);

    let mut secrets = secrets();
    secrets.extend(server.issued().into_iter().map(|i| i.token));
    for run in &runs {
        no_secrets(run, &secrets);
    }
}

/// Plain HTTP, joe with `password` for `registry` (`127.0.0.1:PORT`).
fn client_config(registry: &str, password: &str) -> ClientConfig {
    let sources = CredentialSources {
        explicit: vec![Given::new(
            registry,
            Credential::Basic {
                username: USER.into(),
                password: password.into(),
            },
            "--username",
        )],
        ..Default::default()
    };
    ClientConfig {
        plain_http: true,
        auth: Arc::new(RegistryAuth::new(sources)),
        ..ClientConfig::default()
    }
}

/// A token the registry stops accepting while the client still holds it (it claims to last an
/// hour) is renewed on the registry's 401 and the transfer carries on; a token that lapses when the
/// token server no longer issues any is one clear line, without secrets.
#[test]
fn expired_tokens_are_renewed_or_fail_clearly() {
    let Some((_dir, server, reg)) = token_registry() else {
        return;
    };
    {
        let mut st = server.state.lock().unwrap();
        st.lifetime = 2;
        st.expires_in = 3600;
    }
    let client = Client::new(client_config(&reg.addr, PASSWORD)).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let layout = Layout::init(tmp.path().join("src")).unwrap();
    let push = |seed: u64, tag: &str| {
        let root = make_image(
            &layout,
            &format!("docker.io/library/app:{tag}"),
            seed,
            &[4000],
        );
        let dest = Reference::parse(&reg.at(&format!("app:{tag}"))).unwrap();
        sync::push(
            &client,
            &layout,
            &root,
            &dest,
            &PushOptions::default(),
            &Silent,
        )
    };
    let push_scope = |issued: &[tokenserver::Issued]| {
        issued
            .iter()
            .filter(|i| i.scopes == ["repository:app:pull,push"])
            .count()
    };
    push(10, "1").unwrap();
    assert_eq!(push_scope(&server.issued()), 1);
    std::thread::sleep(Duration::from_millis(2500));
    push(11, "2").unwrap();
    assert_eq!(
        push_scope(&server.issued()),
        2,
        "the refused token was renewed once: {:?}",
        server.issued()
    );

    server.state.lock().unwrap().refuse = true;
    std::thread::sleep(Duration::from_millis(2500));
    let err = push(12, "3").unwrap_err().to_string();
    assert_eq!(
        err,
        format!(
            "authentication to {} failed: the token for repository:app:pull,push expired and could \
             not be renewed: the token server {} refused user \"joe\" (from --username): 401 \
             UNAUTHORIZED: access denied",
            reg.addr, server.realm
        )
    );
    for s in secrets()
        .into_iter()
        .chain(server.issued().into_iter().map(|i| i.token))
    {
        assert!(!err.contains(&s));
    }
}
