//! The command line: clap definitions, dispatch to one module per subcommand, exit statuses.
//! Each subcommand module turns its arguments into library options, makes one library call and
//! prints the outcome, human-readable or `--json`.

mod clash;
mod copy;
mod credentials;
mod du;
mod export;
mod fsck;
mod gc;
mod generate;
mod import;
mod init;
mod inspect;
mod local;
mod login;
mod logout;
mod ls;
mod man;
mod output;
mod pull;
mod push;
mod registry;
mod resolve;
mod rm;
mod serve;
mod suggest;
mod sync;
mod tag;
mod tags;
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
    /// Print only errors, and the answer a command is asked for: what ls, resolve, inspect, tags
    /// and du print, fsck's problems, and any --json; no report of what was done.
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
    #[command(long_about = init::LONG_ABOUT)]
    Init(init::Args),
    /// List the entries of index.json with their names.
    #[command(
        long_about = "List the entries of index.json with their names.\n\nOne line per entry: \
        NAME, DIGEST, SIZE, MEDIA TYPE, tab-separated (and for an unnamed entry its artifactType and \
        subject). With --json it prints [{\"name\": full name | null, \"tag\": tag | null, \"digest\", \
        \"mediaType\", \"size\", \"annotations\", \"artifactType\", \"subject\"}]."
    )]
    Ls(ls::Args),
    /// Print the digest a reference resolves to.
    #[command(
        long_about = "Print the digest a reference resolves to.\n\nWith --json it prints the \
        whole descriptor as index.json holds it: {\"mediaType\", \"digest\", \"size\", \
        \"annotations\", \"platform\", ...}."
    )]
    Resolve(resolve::Args),
    /// Give an image more names; a name already in use moves to it.
    #[command(long_about = tag::LONG_ABOUT)]
    Tag(tag::Args),
    /// Remove names from index.json (blobs stay until gc).
    #[command(long_about = untag::LONG_ABOUT)]
    Untag(untag::Args),
    /// Remove blobs no index.json entry reaches, and referrer entries whose subject has gone.
    #[command(
        long_about = "Remove blobs no index.json entry reaches, and referrer entries whose subject \
        has gone.\n\nThe summary goes to standard output. With --json it prints {\"removed\": N, \
        \"freed_bytes\": B, \"kept\": K, \"dry_run\": bool, \"temp_files\": N, \"digests\": [...], \
        \"removed_entries\": [{\"digest\", \"mediaType\", \"subject\", \"convention\"}]}."
    )]
    Gc(gc::Args),
    /// Check every reachable blob's presence, size, digest and media type.
    #[command(
        long_about = "Check every reachable blob's presence, size, digest and media type; exit \
        status 1 when anything is wrong.\n\nOne line per problem and a summary on standard output. \
        With --json it prints {\"ok\": bool, \"checked\": N, \"problems\": [{\"digest\", \
        \"problem\"}]}."
    )]
    Fsck(fsck::Args),
    /// Copy images from registries into a layout (default: every platform of each index).
    #[command(long_about = concat!("Copy images from registries into a layout (default: every platform \
        of each index).\n\nOne line per image (\"pulled NAME DIGEST\") and a summary.\n\n",
        registry::json_shape!()))]
    Pull(pull::Args),
    /// Copy one image of a layout to a registry.
    #[command(long_about = concat!("Copy one image of a layout to a registry.\n\n",
        registry::json_shape!()))]
    Push(push::Args),
    /// Push every named image of a layout to a registry under a prefix.
    #[command(long_about = concat!("Push every named image of a layout to a registry under a prefix: \
        docker.io/library/alpine:3.16 goes to REGISTRY/PREFIX/library/alpine:3.16.\n\nOne line per \
        image, \"SOURCE -> DESTINATION DIGEST\", and a summary. The destination is checked before \
        anything is sent: a tag, a digest or a URL scheme in it is a usage error (exit 2).\n\n",
        registry::json_shape!()))]
    Sync(sync::Args),
    /// Copy one image, with its referrers, between layouts and registries (oci-layout://... or a
    /// registry reference).
    Copy(copy::Args),
    /// Write a layout, or the closure of chosen references, to one tar archive.
    #[command(long_about = export::LONG_ABOUT)]
    Export(export::Args),
    /// Merge an archive into a layout (created if needed); refused as a whole if anything is wrong.
    #[command(
        long_about = "Merge an archive into a layout (created if needed); refused as a whole if \
        anything is wrong.\n\nThe summary goes to standard output, notes (names moved) to standard \
        error. With --json it prints {\"images\", \"blobs_written\", \"blobs_skipped\", \"bytes\", \
        \"ignored\", \"moved\": [{\"name\", \"from\", \"to\"}]}."
    )]
    Import(import::Args),
    /// Serve the layout as a registry (distribution API; pull, and push with --push).
    Serve(serve::Args),
    /// Show what a manifest or index holds: platforms, config, layers, sizes, referrers.
    #[command(long_about = inspect::LONG_ABOUT)]
    Inspect(inspect::Args),
    /// List every tag of a registry repository.
    #[command(long_about = tags::LONG_ABOUT)]
    Tags(tags::Args),
    /// Check credentials against a registry and save them where skopeo and podman look.
    #[command(long_about = login::LONG_ABOUT)]
    Login(login::Args),
    /// Remove saved credentials of a registry.
    #[command(long_about = logout::LONG_ABOUT)]
    Logout(logout::Args),
    /// Remove images: their names, and every blob no remaining entry reaches.
    #[command(long_about = rm::LONG_ABOUT)]
    Rm(rm::Args),
    /// Show each image's total, unique and shared bytes, and the layout's garbage.
    #[command(long_about = du::LONG_ABOUT)]
    Du(du::Args),
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
            let cmd = <Cli as clap::CommandFactory>::command();
            let hidden: Vec<&str> = cmd
                .get_subcommands()
                .filter(|s| s.is_hide_set())
                .map(|s| s.get_name())
                .collect();
            output::print_usage_error(&e.render().to_string(), &hidden);
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
            output::print_hint(&e);
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
        Command::Serve(a) => serve::run(a, global),
        Command::Inspect(a) => inspect::run(a, global),
        Command::Tags(a) => tags::run(a, global),
        Command::Login(a) => login::run(a, global),
        Command::Logout(a) => logout::run(a, global),
        Command::Rm(a) => rm::run(a, global),
        Command::Du(a) => du::run(a, global),
        Command::Generate(a) => generate::run(a, global),
    }
}
