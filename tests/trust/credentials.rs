//! A password goes only to the registry it was given for: `--username` is the destination's for
//! push, sync and copy and the source's for pull, tags and inspect; copy's `--src-username` and
//! `--dest-username` are each side's own. A spy registry (a [`Snoop`] that challenges every request
//! and records every `Authorization`) stands on the side that must never see the other's password;
//! the real `docker-registry` with htpasswd stands on the side that needs it. A credential whose
//! registry is unclear is refused before any request.

use super::*;

/// A registry that wants Basic credentials for everything and accepts none: it records what it is
/// offered.
fn spy() -> Snoop {
    Snoop::start(|_| Reply::basic_challenge())
}

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// Every form of a password in an `Authorization` or an output.
fn forms(user: &str, password: &str) -> [String; 2] {
    [password.to_string(), b64(&format!("{user}:{password}"))]
}

#[track_caller]
fn never_shown(spy: &Snoop, run: &Run, user: &str, password: &str) {
    for form in forms(user, password) {
        for a in spy.authorizations() {
            assert!(!a.contains(&form), "the spy got {user}'s password: {a}");
        }
        assert!(
            !run.stdout.contains(&form) && !run.stderr.contains(&form),
            "{run:#?}"
        );
    }
}

/// The real registry (htpasswd: joe) holding `app:1`, and an auth file that gives `eve` for the spy
/// and joe for the real registry.
fn setup(spy: &Snoop) -> Option<(tempfile::TempDir, Registry, Env, PathBuf)> {
    if !have("docker-registry") || !have("htpasswd") {
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let reg = Registry::start_with(&Setup {
        tls: None,
        auth: Some(htpasswd_auth(dir.path())),
    })
    .expect("docker-registry");
    let env = Env::new();
    let (_g, src) = source_layout(31);
    env.run_logged_in(&[
        "push",
        "--plain-http",
        src.to_str().unwrap(),
        "docker.io/library/app:1",
        &reg.at("app:1"),
    ])
    .ok();
    let auth_file = env.home().join("auth.json");
    std::fs::write(
        &auth_file,
        format!(
            r#"{{"auths":{{"{}":{{"auth":"{}"}},"{}":{{"auth":"{}"}}}}}}"#,
            spy.addr,
            b64("eve:eve-pw"),
            reg.addr,
            b64(&format!("{USER}:{PASSWORD}"))
        ),
    )
    .unwrap();
    Some((dir, reg, env, auth_file))
}

/// A copy: flags, source, destination, the one `Authorization` the spy may see, what the error
/// says.
type Case<'a> = (&'a [&'a str], &'a str, &'a str, Option<&'a str>, &'a str);

/// copy between the spy and the real registry, each way and with each way of saying whose
/// credential is whose: the spy sees the password meant for it or none, never joe's; the real
/// registry gets joe's wherever it needs it.
#[test]
fn copy_offers_each_password_to_its_own_registry() {
    let spy = spy();
    let Some((_dir, reg, env, auth_file)) = setup(&spy) else {
        return;
    };
    let auth_file = auth_file.to_str().unwrap();
    let on_spy = format!("{}/app:1", spy.addr);
    let pw = format!("{PASSWORD}\n");
    let eve = format!("Basic {}", b64("eve:eve-pw"));
    let cases: [Case; 4] = [
        // --username is the destination's: an untrusted source that asks first gets nothing.
        (
            &["--username", USER, "--password-stdin"],
            &on_spy,
            &reg.at("app:2"),
            None,
            &format!("no credentials found for {}", spy.addr),
        ),
        (
            &["--dest-username", USER, "--dest-password-stdin"],
            &on_spy,
            &reg.at("app:2"),
            None,
            &format!("no credentials found for {}", spy.addr),
        ),
        // --src-username is the source's: the destination gets nothing of it.
        (
            &["--src-username", USER, "--src-password-stdin"],
            &reg.at("app:1"),
            &on_spy,
            None,
            &format!("no credentials found for {}", spy.addr),
        ),
        // Each side its own: eve from the auth file for the spy, joe from stdin for the source.
        (
            &[
                "--src-username",
                USER,
                "--src-password-stdin",
                "--dest-username",
                "eve",
                "--auth-file",
                auth_file,
            ],
            &reg.at("app:1"),
            &on_spy,
            Some(&eve),
            "refused the password of user \"eve\" (from --dest-username)",
        ),
    ];
    for (i, (flags, src, dst, allowed, error)) in cases.into_iter().enumerate() {
        let before = spy.log().len();
        let mut args = vec!["copy", "--plain-http", "--timeout", "10"];
        args.extend_from_slice(flags);
        args.extend([src, dst]);
        let run = env.run(&args, &[], pw.as_bytes());
        never_shown(&spy, &run, USER, PASSWORD);
        let offered: Vec<String> = spy.log()[before..]
            .iter()
            .filter_map(|s| s.authorization.clone())
            .collect();
        match allowed {
            None => assert!(offered.is_empty(), "case {i}: {offered:?} {run:#?}"),
            Some(a) => assert!(
                !offered.is_empty() && offered.iter().all(|o| o == a),
                "case {i}: {offered:?} {run:#?}"
            ),
        }
        run.fails(1, error);
    }
    // Both sides on the real registry, each with its own credential (the source's from stdin, the
    // destination's from the auth file), each offered for its own repository.
    let ok = env.run(
        &[
            "copy",
            "--plain-http",
            "--src-username",
            USER,
            "--src-password-stdin",
            "--dest-username",
            USER,
            "--auth-file",
            auth_file,
            &reg.at("app:1"),
            &reg.at("copied:1"),
        ],
        &[],
        pw.as_bytes(),
    );
    assert!(ok.ok().contains(" -> "), "{ok:#?}");
    // A user name the auth file has no password for is refused before any request.
    let before = spy.log().len();
    let nobody = env.run(
        &[
            "copy",
            "--plain-http",
            "--dest-username",
            "nobody",
            "--auth-file",
            auth_file,
            &reg.at("app:1"),
            &on_spy,
        ],
        &[],
        b"",
    );
    nobody.fails(
        1,
        "--dest-username \"nobody\": the auth files hold no password of that user",
    );
    assert_eq!(spy.log().len(), before);
    let layout = env.home().join("copied");
    let pulled = env.run(
        &[
            "copy",
            "--plain-http",
            "--src-username",
            USER,
            "--src-password-stdin",
            &reg.at("app:1"),
            &format!("oci-layout://{}:1", layout.display()),
        ],
        &[],
        pw.as_bytes(),
    );
    assert!(pulled.ok().contains(" -> "), "{pulled:#?}");
}

/// pull, tags and inspect give `--username` to the registry they read; push and sync to the one
/// they write. A pull naming images on two registries with `--username` is refused before any
/// request (which of them is it for?), and so is a credential for a side that is a layout, and two
/// passwords on one standard input.
#[test]
fn unclear_credentials_are_refused_before_any_request() {
    let spy = spy();
    let Some((_dir, reg, env, auth_file)) = setup(&spy) else {
        return;
    };
    let pw = format!("{PASSWORD}\n");
    // Reading commands and writing ones each reach the real registry with joe.
    let out = env.home().join("out");
    let out = out.to_str().unwrap();
    let login = ["--plain-http", "--username", USER, "--password-stdin"];
    let with = |verb: &str, rest: &[&str]| {
        let mut a = vec![verb];
        a.extend_from_slice(&login);
        a.extend_from_slice(rest);
        env.run(&a, &[], pw.as_bytes())
    };
    assert!(with("pull", &[&reg.at("app:1"), out])
        .ok()
        .contains("pulled"));
    assert_eq!(with("tags", &[&reg.at("app")]).ok(), "1\n");
    assert!(with("inspect", &[&reg.at("app:1")])
        .ok()
        .contains("layers:"));
    with("push", &[out, &reg.at("app:1"), &reg.at("again:1")]).ok();
    let spy_image = format!("{}/app:1", spy.addr);
    let spy_dir = env.home().join("spy-out");
    let spy_out = spy_dir.to_str().unwrap();
    let layout_url = format!("oci-layout://{out}:1");
    let auth_file = auth_file.to_str().unwrap();
    // (arguments, what the refusal says)
    let (app1, app3) = (reg.at("app:1"), reg.at("app:3"));
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["pull", &app1, &spy_image, spy_out],
            "--username is for one registry, and these images come from 127.0.0.1:",
        ),
        (
            vec!["copy", &app1, &layout_url],
            "--username is for the destination registry, and the destination",
        ),
        (
            vec!["copy", "--dest-username", "x", &spy_image, &layout_url],
            "the argument '--username <U>' cannot be used with '--dest-username <U>'",
        ),
        (
            vec![
                "copy",
                "--src-username",
                USER,
                "--src-password-stdin",
                &spy_image,
                &app3,
            ],
            "--password-stdin and --src-password-stdin would both read standard input",
        ),
        (
            vec!["inspect", out, "app:1"],
            "--username is for a registry",
        ),
        (
            vec!["inspect", &layout_url],
            "--username is for a registry, and inspect",
        ),
    ];
    for (args, says) in cases {
        let before = spy.log().len();
        let mut a = vec![args[0]];
        a.extend_from_slice(&login);
        a.extend(["--auth-file", auth_file]);
        a.extend_from_slice(&args[1..]);
        let run = env.run(&a, &[], pw.as_bytes());
        run.fails(2, says);
        assert_eq!(spy.log().len(), before, "a request was sent: {run:#?}");
        assert!(!spy_dir.exists(), "{run:#?}");
    }
    // Without --username each registry gets its own credential from the auth file: the real one
    // joe (its image comes), the spy eve only.
    let both = env.run(
        &[
            "pull",
            "--plain-http",
            "--auth-file",
            auth_file,
            &reg.at("app:1"),
            &spy_image,
            spy_out,
        ],
        &[],
        b"",
    );
    assert_eq!(both.code, 1, "{both:#?}");
    let offered = spy.authorizations();
    assert!(!offered.is_empty(), "{both:#?}");
    assert!(
        offered
            .iter()
            .all(|a| *a == format!("Basic {}", b64("eve:eve-pw"))),
        "{offered:?}"
    );
}
