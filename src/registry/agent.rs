//! The one HTTP agent a client uses, for registry and token requests alike: rustls trusting the
//! system roots plus `--cacert` files (or nothing, with `--insecure`; see [`super::tls`]), and the
//! proxy from `HTTPS_PROXY`/`HTTP_PROXY`/`ALL_PROXY` with `NO_PROXY`.

use ureq::Agent;

use super::{tls, ClientConfig};
use crate::error::{Error, Result};

/// The one way an agent is built, for registry requests and token requests alike: rustls trusting
/// the system roots (Mozilla's when the system has none) plus `ca_certs` (a server certificate
/// among them trusted for its server), or nothing verified when `insecure`; the proxy for the
/// scheme in use; no automatic redirects; statuses returned rather than turned into errors; no
/// content decoding (copies keep the exact bytes).
pub(crate) fn agent(config: &ClientConfig) -> Result<Agent> {
    agent_with_env(config, &|k| std::env::var(k).ok())
}

/// [`agent`], with the environment read through `var`.
fn agent_with_env(config: &ClientConfig, var: &dyn Fn(&str) -> Option<String>) -> Result<Agent> {
    let mut tls_config = ureq::tls::TlsConfig::builder().disable_verification(config.insecure);
    let trust = (!config.insecure)
        .then(|| tls::trust(&config.ca_certs))
        .transpose()?;
    if let Some(t) = &trust {
        tls_config = tls_config.root_certs(t.root_certs());
    }
    let agent_config = Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .accept_encoding("identity")
        .user_agent(config.user_agent.as_str())
        .timeout_connect(Some(config.timeout))
        .timeout_per_read(Some(config.timeout))
        .timeout_per_write(Some(config.timeout))
        .max_idle_connections_per_host(config.jobs.max(1) * 2)
        .proxy(proxy_from_env(config.plain_http, var)?)
        .tls_config(tls_config.build())
        .build();
    tls::agent(agent_config, trust.as_ref())
}

/// The proxy for `http` (`HTTP_PROXY`) or `https` (`HTTPS_PROXY`), else `ALL_PROXY` (each also in
/// lower case), with the hosts of `NO_PROXY` going direct. A value that is not a proxy URL is an
/// error, not a silent direct connection; the value is not quoted, as it may hold a password.
fn proxy_from_env(
    plain_http: bool,
    var: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<ureq::Proxy>> {
    let names: &[&str] = if plain_http {
        &["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"]
    } else {
        &["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"]
    };
    let Some((name, found)) = names
        .iter()
        .filter_map(|n| var(n).map(|v| (*n, v)))
        .find(|(_, v)| !v.trim().is_empty())
    else {
        return Ok(None);
    };
    let refused = || Error::Malformed {
        what: name.to_string(),
        reason: "not a proxy URL such as http://host:3128".into(),
    };
    let found = found.trim();
    // ureq reads an unknown scheme such as `ftp://`, or a port that is not a number, as plain http
    // on port 80; refuse those instead. No scheme means http, as for curl.
    let full = match found.split_once("://") {
        Some(_) => found.to_string(),
        None => format!("http://{found}"),
    };
    let uri: ureq::http::Uri = full.parse().map_err(|_| refused())?;
    let known = ["http", "https", "socks4", "socks4a", "socks5", "socks5h"];
    if !known.contains(&uri.scheme_str().unwrap_or("").to_ascii_lowercase().as_str())
        || uri.authority().is_none_or(|a| a.host().is_empty())
    {
        return Err(refused());
    }
    let host_port = uri
        .authority()
        .map_or("", |a| a.as_str().rsplit('@').next().unwrap_or(""));
    if let Some((_, port)) = host_port.rsplit_once(':') {
        if !port.ends_with(']') && port.parse::<u16>().is_err() {
            return Err(refused());
        }
    }
    let parsed = ureq::Proxy::new(found).map_err(|_| refused())?;
    let mut b = ureq::Proxy::builder(parsed.protocol())
        .host(parsed.host())
        .port(parsed.port());
    if let Some(u) = parsed.username() {
        b = b.username(u);
    }
    if let Some(p) = parsed.password() {
        b = b.password(p);
    }
    let no_proxy = var("NO_PROXY")
        .or_else(|| var("no_proxy"))
        .unwrap_or_default();
    for entry in no_proxy.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        b = b.no_proxy(entry);
    }
    b.build().map(Some).map_err(|_| refused())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxies_follow_the_scheme_and_no_proxy() {
        use ureq::http::Uri;
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                vars.iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        let vars = env(&[
            ("HTTPS_PROXY", "http://secure:3128"),
            ("http_proxy", "http://plain:8080"),
            ("NO_PROXY", "localhost, .internal"),
        ]);
        let https = proxy_from_env(false, &vars).unwrap().unwrap();
        assert_eq!((https.host(), https.port()), ("secure", 3128));
        let http = proxy_from_env(true, &vars).unwrap().unwrap();
        assert_eq!((http.host(), http.port()), ("plain", 8080));
        let uri = |u: &str| u.parse::<Uri>().unwrap();
        assert!(https.is_no_proxy(&uri("https://localhost:5000/v2/")));
        assert!(https.is_no_proxy(&uri("https://reg.internal/v2/")));
        assert!(!https.is_no_proxy(&uri("https://registry.example/v2/")));
        let all = env(&[("ALL_PROXY", "http://all:1")]);
        assert_eq!(proxy_from_env(false, &all).unwrap().unwrap().host(), "all");
        assert!(proxy_from_env(false, &env(&[])).unwrap().is_none());
    }

    #[test]
    fn a_proxy_that_is_not_a_url_is_an_error_that_does_not_quote_it() {
        for bad in [
            "ftp://u:sekrit@host:21",
            "http://u:sekrit@[::1",
            "http://u:sekrit@host:notaport",
        ] {
            let vars = move |k: &str| (k == "https_proxy").then(|| bad.to_string());
            let err = proxy_from_env(false, &vars).unwrap_err().to_string();
            assert!(err.contains("https_proxy"), "{bad}: {err}");
            assert!(!err.contains("sekrit"), "{bad}: {err}");
        }
        for (good, host, port) in [
            ("http://u:p@proxy", "proxy", 80),
            ("proxy:3128", "proxy", 3128),
            ("http://[::1]:3128", "[::1]", 3128),
            ("socks5://u:p@proxy:1080", "proxy", 1080),
        ] {
            let vars = move |k: &str| (k == "HTTPS_PROXY").then(|| good.to_string());
            let proxy = proxy_from_env(false, &vars).unwrap().unwrap();
            assert_eq!((proxy.host(), proxy.port()), (host, port), "{good}");
        }
    }

    #[test]
    fn the_proxy_password_is_not_in_debug_output() {
        let vars = |k: &str| {
            (k == "HTTPS_PROXY").then(|| "http://puser:proxysecret@127.0.0.1:3128".to_string())
        };
        let agent = agent_with_env(&ClientConfig::default(), &vars).unwrap();
        let proxy = agent.config().proxy().unwrap();
        assert_eq!(proxy.password(), Some("proxysecret"));
        let shown = format!("{agent:?} {proxy:?}");
        assert!(shown.contains("127.0.0.1:3128"), "{shown}");
        assert!(!shown.contains("proxysecret"), "{shown}");
    }
}
