//! `ocilayout copy [REG] [--platform P] [--json] SRC DST`: copy one image between layouts and
//! registries, keeping its digest.

use ocilayout::copy::{self, CopyOptions, Endpoint};
use ocilayout::registry::Client;
use ocilayout::resolve::Platform;
use ocilayout::tag::NameOptions;

use super::credentials::{CopyCredentials, Side};
use super::output::print_json;
use super::registry::{Display, RegistryArgs};
use super::Global;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The image to copy: oci-layout://PATH[/NAME][:TAG|@DIGEST] or a registry reference
    /// (docker:// prefix accepted).
    pub src: String,
    /// Where to copy it, in the same forms. A layout that does not exist is created; without a
    /// name the image is named after the source; a bare tag keeps the source's repository.
    pub dst: String,
    /// Copy only the manifest for os/arch[/variant] of an index.
    #[arg(long, value_parser = super::resolve::parse_platform)]
    pub platform: Option<Platform>,
    /// Also write the full name into org.opencontainers.image.ref.name of a destination layout.
    #[arg(long)]
    pub full_ref_name: bool,
    /// Print a JSON object: {"source", "destination", "digest", "blobs_written", "blobs_skipped",
    /// "bytes", "moved"}.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub registry: RegistryArgs,
    #[command(flatten)]
    pub credentials: CopyCredentials,
}

/// One side of the copy, for its credentials.
fn side<'a>(e: &'a Endpoint, typed: &'a str) -> Side<'a> {
    Side {
        image: match e {
            Endpoint::Registry(r) => Some(r),
            Endpoint::Layout { .. } => None,
        },
        typed,
    }
}

/// An endpoint as typed; a bare one that names something on disk is refused, never looked up.
fn endpoint(typed: &str) -> anyhow::Result<Endpoint> {
    if !typed.starts_with("oci-layout://") {
        super::local::not_a_path(typed)?;
    }
    Ok(Endpoint::parse(typed)?)
}

/// `copy --json` (fields may be added, never renamed).
#[derive(serde::Serialize)]
struct Json<'a> {
    source: &'a str,
    #[serde(flatten)]
    report: &'a copy::CopyReport,
}

pub fn run(args: Args, global: &Global) -> anyhow::Result<u8> {
    let src = endpoint(&args.src)?;
    let dst = endpoint(&args.dst)?;
    let given =
        args.credentials
            .given(&args.registry, side(&src, &args.src), side(&dst, &args.dst))?;
    let client = Client::new(args.registry.config(global, given)?)?;
    let opts = CopyOptions {
        platform: args.platform,
        names: NameOptions {
            full_ref_name: args.full_ref_name,
        },
    };
    let display = Display::new(global, "copied").without_lines();
    let report = copy::copy(&client, &src, &dst, &opts, &display)?;
    for m in &report.moved {
        global.info(format_args!("moved {} from {} to {}", m.name, m.from, m.to));
    }
    if args.json {
        print_json(&Json {
            source: &args.src,
            report: &report,
        })?;
    } else {
        global.result(format_args!(
            "{} -> {} {}",
            args.src, report.destination, report.digest
        ))?;
    }
    Ok(super::EXIT_OK)
}
