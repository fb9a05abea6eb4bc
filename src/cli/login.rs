//! `ocilayout login [--username U] [--password-stdin] [--auth-file F] HOST`: check a user name and
//! password against a registry, then save them where `skopeo login` and `podman login` do.

use std::io::{self, BufRead, Read, Write};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use ocilayout::registry::auth::{authfile, Credential, CredentialSources, Environment, Given};
use ocilayout::registry::{Client, RegistryAuth};

use super::output::{print_json, UsageError};
use super::registry::RegistryArgs;
use super::Global;

/// The long help (man page).
pub const LONG_ABOUT: &str = "Check a user name and password against a registry, then save them \
    for every later command (and for skopeo, podman and buildah, which read the same file).\n\n\
    The password is read from a prompt that does not echo it, or with --password-stdin from \
    standard input; never from an argument. The registry is asked first (GET /v2/ with the \
    credentials, as skopeo login does); nothing is saved unless it accepts them.\n\n\
    The file is --auth-file, else $REGISTRY_AUTH_FILE, else \
    ${XDG_RUNTIME_DIR}/containers/auth.json, else /run/containers/$UID/auth.json \
    (containers-auth.json(5)). It is replaced whole and atomically, readable by its owner only \
    (mode 0600); every other entry and field in it is kept. The result line goes to standard \
    output: \"saved credentials for HOST in FILE\"; with --json {\"registry\": HOST, \"auth_file\":     FILE}.";

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The registry: host[:port], or host/namespace for credentials of one namespace.
    #[arg(value_name = "HOST")]
    pub host: String,
    /// The user name (prompted for on the terminal when not given).
    #[arg(short = 'u', long, value_name = "U")]
    pub username: Option<String>,
    /// Read the password from standard input (its first line) instead of prompting.
    #[arg(long, requires = "username")]
    pub password_stdin: bool,
    /// Save into this auth file instead of the default (see above).
    #[arg(long, value_name = "FILE")]
    pub auth_file: Option<PathBuf>,
    /// Print a JSON object.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub connection: Connection,
}

/// How to reach the registry to check the credentials: the TLS and HTTP flags of `REG`.
#[derive(clap::Args, Debug)]
pub struct Connection {
    /// Speak plain HTTP instead of HTTPS.
    #[arg(long)]
    pub plain_http: bool,
    /// Skip TLS certificate verification (a warning says so).
    #[arg(long)]
    pub insecure: bool,
    /// Also trust the certificates in this PEM file (repeatable).
    #[arg(long, value_name = "FILE")]
    pub cacert: Vec<PathBuf>,
    /// Seconds to wait for the registry.
    #[arg(long, value_name = "S", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=86400))]
    pub timeout: u64,
}

/// The file login and logout use: `--auth-file`, else the primary file of the environment.
pub fn auth_file(flag: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    let sources = CredentialSources {
        auth_file: flag,
        env: Environment::from_process(),
        ..Default::default()
    };
    sources.login_file().ok_or_else(|| {
        UsageError(
            "no auth file to use: give --auth-file, or set REGISTRY_AUTH_FILE or XDG_RUNTIME_DIR"
                .into(),
        )
        .into()
    })
}

/// `host:5000/ns` without a scheme; `http://` asks for plain HTTP, as everywhere else.
pub fn split_host(input: &str) -> (String, bool) {
    let plain = input.starts_with("http://");
    (authfile::auth_key(input), plain)
}

pub fn run(args: Args, global: &Global) -> anyhow::Result<u8> {
    let (key, plain) = split_host(&args.host);
    let host = key.split('/').next().unwrap_or(&key).to_string();
    if host.is_empty() {
        return Err(UsageError(format!("login needs a registry host, not {:?}", args.host)).into());
    }
    let path = auth_file(args.auth_file)?;
    let json = args.json;
    let username = match args.username {
        Some(u) => u,
        None => prompt("Username: ", false)?,
    };
    if username.is_empty() || username.contains(':') {
        return Err(UsageError("the user name must be non-empty and without ':'".into()).into());
    }
    let password = if args.password_stdin {
        let mut line = String::new();
        io::stdin()
            .lock()
            .read_line(&mut line)
            .context("reading the password from standard input")?;
        // The rest of the input is not ours; drain it so a writer does not see a broken pipe.
        let _ = io::copy(&mut io::stdin().lock().take(1 << 20), &mut io::sink());
        line.trim_end_matches(['\n', '\r']).to_string()
    } else {
        prompt("Password: ", true)?
    };
    if password.is_empty() {
        return Err(UsageError("the password is empty".into()).into());
    }
    let registry = RegistryArgs {
        plain_http: args.connection.plain_http || plain,
        insecure: args.connection.insecure,
        cacert: args.connection.cacert,
        username: None,
        password_stdin: false,
        auth_file: None,
        jobs: 1,
        timeout: args.connection.timeout,
    };
    let api_host = ocilayout::Reference::parse_without_default_tag(&format!("{host}/x"))
        .map(|r| r.registry_host().to_string())
        .unwrap_or_else(|_| host.clone());
    let mut config = registry.config(global, Vec::new())?;
    // Only the credentials being checked: none from the files, none of another registry.
    config.auth = Arc::new(RegistryAuth::new(CredentialSources {
        explicit: vec![Given::new(
            &api_host,
            Credential::Basic {
                username: username.clone(),
                password: password.clone(),
            },
            "login",
        )],
        ..Default::default()
    }));
    let client = Client::new(config)?;
    client
        .check_credentials(&api_host)
        .with_context(|| format!("login to {host}: nothing saved"))?;
    authfile::save(&path, &key, &username, &password)?;
    if json {
        print_json(&serde_json::json!({"registry": key, "auth_file": path}))?;
    } else {
        global.result(format_args!(
            "saved credentials for {key} in {}",
            path.display()
        ))?;
    }
    Ok(super::EXIT_OK)
}

/// Asks on the terminal (`/dev/tty`, whatever standard input is) and reads one line; with `secret`
/// the line is not echoed. No terminal: a usage error that names `--password-stdin`.
fn prompt(question: &str, secret: bool) -> anyhow::Result<String> {
    let no_tty = || {
        UsageError(format!(
            "no terminal to ask for the {} on: give --username and --password-stdin",
            if secret { "password" } else { "user name" }
        ))
    };
    let tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .map_err(|_| no_tty())?;
    let mut out = &tty;
    out.write_all(question.as_bytes())?;
    out.flush()?;
    let echo = if secret {
        Some(EchoOff::new(&tty).map_err(|_| no_tty())?)
    } else {
        None
    };
    let mut line = String::new();
    let read = io::BufReader::new(&tty).read_line(&mut line);
    if echo.is_some() {
        drop(echo);
        // The newline the user typed was not echoed.
        let _ = out.write_all(b"\n");
    }
    read?;
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}

/// The terminal's echo turned off until this is dropped (termios through libc).
struct EchoOff {
    fd: std::os::fd::RawFd,
    saved: libc::termios,
}

impl EchoOff {
    fn new(tty: &std::fs::File) -> io::Result<EchoOff> {
        use std::os::fd::AsRawFd;
        let fd = tty.as_raw_fd();
        // SAFETY: `termios` is plain data that tcgetattr fills in; `fd` is an open descriptor that
        // outlives this value (the caller holds the file).
        let mut saved: libc::termios = unsafe { std::mem::zeroed() };
        if unsafe { libc::tcgetattr(fd, &mut saved) } != 0 {
            return Err(io::Error::last_os_error());
        }
        let mut quiet = saved;
        quiet.c_lflag &= !libc::ECHO;
        // SAFETY: as above; `quiet` is a valid termios derived from the current one.
        if unsafe { libc::tcsetattr(fd, libc::TCSAFLUSH, &quiet) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(EchoOff { fd, saved })
    }
}

impl Drop for EchoOff {
    fn drop(&mut self) {
        // SAFETY: restores the settings read in `new` on the same open descriptor.
        unsafe {
            libc::tcsetattr(self.fd, libc::TCSAFLUSH, &self.saved);
        }
    }
}
