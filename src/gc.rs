//! Garbage collection: remove every blob that no root of `index.json` reaches, and the referrer
//! entries whose subject has gone. Runs under the exclusive writer lock and the index lock, so no
//! concurrent writer's blobs and no concurrent tag are lost; clears the temporary files of crashed
//! writers.

use std::collections::HashSet;

use oci_spec::image::{Descriptor, Digest};

use crate::error::{Error, Result};
use crate::graph::{self, Graph};
use crate::layout::{self, Layout, LockGuard};
use crate::referrer::{self, Referrer};

/// How to collect.
#[derive(Clone, Debug, Default)]
pub struct GcOptions {
    /// Report what would be removed without removing anything.
    pub dry_run: bool,
}

/// An `index.json` entry removed because it refers to a subject that no longer is reachable.
#[derive(Clone, Debug)]
pub struct RemovedEntry {
    /// The entry as it was in `index.json`.
    pub descriptor: Descriptor,
    /// Which subject it referred to, and by which convention.
    pub referrer: Referrer,
}

/// What a collection removed (or, in a dry run, would remove).
#[derive(Clone, Debug, Default)]
pub struct GcReport {
    /// Blobs removed, with their sizes, in digest order.
    pub removed: Vec<(Digest, u64)>,
    /// Sum of the removed blobs' sizes.
    pub freed_bytes: u64,
    /// Blobs kept.
    pub kept: usize,
    /// Referrer entries removed from `index.json`, in index order.
    pub removed_entries: Vec<RemovedEntry>,
    /// Temporary files of crashed writers removed (always 0 in a dry run).
    pub temp_files: usize,
    /// Whether nothing was removed because this was a dry run.
    pub dry_run: bool,
    /// Whether the collection ran without the layout's locks: a dry run of a layout whose lock
    /// files cannot be opened (a read-only directory that never had them). Its report may be out of
    /// date if another process changes the layout meanwhile.
    pub unlocked: bool,
}

/// Collects the layout's garbage. Refuses, changing nothing, when a reachable manifest or index is
/// missing or cannot be read: what it refers to is unknown, so nothing could be swept safely.
///
/// Roots are every named entry and every unnamed entry that is not a referrer; a referrer entry
/// (see [`referrer::referrer`]) is a root while its subject is reachable from the other roots or
/// from a referrer kept before it, and is otherwise dropped from `index.json`.
pub fn gc(layout: &Layout, opts: &GcOptions) -> Result<GcReport> {
    let (locks, unlocked) = lock(layout, opts)?;
    let index = layout.read_index()?;
    let (graph, dropped) = mark(layout, index.manifests())?;
    if let Some(bad) = graph.nodes.iter().find(|n| n.hides_children()) {
        return Err(Error::Damaged(format!(
            "refusing to gc {}: reachable manifest {} is {}; run `ocilayout fsck`",
            layout.root().display(),
            bad.descriptor.digest(),
            bad.problem
                .as_ref()
                .map_or_else(String::new, |p| p.to_string())
        )));
    }
    let mut report = GcReport {
        dry_run: opts.dry_run,
        unlocked,
        ..GcReport::default()
    };
    let mut all = layout.blobs().digests()?;
    all.sort_by(|a, b| a.as_ref().cmp(b.as_ref()));
    for d in all {
        if graph.contains(&d) {
            report.kept += 1;
        } else if let Some(size) = layout.blobs().size(&d)? {
            report.freed_bytes += size;
            report.removed.push((d, size));
        }
    }
    report.removed_entries = dropped
        .iter()
        .map(|(i, r)| RemovedEntry {
            descriptor: index.manifests()[*i].clone(),
            referrer: r.clone(),
        })
        .collect();
    if opts.dry_run {
        return Ok(report);
    }
    if !dropped.is_empty() {
        // The index first: it never names a blob that is gone, even if the sweep is interrupted.
        let gone: HashSet<usize> = dropped.iter().map(|(i, _)| *i).collect();
        let mut index = index;
        layout::edit_manifests(&mut index, |entries| {
            let mut i = 0;
            entries.retain(|_| {
                i += 1;
                !gone.contains(&(i - 1))
            });
        });
        layout.write_index(&index)?;
    }
    for (d, _) in &report.removed {
        layout.blobs().remove(d)?;
    }
    report.temp_files = layout.blobs().clear_temp_files()?;
    drop(locks);
    Ok(report)
}

/// Marks from the roots of `entries`: the graph of what stays, and the referrer entries (by
/// position, with their subject) that go because their subject is not reachable.
fn mark(layout: &Layout, entries: &[Descriptor]) -> Result<(Graph, Vec<(usize, Referrer)>)> {
    let store = layout.blobs();
    let mut roots: Vec<&Descriptor> = Vec::new();
    let mut pending: Vec<(usize, Referrer)> = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        match referrer::referrer(store, e) {
            Some(r) => pending.push((i, r)),
            None => roots.push(e),
        }
    }
    let mut graph = graph::walk(store, roots.iter().copied())?;
    // A referrer of a kept referrer (a signature of an SBOM) is kept too: repeat until no subject
    // becomes reachable.
    loop {
        let (alive, gone): (Vec<_>, Vec<_>) = pending
            .into_iter()
            .partition(|(_, r)| graph.contains(&r.subject));
        pending = gone;
        if alive.is_empty() {
            return Ok((graph, pending));
        }
        roots.extend(alive.iter().map(|(i, _)| &entries[*i]));
        graph = graph::walk(store, roots.iter().copied())?;
    }
}

/// Takes the exclusive writer lock and the index lock. A dry run of a layout where they cannot be
/// taken because the file system refuses to create the lock files (read-only, or no permission)
/// runs without them: it changes nothing, so it cannot harm a writer, and no process of ours writes
/// blobs into a directory where it cannot create the lock file either.
fn lock(layout: &Layout, opts: &GcOptions) -> Result<(Option<(LockGuard, LockGuard)>, bool)> {
    let taken = layout
        .lock_writers_exclusive()
        .and_then(|w| layout.lock_index().map(|i| (w, i)));
    match taken {
        Ok(locks) => Ok((Some(locks), false)),
        Err(Error::Io { source, .. }) if opts.dry_run && cannot_write(&source) => Ok((None, true)),
        Err(e) => Err(e),
    }
}

/// Whether an I/O error means the layout cannot be written by us at all.
fn cannot_write(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem
    )
}
