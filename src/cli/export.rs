//! `ocilayout export DIR ARCHIVE|- [REF...]`: a layout, or the closure of chosen references, as one
//! tar (gzip for `.tar.gz`, `.tgz` or `--gzip`).

use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;

use anyhow::bail;
use ocilayout::archive::{self, Compression, ExportOptions};
use ocilayout::Layout;

use super::output::{count, print_json, UsageError};
use super::Global;

/// The long help (man page): what the command does and its JSON shape.
pub const LONG_ABOUT: &str = "Write a layout, or the closure of chosen references, to one tar \
    archive (gzip for .tar.gz, .tgz or --gzip).\n\nThe summary goes to standard output, or to standard \
    error when the archive does. With --json it prints {\"archive\": PATH, \"images\": N, \
    \"blobs_written\": N, \"blobs_skipped\": N, \"bytes\": B}; blobs_skipped are those left out \
    because the --base layout holds them.";

/// `export --json` (fields may be added, never renamed).
#[derive(serde::Serialize)]
struct Summary {
    archive: String,
    images: usize,
    blobs_written: usize,
    blobs_skipped: usize,
    bytes: u64,
}

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The layout directory.
    pub dir: PathBuf,
    /// The archive to write, or `-` for standard output. A regular file is replaced only when the
    /// archive is complete, keeping its mode; a FIFO, a device or `/dev/fd/N` is written in place.
    pub archive: PathBuf,
    /// Export only these references and their closure (default: every entry of index.json).
    pub refs: Vec<String>,
    /// Compress with gzip (implied by a `.tar.gz` or `.tgz` archive name).
    #[arg(long)]
    pub gzip: bool,
    /// A layout the receiving side already holds: its blobs are left out (incremental update).
    #[arg(long, value_name = "LAYOUT")]
    pub base: Option<PathBuf>,
    /// Also write the manifest.json that `docker load` reads.
    #[arg(long)]
    pub docker_manifest: bool,
    /// Print a JSON summary (not with `-`: standard output is the archive).
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args, global: &Global) -> anyhow::Result<u8> {
    // A reader that quits early leaves a truncated archive: unlike `ls | head`, that is a failure.
    // (Rust ignores SIGPIPE, so a write to a closed pipe is an EPIPE error that ends up here.)
    let target = if args.archive.as_os_str() == "-" {
        "standard output".to_string()
    } else {
        args.archive.display().to_string()
    };
    export(args, global).map_err(|e| {
        if super::output::is_broken_pipe(&e) {
            anyhow::anyhow!(
                "{}: the reader closed the pipe before the archive was complete",
                ocilayout::error::one_line(&target)
            )
        } else {
            e
        }
    })
}

fn export(args: Args, global: &Global) -> anyhow::Result<u8> {
    // An interrupted export removes its temporary file.
    archive::remove_temp_files_on_signal();
    let layout = Layout::open(&args.dir)?;
    let to_stdout = args.archive.as_os_str() == "-";
    if to_stdout && args.json {
        return Err(UsageError(
            "--json needs an ARCHIVE path: with `-` standard output is the archive".into(),
        )
        .into());
    }
    let compression = if args.gzip {
        Compression::Gzip
    } else {
        Compression::for_path(&args.archive)
    };
    let refs: Vec<&str> = args.refs.iter().map(String::as_str).collect();
    let opts = ExportOptions {
        entries: if refs.is_empty() {
            None
        } else {
            Some(archive::select_entries(&layout, &refs)?)
        },
        base: args.base.as_deref().map(Layout::open).transpose()?,
        docker_manifest: args.docker_manifest,
        compression,
    };
    let report = if to_stdout {
        let stdout = io::stdout();
        if stdout.is_terminal() {
            bail!("refusing to write an archive to a terminal; redirect standard output");
        }
        let mut out = io::BufWriter::with_capacity(1 << 20, stdout.lock());
        let report = archive::export(&layout, &mut out, &opts)?;
        out.flush()?;
        report
    } else {
        archive::export_to_path(&layout, &args.archive, &opts)?
    };
    if args.json {
        print_json(&Summary {
            archive: args.archive.display().to_string(),
            images: report.images,
            blobs_written: report.blobs_written,
            blobs_skipped: report.blobs_skipped,
            bytes: report.bytes,
        })?;
        return Ok(super::EXIT_OK);
    }
    let line = format!(
        "exported {}: {} ({}){}",
        count(report.images, "image"),
        count(report.blobs_written, "blob"),
        count(report.bytes, "byte"),
        if report.blobs_skipped > 0 {
            format!(", {} left out (in the base layout)", report.blobs_skipped)
        } else {
            String::new()
        }
    );
    // The archive may be standard output: the summary then goes with the notes.
    if to_stdout {
        global.info(line);
    } else {
        global.result(line)?;
    }
    Ok(super::EXIT_OK)
}
