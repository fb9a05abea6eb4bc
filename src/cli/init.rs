//! `ocilayout init DIR`: create an empty layout.

use std::path::PathBuf;

use ocilayout::Layout;

use super::output::print_json;
use super::Global;

/// The long help (man page): what the command does and its JSON shape.
pub const LONG_ABOUT: &str = "Create an empty layout (does nothing to an existing one).\n\nWith --json \
    it prints {\"path\": \"DIR\", \"created\": bool}; created is false when DIR already was a layout.";

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The layout directory (created if needed).
    pub dir: PathBuf,
    /// Print a JSON object.
    #[arg(long)]
    pub json: bool,
}

#[derive(serde::Serialize)]
struct Initialized {
    path: String,
    created: bool,
}

pub fn run(args: Args, global: &Global) -> anyhow::Result<u8> {
    let (layout, created) = Layout::init_tracked(&args.dir)?;
    let path = layout.root().display().to_string();
    if args.json {
        print_json(&Initialized {
            path,
            created: created.is_new(),
        })?;
    } else if created.is_new() {
        global.result(format_args!("initialized {path}"))?;
    } else {
        global.result(format_args!("{path} is already a layout"))?;
    }
    Ok(super::EXIT_OK)
}
