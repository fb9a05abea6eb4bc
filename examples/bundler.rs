//! An offline-bundle builder: pull a list of images into one layout, give each a name under the
//! bundle's own prefix, drop the original names, collect garbage, and report per image how many
//! bytes are its alone and how many it shares with other images of the bundle.
//!
//! ```text
//! cargo run --example bundler -- LAYOUT IMAGE...
//! ```
//!
//! Registries on `localhost` or 127.0.0.0/8 may answer in plain HTTP, as docker allows.

use std::collections::HashMap;
use std::error::Error;
use std::fmt::Write as _;
use std::path::Path;

use ocilayout::oci_spec::image::Digest;
use ocilayout::registry::{Client, ClientConfig};
use ocilayout::sync::{pull, PullOptions};
use ocilayout::{gc, graph, progress, tag, Layout, Reference};

/// The prefix every image of the bundle is named under.
const BUNDLE: &str = "bundle.local";

/// Builds the bundle described by `args` and returns the report.
pub fn run(args: &[String]) -> Result<String, Box<dyn Error>> {
    let [dir, images @ ..] = args else {
        return Err("usage: bundler LAYOUT IMAGE...".into());
    };
    if images.is_empty() {
        return Err("usage: bundler LAYOUT IMAGE...".into());
    }
    let layout = Layout::init(Path::new(dir))?;
    let refs = images
        .iter()
        .map(|i| Reference::parse(i))
        .collect::<Result<Vec<_>, _>>()?;

    // Every image, every platform, in parallel (ClientConfig::jobs blobs at once).
    let client = Client::new(ClientConfig::default())?;
    let report = pull(
        &client,
        &layout,
        &refs,
        &PullOptions::default(),
        &progress::Silent,
    )?;
    if let Some((image, err)) = report.failures.first() {
        return Err(format!("{image}: {err}").into());
    }

    // Rename: `bundle.local/<path>:<tag>`, then the pulled names go.
    let mut out = String::new();
    let mut named = Vec::new();
    for r in &refs {
        let bundled = format!("{BUNDLE}/{}:{}", r.path(), r.tag().unwrap_or("latest"));
        let t = tag::tag(
            &layout,
            &r.to_string(),
            &[bundled.as_str()],
            &Default::default(),
        )?;
        writeln!(out, "tagged {} {bundled}", t.digest)?;
        named.push(bundled);
    }
    let originals: Vec<String> = refs.iter().map(Reference::to_string).collect();
    let originals: Vec<&str> = originals.iter().map(String::as_str).collect();
    tag::untag(&layout, &originals)?;
    let collected = gc::gc(&layout, &Default::default())?;
    writeln!(
        out,
        "gc removed {} blobs ({} bytes), kept {}",
        collected.removed.len(),
        collected.freed_bytes,
        collected.kept
    )?;

    // Each image's closure; a blob in more than one closure is shared.
    let index = layout.read_index()?;
    let mut closures: Vec<(String, HashMap<Digest, u64>)> = Vec::new();
    for name in &named {
        let entry = ocilayout::resolve::resolve_in(&layout, &index, name)?;
        let g = graph::walk(layout.blobs(), [&entry])?;
        let blobs = g
            .nodes
            .iter()
            .map(|n| (n.descriptor.digest().clone(), n.descriptor.size()))
            .collect();
        closures.push((name.clone(), blobs));
    }
    let mut users: HashMap<&Digest, usize> = HashMap::new();
    for (_, blobs) in &closures {
        for d in blobs.keys() {
            *users.entry(d).or_default() += 1;
        }
    }
    for (name, blobs) in &closures {
        let (mut unique, mut shared) = (0, 0);
        for (d, size) in blobs {
            if users[d] > 1 {
                shared += size;
            } else {
                unique += size;
            }
        }
        writeln!(
            out,
            "image {name} total {} unique {unique} shared {shared}",
            unique + shared
        )?;
    }
    let total: u64 = layout.blobs().list()?.iter().map(|(_, s)| s).sum();
    writeln!(
        out,
        "layout {} blobs {total} bytes",
        layout.blobs().list()?.len()
    )?;
    Ok(out)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(text) => print!("{text}"),
        Err(e) => {
            eprintln!("bundler: {e}");
            std::process::exit(1);
        }
    }
}
