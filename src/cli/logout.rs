//! `ocilayout logout [--auth-file F] (HOST | --all)`: remove saved credentials from the auth file
//! `login` writes.

use std::path::PathBuf;

use anyhow::bail;
use ocilayout::registry::auth::authfile;

use super::output::{count, print_json, UsageError};
use super::Global;

/// The long help (man page).
pub const LONG_ABOUT: &str = "Remove the credentials saved for a registry (or, with --all, for \
    every registry) from the auth file login writes: --auth-file, else $REGISTRY_AUTH_FILE, else \
    ${XDG_RUNTIME_DIR}/containers/auth.json, else /run/containers/$UID/auth.json. Every other \
    entry, credential helpers and unknown fields stay; the file is replaced atomically. Logging \
    out of a registry that has no entry there is an error (exit 1). With --json it prints     {\"removed\": N, \"auth_file\": FILE}, N the number of entries removed.";

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The registry, as given to login.
    #[arg(
        value_name = "HOST",
        required_unless_present = "all",
        conflicts_with = "all"
    )]
    pub host: Option<String>,
    /// Remove the credentials of every registry.
    #[arg(long)]
    pub all: bool,
    /// The auth file to edit instead of the default.
    #[arg(long, value_name = "FILE")]
    pub auth_file: Option<PathBuf>,
    /// Print a JSON object.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args, global: &Global) -> anyhow::Result<u8> {
    let path = super::login::auth_file(args.auth_file)?;
    let removed = match args.host {
        None => {
            let n = authfile::remove_all(&path)?;
            if !args.json {
                global.result(format_args!(
                    "removed {} from {}",
                    count(n, "saved login"),
                    path.display()
                ))?;
            }
            n
        }
        Some(host) => {
            let (key, _) = super::login::split_host(&host);
            if key.is_empty() {
                return Err(
                    UsageError(format!("logout needs a registry host, not {host:?}")).into(),
                );
            }
            if !authfile::remove(&path, &key)? {
                bail!("not logged in to {key} (no entry in {})", path.display());
            }
            if !args.json {
                global.result(format_args!(
                    "removed credentials for {key} from {}",
                    path.display()
                ))?;
            }
            1
        }
    };
    if args.json {
        print_json(&serde_json::json!({"removed": removed, "auth_file": path}))?;
    }
    Ok(super::EXIT_OK)
}
