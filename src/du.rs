//! `du`: where a layout's bytes go. For each image its total, the bytes only it holds (exactly what
//! [`crate::rm`] would free, by the same planning) and the bytes it shares; for the layout the bytes on
//! disk, the bytes reachable (by gc's marking) and the garbage `gc` would free.

use std::collections::BTreeSet;

use oci_spec::image::{Descriptor, Digest};

use crate::error::Result;
use crate::gc;
use crate::graph;
use crate::layout::Layout;
use crate::resolve;

/// One image's usage.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ImageUsage {
    /// The entry's full name (or its digest when it has none).
    pub name: String,
    /// The digest the entry points at.
    pub digest: Digest,
    /// Bytes of every blob the image reaches (present in the store), with the referrer entries
    /// (signatures, SBOMs) that refer to it and to nothing else that stays.
    pub total: u64,
    /// Bytes that removing this entry would free (see [`crate::rm::rm`]).
    pub unique: u64,
    /// `total - unique`: bytes other entries reach as well.
    pub shared: u64,
}

/// A layout's usage.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Usage {
    /// The images asked for, or every named entry, in index order.
    pub images: Vec<ImageUsage>,
    /// Bytes of every blob in the store.
    pub total: u64,
    /// Bytes of the blobs some entry reaches (what `gc` keeps).
    pub reachable: u64,
    /// Bytes of the blobs no entry reaches (what `gc` would free).
    pub garbage: u64,
}

/// Measures the layout: the images `refs` name (each as `untag` resolves it), or every named entry
/// when `refs` is empty. Reads only; takes no lock, so a concurrent writer may make it out of date.
pub fn du(layout: &Layout, refs: &[&str]) -> Result<Usage> {
    let index = layout.read_index()?;
    let entries: &[Descriptor] = index.manifests();
    let mut chosen: Vec<BTreeSet<usize>> = Vec::new();
    if refs.is_empty() {
        for (i, e) in entries.iter().enumerate() {
            let n = resolve::entry_names(e);
            if n.name.is_some() || n.tag.is_some() {
                chosen.push(BTreeSet::from([i]));
            }
        }
    } else {
        for r in refs {
            let hits = resolve::find_entries(entries, r)?;
            resolve::choose(layout, entries, &hits, r, |i| Ok(entries[i].clone()))?;
            chosen.push(hits.into_iter().collect());
        }
    }
    let mut images = Vec::new();
    for set in &chosen {
        let Some(&first) = set.iter().next() else {
            continue;
        };
        let plan = crate::rm::plan(layout, entries, set)?;
        // The image and the referrers (signatures, SBOMs) that would go with it.
        let closure = graph::walk(layout.blobs(), plan.gone.iter().map(|&i| &entries[i]))?;
        let mut total = 0u64;
        for n in &closure.nodes {
            let size = layout.blobs().size(n.descriptor.digest())?.unwrap_or(0);
            total = total.saturating_add(size);
        }
        let unique = plan.freed_bytes();
        images.push(ImageUsage {
            name: resolve::display_name(&entries[first]),
            digest: entries[first].digest().clone(),
            total,
            unique: unique.min(total),
            shared: total.saturating_sub(unique),
        });
    }
    let (kept, _) = gc::mark(layout, entries)?;
    let (mut total, mut reachable) = (0u64, 0u64);
    for (d, size) in layout.blobs().list()? {
        total = total.saturating_add(size);
        if kept.contains(&d) {
            reachable = reachable.saturating_add(size);
        }
    }
    Ok(Usage {
        images,
        total,
        reachable,
        garbage: total - reachable,
    })
}
