//! `ocilayout gc DIR [--dry-run] [--json]`: remove unreferenced blobs.

use std::path::PathBuf;

use ocilayout::gc::{self, GcOptions};
use ocilayout::Layout;
use serde::Serialize;

use super::output::{count, print_json, print_lines};
use super::Global;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The layout directory.
    pub dir: PathBuf,
    /// Report exactly what would be removed, and remove nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print a JSON summary.
    #[arg(long)]
    pub json: bool,
}

/// `gc --json` (docs/cli.md; fields may be added, never renamed).
#[derive(Serialize)]
struct Summary {
    removed: usize,
    freed_bytes: u64,
    kept: usize,
    dry_run: bool,
    temp_files: usize,
    digests: Vec<String>,
    /// Referrer entries dropped from index.json because their subject is gone.
    removed_entries: Vec<RemovedEntry>,
}

/// One referrer entry `gc` dropped from index.json.
#[derive(Serialize)]
struct RemovedEntry {
    digest: String,
    #[serde(rename = "mediaType")]
    media_type: String,
    subject: String,
    convention: ocilayout::referrer::Convention,
}

pub fn run(args: Args, global: &Global) -> anyhow::Result<u8> {
    let layout = Layout::open(&args.dir)?;
    let report = gc::gc(
        &layout,
        &GcOptions {
            dry_run: args.dry_run,
        },
    )?;
    let digests: Vec<String> = report.removed.iter().map(|(d, _)| d.to_string()).collect();
    let removed_entries: Vec<RemovedEntry> = report
        .removed_entries
        .iter()
        .map(|e| RemovedEntry {
            digest: e.descriptor.digest().to_string(),
            media_type: e.descriptor.media_type().to_string(),
            subject: e.referrer.subject.to_string(),
            convention: e.referrer.convention,
        })
        .collect();
    if report.unlocked {
        global.info(format_args!(
            "note: {} cannot be locked (read-only); this dry run took no locks",
            layout.root().display()
        ));
    }
    if args.json {
        print_json(&Summary {
            removed: report.removed.len(),
            freed_bytes: report.freed_bytes,
            kept: report.kept,
            dry_run: report.dry_run,
            temp_files: report.temp_files,
            digests,
            removed_entries,
        })?;
    } else {
        if (args.dry_run || global.verbose > 0) && !global.quiet {
            print_lines(&digests)?;
        }
        let verb = if args.dry_run {
            "would remove"
        } else {
            "removed"
        };
        for e in &removed_entries {
            global.result(format_args!(
                "{verb} the entry {}: it refers to {}, which no other entry reaches",
                e.digest, e.subject
            ))?;
        }
        global.result(format_args!(
            "{verb} {} ({}), kept {}",
            count(report.removed.len(), "blob"),
            count(report.freed_bytes, "byte"),
            report.kept
        ))?;
    }
    Ok(super::EXIT_OK)
}
