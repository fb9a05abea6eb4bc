//! `ocilayout init DIR`: create an empty layout.

use std::path::PathBuf;

use ocilayout::Layout;

use super::Global;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The layout directory (created if needed).
    pub dir: PathBuf,
}

pub fn run(args: Args, global: &Global) -> anyhow::Result<u8> {
    let layout = Layout::init(&args.dir)?;
    global.info(format_args!("initialized {}", layout.root().display()));
    Ok(super::EXIT_OK)
}
