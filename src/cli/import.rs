//! `ocilayout import ARCHIVE|- DIR`: merge an archive into a layout, creating it if needed.

use std::fs::File;
use std::io;
use std::path::PathBuf;

use ocilayout::archive::{self, ImportOptions, Moved};
use ocilayout::platform::Platform;
use ocilayout::Error;
use serde::Serialize;

use super::output::{count, print_json};
use super::Global;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The archive to read (plain or gzip-compressed tar), or `-` for standard input.
    pub archive: PathBuf,
    /// The layout directory to merge into; created when it does not exist.
    pub dir: PathBuf,
    /// Store only the manifest for os/arch[/variant] of each image index, under the index's name
    /// (as `pull --platform` does): for archives that hold one platform's blobs, such as the ones
    /// `ctr images export` and `nerdctl save` write by default.
    #[arg(long, value_parser = super::resolve::parse_platform)]
    pub platform: Option<Platform>,
    /// Also write the full name into org.opencontainers.image.ref.name of each image that has one
    /// (default: an OCI archive's entries keep their annotations; a docker-archive's get the tag).
    #[arg(long)]
    pub full_ref_name: bool,
    /// Print a JSON summary.
    #[arg(long)]
    pub json: bool,
}

/// `import --json` (fields may be added, never renamed).
#[derive(Serialize)]
struct Summary<'a> {
    images: usize,
    blobs_written: usize,
    blobs_skipped: usize,
    bytes: u64,
    ignored: usize,
    moved: &'a [Moved],
}

pub fn run(args: Args, global: &Global) -> anyhow::Result<u8> {
    let mut opts = ImportOptions::default();
    opts.platform = args.platform;
    opts.names.full_ref_name = args.full_ref_name;
    let before = super::output::clashes(&args.dir);
    let report = if args.archive.as_os_str() == "-" {
        archive::import(io::stdin().lock(), &args.dir, &opts)?
    } else {
        let file = File::open(&args.archive).map_err(|e| Error::io(&args.archive, e))?;
        archive::import(file, &args.dir, &opts)?
    };
    super::output::note_new_clashes(global, &args.dir, &before);
    for m in &report.moved {
        global.info(format_args!("moved {} from {} to {}", m.name, m.from, m.to));
    }
    if args.json {
        print_json(&Summary {
            images: report.images,
            blobs_written: report.blobs_written,
            blobs_skipped: report.blobs_skipped,
            bytes: report.bytes,
            ignored: report.ignored,
            moved: &report.moved,
        })?;
    } else {
        global.result(format_args!(
            "imported {}: {} written ({}), {} already present",
            count(report.images, "image"),
            count(report.blobs_written, "blob"),
            count(report.bytes, "byte"),
            report.blobs_skipped
        ))?;
    }
    Ok(super::EXIT_OK)
}
