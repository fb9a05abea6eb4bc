//! `rm`: remove images from a layout, their names and every blob that no remaining entry reaches, under
//! gc's locks and by gc's marking, so that what `rm` frees is exactly what a gc after an untag would
//! free of those images.

use std::collections::{BTreeSet, HashSet};

use oci_spec::image::{Descriptor, Digest};

use crate::error::Result;
use crate::gc::{self, GcOptions, RemovedEntry};
use crate::graph::{self, Operation};
use crate::layout::Layout;
use crate::resolve;

/// How to remove.
#[derive(Clone, Debug, Default)]
pub struct RmOptions {
    /// Report what would be removed without changing anything.
    pub dry_run: bool,
}

/// One entry `rm` removed from `index.json` because a reference named it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct RemovedName {
    /// The entry's full name (or its digest when it has none).
    pub name: String,
    /// The digest the entry pointed at.
    pub digest: Digest,
}

/// What `rm` removed (or, in a dry run, would remove).
#[derive(Clone, Debug, Default)]
pub struct RmReport {
    /// The entries the references named, in index order.
    pub untagged: Vec<RemovedName>,
    /// Referrer entries (signatures, SBOMs) removed because their subject went with the images.
    pub removed_entries: Vec<RemovedEntry>,
    /// Blobs removed, with their sizes, in digest order: what the removed entries reached and no
    /// remaining entry reaches.
    pub removed: Vec<(Digest, u64)>,
    /// Sum of the removed blobs' sizes.
    pub freed_bytes: u64,
    /// Whether nothing was changed because this was a dry run.
    pub dry_run: bool,
}

/// Removes the entries `refs` resolve to (each as `untag` resolves it: a digest removes every entry
/// with it), the referrer entries whose subject goes with them, and every blob they reached that no
/// remaining entry reaches.
///
/// All or nothing: an unknown or ambiguous reference, or a remaining manifest that cannot be read (so
/// what it reaches is unknown), changes nothing. Holds gc's locks throughout: no writer stores blobs
/// meanwhile and no tag changes `index.json`. `index.json` is rewritten before any blob goes, so it
/// never names a missing blob; an interruption after it leaves only garbage for `gc`.
pub fn rm(layout: &Layout, refs: &[&str], opts: &RmOptions) -> Result<RmReport> {
    let locks = gc::lock(
        layout,
        &GcOptions {
            dry_run: opts.dry_run,
        },
    )?;
    let mut doc = layout.read_document()?;
    let entries: Vec<Descriptor> = doc.descriptors().cloned().collect();
    let mut doomed = BTreeSet::new();
    for r in refs {
        let hits = resolve::find_entries(&entries, r)?;
        resolve::choose(layout, &entries, &hits, r, |i| Ok(entries[i].clone()))?;
        doomed.extend(hits);
    }
    let plan = plan(layout, &entries, &doomed)?;
    let mut report = plan.report(&entries, &doomed);
    report.dry_run = opts.dry_run;
    // A real run always holds both locks (only a dry run may go without them).
    let Some((_, index_lock)) = locks.guards.as_ref().filter(|_| !opts.dry_run) else {
        return Ok(report);
    };
    let mut position = 0;
    doc.retain(|_| {
        position += 1;
        !plan.gone.contains(&(position - 1))
    });
    index_lock.write(&doc)?;
    let gone: Vec<&Digest> = report.removed.iter().map(|(d, _)| d).collect();
    crate::sweep::Blobs::open(layout.root())?.remove(&gone)?;
    drop(locks);
    Ok(report)
}

/// What removing some entries takes with it.
#[derive(Clone, Debug, Default)]
pub(crate) struct Plan {
    /// Every entry that goes, by position: the doomed ones and the referrers that follow them.
    pub gone: BTreeSet<usize>,
    /// Referrer entries that follow, by position, with what they referred to.
    pub referrers: Vec<(usize, crate::referrer::Referrer)>,
    /// The blobs that go, with their sizes in the store, in digest order.
    pub removed: Vec<(Digest, u64)>,
}

impl Plan {
    fn report(&self, entries: &[Descriptor], doomed: &BTreeSet<usize>) -> RmReport {
        RmReport {
            untagged: doomed
                .iter()
                .map(|&i| RemovedName {
                    name: resolve::display_name(&entries[i]),
                    digest: entries[i].digest().clone(),
                })
                .collect(),
            removed_entries: self
                .referrers
                .iter()
                .map(|(i, r)| RemovedEntry {
                    descriptor: entries[*i].clone(),
                    referrer: r.clone(),
                })
                .collect(),
            freed_bytes: self.removed.iter().map(|(_, n)| n).sum(),
            removed: self.removed.clone(),
            dry_run: false,
        }
    }
}

/// Plans the removal of the entries at `doomed`: the remaining entries are marked as gc marks them;
/// a referrer entry whose subject is no longer reached, but was reached by what goes, goes too (a
/// referrer that was already dangling is gc's business, not this removal's). The blobs that go are
/// those the departing entries reach and the remaining ones do not.
pub(crate) fn plan(
    layout: &Layout,
    entries: &[Descriptor],
    doomed: &BTreeSet<usize>,
) -> Result<Plan> {
    let positions: Vec<usize> = (0..entries.len()).filter(|i| !doomed.contains(i)).collect();
    let remaining: Vec<Descriptor> = positions.iter().map(|&i| entries[i].clone()).collect();
    let gc::Marked {
        graph: kept,
        dropped: dangling,
        ..
    } = gc::mark(layout, &remaining)?;
    kept.require(Operation::Rm, layout.root())?;
    let mut gone: BTreeSet<usize> = doomed.clone();
    let mut referrers = Vec::new();
    let mut pending: Vec<(usize, crate::referrer::Referrer)> = dangling
        .into_iter()
        .map(|(i, r)| (positions[i], r))
        .collect();
    // What leaves, grown by the referrers of what leaves (a signature of an SBOM of the image) until
    // no further referrer follows.
    let mut leaving = graph::walk(layout.blobs(), gone.iter().map(|&i| &entries[i]))?;
    loop {
        let (follow, stay): (Vec<_>, Vec<_>) = pending
            .into_iter()
            .partition(|(_, r)| leaving.contains(&r.subject));
        pending = stay;
        if follow.is_empty() {
            break;
        }
        gone.extend(follow.iter().map(|(i, _)| *i));
        referrers.extend(follow);
        leaving = graph::walk(layout.blobs(), gone.iter().map(|&i| &entries[i]))?;
    }
    referrers.sort_by_key(|(i, _)| *i);
    let mut seen = HashSet::new();
    let mut removed = Vec::new();
    for node in &leaving.nodes {
        let d = node.descriptor.digest();
        if kept.contains(d) || !seen.insert(d.clone()) {
            continue;
        }
        if let Some(size) = layout.blobs().size(d)? {
            removed.push((d.clone(), size));
        }
    }
    removed.sort_by(|a, b| a.0.as_ref().cmp(b.0.as_ref()));
    Ok(Plan {
        gone,
        referrers,
        removed,
    })
}
