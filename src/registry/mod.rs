//! The registry client (OCI distribution-spec v1.1): a [`Client`] per configuration, a [`Repository`]
//! handle per `registry/name`, and the operations grouped by concept: manifests, blobs, uploads and
//! referrers. HTTP, TLS, timeouts, retries and the origin rule for credentials live in `transport`,
//! authentication in [`auth`].

mod agent;
pub mod auth;
mod blobs;
pub mod exchange;
mod manifests;
mod origin;
mod pages;
pub(crate) mod referrers;
mod small;
mod status;
mod tls;
pub mod trace;
mod transport;
mod upload;

use ureq::http::{Method, StatusCode};

use crate::error::Result;

pub use auth::{Auth, RegistryAuth, Scope};
pub use manifests::{Manifest, TagPages, ACCEPT};
pub use pages::{KEPT_LIMIT, MAX_PAGES};
pub use trace::{Exchanged, Trace};
pub use transport::ClientConfig;
use transport::{Request, Transport};
pub use upload::{Open, Pushed};

/// How many blobs a pull, push or sync transfers at once unless told otherwise: the default of
/// [`ClientConfig::jobs`] and of the command line's `--jobs`.
pub const DEFAULT_JOBS: usize = 8;

/// A registry client: one HTTP agent (connections are pooled and shared by every thread).
#[derive(Debug)]
pub struct Client {
    transport: Transport,
}

impl Client {
    /// A client for `config`: builds the HTTP agent and its TLS configuration (system roots and
    /// any extra certificate); fails when a configured certificate or proxy cannot be used.
    pub fn new(config: ClientConfig) -> Result<Client> {
        Ok(Client {
            transport: Transport::new(config)?,
        })
    }

    /// The configuration the client was made with.
    pub fn config(&self) -> &ClientConfig {
        self.transport.config()
    }

    /// A handle on repository `name` at `registry` (`host[:port]`, as contacted: `registry-1.docker.io`
    /// rather than `docker.io`). `push` asks for push access when authenticating.
    pub fn repository(&self, registry: &str, name: &str, push: bool) -> Repository<'_> {
        Repository {
            client: self,
            registry: registry.to_string(),
            name: name.to_string(),
            scope: Scope {
                repository: name.to_string(),
                push,
                mount_from: None,
            },
        }
    }

    /// `GET /v2/`: whether the registry speaks the distribution API (a `401` counts: it does, and
    /// wants credentials).
    pub fn ping(&self, registry: &str) -> Result<()> {
        let url = format!("{}://{registry}/v2/", self.transport.scheme_for(registry));
        let scope = Scope::default();
        let resp = self
            .transport
            .send(&Request::new(Method::GET, url.clone(), &scope).anonymous())?;
        match resp.status() {
            s if s.is_success() || s == StatusCode::UNAUTHORIZED => Ok(()),
            _ => Err(status::status_error(&url, resp)),
        }
    }
}

impl Client {
    /// `GET /v2/` with credentials, as `skopeo login` and `docker login` check them before saving
    /// them: `Ok` when the registry accepts them (or wants none), [`Error::Auth`] when it refuses
    /// them, the registry's answer as an error otherwise.
    ///
    /// [`Error::Auth`]: crate::Error::Auth
    pub fn check_credentials(&self, registry: &str) -> Result<()> {
        let url = format!("{}://{registry}/v2/", self.transport.scheme_for(registry));
        let scope = Scope::default();
        let resp = self
            .transport
            .send(&Request::new(Method::GET, url.clone(), &scope))?;
        match resp.status() {
            s if s.is_success() => Ok(()),
            StatusCode::UNAUTHORIZED => Err(crate::Error::Auth {
                registry: registry.to_string(),
                reason: "the registry refused the credentials".into(),
            }),
            _ => Err(status::status_error(&url, resp)),
        }
    }
}

/// One repository on one registry.
#[derive(Clone, Debug)]
pub struct Repository<'a> {
    client: &'a Client,
    registry: String,
    name: String,
    scope: Scope,
}

impl Repository<'_> {
    /// The registry host, as contacted.
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// The repository name (path without the registry).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `<scheme>://<registry>/v2/<name>/<tail>`.
    fn url(&self, tail: &str) -> String {
        format!(
            "{}://{}/v2/{}/{tail}",
            self.transport().scheme_for(&self.registry),
            self.registry,
            self.name
        )
    }

    fn transport(&self) -> &Transport {
        &self.client.transport
    }

    /// A request with this repository's scope and the registry's credentials, which go only to the
    /// registry's own origin whatever `url` is (an upload `Location`, a redirect).
    fn request(&self, method: Method, url: String) -> Request<'_> {
        Request::new(method, url, &self.scope).on_registry(&self.url(""))
    }
}
