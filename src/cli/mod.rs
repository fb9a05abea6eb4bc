//! The command line: clap definitions, dispatch to one module per subcommand, exit statuses.
//! Each subcommand module turns its arguments into library options, makes one library call and
//! prints the outcome, human-readable or `--json`.

mod copy;
mod export;
mod fsck;
mod gc;
mod generate;
mod import;
mod init;
mod ls;
mod output;
mod pull;
mod push;
mod registry;
mod resolve;
mod sync;
mod tag;
mod untag;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub use output::Global;

/// Exit status: success.
pub const EXIT_OK: u8 = 0;
/// Exit status: failure (not found, ambiguous, damage, network).
pub const EXIT_FAILURE: u8 = 1;
/// Exit status: usage error.
pub const EXIT_USAGE: u8 = 2;

/// Read, write, resolve, garbage-collect, check, archive and sync OCI image layouts.
#[derive(Parser, Debug)]
#[command(name = "ocilayout", version, about, long_about = None)]
pub struct Cli {
    /// More detail on stderr: -v one line per registry request (method, URL, status, bytes, time),
    /// -vv its headers too, with credentials and tokens redacted.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Print only errors.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Never draw progress bars.
    #[arg(long, global = true)]
    pub no_progress: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create an empty layout (does nothing to an existing one).
    Init(init::Args),
    /// List the entries of index.json with their names.
    Ls(ls::Args),
    /// Print the digest a reference resolves to.
    Resolve(resolve::Args),
    /// Give an image more names; a name already in use moves to it.
    Tag(tag::Args),
    /// Remove names from index.json (blobs stay until gc).
    Untag(untag::Args),
    /// Remove blobs no index.json entry reaches, and referrer entries whose subject has gone.
    Gc(gc::Args),
    /// Check every reachable blob's presence, size, digest and media type.
    Fsck(fsck::Args),
    /// Copy images from registries into a layout (default: every platform of each index).
    Pull(pull::Args),
    /// Copy one image of a layout to a registry.
    Push(push::Args),
    /// Push every named image of a layout to a registry under a prefix.
    Sync(sync::Args),
    /// Copy one image between layouts and registries (oci-layout://... or a registry reference).
    Copy(copy::Args),
    /// Write a layout, or the closure of chosen references, to one tar archive.
    Export(export::Args),
    /// Merge an archive into a layout (created if needed); refused as a whole if anything is wrong.
    Import(import::Args),
    /// Write man pages or shell completions.
    #[command(hide = true)]
    Generate(generate::Args),
}

/// Parses the command line, runs it and returns the exit status. Errors are printed as one or two
/// plain lines; a closed stdout (`| head`) is not an error.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if e.kind() == clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            // Bare `ocilayout`: the whole help, as a usage error.
            let _ = e.print();
            return ExitCode::from(EXIT_USAGE);
        }
        Err(e) if e.use_stderr() => {
            output::print_usage_error(&e.render().to_string());
            return ExitCode::from(EXIT_USAGE);
        }
        Err(e) => {
            // --help and --version.
            let _ = e.print();
            return ExitCode::from(EXIT_OK);
        }
    };
    let global = Global::from_cli(&cli);
    match run(cli.command, &global) {
        Ok(code) => ExitCode::from(code),
        Err(e) if output::is_broken_pipe(&e) => ExitCode::from(EXIT_OK),
        Err(e) if e.is::<output::UsageError>() => {
            output::print_error(&e);
            ExitCode::from(EXIT_USAGE)
        }
        Err(e) => {
            output::print_error(&e);
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

/// Runs one subcommand; `Ok` carries the exit status (fsck finds damage without failing to run).
pub fn run(command: Command, global: &Global) -> anyhow::Result<u8> {
    match command {
        Command::Init(a) => init::run(a, global),
        Command::Ls(a) => ls::run(a, global),
        Command::Resolve(a) => resolve::run(a, global),
        Command::Tag(a) => tag::run(a, global),
        Command::Untag(a) => untag::run(a, global),
        Command::Gc(a) => gc::run(a, global),
        Command::Fsck(a) => fsck::run(a, global),
        Command::Pull(a) => pull::run(a, global),
        Command::Push(a) => push::run(a, global),
        Command::Sync(a) => sync::run(a, global),
        Command::Copy(a) => copy::run(a, global),
        Command::Export(a) => export::run(a, global),
        Command::Import(a) => import::run(a, global),
        Command::Generate(a) => generate::run(a, global),
    }
}
