//! Garbage collection: remove every blob that no `index.json` entry reaches. Runs under the exclusive
//! writer lock and the index lock, so no concurrent writer's blobs and no concurrent tag are lost;
//! clears the temporary files of crashed writers.

use oci_spec::image::Digest;

use crate::error::{Error, Result};
use crate::graph::{self, Problem};
use crate::layout::Layout;

/// How to collect.
#[derive(Clone, Debug, Default)]
pub struct GcOptions {
    /// Report what would be removed without removing anything.
    pub dry_run: bool,
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
    /// Temporary files of crashed writers removed (always 0 in a dry run).
    pub temp_files: usize,
    pub dry_run: bool,
}

/// Collects the layout's garbage. Refuses, changing nothing, when a reachable manifest or index cannot
/// be read: what it refers to is unknown, so nothing could be swept safely.
pub fn gc(layout: &Layout, opts: &GcOptions) -> Result<GcReport> {
    let _writers = layout.lock_writers_exclusive()?;
    let _index = layout.lock_index()?;
    let index = layout.read_index()?;
    let graph = graph::walk(layout.blobs(), index.manifests())?;
    if let Some(bad) = graph.problems().find(|n| {
        matches!(
            n.problem,
            Some(Problem::Corrupt { .. } | Problem::Unreadable(_))
        ) || (graph::is_manifest_like(n.descriptor.media_type().as_ref())
            && matches!(n.problem, Some(Problem::SizeMismatch { .. })))
    }) {
        return Err(Error::Damaged(format!(
            "refusing to gc {}: reachable {} is {}; run `ocilayout fsck`",
            layout.root().display(),
            bad.descriptor.digest(),
            bad.problem.as_ref().expect("filtered on a problem")
        )));
    }
    let mut report = GcReport {
        dry_run: opts.dry_run,
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
    if !opts.dry_run {
        for (d, _) in &report.removed {
            layout.blobs().remove(d)?;
        }
        report.temp_files = layout.blobs().clear_temp_files()?;
    }
    Ok(report)
}
