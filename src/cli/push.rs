//! `ocilayout push [REG] DIR REF DEST`: copy one image of a layout to a registry.

use std::path::PathBuf;

use ocilayout::registry::Client;
use ocilayout::sync::{self, PushOptions};
use ocilayout::Layout;

use super::credentials::Owner;
use super::registry::{Display, RegistryArgs};
use super::Global;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The layout directory.
    pub dir: PathBuf,
    /// The image in the layout: a digest, a name or a tag.
    pub reference: String,
    /// Where to push it: a registry reference (host:5000/name:tag).
    pub dest: String,
    /// Do not push the layout's referrers (signatures, SBOMs) of the image.
    #[arg(long)]
    pub no_referrers: bool,
    /// Print a JSON object when done.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

pub fn run(args: Args, global: &Global) -> anyhow::Result<u8> {
    super::local::not_a_path(&args.dest)?;
    let layout = Layout::open(&args.dir)?;
    let source = layout.resolve(&args.reference, None)?;
    let dest = super::registry::parse_ref(&args.dest)?;
    let given = args.registry.given(Owner::Registry(dest.domain()))?;
    let client = Client::new(args.registry.config(global, given)?)?;
    let opts = PushOptions {
        referrers: !args.no_referrers,
    };
    let display = Display::new(global, "pushed").json(args.json);
    let summary = sync::push(&client, &layout, &source, &dest, &opts, &display)
        .map_err(|e| anyhow::anyhow!("push {dest}: {e}"))?;
    display.finish(&summary, &[])?;
    Ok(super::EXIT_OK)
}
