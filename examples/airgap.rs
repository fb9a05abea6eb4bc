//! An air-gapped transfer: on the connected side, export the named images into an archive that
//! leaves out every blob the far side already holds (`--base`); on the far side, import the
//! archive into its layout and push the images to its registry, checking that each arrives under
//! the digest it left with.
//!
//! ```text
//! cargo run --example airgap -- SOURCE BASE ARCHIVE TARGET REGISTRY[/PREFIX] REF...
//! ```
//!
//! SOURCE is the connected side's layout, BASE a copy of what the far side's layout TARGET already
//! holds; each REF is pushed to `REGISTRY[/PREFIX]/<path>:<tag>` of its name.

use std::error::Error;
use std::fmt::Write as _;
use std::path::Path;

use ocilayout::archive::{self, ExportOptions, ImportOptions};
use ocilayout::registry::{Client, ClientConfig};
use ocilayout::sync::{push, PushOptions};
use ocilayout::{progress, Layout, Reference};

/// Runs the transfer described by `args` and returns what it did.
pub fn run(args: &[String]) -> Result<String, Box<dyn Error>> {
    let [source, base, archive_path, target, registry, refs @ ..] = args else {
        return Err("usage: airgap SOURCE BASE ARCHIVE TARGET REGISTRY[/PREFIX] REF...".into());
    };
    let mut out = String::new();

    // Connected side: the refs' closure, minus what the base holds.
    let source = Layout::open(source)?;
    let refs: Vec<&str> = refs.iter().map(String::as_str).collect();
    let opts = ExportOptions {
        entries: Some(archive::select_entries(&source, &refs)?),
        base: Some(Layout::open(base)?),
        ..ExportOptions::default()
    };
    let exported = archive::export_to_path(&source, Path::new(archive_path), &opts)?;
    writeln!(
        out,
        "exported {}: {} ({}), {} left to the base",
        count(exported.images, "image"),
        count(exported.blobs_written, "blob"),
        count(exported.bytes, "byte"),
        exported.blobs_skipped
    )?;

    // Far side: every blob of the archive is verified as it is stored; blobs the archive left out
    // must already be in the target.
    let file = std::fs::File::open(archive_path)?;
    let imported = archive::import(file, Path::new(target), &ImportOptions::default())?;
    writeln!(
        out,
        "imported {}: {} written, {} already present",
        count(imported.images, "image"),
        count(imported.blobs_written, "blob"),
        imported.blobs_skipped
    )?;

    // Push each image and ask the registry what it now holds under the tag.
    let target = Layout::open(target)?;
    let client = Client::new(ClientConfig::default())?;
    for r in refs {
        let desc = target.resolve(r, None)?;
        let name = Reference::parse(r)?;
        let dest = Reference::parse(&format!(
            "{registry}/{}:{}",
            name.path(),
            name.tag().unwrap_or("latest")
        ))?;
        push(
            &client,
            &target,
            &desc,
            &dest,
            &PushOptions::default(),
            &progress::Silent,
        )?;
        let repo = client.repository(dest.registry_host(), dest.path(), false);
        let served = repo.get_manifest(dest.tag().unwrap_or("latest"))?;
        if served.digest != *desc.digest() {
            return Err(format!("{dest} holds {}, not {}", served.digest, desc.digest()).into());
        }
        writeln!(out, "pushed {dest} {}", served.digest)?;
    }
    Ok(out)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(text) => print!("{text}"),
        Err(e) => {
            eprintln!("airgap: {e}");
            std::process::exit(1);
        }
    }
}

/// `1 image`, `2 images`: a count and its noun, plural unless the count is one.
fn count<N: std::fmt::Display + PartialEq + From<u8>>(n: N, noun: &str) -> String {
    if n == N::from(1) {
        format!("{n} {noun}")
    } else {
        format!("{n} {noun}s")
    }
}
