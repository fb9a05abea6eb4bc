//! `ocilayout resolve DIR REF [--platform P] [--json]` and `ocilayout resolve oci-layout://...`.

use std::path::PathBuf;

use ocilayout::resolve::{self, Platform};
use ocilayout::Layout;

use super::output::{print_json, print_lines, UsageError};
use super::Global;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The layout directory, or an oci-layout://PATH[/NAME][:TAG][@DIGEST] URL.
    pub dir: PathBuf,
    /// A digest, a ref.name, a name (alpine:3.16) or a bare tag. Not given with a URL.
    pub reference: Option<String>,
    /// Descend through image indexes to the manifest for os/arch[/variant]; a single-platform
    /// image must be for that platform (its config says so).
    #[arg(long, value_parser = parse_platform)]
    pub platform: Option<Platform>,
    /// Print the whole descriptor as JSON.
    #[arg(long)]
    pub json: bool,
}

pub(super) fn parse_platform(s: &str) -> Result<Platform, String> {
    Platform::parse(s).map_err(|e| e.to_string())
}

pub fn run(args: Args, _global: &Global) -> anyhow::Result<u8> {
    let dir = args.dir.to_string_lossy();
    let descriptor = if dir.starts_with("oci-layout://") {
        if let Some(r) = &args.reference {
            return Err(UsageError(format!(
                "a URL names its reference itself; unexpected {r:?}"
            ))
            .into());
        }
        resolve::resolve_url(&dir, args.platform.as_ref())?.1
    } else {
        let Some(reference) = &args.reference else {
            return Err(
                UsageError(format!("give a REF to resolve in {}", args.dir.display())).into(),
            );
        };
        let layout = Layout::open(&args.dir)?;
        layout.resolve(reference, args.platform.as_ref())?
    };
    if args.json {
        print_json(&descriptor)?;
    } else {
        print_lines([descriptor.digest()])?;
    }
    Ok(super::EXIT_OK)
}
