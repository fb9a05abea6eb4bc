//! The authentication seam between the transport and wherever credentials come from: [`Auth`] is
//! asked for an `Authorization` header before a request and hands back an answer to a `401`
//! challenge. [`Credentials`] answers `Basic` challenges from a user name and password; token
//! (`Bearer`) flows and the credential sources of `crate::auth` plug in here as further
//! implementations.

use std::fmt;

use crate::error::Result;

/// What a request needs access to, as in a token `scope`: `repository:<name>:pull` or `pull,push`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Scope {
    pub repository: String,
    pub push: bool,
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let actions = if self.push { "pull,push" } else { "pull" };
        write!(f, "repository:{}:{actions}", self.repository)
    }
}

/// The authentication seam. The transport asks for a header before each request and, on a `401`,
/// hands over the `WWW-Authenticate` challenge; an implementation that can answer it (Basic, a Bearer
/// token fetched from the realm) returns the header to retry with.
pub trait Auth: Send + Sync + fmt::Debug {
    /// The `Authorization` value to send to `host` for `scope` before any challenge, if known.
    fn authorization(&self, host: &str, scope: &Scope) -> Option<String>;

    /// Answers a `401` challenge from `host`; `None` gives up and the `401` becomes the error.
    fn challenge(
        &self,
        host: &str,
        scope: &Scope,
        www_authenticate: &str,
    ) -> Result<Option<String>>;
}

/// Static credentials: anonymous, or a user name and password answered to a `Basic` challenge.
#[derive(Clone)]
pub enum Credentials {
    Anonymous,
    Basic { username: String, password: String },
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credentials::Anonymous => write!(f, "Anonymous"),
            Credentials::Basic { username, .. } => f
                .debug_struct("Basic")
                .field("username", username)
                .field("password", &"<redacted>")
                .finish(),
        }
    }
}

impl Credentials {
    fn basic(&self) -> Option<String> {
        match self {
            Credentials::Anonymous => None,
            Credentials::Basic { username, password } => Some(format!(
                "Basic {}",
                base64(format!("{username}:{password}").as_bytes())
            )),
        }
    }
}

impl Auth for Credentials {
    fn authorization(&self, _host: &str, _scope: &Scope) -> Option<String> {
        None
    }

    fn challenge(
        &self,
        _host: &str,
        _scope: &Scope,
        www_authenticate: &str,
    ) -> Result<Option<String>> {
        let scheme = www_authenticate.split_whitespace().next().unwrap_or("");
        Ok(if scheme.eq_ignore_ascii_case("basic") {
            self.basic()
        } else {
            None
        })
    }
}

fn base64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::registry::ClientConfig;

    #[test]
    fn secrets_are_redacted_and_basic_encodes() {
        let c = Credentials::Basic {
            username: "u".into(),
            password: "hunter2".into(),
        };
        let shown = format!(
            "{:?}",
            ClientConfig {
                auth: Arc::new(c.clone()),
                ..Default::default()
            }
        );
        assert!(
            !shown.contains("hunter2") && shown.contains("<redacted>"),
            "{shown}"
        );
        assert_eq!(
            base64(b"Aladdin:open sesame"),
            "QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );
        assert_eq!(base64(b"a"), "YQ==");
        assert_eq!(base64(b"ab"), "YWI=");
        let scope = Scope {
            repository: "r".into(),
            push: false,
        };
        assert_eq!(
            c.challenge("h", &scope, "Basic realm=\"x\"")
                .unwrap()
                .as_deref(),
            Some("Basic dTpodW50ZXIy")
        );
        assert_eq!(
            c.challenge("h", &scope, "Bearer realm=\"x\"").unwrap(),
            None
        );
    }
}
