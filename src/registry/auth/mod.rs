//! Registry authentication, all of it: the [`Auth`] seam the transport asks before a request and on
//! a `401`; [`RegistryAuth`], which answers anonymously first, then `Basic` or `Bearer` with
//! credentials looked up lazily per registry ([`credentials`]), challenges parsed by `challenge` and
//! tokens fetched and cached per scope by `token`. Secrets never reach a message or `Debug`.

// Public only for the fuzz targets (www_authenticate); not an API to build on.
#[doc(hidden)]
pub mod authfile;
pub mod challenge;
pub mod credentials;
mod token;

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;

pub use credentials::{Credential, CredentialSources, Environment, Found, Given};

use super::exchange::Exchange;
use super::origin::redact;
use crate::error::{Error, Result};

/// What a request needs access to, as token `scope`s: `repository:<name>:pull` or `pull,push`, and
/// for a cross-repository mount also `repository:<from>:pull`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Scope {
    /// The repository the request is about (`library/alpine`).
    pub repository: String,
    /// Whether push access is needed, not only pull.
    pub push: bool,
    /// The repository a blob is mounted from, which needs pull access too.
    pub mount_from: Option<String>,
}

impl Scope {
    /// The token scopes this access needs (none for the registry root).
    pub fn scopes(&self) -> Vec<String> {
        let mut out = Vec::new();
        if !self.repository.is_empty() {
            let actions = if self.push { "pull,push" } else { "pull" };
            out.push(format!("repository:{}:{actions}", self.repository));
        }
        if let Some(from) = self.mount_from.as_ref().filter(|f| **f != self.repository) {
            out.push(format!("repository:{from}:pull"));
        }
        out
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.scopes().join(" "))
    }
}

/// The authentication seam. The transport asks for a header before each request and, on a `401`,
/// hands over the `WWW-Authenticate` challenge; an implementation that can answer it (Basic, a Bearer
/// token fetched from the realm through `http`, the client's own transport) returns the header to
/// retry with. A second `401` to that answer is turned into an error by [`Auth::refused`].
pub trait Auth: Send + Sync + fmt::Debug {
    /// The `Authorization` value to send to `host` for `scope` before any challenge, if known: a
    /// cached token, a fresh one from a realm this host sent before, or Basic credentials for a host
    /// known to want them.
    fn authorization(
        &self,
        host: &str,
        scope: &Scope,
        http: &dyn Exchange,
    ) -> Result<Option<String>>;

    /// Answers a `401` challenge from `host` to a request that carried `rejected`; `None` gives up
    /// and the `401` goes back to the caller.
    fn challenge(
        &self,
        host: &str,
        scope: &Scope,
        www_authenticate: &str,
        rejected: Option<&str>,
        http: &dyn Exchange,
    ) -> Result<Option<String>>;

    /// The error for a `401` to a request that carried this implementation's answer.
    fn refused(&self, host: &str, _scope: &Scope, _www_authenticate: &str) -> Error {
        Error::Auth {
            registry: host.to_string(),
            reason: "the registry refused the credentials".into(),
        }
    }
}

/// How a host asked to be authenticated.
#[derive(Clone)]
enum Scheme {
    Basic,
    Bearer {
        realm: String,
        service: Option<String>,
    },
}

/// What [`RegistryAuth`] has learnt while talking to registries.
#[derive(Default)]
struct State {
    /// The scheme each host challenged with.
    schemes: HashMap<String, Scheme>,
    /// Bearer tokens per host and scopes (joined by spaces); stale ones stay, to tell a renewal.
    tokens: HashMap<(String, String), token::Token>,
    /// Lookups done, per host and repository.
    credentials: HashMap<(String, String), Option<Found>>,
}

/// The [`Auth`] of the command line: anonymous until a registry challenges; then `Basic`, or a
/// `Bearer` token from the challenge's realm (with Basic credentials, an identity token as a refresh
/// token, or nothing), cached per host and scope until it is about to expire. Credentials are looked
/// up once per registry and repository, only when a registry asks.
#[derive(Default)]
pub struct RegistryAuth {
    sources: CredentialSources,
    state: Mutex<State>,
    /// Held while a token is fetched, so parallel transfers that find one stale fetch it once.
    fetching: Mutex<()>,
}

impl fmt::Debug for RegistryAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state.lock().unwrap();
        f.debug_struct("RegistryAuth")
            .field("sources", &self.sources)
            .field("hosts", &state.schemes.keys().collect::<Vec<_>>())
            .field("tokens", &format!("<{} redacted>", state.tokens.len()))
            .finish()
    }
}

impl RegistryAuth {
    /// Authentication from these credential sources. [`Default`] has none: anonymous access,
    /// including anonymous Bearer tokens.
    pub fn new(sources: CredentialSources) -> Self {
        RegistryAuth {
            sources,
            ..Default::default()
        }
    }

    /// The credential for `host` and `repository`, looked up once.
    fn credential(&self, host: &str, repository: &str) -> Result<Option<Found>> {
        let key = (host.to_string(), repository.to_string());
        if let Some(found) = self.state.lock().unwrap().credentials.get(&key) {
            return Ok(found.clone());
        }
        let found = self
            .sources
            .find(host, Some(repository).filter(|r| !r.is_empty()))?;
        self.state
            .lock()
            .unwrap()
            .credentials
            .insert(key, found.clone());
        Ok(found)
    }

    fn no_credentials(&self, host: &str) -> Error {
        Error::NoCredentials {
            registry: host.to_string(),
            looked_in: self.sources.looked_in(),
        }
    }

    /// The Basic answer for `host`.
    fn basic_answer(&self, host: &str, scope: &Scope) -> Result<String> {
        match self.credential(host, &scope.repository)? {
            None => Err(self.no_credentials(host)),
            Some(Found {
                credential: Credential::Basic { username, password },
                ..
            }) => Ok(basic(&username, &password)),
            Some(Found {
                credential: Credential::IdentityToken { .. },
                source,
            }) => Err(Error::Auth {
                registry: host.to_string(),
                reason: format!(
                    "the registry wants a password, and {source} has only an identity token"
                ),
            }),
        }
    }

    /// A Bearer token for `scopes` on `host`: the cached one unless it is stale or was `rejected`,
    /// otherwise a new one from `realm`.
    #[allow(clippy::too_many_arguments)]
    fn bearer(
        &self,
        host: &str,
        realm: &str,
        service: Option<&str>,
        repository: &str,
        scopes: Vec<String>,
        rejected: Option<&str>,
        http: &dyn Exchange,
    ) -> Result<String> {
        let key = (host.to_string(), scopes.join(" "));
        let _one_at_a_time = self.fetching.lock().unwrap();
        let renewing = {
            let state = self.state.lock().unwrap();
            match state.tokens.get(&key) {
                Some(t) => {
                    let header = format!("Bearer {}", t.value);
                    if t.is_fresh() && rejected != Some(header.as_str()) {
                        return Ok(header);
                    }
                    true
                }
                None => false,
            }
        };
        let found = self.credential(host, repository)?;
        let grant = match &found {
            None => token::Grant::Anonymous,
            Some(f) => match &f.credential {
                Credential::Basic { username, password } => {
                    token::Grant::Basic { username, password }
                }
                Credential::IdentityToken { token, .. } => token::Grant::Refresh { token },
            },
        };
        match token::fetch(http, realm, service, &scopes, &grant) {
            Ok(t) => {
                let header = format!("Bearer {}", t.value);
                self.state.lock().unwrap().tokens.insert(key, t);
                Ok(header)
            }
            Err(token::Failure::Refused(said)) => {
                let Some(f) = found else {
                    return Err(self.no_credentials(host));
                };
                let refused = format!(
                    "the token server {} refused {} (from {}): {said}",
                    redact(realm),
                    who(&f.credential),
                    f.source
                );
                Err(Error::Auth {
                    registry: host.to_string(),
                    reason: if renewing {
                        format!(
                            "the token for {} expired and could not be renewed: {refused}",
                            key.1
                        )
                    } else {
                        refused
                    },
                })
            }
            Err(token::Failure::Other(said)) => Err(Error::Auth {
                registry: host.to_string(),
                reason: format!("no token from {}: {said}", redact(realm)),
            }),
        }
    }
}

impl Auth for RegistryAuth {
    fn authorization(
        &self,
        host: &str,
        scope: &Scope,
        http: &dyn Exchange,
    ) -> Result<Option<String>> {
        let scheme = self.state.lock().unwrap().schemes.get(host).cloned();
        match scheme {
            None => Ok(None),
            Some(Scheme::Basic) => self.basic_answer(host, scope).map(Some),
            Some(Scheme::Bearer { realm, service }) => self
                .bearer(
                    host,
                    &realm,
                    service.as_deref(),
                    &scope.repository,
                    scope.scopes(),
                    None,
                    http,
                )
                .map(Some),
        }
    }

    fn challenge(
        &self,
        host: &str,
        scope: &Scope,
        www_authenticate: &str,
        rejected: Option<&str>,
        http: &dyn Exchange,
    ) -> Result<Option<String>> {
        let challenges = challenge::parse(www_authenticate);
        let bearer = challenges
            .iter()
            .find(|c| c.scheme == "bearer" && c.param("realm").is_some());
        if let Some(c) = bearer {
            let realm = c.param("realm").unwrap_or_default().to_string();
            let service = c.param("service").map(str::to_string);
            self.state.lock().unwrap().schemes.insert(
                host.to_string(),
                Scheme::Bearer {
                    realm: realm.clone(),
                    service: service.clone(),
                },
            );
            // What we need, plus whatever else the registry says this request needs.
            let mut scopes = scope.scopes();
            for s in c.param("scope").unwrap_or("").split_whitespace() {
                if !scopes.iter().any(|have| covers(have, s)) {
                    scopes.push(s.to_string());
                }
            }
            return self
                .bearer(
                    host,
                    &realm,
                    service.as_deref(),
                    &scope.repository,
                    scopes,
                    rejected,
                    http,
                )
                .map(Some);
        }
        if challenges.iter().any(|c| c.scheme == "basic") {
            self.state
                .lock()
                .unwrap()
                .schemes
                .insert(host.to_string(), Scheme::Basic);
            return self.basic_answer(host, scope).map(Some);
        }
        Ok(None)
    }

    fn refused(&self, host: &str, scope: &Scope, www_authenticate: &str) -> Error {
        let found = self.credential(host, &scope.repository).ok().flatten();
        let Some(found) = found else {
            return self.no_credentials(host);
        };
        let scheme = self.state.lock().unwrap().schemes.get(host).cloned();
        let error = challenge::parse(www_authenticate)
            .into_iter()
            .find_map(|c| c.param("error").map(str::to_string));
        let reason = match scheme {
            Some(Scheme::Bearer { .. }) => format!(
                "the registry refused the token issued to {} (from {}) for {scope}{}",
                who(&found.credential),
                found.source,
                error.map(|e| format!(" ({e})")).unwrap_or_default()
            ),
            _ => format!(
                "the registry refused the password of {} (from {})",
                who(&found.credential),
                found.source
            ),
        };
        Error::Auth {
            registry: host.to_string(),
            reason,
        }
    }
}

/// Reads a token server's answer as the client does: the token, and for how long it is offered
/// (clamped, whatever the server claims). `Err` says why there is no token.
// Public only for the fuzz targets (token_response); not an API to build on.
#[doc(hidden)]
pub fn parse_token_answer(
    body: &[u8],
) -> std::result::Result<(String, std::time::Duration), String> {
    match token::parse_answer(body, std::time::SystemTime::now()) {
        Ok(t) => Ok((
            t.value,
            t.fresh_until
                .saturating_duration_since(std::time::Instant::now()),
        )),
        Err(token::Failure::Refused(why) | token::Failure::Other(why)) => Err(why),
    }
}

/// Whether scope `have` grants everything scope `want` asks (`repository:a:pull,push` covers
/// `repository:a:pull`), so one token keeps serving a repository.
fn covers(have: &str, want: &str) -> bool {
    let split = |s: &str| {
        let (kind, rest) = s.split_once(':')?;
        let (name, actions) = rest.rsplit_once(':')?;
        Some((kind.to_string(), name.to_string(), actions.to_string()))
    };
    match (split(have), split(want)) {
        (Some((hk, hn, ha)), Some((wk, wn, wa))) => {
            hk == wk && hn == wn && wa.split(',').all(|a| ha.split(',').any(|h| h == a))
        }
        _ => have == want,
    }
}

/// "user \"joe\"", or "the identity token".
fn who(c: &Credential) -> String {
    match c {
        Credential::Basic { username, .. } => format!("user {username:?}"),
        Credential::IdentityToken { .. } => "the identity token".into(),
    }
}

/// The `Authorization` value for Basic credentials.
pub(crate) fn basic(username: &str, password: &str) -> String {
    use base64::Engine as _;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"))
    )
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::registry::exchange::{Answer, Call};
    use crate::registry::ClientConfig;

    /// An exchange for tests that must not reach the network.
    struct NoNetwork;

    impl Exchange for NoNetwork {
        fn exchange(&self, call: &Call) -> Result<Answer> {
            panic!("unexpected request to {}", call.url)
        }
    }

    /// A token server that refuses every request, and fails the test if one carries credentials.
    struct Refuses;

    impl Exchange for Refuses {
        fn exchange(&self, call: &Call) -> Result<Answer> {
            assert!(call.authorization.is_none(), "credentials to {}", call.url);
            Ok(Answer {
                status: 401,
                body: Vec::new(),
            })
        }
    }

    fn scope(repository: &str, push: bool, mount_from: Option<&str>) -> Scope {
        Scope {
            repository: repository.into(),
            push,
            mount_from: mount_from.map(str::to_string),
        }
    }

    #[test]
    fn scopes_cover_mounts() {
        assert_eq!(scope("a/b", false, None).to_string(), "repository:a/b:pull");
        assert_eq!(
            scope("a/b", true, Some("c")).scopes(),
            ["repository:a/b:pull,push", "repository:c:pull"]
        );
        assert_eq!(
            scope("a", true, Some("a")).to_string(),
            "repository:a:pull,push"
        );
        assert!(scope("", false, None).scopes().is_empty());
        let cases = [
            ("repository:a:pull,push", "repository:a:pull", true),
            ("repository:a:pull,push", "repository:a:push,pull", true),
            ("repository:a:pull", "repository:a:pull,push", false),
            ("repository:a:pull,push", "repository:b:pull", false),
            ("repository:h:5000/a:pull", "repository:h:5000/a:pull", true),
            ("registry:catalog:*", "registry:catalog:*", true),
        ];
        for (have, want, covered) in cases {
            assert_eq!(covers(have, want), covered, "{have} {want}");
        }
    }

    #[test]
    fn basic_answers_and_secrets_are_redacted() {
        let auth = RegistryAuth::new(CredentialSources {
            explicit: vec![Given::new(
                "h",
                Credential::Basic {
                    username: "u".into(),
                    password: "hunter2".into(),
                },
                "--username",
            )],
            ..Default::default()
        });
        let agent = NoNetwork;
        let s = scope("r", false, None);
        assert_eq!(auth.authorization("h", &s, &agent).unwrap(), None);
        let answer = auth
            .challenge("h", &s, "Basic realm=\"x\"", None, &agent)
            .unwrap();
        assert_eq!(answer.as_deref(), Some("Basic dTpodW50ZXIy"));
        // Known to want Basic now: sent up front.
        assert_eq!(auth.authorization("h", &s, &agent).unwrap(), answer);
        assert_eq!(
            auth.challenge("h", &s, "Negotiate", None, &agent).unwrap(),
            None
        );
        // Given for h: another registry's challenge gets nothing. Basic has nothing to answer
        // with; a Bearer realm is asked for an anonymous token, without Authorization.
        for other in ["h:443", "h.example", "evil"] {
            let err = auth
                .challenge(other, &s, "Basic realm=\"x\"", None, &agent)
                .unwrap_err()
                .to_string();
            assert!(
                err.starts_with(&format!("no credentials found for {other}")),
                "{other}: {err}"
            );
            let realm = format!("Bearer realm=\"http://{other}/token\"");
            let _ = auth.challenge(other, &s, &realm, None, &Refuses);
        }
        let refused = auth.refused("h", &s, "Basic").to_string();
        assert_eq!(
            refused,
            "authentication to h failed: the registry refused the password of user \"u\" (from --username)"
        );
        let shown = format!(
            "{:?}",
            ClientConfig {
                auth: Arc::new(auth),
                ..Default::default()
            }
        );
        assert!(
            !shown.contains("hunter2") && !shown.contains("dTpodW50ZXIy"),
            "{shown}"
        );
        assert!(shown.contains("<redacted>"), "{shown}");
        assert_eq!(
            basic("Aladdin", "open sesame"),
            "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );
    }

    #[test]
    fn no_credentials_says_where_it_looked() {
        let auth = RegistryAuth::new(CredentialSources {
            env: Environment {
                docker_config: Some("/nonexistent/docker".into()),
                ..Default::default()
            },
            ..Default::default()
        });
        let agent = NoNetwork;
        let err = auth
            .challenge("h:5000", &scope("r", false, None), "Basic", None, &agent)
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "no credentials found for h:5000 (looked in: --username, /nonexistent/docker/config.json ($DOCKER_CONFIG))"
        );
    }
}
