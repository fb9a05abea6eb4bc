//! `ocilayout sync [REG] DIR REGISTRY[/PREFIX]`: push every named image of a layout to a registry,
//! the domain of each name replaced (`docker.io/library/alpine:3.16` → `REGISTRY/PREFIX/library/alpine:3.16`).

use std::path::PathBuf;

use ocilayout::registry::Client;
use ocilayout::sync::{self, PushOptions};
use ocilayout::Layout;

use super::registry::{failures, Display, RegistryArgs};
use super::Global;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The layout directory.
    pub dir: PathBuf,
    /// The registry (host[:port]) and an optional path prefix: host:5000/mirror.
    pub destination: String,
    /// Do not push referrers (signatures, SBOMs).
    #[arg(long)]
    pub no_referrers: bool,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

pub fn run(args: Args, global: &Global) -> anyhow::Result<u8> {
    let layout = Layout::open(&args.dir)?;
    let (registry, prefix) = args
        .destination
        .split_once('/')
        .unwrap_or((args.destination.as_str(), ""));
    let client = Client::new(args.registry.config(global)?)?;
    let opts = PushOptions {
        referrers: !args.no_referrers,
    };
    let display = Display::new(global, "pushed");
    let report = sync::sync(&client, &layout, registry, prefix, &opts, &display)?;
    display.summary(&report.summary);
    failures("sync", &report.failures)?;
    Ok(super::EXIT_OK)
}
