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
}

pub fn run(args: Args, global: &Global) -> anyhow::Result<u8> {
    let layout = Layout::open(&args.dir)?;
    let refs: Vec<&str> = args.refs.iter().map(String::as_str).collect();
    for u in tag::untag(&layout, &refs)? {
        if global.verbose > 0 {
            global.info(format_args!("untagged {} ({})", u.name, u.digest));
        }
    }
    Ok(super::EXIT_OK)
}
