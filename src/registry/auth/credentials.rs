//! Where registry credentials come from, first match wins, in the order of containers-auth.json(5):
//! a credential given on the command line for that very registry ([`Given`]); then the primary auth file, which is `--auth-file` or else
//! `REGISTRY_AUTH_FILE` when given, otherwise `${XDG_RUNTIME_DIR}/containers/auth.json` (or
//! `/run/containers/$UID/auth.json` without `XDG_RUNTIME_DIR`, where `skopeo login` and `podman
//! login` save as root); then `${XDG_CONFIG_HOME:-~/.config}/containers/auth.json`;
//! `$DOCKER_CONFIG/config.json` or `~/.docker/config.json`; and the legacy `~/.dockercfg`. Each file
//! may hold `auths` (with `auth` or `identitytoken`), `credHelpers` and `credsStore` (through
//! `docker-credential-<name> get`). Secrets never reach a message: `Debug` redacts them and parse
//! errors name only the file and position.

use std::collections::HashMap;
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde::Deserialize;

use crate::error::{Error, Result};

/// How long a credential helper may take when the caller does not say.
const HELPER_TIMEOUT: Duration = Duration::from_secs(30);

/// Docker Hub's historic key in config files and the server URL its credential helpers know.
pub(crate) const DOCKER_HUB_KEY: &str = "https://index.docker.io/v1/";

/// A credential for one registry.
#[derive(Clone, PartialEq, Eq)]
pub enum Credential {
    /// A user name and password (or personal access token), for Basic auth or a token request.
    Basic {
        /// The user name.
        username: String,
        /// The password or token; never printed.
        password: String,
    },
    /// An OAuth2 refresh token ("identity token"), exchanged at the token endpoint.
    IdentityToken {
        /// The user name the token belongs to (often `<token>`).
        username: String,
        /// The refresh token; never printed.
        token: String,
    },
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credential::Basic { username, .. } => f
                .debug_struct("Basic")
                .field("username", username)
                .field("password", &"<redacted>")
                .finish(),
            Credential::IdentityToken { username, .. } => f
                .debug_struct("IdentityToken")
                .field("username", username)
                .field("token", &"<redacted>")
                .finish(),
        }
    }
}

/// The environment the lookup reads, captured once (and replaceable in tests).
#[derive(Clone, Debug, Default)]
pub struct Environment {
    /// `REGISTRY_AUTH_FILE`: a containers `auth.json` that replaces the default search.
    pub registry_auth_file: Option<PathBuf>,
    /// `XDG_RUNTIME_DIR`, for `$XDG_RUNTIME_DIR/containers/auth.json`.
    pub xdg_runtime_dir: Option<PathBuf>,
    /// `XDG_CONFIG_HOME`, for `$XDG_CONFIG_HOME/containers/auth.json`.
    pub xdg_config_home: Option<PathBuf>,
    /// `DOCKER_CONFIG`, the directory holding docker's `config.json`.
    pub docker_config: Option<PathBuf>,
    /// `HOME`, for `~/.docker/config.json` and `~/.config/containers/auth.json`.
    pub home: Option<PathBuf>,
    /// The user id, for `/run/containers/$UID/auth.json` when `XDG_RUNTIME_DIR` is unset.
    pub uid: Option<u32>,
}

impl Environment {
    /// The process environment.
    pub fn from_process() -> Self {
        let var = |k: &str| {
            std::env::var_os(k)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        Environment {
            registry_auth_file: var("REGISTRY_AUTH_FILE"),
            xdg_runtime_dir: var("XDG_RUNTIME_DIR"),
            xdg_config_home: var("XDG_CONFIG_HOME"),
            docker_config: var("DOCKER_CONFIG"),
            home: var("HOME"),
            uid: process_uid(),
        }
    }
}

/// The user id of this process: the owner of `/proc/self` (Linux), without unsafe code.
#[cfg(unix)]
fn process_uid() -> Option<u32> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").ok().map(|m| m.uid())
}

#[cfg(not(unix))]
fn process_uid() -> Option<u32> {
    None
}

/// A credential given for one registry (on the command line: `--username`, `--src-username`,
/// `--dest-username`): offered to that registry only, never to another one a command talks to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Given {
    /// The registry it is for, as a reference names it (`docker.io`, `host:5000`).
    pub registry: String,
    /// The one repository it is for (`team/app`), when two credentials share a registry; `None`:
    /// every repository of the registry.
    pub repository: Option<String>,
    /// The credential.
    pub credential: Credential,
    /// Where it came from, for messages (`--username`).
    pub source: String,
}

impl Given {
    /// `credential`, from `source`, for every repository of `registry`.
    pub fn new(registry: &str, credential: Credential, source: &str) -> Self {
        Given {
            registry: registry.to_string(),
            repository: None,
            credential,
            source: source.to_string(),
        }
    }

    /// Whether it is for `host` (normalized) and, when it names one, `repository`.
    fn is_for(&self, host: &str, repository: Option<&str>) -> bool {
        normalize_host(&self.registry) == host
            && self
                .repository
                .as_deref()
                .is_none_or(|r| Some(r) == repository)
    }
}

/// Every source of credentials, in the order they are consulted.
#[derive(Clone, Default)]
pub struct CredentialSources {
    /// Credentials given on the command line, each for its own registry: the first one for the
    /// registry (and repository) asked about wins over every file.
    pub explicit: Vec<Given>,
    /// `--auth-file`: must exist when given.
    pub auth_file: Option<PathBuf>,
    /// The environment variables the search reads.
    pub env: Environment,
    /// How long a credential helper may take before it is killed; `None`: 30 seconds.
    pub helper_timeout: Option<Duration>,
}

impl fmt::Debug for CredentialSources {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CredentialSources")
            .field("explicit", &self.explicit)
            .field("auth_file", &self.auth_file)
            .field("env", &self.env)
            .field("helper_timeout", &self.helper_timeout)
            .finish()
    }
}

/// A containers `auth.json` or a docker `config.json`: the same shape where it matters.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct ConfigFile {
    #[serde(default)]
    auths: HashMap<String, AuthEntry>,
    #[serde(default)]
    cred_helpers: HashMap<String, String>,
    #[serde(default)]
    creds_store: Option<String>,
}

#[derive(Deserialize, Default)]
struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    identitytoken: Option<String>,
}

/// How a credentials file is laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    /// `{"auths": {...}, "credHelpers": {...}, "credsStore": ...}`: containers auth.json, docker
    /// config.json.
    Current,
    /// `{"host": {"auth": ..., "email": ...}}`: docker's old `~/.dockercfg`.
    Legacy,
}

/// One file to consult: where, whether it must exist, how it was chosen (for messages), its format.
struct Place {
    path: PathBuf,
    required: bool,
    why: &'static str,
    format: Format,
}

impl CredentialSources {
    /// The files to consult, in the order of containers-auth.json(5): the primary file (or the
    /// explicit override in its place), then `$XDG_CONFIG_HOME/containers/auth.json`, the docker
    /// config, and the legacy `~/.dockercfg`.
    fn files(&self) -> Vec<Place> {
        let env = &self.env;
        let place = |path: PathBuf, required, why| Place {
            path,
            required,
            why,
            format: Format::Current,
        };
        let mut files = Vec::new();
        if let Some((path, why)) = self.primary_file() {
            files.push(place(path, why == "--auth-file", why));
        }
        match (&env.xdg_config_home, &env.home) {
            (Some(d), _) => files.push(place(
                d.join("containers/auth.json"),
                false,
                "XDG_CONFIG_HOME",
            )),
            (None, Some(h)) => {
                files.push(place(h.join(".config/containers/auth.json"), false, "HOME"))
            }
            (None, None) => {}
        }
        match (&env.docker_config, &env.home) {
            (Some(d), _) => files.push(place(d.join("config.json"), false, "DOCKER_CONFIG")),
            (None, Some(h)) => files.push(place(h.join(".docker/config.json"), false, "HOME")),
            (None, None) => {}
        }
        if let Some(h) = &env.home {
            files.push(Place {
                format: Format::Legacy,
                ..place(h.join(".dockercfg"), false, "HOME")
            });
        }
        files
    }

    /// The primary auth file and what chose it: `--auth-file`, else `$REGISTRY_AUTH_FILE`, else
    /// `$XDG_RUNTIME_DIR/containers/auth.json`, else `/run/containers/$UID/auth.json`.
    fn primary_file(&self) -> Option<(PathBuf, &'static str)> {
        let env = &self.env;
        if let Some(f) = &self.auth_file {
            Some((f.clone(), "--auth-file"))
        } else if let Some(f) = &env.registry_auth_file {
            Some((f.clone(), "REGISTRY_AUTH_FILE"))
        } else if let Some(d) = &env.xdg_runtime_dir {
            Some((d.join("containers/auth.json"), "XDG_RUNTIME_DIR"))
        } else {
            env.uid.map(|uid| {
                (
                    PathBuf::from(format!("/run/containers/{uid}/auth.json")),
                    "UID",
                )
            })
        }
    }

    /// The file `login` writes and `logout` edits: the primary auth file, the first one a lookup
    /// reads, which is where `skopeo login` and `podman login` write (containers-auth.json(5)).
    /// `None` when neither a flag nor the environment names one (no `XDG_RUNTIME_DIR`, no user id).
    pub fn login_file(&self) -> Option<PathBuf> {
        self.primary_file().map(|(path, _)| path)
    }

    /// The credential for `registry` (a reference's domain, e.g. `docker.io` or `host:5000`) and,
    /// when known, the repository path (`library/alpine`), whose longer keys win within a file.
    pub fn lookup(&self, registry: &str, repository: Option<&str>) -> Result<Option<Credential>> {
        Ok(self.find(registry, repository)?.map(|f| f.credential))
    }

    /// Like [`lookup`](Self::lookup), and says where the credential was found.
    pub fn find(&self, registry: &str, repository: Option<&str>) -> Result<Option<Found>> {
        let host = normalize_host(registry);
        if let Some(g) = self.explicit.iter().find(|g| g.is_for(&host, repository)) {
            return Ok(Some(Found {
                credential: g.credential.clone(),
                source: g.source.clone(),
            }));
        }
        for place in self.files() {
            let Some(config) = read_config(&place.path, place.required, place.format)? else {
                continue;
            };
            let timeout = self.helper_timeout.unwrap_or(HELPER_TIMEOUT);
            if let Some(found) = lookup_in(&config, &place.path, &host, repository, timeout)? {
                return Ok(Some(found));
            }
        }
        Ok(None)
    }

    /// Where a lookup looks, in order, for messages: flags and paths, never contents.
    pub fn looked_in(&self) -> String {
        let mut places: Vec<String> = match self.explicit.as_slice() {
            [] => vec!["--username".to_string()],
            given => given
                .iter()
                .map(|g| match &g.repository {
                    Some(r) => format!("{} (for {}/{r})", g.source, g.registry),
                    None => format!("{} (for {})", g.source, g.registry),
                })
                .collect(),
        };
        for Place { path, why, .. } in self.files() {
            places.push(match why {
                "--auth-file" => format!("--auth-file {}", path.display()),
                "HOME" | "UID" => path.display().to_string(),
                env => format!("{} (${env})", path.display()),
            });
        }
        places.join(", ")
    }
}

/// A credential and where it came from (a flag, a file, a helper): never the secret itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    /// The credential.
    pub credential: Credential,
    /// Where it came from (`--username`, a file path, `credential helper docker-credential-x`).
    pub source: String,
}

fn read_config(path: &Path, required: bool, format: Format) -> Result<Option<ConfigFile>> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => return Ok(None),
        Err(e) => return Err(Error::io(path, e)),
    };
    // serde_json's messages can quote the offending value, which may be a secret: name the place only.
    let parsed = match format {
        Format::Current => serde_json::from_slice(&bytes),
        Format::Legacy => serde_json::from_slice(&bytes).map(|auths| ConfigFile {
            auths,
            ..ConfigFile::default()
        }),
    };
    parsed.map(Some).map_err(|e| Error::Malformed {
        what: path.display().to_string(),
        reason: format!(
            "not a valid auth file (line {}, column {})",
            e.line(),
            e.column()
        ),
    })
}

/// `docker.io`, `index.docker.io`, `registry-1.docker.io` and `https://index.docker.io/v1/` are one
/// registry; other keys lose their scheme and any `/v1/` or `/v2/` suffix.
pub(crate) fn normalize_host(key: &str) -> String {
    let k = key
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .trim_end_matches('/');
    let k = k
        .strip_suffix("/v1")
        .or_else(|| k.strip_suffix("/v2"))
        .unwrap_or(k);
    let (host, path) = k.split_once('/').unwrap_or((k, ""));
    let host = match host {
        "index.docker.io" | "registry-1.docker.io" => "docker.io",
        h => h,
    };
    if path.is_empty() {
        host.to_string()
    } else {
        format!("{host}/{path}")
    }
}

fn lookup_in(
    config: &ConfigFile,
    path: &Path,
    host: &str,
    repository: Option<&str>,
    timeout: Duration,
) -> Result<Option<Found>> {
    // Keys from most to least specific: host/ns/repo, host/ns, host.
    let mut wanted = Vec::new();
    if let Some(repo) = repository {
        let parts: Vec<&str> = repo.split('/').collect();
        for n in (1..=parts.len()).rev() {
            wanted.push(format!("{host}/{}", parts[..n].join("/")));
        }
    }
    wanted.push(host.to_string());

    let helpers: HashMap<String, &String> = config
        .cred_helpers
        .iter()
        .map(|(k, v)| (normalize_host(k), v))
        .collect();
    if let Some(helper) = helpers.get(host) {
        return Ok(run_helper(helper, host, true, timeout)?.map(|c| helper_found(c, helper)));
    }
    let auths: HashMap<String, &AuthEntry> = config
        .auths
        .iter()
        .map(|(k, v)| (normalize_host(k), v))
        .collect();
    if let Some(store) = &config.creds_store {
        // A default store whose helper is not installed must not break registries that need no
        // credentials: it counts as "nothing stored". A helper named for this host is required.
        if let Some(c) = run_helper(store, host, false, timeout)? {
            return Ok(Some(helper_found(c, store)));
        }
    }
    for key in &wanted {
        if let Some(entry) = auths.get(key) {
            if let Some(credential) = entry_credential(entry, path, key)? {
                return Ok(Some(Found {
                    credential,
                    source: path.display().to_string(),
                }));
            }
        }
    }
    Ok(None)
}

fn helper_found(credential: Credential, helper: &str) -> Found {
    Found {
        credential,
        source: format!("docker-credential-{helper}"),
    }
}

fn entry_credential(entry: &AuthEntry, path: &Path, key: &str) -> Result<Option<Credential>> {
    let malformed = |what: &str| Error::Malformed {
        what: path.display().to_string(),
        reason: format!("auths[{key:?}]: {what}"),
    };
    let (mut username, mut password) = (entry.username.clone(), entry.password.clone());
    if let Some(auth) = entry.auth.as_deref().filter(|a| !a.is_empty()) {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(auth.trim())
            .map_err(|_| malformed("\"auth\" is not base64"))?;
        let decoded = String::from_utf8(decoded).map_err(|_| malformed("\"auth\" is not UTF-8"))?;
        let (u, p) = decoded
            .split_once(':')
            .ok_or_else(|| malformed("\"auth\" is not user:password"))?;
        username = Some(u.to_string());
        password = Some(p.to_string());
    }
    if let Some(token) = entry.identitytoken.clone().filter(|t| !t.is_empty()) {
        return Ok(Some(Credential::IdentityToken {
            username: username.unwrap_or_default(),
            token,
        }));
    }
    Ok(match (username, password) {
        (Some(username), Some(password)) if !username.is_empty() => {
            Some(Credential::Basic { username, password })
        }
        _ => None,
    })
}

/// What a credential helper prints for `get`.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct HelperOutput {
    username: String,
    secret: String,
}

/// Runs `docker-credential-<name> get` with the server URL on stdin. "Not found" is `None`; so is a
/// helper that is not installed, unless it is `required`. A helper that has not finished within
/// `timeout` is killed. What a helper prints never reaches a message (it may be the secret): an
/// error names the helper, the registry and the exit status only.
fn run_helper(
    name: &str,
    host: &str,
    required: bool,
    timeout: Duration,
) -> Result<Option<Credential>> {
    let program = format!("docker-credential-{name}");
    let server = if host == "docker.io" {
        DOCKER_HUB_KEY.to_string()
    } else {
        host.to_string()
    };
    let failed = |why: String| Error::CredentialHelper {
        program: program.clone(),
        host: host.to_string(),
        reason: why,
    };
    let mut child = match Command::new(&program)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => return Ok(None),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(failed("not found on PATH".into()))
        }
        Err(e) => return Err(failed(e.to_string())),
    };
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(server.as_bytes());
    }
    // Read both pipes on threads, so a helper that fills one while we wait cannot block, and
    // the wait can have a deadline.
    let drain = |pipe: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut out = Vec::new();
            if let Some(mut p) = pipe {
                let mut limited = std::io::Read::take(&mut p, 1 << 20);
                let _ = std::io::Read::read_to_end(&mut limited, &mut out);
            }
            out
        })
    };
    let stdout = drain(child.stdout.take().map(|p| Box::new(p) as _));
    let stderr = drain(child.stderr.take().map(|p| Box::new(p) as _));
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(failed(format!(
                    "no answer within {} s; it was stopped",
                    timeout.as_secs_f64()
                )));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => return Err(failed(e.to_string())),
        }
    };
    // A helper that exits and leaves a child holding its pipes open must not hang us either.
    let collect = |h: std::thread::JoinHandle<Vec<u8>>| {
        while !h.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        if h.is_finished() {
            h.join().unwrap_or_default()
        } else {
            Vec::new()
        }
    };
    let (out, err) = (collect(stdout), collect(stderr));
    if !status.success() {
        // The documented "not found" answer is the one thing read from a failing helper.
        let said = String::from_utf8_lossy(&out).to_ascii_lowercase()
            + &String::from_utf8_lossy(&err).to_ascii_lowercase();
        if said.contains("not found") {
            return Ok(None);
        }
        let code = status.code().map_or_else(
            || "killed by a signal".to_string(),
            |c| format!("exit status {c}"),
        );
        return Err(failed(format!(
            "{code} (what it printed is not shown, as it may hold a secret)"
        )));
    }
    let parsed: HelperOutput = serde_json::from_slice(&out)
        .map_err(|_| failed("its output is not the expected JSON".into()))?;
    Ok(Some(if parsed.username == "<token>" {
        Credential::IdentityToken {
            username: String::new(),
            token: parsed.secret,
        }
    } else {
        Credential::Basic {
            username: parsed.username,
            password: parsed.secret,
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    fn basic(u: &str, p: &str) -> Option<Credential> {
        Some(Credential::Basic {
            username: u.into(),
            password: p.into(),
        })
    }

    #[test]
    fn keys_match_by_host_and_repository_and_docker_hub_aliases() {
        let tmp = tempfile::tempdir().unwrap();
        let write = |rel: &str, json: String| {
            let p = tmp.path().join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, json).unwrap();
            p
        };
        write(
            "run/containers/auth.json",
            format!(
                r#"{{"auths":{{"c.example:5000":{{"auth":"{}"}},"c.example:5000/team/app":{{"auth":"{}"}}}}}}"#,
                b64("xdg:4"),
                b64("xdg:repo")
            ),
        );
        write(
            "docker/config.json",
            format!(
                r#"{{"auths":{{"https://index.docker.io/v1/":{{"auth":"{}"}},"d.example":{{"identitytoken":"refresh-me"}}}}}}"#,
                b64("hub:5")
            ),
        );
        let sources = CredentialSources {
            explicit: Vec::new(),
            auth_file: None,
            env: Environment {
                xdg_runtime_dir: Some(tmp.path().join("run")),
                docker_config: Some(tmp.path().join("docker")),
                ..Environment::default()
            },
            helper_timeout: None,
        };
        let cases = [
            ("c.example:5000", None, basic("xdg", "4")),
            ("c.example:5000", Some("team/app"), basic("xdg", "repo")),
            ("c.example:5000", Some("team/other"), basic("xdg", "4")),
            ("docker.io", Some("library/alpine"), basic("hub", "5")),
            ("index.docker.io", None, basic("hub", "5")),
            (
                "d.example",
                None,
                Some(Credential::IdentityToken {
                    username: String::new(),
                    token: "refresh-me".into(),
                }),
            ),
            ("nowhere.example", None, None),
        ];
        for (host, repo, want) in cases {
            assert_eq!(sources.lookup(host, repo).unwrap(), want, "{host} {repo:?}");
        }
        // A credential given for one registry (and maybe one repository) is that registry's only:
        // every other registry, and another repository of a registry it is scoped to, gets what
        // the files say.
        let given = |registry: &str, repository: Option<&str>, user: &str| Given {
            repository: repository.map(str::to_string),
            ..Given::new(registry, basic(user, "pw").unwrap(), "--username")
        };
        let explicit = CredentialSources {
            explicit: vec![
                given("c.example:5000", Some("team/app"), "src"),
                given("c.example:5000", Some("team/dst"), "dst"),
                given("index.docker.io", None, "hub-cli"),
            ],
            ..sources.clone()
        };
        let cases = [
            ("c.example:5000", Some("team/app"), basic("src", "pw")),
            ("c.example:5000", Some("team/dst"), basic("dst", "pw")),
            ("c.example:5000", Some("team/other"), basic("xdg", "4")),
            ("c.example:5000", None, basic("xdg", "4")),
            ("docker.io", Some("library/alpine"), basic("hub-cli", "pw")),
            ("registry-1.docker.io", None, basic("hub-cli", "pw")),
            ("c.example:5001", Some("team/app"), None),
            ("c.example", Some("team/app"), None),
            ("nowhere.example", None, None),
        ];
        for (host, repo, want) in cases {
            assert_eq!(
                explicit.lookup(host, repo).unwrap(),
                want,
                "{host} {repo:?}"
            );
        }
        assert!(explicit
            .looked_in()
            .starts_with("--username (for c.example:5000/team/app), --username (for c.example:5000/team/dst), --username (for index.docker.io), "));
    }

    /// The order of containers-auth.json(5): the primary file (`--auth-file`, else
    /// `REGISTRY_AUTH_FILE`, else the runtime directory's, else `/run/containers/$UID`) and nothing
    /// in its place; then `$XDG_CONFIG_HOME`, the docker config, and the legacy `~/.dockercfg`.
    #[test]
    fn search_order_follows_containers_auth_json() {
        let tmp = tempfile::tempdir().unwrap();
        let t = tmp.path();
        // Every file knows r.example (as its own user) and a host only it knows.
        let files = [
            ("flag", "flag.json"),
            ("envfile", "envfile.json"),
            ("runtime", "run/containers/auth.json"),
            ("config", "config/containers/auth.json"),
            ("docker", "home/.docker/config.json"),
        ];
        for (user, rel) in files {
            let p = t.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            let json = format!(
                r#"{{"auths":{{"r.example":{{"auth":"{}"}},"{user}.example":{{"auth":"{}"}}}}}}"#,
                b64(&format!("{user}:pw")),
                b64(&format!("{user}:only"))
            );
            std::fs::write(p, json).unwrap();
        }
        let legacy = format!(
            r#"{{"r.example":{{"auth":"{}","email":"x@y"}},"legacy.example":{{"auth":"{}"}}}}"#,
            b64("legacy:pw"),
            b64("legacy:only")
        );
        std::fs::write(t.join("home/.dockercfg"), legacy).unwrap();
        let all = CredentialSources {
            explicit: Vec::new(),
            auth_file: Some(t.join("flag.json")),
            env: Environment {
                registry_auth_file: Some(t.join("envfile.json")),
                xdg_runtime_dir: Some(t.join("run")),
                xdg_config_home: Some(t.join("config")),
                docker_config: None,
                home: Some(t.join("home")),
                uid: Some(4242),
            },
            helper_timeout: None,
        };
        let mut no_flag = all.clone();
        no_flag.auth_file = None;
        let mut no_env_file = no_flag.clone();
        no_env_file.env.registry_auth_file = None;
        let mut no_runtime = no_env_file.clone();
        no_runtime.env.xdg_runtime_dir = None;
        let mut no_config = no_runtime.clone();
        no_config.env.xdg_config_home = Some(t.join("nothing"));
        // (sources, who answers for r.example, the hosts each file alone knows that are found)
        let cases = [
            (&all, "flag", ["flag", "config", "docker", "legacy"]),
            (
                &no_flag,
                "envfile",
                ["envfile", "config", "docker", "legacy"],
            ),
            (
                &no_env_file,
                "runtime",
                ["runtime", "config", "docker", "legacy"],
            ),
            (
                &no_runtime,
                "config",
                ["config", "docker", "legacy", "legacy"],
            ),
            (
                &no_config,
                "docker",
                ["docker", "legacy", "legacy", "legacy"],
            ),
        ];
        for (sources, first, found) in cases {
            let who = |host: &str| match sources.lookup(host, None).unwrap() {
                Some(Credential::Basic { username, .. }) => username,
                other => panic!("{host}: {other:?}"),
            };
            assert_eq!(who("r.example"), first, "{}", sources.looked_in());
            for user in found {
                assert_eq!(who(&format!("{user}.example")), user);
            }
            for (user, _) in files {
                if !found.contains(&user) {
                    let host = format!("{user}.example");
                    assert_eq!(sources.lookup(&host, None).unwrap(), None, "{host}");
                }
            }
        }
        std::fs::remove_file(t.join("home/.docker/config.json")).unwrap();
        assert_eq!(
            no_config.lookup("r.example", None).unwrap(),
            basic("legacy", "pw")
        );
        let looked = no_runtime.looked_in();
        assert!(
            looked.contains("/run/containers/4242/auth.json"),
            "{looked}"
        );
        let order = [
            "4242",
            "config/containers",
            ".docker/config.json",
            ".dockercfg",
        ];
        let at: Vec<usize> = order.iter().map(|p| looked.find(p).unwrap()).collect();
        assert!(at.windows(2).all(|w| w[0] < w[1]), "{looked}");
    }

    #[test]
    fn errors_name_the_file_never_the_secret() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("auth.json");
        std::fs::write(&p, r#"{"auths":{"a.example":{"auth":["hunter2-secret"]}}}"#).unwrap();
        let sources = CredentialSources {
            auth_file: Some(p.clone()),
            ..Default::default()
        };
        let err = sources.lookup("a.example", None).unwrap_err().to_string();
        assert!(err.contains("auth.json"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
        let missing = CredentialSources {
            auth_file: Some(tmp.path().join("missing.json")),
            ..Default::default()
        };
        assert!(missing.lookup("a.example", None).is_err());
        let c = basic("u", "hunter2").unwrap();
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
