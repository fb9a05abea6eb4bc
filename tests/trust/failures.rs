//! No hang and no wasted time: a refused connection and an oversized response header fail at once;
//! a body that drips fails after `--timeout`; a token server's 503 is retried like the registry's;
//! a loopback registry answering HTTPS in plain HTTP is spoken to in plain HTTP (said at `-v`), and
//! `--plain-http` against an HTTPS registry says to drop the flag.

use super::*;
use crate::support::tls::Pki;

/// Nothing listens on the port: one quick failure, no retries.
#[test]
fn a_refused_connection_fails_fast() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let env = Env::new();
    let out = env.home().join("out");
    let started = Instant::now();
    let run = env.run(
        &[
            "pull",
            "--plain-http",
            &format!("127.0.0.1:{port}/app:1"),
            out.to_str().unwrap(),
        ],
        &[],
        b"",
    );
    let took = started.elapsed();
    run.fails(1, "Connection refused");
    assert!(took < Duration::from_millis(1500), "took {took:?}");
}

/// A response header past the client's limit is not worth another attempt: one request.
#[test]
fn an_oversized_header_is_not_retried() {
    let huge = "x".repeat(200 << 10);
    let server = Snoop::start(move |_| Reply::new(200).header("X-Padding", &huge));
    let env = Env::new();
    let out = env.home().join("out");
    let run = env.run(
        &[
            "pull",
            "--plain-http",
            &format!("{}/app:1", server.addr),
            out.to_str().unwrap(),
        ],
        &[],
        b"",
    );
    assert_eq!(run.code, 1, "{run:#?}");
    assert_eq!(server.log().len(), 1, "{:?} {run:#?}", server.log());
}

/// A manifest that arrives one byte every 300 ms is a timeout after `--timeout` (2 s), retried like
/// any transient failure, and the pull ends instead of hanging for the minutes the body takes.
#[test]
fn a_dripping_document_times_out() {
    let body = vec![b' '; 400];
    let server = Snoop::start(move |seen| {
        let mut r = Reply::new(200)
            .header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
            .body(body.clone());
        if seen.method == "GET" {
            r.drip = Some(Duration::from_millis(300));
        }
        r
    });
    let env = Env::new();
    let out = env.home().join("out");
    let started = Instant::now();
    let run = env.run(
        &[
            "pull",
            "--plain-http",
            "--timeout",
            "2",
            &format!("{}/app:1", server.addr),
            out.to_str().unwrap(),
        ],
        &[],
        b"",
    );
    let took = started.elapsed();
    run.fails(1, "timed out");
    assert!(run.stderr.contains("--timeout"), "{run:#?}");
    let gets = server.log().iter().filter(|s| s.method == "GET").count();
    assert!(gets >= 2, "retried: {:?}", server.log());
    assert!(took < Duration::from_secs(40), "took {took:?}");
}

/// A token server that answers 503 once is asked again, as the registry would be.
#[test]
fn a_token_servers_503_is_retried() {
    let tokens = Snoop::start({
        let count = std::sync::atomic::AtomicU32::new(0);
        move |_| {
            if count.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
                Reply::new(503)
            } else {
                Reply::new(200).body(r#"{"token":"tok-1","expires_in":300}"#)
            }
        }
    });
    let realm = format!("http://{}/token", tokens.addr);
    let registry = Snoop::start(move |seen| match &seen.authorization {
        Some(a) if a == "Bearer tok-1" => Reply::new(404),
        _ => Reply::new(401).header(
            "WWW-Authenticate",
            &format!("Bearer realm=\"{realm}\",service=\"snoop\""),
        ),
    });
    let env = Env::new();
    let out = env.home().join("out");
    let run = env.run(
        &[
            "pull",
            "--plain-http",
            &format!("{}/app:1", registry.addr),
            out.to_str().unwrap(),
        ],
        &[],
        b"",
    );
    assert_eq!(run.code, 1, "{run:#?}");
    assert!(!run.stderr.contains("no token"), "{run:#?}");
    assert_eq!(tokens.log().len(), 2, "{:?}", tokens.log());
    assert!(
        registry
            .authorizations()
            .iter()
            .any(|a| a == "Bearer tok-1"),
        "{:?}",
        registry.log()
    );
}

/// Forgetting `--plain-http` for a loopback registry works as docker does (plain HTTP, said at
/// `-v`); giving it for an HTTPS registry says to drop it.
#[test]
fn http_and_https_confusion_explains_itself() {
    if !have("docker-registry") || !have("openssl") {
        return;
    }
    let Some(plain) = Registry::start() else {
        return;
    };
    let env = Env::new();
    let (_g, src) = source_layout(31);
    let dest = plain.at("app:1");
    let pushed = env.run(
        &[
            "-v",
            "push",
            src.to_str().unwrap(),
            "docker.io/library/app:1",
            &dest,
        ],
        &[],
        b"",
    );
    pushed.ok();
    assert!(
        pushed.stderr.contains(&format!(
            "ocilayout: note: {} answered HTTPS in plain HTTP; speaking plain HTTP to it",
            plain.addr
        )),
        "{pushed:#?}"
    );
    let out = env.home().join("out");
    env.run(&["pull", &dest, out.to_str().unwrap()], &[], b"")
        .ok();

    let pki = Pki::new();
    let tls = Registry::start_with(&Setup {
        tls: Some((pki.server_cert.clone(), pki.server_key.clone())),
        auth: None,
    })
    .expect("docker-registry");
    let run = env.run(
        &[
            "pull",
            "--plain-http",
            &tls.at("app:1"),
            out.to_str().unwrap(),
        ],
        &[],
        b"",
    );
    run.fails(1, "drop --plain-http");
}

/// A token server that redirects (307) is followed, as the registry would be, and the password
/// does not follow the redirect to another origin.
#[test]
fn a_token_servers_redirect_is_followed_without_the_password() {
    let issuer = Snoop::start(|_| Reply::new(200).body(r#"{"token":"tok-2"}"#));
    let moved = format!("http://{}/token", issuer.addr);
    let front = Snoop::start(move |seen| {
        let query = seen.path.split_once('?').map_or("", |(_, q)| q);
        Reply::new(307).header("Location", &format!("{moved}?{query}"))
    });
    let realm = format!("http://{}/token", front.addr);
    let registry = Snoop::start(move |seen| match &seen.authorization {
        Some(a) if a == "Bearer tok-2" => Reply::new(404),
        _ => Reply::new(401).header("WWW-Authenticate", &format!("Bearer realm=\"{realm}\"")),
    });
    let env = Env::new();
    let out = env.home().join("out");
    let run = env.run_logged_in(&[
        "pull",
        "--plain-http",
        &format!("{}/app:1", registry.addr),
        out.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 1, "{run:#?}");
    no_secrets(&run);
    assert!(
        front
            .authorizations()
            .iter()
            .all(|a| a.starts_with("Basic ")),
        "the realm itself gets the password: {:?}",
        front.log()
    );
    assert!(!issuer.log().is_empty(), "{run:#?}");
    assert_eq!(
        issuer.authorizations(),
        Vec::<String>::new(),
        "{:?}",
        issuer.log()
    );
    assert!(
        registry
            .authorizations()
            .iter()
            .any(|a| a == "Bearer tok-2"),
        "{:?} {run:#?}",
        registry.log()
    );
}

/// A blob download that makes no progress for `--timeout` is a failed attempt (retried, then an
/// error naming the flag); the same download within the timeout succeeds.
#[test]
fn a_stalled_blob_download_times_out() {
    let server = crate::support::badserver::start(crate::support::badserver::Fault::SlowLayer);
    let env = Env::new();
    let out = env.home().join("out");
    let out = out.to_str().unwrap();
    let started = Instant::now();
    let run = env.run(
        &[
            "pull",
            "--plain-http",
            "--timeout",
            "1",
            &server.image(),
            out,
        ],
        &[],
        b"",
    );
    let took = started.elapsed();
    run.fails(1, "timed out");
    assert!(run.stderr.contains("--timeout"), "{run:#?}");
    let layer_gets = server
        .log()
        .iter()
        .filter(|s| s.method == "GET" && s.path.ends_with(&server.layer))
        .count();
    assert!(layer_gets >= 2, "retried: {:?}", server.log());
    assert!(took < Duration::from_secs(30), "took {took:?}");
    let patient = env.run(
        &[
            "pull",
            "--plain-http",
            "--timeout",
            "5",
            &server.image(),
            out,
        ],
        &[],
        b"",
    );
    patient.ok();
}
