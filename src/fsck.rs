//! Checking a layout: every reachable blob present, of the right size and media type, and hashing to
//! its digest. Each blob is hashed once.

use std::io;

use oci_spec::image::Digest;

use crate::digest::{Algorithm, HashingReader};
use crate::error::{IoContext, Result};
use crate::graph::{self, Problem};
use crate::layout::Layout;

/// One problem found, by digest.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Finding {
    /// The blob the problem is about.
    pub digest: Digest,
    /// What is wrong with it, in words (`missing`, `corrupt: ...`, `size mismatch: ...`).
    pub problem: String,
}

/// What a check found.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct FsckReport {
    /// Whether nothing is wrong.
    pub ok: bool,
    /// Reachable blobs checked.
    pub checked: usize,
    /// Every problem, by digest.
    pub problems: Vec<Finding>,
}

/// Checks every blob reachable from `index.json`. Manifests and indexes were verified as the walk read
/// them; every other blob is hashed here, streamed.
pub fn fsck(layout: &Layout) -> Result<FsckReport> {
    let index = layout.read_index()?;
    let graph = graph::walk(layout.blobs(), index.manifests())?;
    let mut report = FsckReport::default();
    for node in &graph.nodes {
        report.checked += 1;
        let d = node.descriptor.digest();
        let problem = match &node.problem {
            Some(p) => Some(p.clone()),
            None if node.verified => None,
            None => {
                let file = layout.blobs().open(d)?;
                let mut r = HashingReader::new(file, Algorithm::of(d)?);
                io::copy(&mut r, &mut io::sink()).at(layout.blobs().path(d)?)?;
                let (found, _) = r.finish();
                (&found != d).then_some(Problem::Corrupt { found })
            }
        };
        if let Some(p) = problem {
            report.problems.push(Finding {
                digest: d.clone(),
                problem: p.to_string(),
            });
        }
    }
    report.ok = report.problems.is_empty();
    Ok(report)
}
