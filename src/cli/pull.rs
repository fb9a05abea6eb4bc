//! `ocilayout pull [REG] [--platform P] IMAGE... DIR`: copy images from registries into a layout.

use ocilayout::registry::Client;
use ocilayout::resolve::Platform;
use ocilayout::sync::{self, PullOptions};
use ocilayout::tag::NameOptions;
use ocilayout::Layout;

use super::registry::{failures, Display, RegistryArgs};
use super::Global;
use super::{credentials, local};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Images to pull: alpine:3.16, host:5000/a/b@sha256:..., docker://REF.
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<String>,
    /// The layout directory, created if needed.
    #[arg(required = true, value_name = "DIR")]
    pub dir: String,
    /// Pull only the manifest for os/arch[/variant] (default: the whole index, every platform); a
    /// single-platform image must be for that platform.
    #[arg(long, value_parser = super::resolve::parse_platform)]
    pub platform: Option<Platform>,
    /// Also write the full name into org.opencontainers.image.ref.name (default: the tag alone).
    #[arg(long)]
    pub full_ref_name: bool,
    /// Do not bring along referrers (signatures, SBOMs).
    #[arg(long)]
    pub no_referrers: bool,
    /// Print a JSON object when done.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

pub fn run(args: Args, global: &Global) -> anyhow::Result<u8> {
    let dir = &args.dir;
    local::not_an_image(dir, |image| {
        let rest: Vec<&str> = args.images.iter().map(String::as_str).collect();
        format!("ocilayout pull {image} {}", rest.join(" "))
    })?;
    let images = args
        .images
        .iter()
        .map(|s| {
            local::not_a_path(s)?;
            super::registry::parse_ref(s)
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let given = args
        .registry
        .given(credentials::pull_owner(&args.registry, &images)?)?;
    let client = Client::new(args.registry.config(global, given)?)?;
    let before = super::output::clashes(dir.as_ref());
    let (layout, created) = Layout::init_tracked(dir)?;
    let opts = PullOptions {
        platform: args.platform,
        names: NameOptions {
            full_ref_name: args.full_ref_name,
        },
        referrers: !args.no_referrers,
    };
    let display = Display::new(global, "pulled").json(args.json);
    let result = sync::pull(&client, &layout, &images, &opts, &display)
        .map_err(anyhow::Error::from)
        .and_then(|report| {
            display.finish(&report.summary, &report.failures)?;
            failures("pull", &report.failures)
        });
    if result.is_err() {
        // A pull that named nothing leaves no layout behind in a directory it created (one that
        // names something, or that another process has named something in, is kept).
        created.undo(&layout);
    }
    result?;
    super::output::note_new_clashes(global, dir.as_ref(), &before);
    Ok(super::EXIT_OK)
}
