//! Registry to registry: manifests fetched (verified, capped) and put children-first, blobs streamed
//! from one registry into the other without touching the disk or being held whole in memory, and
//! mounted instead when both repositories are on one registry. Every byte uploaded is hashed as it
//! passes, so a source that serves the wrong bytes fails the upload.

use std::collections::HashMap;

use oci_spec::image::{Descriptor, Digest};

use super::CopyReport;
use crate::error::Result;
use crate::graph;
use crate::platform::Platform;
use crate::progress::{Event, Outcome, Progress, Tally};
use crate::reference::Reference;
use crate::registry::{Client, Manifest, Pushed, Repository};

/// Copies the image `source` names to `dest`, descending to `platform` first when given.
pub(super) fn copy(
    client: &Client,
    source: &Reference,
    dest: &Reference,
    platform: Option<&Platform>,
    progress: &dyn Progress,
) -> Result<CopyReport> {
    let tally = Tally::new(progress);
    let from = client.repository(source.registry_host(), source.path(), false);
    let to = client.repository(dest.registry_host(), dest.path(), true);
    let same_registry = source.registry_host() == dest.registry_host();
    let reference = source
        .digest()
        .map(ToString::to_string)
        .or_else(|| source.tag().map(str::to_string))
        .unwrap_or_else(|| "latest".into());
    let mut root = from.get_manifest(&reference)?;
    if let Some(p) = platform {
        root = descend(&from, root, p)?;
    }
    let shown = dest.to_string();
    tally.event(&Event::ImageStart { image: &shown });
    let mut report = CopyReport::started(root.digest.clone(), shown.clone());
    let mut manifests = Vec::new();
    collect(&from, root, &mut manifests, &mut Vec::new())?;
    // Manifests were collected parents first; blobs go before every manifest.
    for m in &manifests {
        let parsed = graph::parse_children(&m.bytes)?;
        for child in parsed.children {
            let mt = child.media_type().to_string();
            if graph::is_manifest_like(&mt) {
                continue;
            }
            blob(&from, &to, &child, same_registry, &mut report, &tally)?;
        }
    }
    for (i, m) in manifests.iter().enumerate().rev() {
        let reference = if i == 0 {
            dest.tag().unwrap_or("latest").to_string()
        } else {
            m.digest.to_string()
        };
        to.put_manifest(&reference, &m.media_type, &m.bytes)?;
    }
    tally.event(&Event::ImageDone {
        image: &shown,
        digest: &manifests[0].digest,
        unchanged: report.blobs_written == 0,
    });
    Ok(report)
}

/// The manifest for `platform` under `root`, by the one rule of [`crate::platform`]: through image
/// indexes to the matching child, and a single-platform image only when it is for `platform`. Each
/// manifest is fetched verified; a config is read (verified, capped) only to learn its platform.
fn descend(repo: &Repository, root: Manifest, p: &Platform) -> Result<Manifest> {
    let mut fetched: HashMap<Digest, Manifest> = HashMap::new();
    let root_digest = root.digest.clone();
    let root_desc = root.descriptor();
    fetched.insert(root_digest, root);
    let chosen = crate::platform::descend_to_platform(root_desc, p, |d| {
        if !graph::is_manifest_like(d.media_type().as_ref()) {
            return repo.read_blob(d, graph::MANIFEST_LIMIT);
        }
        if let Some(m) = fetched.get(d.digest()) {
            return Ok(m.bytes.clone());
        }
        let m = repo.get_manifest(d.digest().as_ref())?;
        let bytes = m.bytes.clone();
        fetched.insert(d.digest().clone(), m);
        Ok(bytes)
    })?;
    match fetched.remove(chosen.digest()) {
        Some(m) => Ok(m),
        None => repo.get_manifest(chosen.digest().as_ref()),
    }
}

/// `m` and every manifest below it, parents before children, each once.
fn collect(
    repo: &Repository,
    m: Manifest,
    out: &mut Vec<Manifest>,
    seen: &mut Vec<String>,
) -> Result<()> {
    if seen.contains(&m.digest.to_string()) {
        return Ok(());
    }
    seen.push(m.digest.to_string());
    let parsed = graph::parse_children(&m.bytes)?;
    out.push(m);
    for child in parsed.children {
        if graph::is_manifest_like(child.media_type().as_ref()) {
            let cm = repo.get_manifest(child.digest().as_ref())?;
            collect(repo, cm, out, seen)?;
        }
    }
    Ok(())
}

/// Puts one blob into `to` unless it is there: mounted from `from` on one registry, else streamed.
fn blob(
    from: &Repository,
    to: &Repository,
    desc: &Descriptor,
    same_registry: bool,
    report: &mut CopyReport,
    tally: &Tally,
) -> Result<()> {
    if to.head_blob(desc.digest())? == Some(desc.size()) {
        report.blobs_skipped += 1;
        tally.event(&Event::BlobDone {
            digest: desc.digest(),
            size: desc.size(),
            outcome: Outcome::Skipped,
        });
        return Ok(());
    }
    let open = || from.open_blob(desc);
    let origin = format!("{}/{}", from.registry(), from.name());
    let mount = same_registry.then(|| from.name());
    let pushed = to.push_blob(desc, &open, &origin, mount, &mut |_| {})?;
    report.blobs_written += 1;
    let outcome = if pushed == Pushed::Uploaded {
        report.bytes += desc.size();
        Outcome::Transferred
    } else {
        Outcome::Mounted
    };
    tally.event(&Event::BlobDone {
        digest: desc.digest(),
        size: desc.size(),
        outcome,
    });
    Ok(())
}
