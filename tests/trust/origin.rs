//! Credentials go only to their origin (scheme, host and port), on every request path: a redirect
//! from an HTTPS registry to plain HTTP on the same host and port, an upload `Location` (also the
//! answer to a mount) on another origin, and a token realm over plain HTTP for an HTTPS registry.
//! Referrers requests go through the same redirect rule as blobs (`send_following`).

use super::*;
use crate::support::snoop::SniffRelay;
use crate::support::tls::{Pki, Signer};
use crate::support::tokenserver::TokenServer;

/// An HTTPS registry (behind a relay that logs any plain-HTTP request to its port) whose blob
/// downloads redirect to `http://` the same host and port, as a TLS-terminating proxy that emits
/// `http://` Locations does. The pull must not send the password in clear text: the plain-HTTP
/// request arrives without `Authorization`.
#[test]
fn a_redirect_from_https_to_http_carries_no_credentials() {
    if !have("docker-registry") || !have("htpasswd") || !have("openssl") {
        return;
    }
    let pki = Pki::new();
    let relay = SniffRelay::start();
    let reg = Registry::start_with(&Setup {
        tls: Some((pki.server_cert.clone(), pki.server_key.clone())),
        auth: Some(format!(
            "{}middleware:\n  storage:\n    - name: redirect\n      options:\n        baseurl: http://{}/\n",
            htpasswd_auth(pki.dir.path()),
            relay.addr
        )),
    })
    .expect("docker-registry");
    relay.to(&reg.addr);
    let env = Env::new();
    let (_g, src) = source_layout(21);
    let ca = pki.ca.to_str().unwrap();
    let dest = format!("{}/app:1", relay.addr);
    env.run_logged_in(&[
        "push",
        "--cacert",
        ca,
        src.to_str().unwrap(),
        "docker.io/library/app:1",
        &dest,
    ])
    .ok();
    let out = pki.dir.path().join("out");
    let pulled = env.run_logged_in(&["pull", "--cacert", ca, &dest, out.to_str().unwrap()]);
    assert_ne!(
        pulled.code, 0,
        "the plain-HTTP storage cannot serve: {pulled:#?}"
    );
    no_secrets(&pulled);
    let plain = relay.plain();
    assert!(!plain.is_empty(), "the redirect was followed: {pulled:#?}");
    for seen in plain {
        assert_eq!(seen.authorization, None, "sent in clear text: {seen:?}");
    }
}

/// A registry that wants Basic and answers the upload `POST` (a plain one, or a mount that starts
/// an upload instead) with a `Location` on another origin: that origin challenges too, and must
/// never receive the password.
#[test]
fn an_upload_location_on_another_origin_gets_no_credentials() {
    let other = Snoop::start(|_| Reply::basic_challenge());
    let elsewhere = format!("http://{}/upload/session-1", other.addr);
    let registry = Snoop::start(move |seen| {
        if seen.authorization.is_none() {
            return Reply::basic_challenge();
        }
        match seen.method.as_str() {
            "POST" => Reply::new(202).header("Location", &elsewhere),
            _ => Reply::new(404),
        }
    });
    let env = Env::new();
    let (_g, src) = source_layout(22);
    let pushed = env.run_logged_in(&[
        "push",
        "--plain-http",
        src.to_str().unwrap(),
        "docker.io/library/app:1",
        &format!("{}/app:1", registry.addr),
    ]);
    assert_eq!(pushed.code, 1, "{pushed:#?}");
    no_secrets(&pushed);
    assert!(
        !registry.authorizations().is_empty(),
        "the registry got its credentials"
    );
    assert!(
        !other.log().is_empty(),
        "the Location was used: {pushed:#?}"
    );
    assert_eq!(
        other.authorizations(),
        Vec::<String>::new(),
        "{:?}",
        other.log()
    );
}

/// A registry over HTTPS whose token realm is plain HTTP: the password is not sent there (the
/// token server issues nothing), and the error says why.
#[test]
fn a_plain_http_token_realm_for_an_https_registry_gets_no_password() {
    if !have("docker-registry") || !have("openssl") {
        return;
    }
    let pki = Pki::new();
    let signer = Signer::new(pki.dir.path());
    let cert = signer.cert.clone();
    let server = TokenServer::start(signer);
    let reg = Registry::start_with(&Setup {
        tls: Some((pki.server_cert.clone(), pki.server_key.clone())),
        auth: Some(server.registry_auth(&cert)),
    })
    .expect("docker-registry");
    let env = Env::new();
    let out = pki.dir.path().join("out");
    let pulled = env.run_logged_in(&[
        "pull",
        "--cacert",
        pki.ca.to_str().unwrap(),
        &reg.at("app:1"),
        out.to_str().unwrap(),
    ]);
    pulled.fails(1, "is plain HTTP while the registry is HTTPS");
    no_secrets(&pulled);
    assert!(server.issued().is_empty(), "a token was issued");
}

/// A cross-repository mount the registry answers by starting an upload at a `Location` on another
/// origin: the upload goes there without credentials.
#[test]
fn a_mount_answered_with_a_location_elsewhere_gets_no_credentials() {
    let other = Snoop::start(|_| Reply::basic_challenge());
    let elsewhere = format!("http://{}/upload/mounted", other.addr);
    let registry = Snoop::start(move |seen| {
        if seen.authorization.is_none() {
            return Reply::basic_challenge();
        }
        let digest = seen
            .path
            .split("digest=")
            .nth(1)
            .map(|d| d.replace("%3A", ":"));
        match (seen.method.as_str(), digest) {
            ("POST", _) if seen.path.contains("mount=") => {
                Reply::new(202).header("Location", &elsewhere)
            }
            ("POST", _) => Reply::new(202).header("Location", "/v2/uploads/session"),
            ("PUT", Some(d)) => Reply::new(201).header("Docker-Content-Digest", &d),
            ("PUT", None) => Reply::new(201),
            _ => Reply::new(404),
        }
    });
    let env = Env::new();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("src");
    let layout = Layout::init(&dir).unwrap();
    make_image(&layout, "docker.io/library/app:1", 23, &[3000]);
    make_image(&layout, "docker.io/library/other:1", 23, &[3000]);
    let synced = env.run_logged_in(&[
        "sync",
        "--plain-http",
        "--jobs",
        "1",
        dir.to_str().unwrap(),
        &format!("{}/mirror", registry.addr),
    ]);
    no_secrets(&synced);
    assert!(
        registry.log().iter().any(|s| s.path.contains("mount=")),
        "a mount was tried: {:?} {synced:#?}",
        registry.log()
    );
    assert!(
        !other.log().is_empty(),
        "the Location was used: {synced:#?}"
    );
    assert_eq!(
        other.authorizations(),
        Vec::<String>::new(),
        "{:?}",
        other.log()
    );
}
