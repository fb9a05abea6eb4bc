//! `ocilayout fsck DIR [--json]`: check every reachable blob; exit 1 when anything is wrong.

use std::path::PathBuf;

use ocilayout::{fsck, Layout};

use super::output::{count, print_json, print_lines};
use super::Global;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The layout directory.
    pub dir: PathBuf,
    /// Print a JSON report.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args, global: &Global) -> anyhow::Result<u8> {
    let layout = Layout::open(&args.dir)?;
    let report = fsck::fsck(&layout)?;
    if args.json {
        print_json(&report)?;
    } else {
        print_lines(
            report
                .problems
                .iter()
                .map(|p| format!("{}: {}", p.digest, p.problem)),
        )?;
        global.result(format_args!(
            "checked {}, {}",
            count(report.checked, "blob"),
            count(report.problems.len(), "problem")
        ))?;
    }
    Ok(if report.ok {
        super::EXIT_OK
    } else {
        super::EXIT_FAILURE
    })
}
