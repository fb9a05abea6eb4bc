//! What the registry commands (pull, push, sync) share: the `REG` flags, turned into a library
//! [`ClientConfig`], and the progress display (bars on a terminal, a line per image otherwise).

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use ocilayout::progress::{Event, Progress, Summary};
use ocilayout::registry::auth::{CredentialSources, Given};
use ocilayout::registry::{ClientConfig, Exchanged, RegistryAuth, Trace};

use super::output::count;
use super::Global;

/// `--jobs` when not given: the library's default, narrowed to the flag's type (it is at most 64).
const DEFAULT_JOBS: u16 = ocilayout::registry::DEFAULT_JOBS as u16;
/// `REG`: how to reach registries.
#[derive(clap::Args, Debug, Clone)]
pub struct RegistryArgs {
    /// Speak plain HTTP instead of HTTPS. Without it, a registry on localhost or 127.0.0.0/8 that
    /// answers HTTPS in plain HTTP is spoken to in plain HTTP (as docker does; -v says so).
    /// Credentials only ever go to the scheme, host and port they are for: never to a redirect or
    /// upload Location elsewhere, never from HTTPS down to HTTP.
    #[arg(long)]
    pub plain_http: bool,
    /// Skip TLS certificate verification (a warning says so).
    #[arg(long)]
    pub insecure: bool,
    /// Also trust the certificates in this PEM file (besides the system's; repeatable).
    ///
    /// A CA certificate is trusted for what it signs. A registry's own certificate, such as a
    /// self-signed one made by `openssl req -x509 -newkey ...` (which is its own CA), is trusted
    /// as that registry's certificate: when the server presents exactly it, for the host names and
    /// addresses it carries.
    #[arg(long, value_name = "FILE")]
    pub cacert: Vec<PathBuf>,
    /// User name for the registry the command names: the destination of push, sync and copy, the
    /// source of pull, tags and inspect (the password comes from --password-stdin). It is offered
    /// to that registry only.
    #[arg(long, value_name = "U", requires = "password_stdin")]
    pub username: Option<String>,
    /// Read the password from standard input.
    #[arg(long, requires = "username")]
    pub password_stdin: bool,
    /// Read credentials from this auth file (containers auth.json format) in place of the default.
    ///
    /// Credentials are searched in this order, the first file that has the registry winning
    /// (containers-auth.json(5)): --username with --password-stdin; the primary auth file, which
    /// is --auth-file, else $REGISTRY_AUTH_FILE, else ${XDG_RUNTIME_DIR}/containers/auth.json, else
    /// /run/containers/$UID/auth.json (where `skopeo login` and `podman login` save credentials
    /// when XDG_RUNTIME_DIR is unset, as for root); then
    /// ${XDG_CONFIG_HOME:-~/.config}/containers/auth.json; then $DOCKER_CONFIG/config.json or
    /// ~/.docker/config.json; then the legacy ~/.dockercfg. In each file a credHelpers entry for
    /// the registry, then credsStore, then an auths entry (the longest matching
    /// host/namespace/repository key) gives the credential.
    #[arg(long, value_name = "FILE")]
    pub auth_file: Option<PathBuf>,
    /// Blobs transferred at once.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_JOBS, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub jobs: u16,
    /// Seconds to wait: for a connection, for any progress of a transfer, for a small document
    /// (manifest, token, tag list) to arrive whole, and for a credential helper to answer. Each
    /// expiry counts as a transient failure and is retried.
    #[arg(long, value_name = "S", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=86400))]
    pub timeout: u64,
}

impl RegistryArgs {
    /// The library configuration these flags describe, with `given`, the credentials from the
    /// command line, each for its own registry (see `credentials`); the auth files and docker
    /// config the environment points at serve every other registry.
    pub fn config(&self, global: &Global, given: Vec<Given>) -> anyhow::Result<ClientConfig> {
        if let Some(f) = &self.auth_file {
            std::fs::metadata(f).with_context(|| format!("--auth-file {}", f.display()))?;
        }
        if self.insecure {
            eprintln!("ocilayout: warning: --insecure: TLS certificates are not verified");
        }
        let sources = CredentialSources {
            explicit: given,
            ..self.files()
        };
        Ok(ClientConfig {
            plain_http: self.plain_http,
            insecure: self.insecure,
            ca_certs: self.cacert.clone(),
            auth: Arc::new(RegistryAuth::new(sources)),
            jobs: usize::from(self.jobs),
            timeout: Duration::from_secs(self.timeout),
            trace: (global.verbose > 0).then(|| {
                Arc::new(RequestLog {
                    headers: global.verbose > 1,
                }) as Arc<dyn Trace>
            }),
            ..ClientConfig::default()
        })
    }
}

/// `-v`: one line on stderr per request (method, URL, status, bytes, time); `-vv` adds the
/// headers, which the library has already stripped of credentials and tokens.
#[derive(Debug)]
struct RequestLog {
    headers: bool,
}

impl Trace for RequestLog {
    fn exchanged(&self, e: &Exchanged) {
        let outcome = match (e.status, &e.error) {
            (Some(status), _) => match e.bytes {
                Some(bytes) => format!("{status}, {bytes} bytes"),
                None => status.to_string(),
            },
            (None, Some(error)) => format!("failed: {error}"),
            (None, None) => "failed".into(),
        };
        let mut out = format!(
            "ocilayout: {} {} -> {outcome}, {} ms\n",
            e.method,
            e.url,
            e.elapsed.as_millis()
        );
        if self.headers {
            for (k, v) in &e.request_headers {
                out.push_str(&format!("ocilayout:   > {k}: {v}\n"));
            }
            for (k, v) in &e.response_headers {
                out.push_str(&format!("ocilayout:   < {k}: {v}\n"));
            }
        }
        eprint!("{out}");
    }

    fn note(&self, note: &str) {
        eprintln!("ocilayout: note: {note}");
    }
}

/// Shows transfer events: a bar per blob on stderr when it is a terminal; a line per image and a
/// closing summary on stdout unless quiet; warnings on stderr.
pub struct Display {
    bars: Option<Bars>,
    quiet: bool,
    verb: &'static str,
    /// Whether an image's line is `IMAGE DIGEST` alone (sync's `SOURCE -> DESTINATION DIGEST`).
    plain: bool,
    /// `--json`: no lines; images are collected for [`Display::json`].
    json: Option<Mutex<Vec<ImageResult>>>,
}

/// One image in the `--json` output of pull, push and sync.
#[derive(serde::Serialize)]
struct ImageResult {
    image: String,
    digest: String,
    unchanged: bool,
}

/// The `--json` output of pull, push and sync (fields may be added, never renamed).
#[derive(serde::Serialize)]
struct JsonReport<'a> {
    images: &'a [ImageResult],
    failures: Vec<JsonFailure>,
    transferred: u64,
    skipped: u64,
    mounted: u64,
    bytes: u64,
    failed: u64,
}

#[derive(serde::Serialize)]
struct JsonFailure {
    image: String,
    error: String,
}

/// The long help's paragraph on `--json`, shared by pull, push and sync.
macro_rules! json_shape {
    () => {
        "With --json it prints one object when done: {\"images\": [{\"image\", \"digest\", \
         \"unchanged\"}], \"failures\": [{\"image\", \"error\"}], \"transferred\", \"skipped\", \
         \"mounted\", \"bytes\", \"failed\"}: image is the name written (for sync \"SOURCE -> \
         DESTINATION\"), unchanged is true when nothing had to be transferred, and the counts are of \
         blobs and manifests. Results go to standard output; progress, notes and errors to standard \
         error."
    };
}
pub(crate) use json_shape;

struct Bars {
    multi: MultiProgress,
    active: Mutex<std::collections::HashMap<String, ProgressBar>>,
}

impl Display {
    /// `verb` is the past tense shown per image: "pulled", "pushed".
    pub fn new(global: &Global, verb: &'static str) -> Self {
        let bars = global.progress_bars().then(|| Bars {
            multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
            active: Mutex::default(),
        });
        Display {
            bars,
            quiet: global.quiet,
            verb,
            plain: false,
            json: None,
        }
    }

    /// For `--json`: no lines on stdout; [`Display::json`] prints everything at the end.
    pub fn json(mut self, on: bool) -> Self {
        if on {
            self.json = Some(Mutex::default());
        }
        self
    }

    /// For a command that prints its own result at the end (`copy`): no per-image lines on stdout,
    /// so that its one line, or its JSON, is all stdout holds. Warnings and bars stay on stderr.
    pub fn without_lines(self) -> Self {
        self.json(true)
    }

    /// Prints the `--json` object (see `json_shape!`) when `--json` was given, else the summary line.
    pub fn finish(
        &self,
        s: &Summary,
        failures: &[(String, ocilayout::Error)],
    ) -> anyhow::Result<()> {
        let Some(images) = &self.json else {
            self.summary(s);
            return Ok(());
        };
        let images = images.lock().unwrap_or_else(|e| e.into_inner());
        super::output::print_json(&JsonReport {
            images: &images,
            failures: failures
                .iter()
                .map(|(image, e)| JsonFailure {
                    image: image.clone(),
                    error: e.to_string(),
                })
                .collect(),
            transferred: s.transferred,
            skipped: s.skipped,
            mounted: s.mounted,
            bytes: s.bytes,
            failed: s.failed,
        })
    }

    /// For sync: each image's line is `SOURCE -> DESTINATION DIGEST`, without a verb (and
    /// ` (up to date)` after it when nothing had to change).
    pub fn plain(mut self) -> Self {
        self.plain = true;
        self
    }

    /// A result line on stdout (per image, and the summary), drawn around any bars.
    fn line(&self, s: String) {
        if self.quiet || self.json.is_some() {
            return;
        }
        let s = super::output::shown(&s);
        match &self.bars {
            Some(b) => b.multi.suspend(|| println!("{s}")),
            None => println!("{s}"),
        }
    }

    /// A warning on stderr.
    fn warn(&self, s: String) {
        let s = super::output::shown(&s);
        match &self.bars {
            Some(b) => b.multi.suspend(|| eprintln!("{s}")),
            None => eprintln!("{s}"),
        }
    }

    /// The closing summary line.
    pub fn summary(&self, s: &Summary) {
        let mut line = format!(
            "{} {}: {} transferred ({}), {} skipped",
            self.verb,
            count(s.images, "image"),
            count(s.transferred, "blob"),
            human_bytes(s.bytes),
            s.skipped
        );
        if s.mounted > 0 {
            line.push_str(&format!(", {} mounted", s.mounted));
        }
        if s.failed > 0 {
            line.push_str(&format!(", {} failed", s.failed));
        }
        line.push_str(&format!(", in {:.1}s", s.elapsed.as_secs_f64()));
        self.line(line);
    }
}

impl Progress for Display {
    fn event(&self, event: &Event<'_>) {
        match event {
            Event::ImageDone {
                image,
                digest,
                unchanged,
            } => {
                if let Some(images) = &self.json {
                    images
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push(ImageResult {
                            image: image.to_string(),
                            digest: digest.to_string(),
                            unchanged: *unchanged,
                        });
                }
                let what = if *unchanged { "up to date" } else { self.verb };
                if self.plain {
                    let note = if *unchanged { " (up to date)" } else { "" };
                    self.line(format!("{image} {digest}{note}"));
                } else {
                    self.line(format!("{what} {image} {digest}"));
                }
            }
            Event::Warning { message } => self.warn(format!("ocilayout: warning: {message}")),
            _ => {}
        }
        let Some(bars) = &self.bars else { return };
        match event {
            Event::BlobStart { digest, size } => {
                let bar = bars.multi.add(ProgressBar::new(*size));
                bar.set_style(
                    ProgressStyle::with_template(
                        "{prefix} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}",
                    )
                    .expect("a valid template")
                    .progress_chars("=> "),
                );
                bar.set_prefix(short(digest.digest()));
                bars.active.lock().unwrap().insert(digest.to_string(), bar);
            }
            Event::BlobBytes { digest, bytes } => {
                if let Some(bar) = bars.active.lock().unwrap().get(&digest.to_string()) {
                    bar.set_position(*bytes);
                }
            }
            Event::BlobDone { digest, .. } => {
                if let Some(bar) = bars.active.lock().unwrap().remove(&digest.to_string()) {
                    bar.finish_and_clear();
                    bars.multi.remove(&bar);
                }
            }
            _ => {}
        }
    }
}

fn short(hex: &str) -> String {
    hex.chars().take(12).collect()
}

/// 1.5 MiB, 512 B.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1024.0 && i < UNITS.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[i])
    }
}

/// Turns a report's failures into the command's error: one line per failed image.
pub fn failures(verb: &str, failures: &[(String, ocilayout::Error)]) -> anyhow::Result<()> {
    match failures {
        [] => Ok(()),
        [(image, e)] => Err(anyhow::anyhow!("{verb} {image}: {e}")),
        many => {
            for (image, e) in &many[..many.len() - 1] {
                let line = format!("{verb} {image}: {e}");
                eprintln!("ocilayout: {}", super::output::shown(&line));
            }
            let (image, e) = &many[many.len() - 1];
            Err(anyhow::anyhow!("{verb} {image}: {e}"))
        }
    }
}

/// A registry reference as typed, with the `docker://` prefix that skopeo and crane users write
/// accepted and dropped.
pub fn registry_ref(input: &str) -> &str {
    input.strip_prefix("docker://").unwrap_or(input)
}

/// Parses a registry reference (a `docker://` prefix accepted).
pub fn parse_ref(input: &str) -> anyhow::Result<ocilayout::Reference> {
    Ok(ocilayout::Reference::parse(registry_ref(input))?)
}
