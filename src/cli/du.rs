//! `ocilayout du [--json] DIR [REF...]`: per image its total, unique and shared bytes; layout totals.

use std::path::PathBuf;

use ocilayout::{du, Layout};

use super::output::{print_json, print_rows};
use super::registry::human_bytes;
use super::Global;

/// The long help (man page): what the command does and its JSON shape.
pub const LONG_ABOUT: &str = "Where a layout's bytes go.\n\nFor each image (the REFs given, or every named entry): \"total\" is the bytes of every blob it reaches, with the signatures and SBOMs attached to it; \"unique\" the bytes only it holds, exactly what `ocilayout rm` of its digest (every name of the image) would free, the same on each of its names; \"shared\" the rest, which other images reach too. For the layout: \"total\" on disk in blobs/, \"reachable\" from index.json, and \"garbage\" that `ocilayout gc` would free.\n\nWith --json it prints one object: {\"images\": [{\"name\", \"digest\", \"total\", \"unique\", \"shared\"}], \"total\", \"reachable\", \"garbage\"}, sizes in bytes. Without --json, sizes are shown in B, KiB, MiB, GiB and TiB (powers of 1024).";

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The layout directory.
    pub dir: PathBuf,
    /// Images to measure: names, tags or digests (default: every named entry).
    pub refs: Vec<String>,
    /// Print a JSON object.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args, _global: &Global) -> anyhow::Result<u8> {
    let layout = Layout::open(&args.dir)?;
    let refs: Vec<&str> = args.refs.iter().map(String::as_str).collect();
    let usage = du::du(&layout, &refs)?;
    if args.json {
        print_json(&usage)?;
        return Ok(super::EXIT_OK);
    }
    let mut rows: Vec<Vec<String>> = vec![["NAME", "DIGEST", "TOTAL", "UNIQUE", "SHARED"]
        .map(String::from)
        .to_vec()];
    for i in &usage.images {
        rows.push(vec![
            i.name.clone(),
            i.digest.to_string(),
            human_bytes(i.total),
            human_bytes(i.unique),
            human_bytes(i.shared),
        ]);
    }
    rows.push(vec![format!(
        "layout: total {}, reachable {}, garbage {}",
        human_bytes(usage.total),
        human_bytes(usage.reachable),
        human_bytes(usage.garbage)
    )]);
    print_rows(rows)?;
    Ok(super::EXIT_OK)
}
