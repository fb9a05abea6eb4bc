//! `HTTPS_PROXY` and `NO_PROXY`, end to end: the binary reaches the TLS + Basic auth registry through
//! a CONNECT proxy of the test's own (which sees the tunnel and the proxy credentials), goes direct
//! when `NO_PROXY` names the registry, and fails in one line, exit 1, without the proxy's password,
//! when the proxy refuses or is down.

use std::path::Path;

use super::proxy::{closed_port, ConnectProxy};
use super::registry_support::Registry;
use super::tls::Pki;
use super::tokenserver::{PASSWORD, USER};
use super::{b64, basic_tls_registry, no_secrets, secrets, source_layout, tools, Env};

const PROXY_USER: &str = "puser";
const PROXY_PASSWORD: &str = "proxysecret";

/// Through the proxy a push and a pull work, each connection a tunnel to the registry asked with the
/// proxy's credentials; `NO_PROXY` (or `no_proxy`) naming the registry's host bypasses it; a proxy
/// that refuses the tunnel, and one that is down, are each one line naming the proxy, exit 1.
#[test]
fn https_proxy_and_no_proxy() {
    if !tools() {
        return;
    }
    let pki = Pki::new();
    let reg = basic_tls_registry(&pki);
    let env = Env::new();
    let (_src_guard, src) = source_layout(5);
    let ca = pki.ca.to_str().unwrap();
    let pw = format!("{PASSWORD}\n");
    let proxy = ConnectProxy::start(false);
    let proxy_url = |addr: &str| format!("http://{PROXY_USER}:{PROXY_PASSWORD}@{addr}");
    let through = proxy_url(&proxy.addr);
    let mut secrets = secrets();
    secrets.extend([
        PROXY_PASSWORD.to_string(),
        b64(&format!("{PROXY_USER}:{PROXY_PASSWORD}")),
    ]);
    let out = env.home().join("pulled");
    let out = out.to_str().unwrap();
    let run = |verb: &str, args: &[&str], vars: &[(&str, &str)]| {
        let mut all = vec![
            "-vvv",
            verb,
            "--cacert",
            ca,
            "--username",
            USER,
            "--password-stdin",
        ];
        all.extend_from_slice(args);
        let vars: Vec<(&str, &Path)> = vars.iter().map(|(k, v)| (*k, Path::new(v))).collect();
        let run = env.run(&all, &vars, pw.as_bytes());
        no_secrets(&run, &secrets);
        run
    };

    // Through the proxy: a push and a pull, every connection a tunnel to the registry, each
    // CONNECT with the proxy's credentials.
    let dest = reg.at("app:1");
    let push_args = [src.to_str().unwrap(), "docker.io/library/app:1", &dest];
    run("push", &push_args, &[("HTTPS_PROXY", &through)]).ok();
    run("pull", &[&dest, out], &[("HTTPS_PROXY", &through)]).ok();
    env.run(&["fsck", out], &[], b"").ok();
    let seen = proxy.seen();
    assert!(!seen.is_empty());
    let credentials = format!("Basic {}", b64(&format!("{PROXY_USER}:{PROXY_PASSWORD}")));
    for c in &seen {
        assert_eq!(c.target, reg.addr, "{seen:?}");
        assert_eq!(c.proxy_authorization.as_deref(), Some(credentials.as_str()));
    }

    // NO_PROXY names the registry's host: nothing goes through the proxy (lower case works too).
    let tunnels = seen.len();
    for (https_proxy, no_proxy) in [("HTTPS_PROXY", "NO_PROXY"), ("https_proxy", "no_proxy")] {
        let direct = env.home().join(format!("direct-{no_proxy}"));
        let vars = [
            (https_proxy, through.as_str()),
            (no_proxy, "example.com,127.0.0.1"),
        ];
        run("pull", &[&dest, direct.to_str().unwrap()], &vars).ok();
    }
    assert_eq!(proxy.seen().len(), tunnels, "{:?}", proxy.seen());

    // A proxy that refuses the tunnel, and one that is down: one line, exit 1, no proxy password.
    let refusing = ConnectProxy::start(true);
    let refused = run(
        "pull",
        &[&dest, out],
        &[("HTTPS_PROXY", &proxy_url(&refusing.addr))],
    );
    refused.fails(1, &format!("https://{}/v2/app/manifests/1: ", reg.addr));
    refused.fails(1, &format!("403 (through the proxy {})", refusing.addr));
    assert!(!refusing.seen().is_empty());
    let down = closed_port();
    let unreachable = run("pull", &[&dest, out], &[("HTTPS_PROXY", &proxy_url(&down))]);
    unreachable.fails(1, &format!("https://{}/v2/app/manifests/1: ", reg.addr));
    unreachable.fails(1, &format!("(through the proxy {down})"));
    assert!(unreachable.stderr.contains("refused"), "{unreachable:#?}");
}

/// `--plain-http` goes through `HTTP_PROXY` (a tunnel too) and pays no attention to `HTTPS_PROXY`.
#[test]
fn http_proxy_for_plain_http() {
    let Some(reg) = Registry::start() else {
        return;
    };
    let env = Env::new();
    let (_src_guard, src) = source_layout(6);
    let proxy = ConnectProxy::start(false);
    let refusing = ConnectProxy::start(true);
    let dest = reg.at("plain:1");
    let push = |vars: &[(&str, &Path)]| {
        let args = [
            "push",
            "--plain-http",
            src.to_str().unwrap(),
            "docker.io/library/app:1",
            &dest,
        ];
        env.run(&args, vars, b"")
    };
    let through = format!("http://{}", proxy.addr);
    push(&[("HTTP_PROXY", Path::new(&through))]).ok();
    let seen = proxy.seen();
    assert!(!seen.is_empty());
    assert!(seen.iter().all(|c| c.target == reg.addr), "{seen:?}");

    let https_only = format!("http://{}", refusing.addr);
    push(&[("HTTPS_PROXY", Path::new(&https_only))]).ok();
    assert!(refusing.seen().is_empty(), "{:?}", refusing.seen());
}
