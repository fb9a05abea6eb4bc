//! `ocilayout tag DIR SOURCE TARGET...`: give an image more names.

use std::path::PathBuf;

use ocilayout::tag::{self, NameOptions};
use ocilayout::Layout;

use super::Global;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The layout directory.
    pub dir: PathBuf,
    /// What to tag: a digest, a name or a tag already in the layout.
    pub source: String,
    /// New names; a name already used by another entry moves to SOURCE.
    #[arg(required = true)]
    pub targets: Vec<String>,
    /// Also write the full name into org.opencontainers.image.ref.name (default: the tag alone).
    #[arg(long)]
    pub full_ref_name: bool,
    /// Print a JSON object.
    #[arg(long)]
    pub json: bool,
}

/// The long help (man page): what the command does and its JSON shape.
pub const LONG_ABOUT: &str =
    "Give an image more names; a name already in use moves to it.\n\nWith \
    --json it prints {\"digest\": \"sha256:...\", \"names\": [canonical names given], \"moved\": \
    [{\"name\", \"from\", \"to\"}]}; moved lists the names that labelled another digest before.";

pub fn run(args: Args, global: &Global) -> anyhow::Result<u8> {
    let layout = Layout::open(&args.dir)?;
    let before = super::output::clashes(&args.dir);
    let targets: Vec<&str> = args.targets.iter().map(String::as_str).collect();
    let opts = NameOptions {
        full_ref_name: args.full_ref_name,
    };
    let report = tag::tag(&layout, &args.source, &targets, &opts)?;
    super::output::note_new_clashes(global, &args.dir, &before);
    if args.json {
        super::output::print_json(&report)?;
        return Ok(super::EXIT_OK);
    }
    for m in &report.moved {
        global.info(format_args!("moved {} from {} to {}", m.name, m.from, m.to));
    }
    if global.verbose > 0 {
        for n in &report.names {
            global.info(format_args!("tagged {} as {n}", report.digest));
        }
    }
    Ok(super::EXIT_OK)
}
