//! `ocilayout untag DIR REF...`: remove names (the blobs stay until gc).

use std::path::PathBuf;

use ocilayout::{tag, Layout};

use super::Global;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The layout directory.
    pub dir: PathBuf,
    /// Names, tags or digests to remove; all or nothing.
    #[arg(required = true)]
    pub refs: Vec<String>,
    /// Print a JSON object.
    #[arg(long)]
    pub json: bool,
}

/// The long help (man page): what the command does and its JSON shape.
pub const LONG_ABOUT: &str =
    "Remove names from index.json (blobs stay until gc).\n\nWith --json it \
    prints {\"untagged\": [{\"name\", \"digest\"}]}, the entries removed in index order.";

#[derive(serde::Serialize)]
struct Untagged {
    untagged: Vec<tag::Untagged>,
}

pub fn run(args: Args, global: &Global) -> anyhow::Result<u8> {
    let layout = Layout::open(&args.dir)?;
    let refs: Vec<&str> = args.refs.iter().map(String::as_str).collect();
    let removed = tag::untag(&layout, &refs)?;
    if args.json {
        super::output::print_json(&Untagged { untagged: removed })?;
        return Ok(super::EXIT_OK);
    }
    for u in removed {
        if global.verbose > 0 {
            global.info(format_args!("untagged {} ({})", u.name, u.digest));
        }
    }
    Ok(super::EXIT_OK)
}
