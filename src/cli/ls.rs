//! `ocilayout ls DIR [--json]`: the entries of index.json with their names.

use std::collections::HashMap;
use std::path::PathBuf;

use ocilayout::{referrer, resolve, Layout};
use serde::Serialize;

use super::output::{print_json, print_rows};
use super::Global;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The layout directory.
    pub dir: PathBuf,
    /// Print a JSON array of entries.
    #[arg(long)]
    pub json: bool,
}

/// One entry as `ls --json` prints it (docs/cli.md; fields may be added, never renamed).
#[derive(Serialize)]
struct Entry {
    name: Option<String>,
    tag: Option<String>,
    digest: String,
    #[serde(rename = "mediaType")]
    media_type: String,
    size: u64,
    annotations: HashMap<String, String>,
    /// For an unnamed entry: the artifact type of what it holds.
    #[serde(rename = "artifactType")]
    artifact_type: Option<String>,
    /// For a referrer entry: the digest of the manifest it refers to.
    subject: Option<String>,
}

pub fn run(args: Args, _global: &Global) -> anyhow::Result<u8> {
    let layout = Layout::open(&args.dir)?;
    let index = layout.read_index()?;
    let entries: Vec<Entry> = index
        .manifests()
        .iter()
        .map(|d| {
            let names = resolve::entry_names(d);
            let unnamed = names.name.is_none() && names.tag.is_none();
            let about = unnamed.then(|| referrer::about(layout.blobs(), d));
            Entry {
                name: names.name.map(|n| n.to_string()),
                tag: names.tag,
                digest: d.digest().to_string(),
                media_type: d.media_type().to_string(),
                size: d.size(),
                annotations: d.annotations().clone().unwrap_or_default(),
                artifact_type: about.and_then(|a| a.artifact_type),
                subject: referrer::referrer(layout.blobs(), d).map(|r| r.subject.to_string()),
            }
        })
        .collect();
    if args.json {
        print_json(&entries)?;
    } else {
        print_rows(entries.iter().map(|e| {
            let name = e.name.as_deref().or(e.tag.as_deref()).unwrap_or("<none>");
            let mut row = vec![
                name.to_string(),
                e.digest.clone(),
                e.size.to_string(),
                e.media_type.clone(),
            ];
            if e.artifact_type.is_some() || e.subject.is_some() {
                let or_dash = |s: &Option<String>| s.clone().unwrap_or_else(|| "-".into());
                row.push(or_dash(&e.artifact_type));
                row.push(format!("subject={}", or_dash(&e.subject)));
            }
            row
        }))?;
    }
    Ok(super::EXIT_OK)
}
