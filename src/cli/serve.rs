//! `ocilayout serve DIR`: answer the distribution API from a layout, as a registry would.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use ocilayout::serve::{self, Event, Limits, ServeOptions};
use ocilayout::Layout;

use super::output::UsageError;
use super::Global;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The layout directory.
    pub dir: PathBuf,
    /// Address to listen on: HOST:PORT, or :PORT for every interface, IPv4 and IPv6 (port 0 picks
    /// a free port; the startup line says which).
    #[arg(long, value_name = "[HOST]:PORT", default_value = "127.0.0.1:5000", value_parser = parse_addr)]
    pub addr: SocketAddr,
    /// Accept pushes too (blob uploads, manifest PUT); without it every write answers 405.
    #[arg(long)]
    pub push: bool,
    /// Accept DELETE of a tag, of a manifest by digest (its entries leave index.json) and of a blob
    /// (refused while an image of the layout reaches it); without it DELETE answers 405.
    #[arg(long)]
    pub delete: bool,
    /// PEM certificate chain: serve HTTPS (needs --tls-key).
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// htpasswd file with bcrypt entries (htpasswd -B): every request needs Basic credentials.
    #[arg(long, value_name = "FILE")]
    pub htpasswd: Option<PathBuf>,
    /// Repository under which entries named only by a bare tag (umoci, skopeo, oras) are served.
    #[arg(long, value_name = "NAME")]
    pub default_repo: Option<String>,
    /// Connections open at once; more are closed as soon as they are accepted.
    #[arg(long, value_name = "N", default_value_t = Limits::default().connections as u32, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,
    /// Connections open at once from one client address.
    #[arg(long, value_name = "N", default_value_t = Limits::default().connections_per_client as u32, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections_per_client: u32,
    /// Upload sessions open at once (each is a small file, no open descriptor); more answer 429.
    #[arg(long, value_name = "N", default_value_t = Limits::default().uploads as u32, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_uploads: u32,
    /// Upload sessions open at once from one client address.
    #[arg(long, value_name = "N", default_value_t = Limits::default().uploads_per_client as u32, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_uploads_per_client: u32,
    /// Seconds an upload session may go unused before it is dropped with its bytes.
    #[arg(long, value_name = "S", default_value_t = Limits::default().upload_idle.as_secs(), value_parser = clap::value_parser!(u64).range(1..=86400))]
    pub upload_idle: u64,
    /// Seconds a response may wait for a client that stopped reading (or took less than 64 KiB in
    /// that time) before the connection is cut.
    #[arg(long, value_name = "S", default_value_t = Limits::default().send_timeout.as_secs(), value_parser = clap::value_parser!(u64).range(1..=86400))]
    pub send_timeout: u64,
    /// Threads for slow work (disk, hashing, bcrypt); more work waits its turn.
    #[arg(long, value_name = "N", default_value_t = Limits::default().blocking_threads as u32, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub blocking_threads: u32,
    /// Print the startup line, and with -v each request, as JSON lines on stdout:
    /// {"event":"listening","addr","url","tls","push","delete"}, {"event":"request","method","path","status"}.
    #[arg(long)]
    pub json: bool,
}

/// Writes a line to stdout or stderr from the server's event callback. A stream that is gone (a
/// pipe whose reader quit) is no reason to stop serving: the line is dropped, never a panic on
/// the thread that answers a request.
macro_rules! say_out {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($t)*);
    }};
}
macro_rules! say_err {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr().lock(), $($t)*);
    }};
}

/// `HOST:PORT`, `[V6]:PORT`, or `:PORT` for every interface, IPv4 and IPv6 (as docker-registry
/// and Go servers read it); a host name is resolved to its first address.
fn parse_addr(s: &str) -> Result<SocketAddr, String> {
    use std::net::ToSocketAddrs;
    let full = match s.strip_prefix(':') {
        Some(port) => format!("[::]:{port}"),
        None => s.to_string(),
    };
    if let Ok(a) = full.parse() {
        return Ok(a);
    }
    full.to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| format!("{s:?} is not HOST:PORT or :PORT"))
}

pub fn run(args: Args, global: &Global) -> anyhow::Result<u8> {
    if let Some(name) = &args.default_repo {
        if name.contains(':') || name.contains('@') {
            return Err(UsageError(format!(
                "--default-repo {name:?}: a repository name, without tag or digest"
            ))
            .into());
        }
    }
    let layout = Layout::open(&args.dir)?;
    let opts = ServeOptions {
        addr: args.addr,
        push: args.push,
        delete: args.delete,
        tls: args.tls_cert.zip(args.tls_key),
        htpasswd: args.htpasswd,
        default_repo: args.default_repo,
        limits: Limits {
            connections: args.max_connections as usize,
            connections_per_client: args.max_connections_per_client as usize,
            uploads: args.max_uploads as usize,
            uploads_per_client: args.max_uploads_per_client as usize,
            upload_idle: Duration::from_secs(args.upload_idle),
            send_timeout: Duration::from_secs(args.send_timeout),
            blocking_threads: args.blocking_threads as usize,
        },
        ..ServeOptions::default()
    };
    let json = args.json;
    let verbose = global.verbose;
    let quiet = global.quiet;
    let push = opts.push;
    let delete = opts.delete;
    let dir = args.dir.display().to_string();
    serve::serve(layout, opts, move |event| match event {
        Event::Listening { addr, tls } => {
            let url = format!("{}://{addr}", if tls { "https" } else { "http" });
            if json {
                let line = serde_json::json!({
                    "event": "listening", "addr": addr.to_string(), "url": url, "tls": tls,
                    "push": push, "delete": delete,
                });
                say_out!("{line}");
            } else if !quiet {
                let mode = match (push, delete) {
                    (true, true) => "pull, push and delete",
                    (true, false) => "pull and push",
                    (false, true) => "pull and delete",
                    (false, false) => "pull only",
                };
                say_err!("serving {dir} at {url} ({mode})");
            }
        }
        Event::Request {
            method,
            path,
            status,
        } if verbose > 0 => {
            if json {
                let line = serde_json::json!({
                    "event": "request", "method": method, "path": path, "status": status,
                });
                say_out!("{line}");
            } else {
                say_err!("{method} {path} {status}");
            }
        }
        Event::BareTags { entries, served_as } if !quiet => match served_as {
            Some(repo) => say_err!(
                "note: {entries} entries named by a bare tag only are served as {repo}:TAG"
            ),
            None => say_err!(
                "note: {entries} entries are named by a bare tag only (umoci, skopeo oci:DIR:TAG); \
                 no repository serves them: --default-repo NAME serves them as NAME:TAG"
            ),
        },
        Event::Failed {
            method,
            path,
            detail,
        } if verbose > 0 => say_err!("{method} {path}: {detail}"),
        Event::Stopping if !quiet && !json => say_err!("stopping: finishing requests in flight"),
        _ => {}
    })?;
    Ok(super::EXIT_OK)
}
