//! `ocilayout rm [--dry-run] [--json] DIR REF...`: remove images and what only they reach.

use std::path::PathBuf;

use ocilayout::rm::{self, RmOptions};
use ocilayout::Layout;
use serde::Serialize;

use super::output::{count, print_json, print_lines};
use super::Global;

/// The long help (man page): what the command does and its JSON shape.
pub const LONG_ABOUT: &str = "`rm` removes entries and blobs in one step.\n\nWith --json it prints one object: {\"removed\": N, \"freed_bytes\": B, \"dry_run\": bool, \"untagged\": [{\"name\", \"digest\"}], \"removed_entries\": [{\"digest\", \"mediaType\", \"subject\"}], \"digests\": [\"sha256:...\"]}. \"removed\" counts blobs; \"removed_entries\" are the referrer entries (signatures, SBOMs) that went with their subject.";

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The layout directory.
    pub dir: PathBuf,
    /// Names, tags or digests to remove (a digest removes every entry with it); all or nothing.
    #[arg(required = true)]
    pub refs: Vec<String>,
    /// Report exactly what would be removed, and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print a JSON summary.
    #[arg(long)]
    pub json: bool,
}

/// `rm --json` (fields may be added, never renamed).
#[derive(Serialize)]
struct Summary {
    removed: usize,
    freed_bytes: u64,
    dry_run: bool,
    untagged: Vec<rm::RemovedName>,
    removed_entries: Vec<Entry>,
    digests: Vec<String>,
}

#[derive(Serialize)]
struct Entry {
    digest: String,
    #[serde(rename = "mediaType")]
    media_type: String,
    subject: String,
}

pub fn run(args: Args, global: &Global) -> anyhow::Result<u8> {
    let layout = Layout::open(&args.dir)?;
    let refs: Vec<&str> = args.refs.iter().map(String::as_str).collect();
    let report = rm::rm(
        &layout,
        &refs,
        &RmOptions {
            dry_run: args.dry_run,
        },
    )?;
    let digests: Vec<String> = report.removed.iter().map(|(d, _)| d.to_string()).collect();
    if args.json {
        return print_json(&Summary {
            removed: report.removed.len(),
            freed_bytes: report.freed_bytes,
            dry_run: report.dry_run,
            untagged: report.untagged,
            removed_entries: report
                .removed_entries
                .iter()
                .map(|e| Entry {
                    digest: e.descriptor.digest().to_string(),
                    media_type: e.descriptor.media_type().to_string(),
                    subject: e.referrer.subject.to_string(),
                })
                .collect(),
            digests,
        })
        .map(|()| super::EXIT_OK);
    }
    let verb = if args.dry_run {
        "would remove"
    } else {
        "removed"
    };
    let mut lines: Vec<String> = report
        .untagged
        .iter()
        .map(|u| format!("{verb} {} ({})", u.name, u.digest))
        .collect();
    for e in &report.removed_entries {
        lines.push(format!(
            "{verb} the entry {}: it refers to {}",
            e.descriptor.digest(),
            e.referrer.subject
        ));
    }
    if args.dry_run || global.verbose > 0 {
        lines.extend(digests);
    }
    lines.push(format!(
        "{verb} {} ({})",
        count(report.removed.len(), "blob"),
        count(report.freed_bytes, "byte")
    ));
    if !global.quiet {
        print_lines(lines)?;
    }
    Ok(super::EXIT_OK)
}
