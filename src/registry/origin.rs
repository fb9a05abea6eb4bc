//! Origins (scheme, host and port together) and the one rule of where credentials may go: only to
//! the origin they are meant for, never to another host or port, never from `https` down to `http`.
//! Also the URL helpers the transport and authentication share (resolving a `Location`, redacting a
//! URL for messages), so neither imports the other for them.

use std::fmt;

/// Where a URL points: scheme, host and port (the default port made explicit), compared as a
/// whole. `https://h` and `https://h:443` are one origin; `http://h:443` is another.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Origin {
    scheme: String,
    host: String,
    port: u16,
}

impl Origin {
    /// The origin of an absolute `http` or `https` URL; `None` for anything else.
    pub(crate) fn of(url: &str) -> Option<Origin> {
        let (scheme, rest) = url.split_once("://")?;
        let scheme = scheme.to_ascii_lowercase();
        let default = match scheme.as_str() {
            "http" => 80,
            "https" => 443,
            _ => return None,
        };
        let authority = host_of(rest);
        // User information (`user:pw@`) is not part of the origin.
        let authority = authority.rsplit('@').next().unwrap_or(authority);
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) if !p.ends_with(']') && !p.is_empty() => (h, p.parse::<u16>().ok()?),
            Some((h, "")) => (h, default),
            _ => (authority, default),
        };
        if host.is_empty() {
            return None;
        }
        Some(Origin {
            scheme,
            host: host.to_ascii_lowercase(),
            port,
        })
    }

    /// `https`.
    pub(crate) fn is_https(&self) -> bool {
        self.scheme == "https"
    }

    /// Whether the host is `localhost` or in 127.0.0.0/8 (or `[::1]`): a registry there may answer
    /// in plain HTTP, as docker allows.
    pub(crate) fn is_loopback(&self) -> bool {
        is_loopback_host(&self.host)
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}:{}", self.scheme, self.host, self.port)
    }
}

/// Whether credentials meant for `origin` may be sent with a request to `url`: only when `url` has
/// exactly that origin (so an `https` origin never sees them go out over `http`).
pub(crate) fn may_carry_credentials(origin: &Origin, url: &str) -> bool {
    Origin::of(url).as_ref() == Some(origin)
}

/// Whether `host` (as in a registry name, `host[:port]`) is loopback: `localhost`, 127.0.0.0/8 or
/// `[::1]`.
pub(crate) fn is_loopback_host(host_port: &str) -> bool {
    let host = match host_port.rsplit_once(':') {
        Some((h, p)) if !p.ends_with(']') => h,
        _ => host_port,
    };
    let host = host.to_ascii_lowercase();
    if host == "localhost" || host == "[::1]" {
        return true;
    }
    let octets: Vec<&str> = host.split('.').collect();
    octets.len() == 4
        && octets[0] == "127"
        && octets
            .iter()
            .all(|o| !o.is_empty() && o.len() <= 3 && o.parse::<u8>().is_ok())
}

/// `host[:port]` of an absolute URL (or of what follows its `scheme://`).
pub(crate) fn host_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.split(['/', '?', '#']).next().unwrap_or("")
}

/// Resolves a `Location` header against the URL it came from: absolute, host-relative (`/v2/...`),
/// query-relative (`?last=b`: the same path) or path-relative.
pub(crate) fn resolve_location(base: &str, location: &str) -> String {
    if location.contains("://") {
        return location.to_string();
    }
    let (scheme, rest) = base.split_once("://").unwrap_or(("https", base));
    let host = host_of(base);
    if let Some(stripped) = location.strip_prefix("//") {
        return format!("{scheme}://{stripped}");
    }
    if location.starts_with('/') {
        return format!("{scheme}://{host}{location}");
    }
    let path = rest[host.len()..].split(['?', '#']).next().unwrap_or("");
    if location.starts_with('?') {
        return format!("{scheme}://{host}{path}{location}");
    }
    let dir = path.rsplit_once('/').map_or("", |(d, _)| d);
    format!("{scheme}://{host}{dir}/{location}")
}

/// A URL without its query string, for messages and logs (upload URLs carry opaque state there,
/// token URLs the account name).
pub(crate) fn redact(url: &str) -> String {
    url.split('?').next().unwrap_or(url).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_stay_with_their_origin() {
        let origin = Origin::of("https://Reg.example:5000/v2/a/manifests/1").unwrap();
        // (url, may carry the credentials)
        let cases = [
            ("https://reg.example:5000/v2/a/blobs/x", true),
            ("https://REG.example:5000/other?x=1", true),
            ("http://reg.example:5000/v2/a/blobs/x", false),
            ("https://reg.example:5001/v2/a/blobs/x", false),
            ("https://reg.example/v2/a/blobs/x", false),
            ("https://cdn.example:5000/v2/a/blobs/x", false),
            ("https://reg.example:5000@evil.example/x", false),
            ("ftp://reg.example:5000/x", false),
            ("reg.example:5000/x", false),
        ];
        for (url, want) in cases {
            assert_eq!(may_carry_credentials(&origin, url), want, "{url}");
        }
        let default = Origin::of("https://h/v2/").unwrap();
        assert!(may_carry_credentials(&default, "https://h:443/v2/x"));
        assert!(!may_carry_credentials(&default, "http://h:443/v2/x"));
        assert_eq!(default.to_string(), "https://h:443");
        assert!(Origin::of("http://h:notaport/").is_none());
    }

    #[test]
    fn loopback_hosts() {
        for (host, want) in [
            ("localhost", true),
            ("localhost:5000", true),
            ("127.0.0.1:5000", true),
            ("127.1.2.3", true),
            ("[::1]:5000", true),
            ("127.0.0.1.evil.example", false),
            ("128.0.0.1", false),
            ("localhost.example", false),
            ("registry.example:5000", false),
        ] {
            assert_eq!(is_loopback_host(host), want, "{host}");
        }
    }

    #[test]
    fn locations_resolve() {
        let base = "http://127.0.0.1:5000/v2/a/blobs/uploads/x?y=1";
        let cases = [
            ("https://other:1/up?z", "https://other:1/up?z"),
            (
                "/v2/a/blobs/uploads/u2",
                "http://127.0.0.1:5000/v2/a/blobs/uploads/u2",
            ),
            ("u3?s=2", "http://127.0.0.1:5000/v2/a/blobs/uploads/u3?s=2"),
            ("//cdn.example/x", "http://cdn.example/x"),
            (
                "?last=b",
                "http://127.0.0.1:5000/v2/a/blobs/uploads/x?last=b",
            ),
        ];
        for (loc, want) in cases {
            assert_eq!(resolve_location(base, loc), want, "{loc}");
        }
        assert_eq!(host_of(base), "127.0.0.1:5000");
        assert_eq!(redact(base), "http://127.0.0.1:5000/v2/a/blobs/uploads/x");
    }
}
