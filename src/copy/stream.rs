//! Registry to registry: manifests fetched (verified, capped) and put children-first, blobs streamed
//! from one registry into the other without touching the disk or being held whole in memory, and
//! mounted instead when both repositories are on one registry. Every byte uploaded is hashed as it
//! passes, so a source that serves the wrong bytes fails the upload. The referrers of every manifest
//! copied (signatures, SBOMs) follow their subjects, listed under the fallback tag on a destination
//! without the referrers API, as `pull` and `push` carry them.

use std::collections::{HashMap, HashSet};

use oci_spec::image::{Descriptor, Digest};

use super::CopyReport;
use crate::error::{Error, Result};
use crate::graph;
use crate::platform::Platform;
use crate::progress::{Event, Outcome, Progress, Tally};
use crate::reference::Reference;
use crate::registry::{Client, Manifest, Pushed, Repository};
use crate::sync::parallel;

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
    // The destination's reference: its tag, or its digest, which must then be the image's.
    let target = match dest.digest() {
        Some(d) if *d != root.digest => {
            return Err(Error::DestinationDigest {
                dest: dest.to_string(),
                named: d.clone(),
                image: root.digest.clone(),
            })
        }
        Some(d) => d.to_string(),
        None => dest.tag().unwrap_or("latest").to_string(),
    };
    let shown = dest.to_string();
    tally.event(&Event::ImageStart { image: &shown });
    let mut report = CopyReport::started(root.digest.clone(), shown.clone());
    let mut ctx = Transfer {
        from: &from,
        to: &to,
        same_registry,
        jobs: client.config().jobs.max(1),
        seen: HashSet::new(),
        blobs_seen: HashSet::new(),
        report: &mut report,
        tally: &tally,
    };
    let manifests = ctx.image(root, Some(&target))?;
    // The referrers (signatures, SBOMs) of every manifest copied, after their subjects.
    for m in &manifests {
        ctx.referrers(&m.digest)?;
    }
    tally.event(&Event::ImageDone {
        image: &shown,
        digest: &manifests[0].digest,
        unchanged: report.blobs_written == 0,
    });
    Ok(report)
}

/// One copy's two repositories and what it has done so far.
struct Transfer<'a, 'r> {
    from: &'a Repository<'r>,
    to: &'a Repository<'r>,
    same_registry: bool,
    /// How many blobs move at once.
    jobs: usize,
    /// The manifests collected so far, so that one shared by two images is copied once.
    seen: HashSet<Digest>,
    /// The blobs handled so far, likewise.
    blobs_seen: HashSet<Digest>,
    report: &'a mut CopyReport,
    tally: &'a Tally<'a>,
}

impl Transfer<'_, '_> {
    /// Copies `root` and everything below it: blobs first, then manifests children first, `root`
    /// last under `reference` (by its digest when `None`). Returns the manifests, `root` first.
    fn image(&mut self, root: Manifest, reference: Option<&str>) -> Result<Vec<Manifest>> {
        let mut manifests = Vec::new();
        collect(self.from, root, &mut manifests, &mut self.seen)?;
        // Every blob once (two manifests may share a layer), `jobs` at a time.
        let mut blobs = Vec::new();
        for m in &manifests {
            for child in graph::parse_children(&m.bytes)?.children {
                if !graph::is_manifest_like(child.media_type().as_ref())
                    && self.blobs_seen.insert(child.digest().clone())
                {
                    blobs.push(child);
                }
            }
        }
        let (from, to, same_registry, tally) = (self.from, self.to, self.same_registry, self.tally);
        let outcomes = parallel(self.jobs, &blobs, |d| {
            blob(from, to, d, same_registry, tally)
        });
        for (desc, outcome) in blobs.iter().zip(outcomes) {
            match outcome? {
                Outcome::Skipped => self.report.blobs_skipped += 1,
                Outcome::Transferred => {
                    self.report.blobs_written += 1;
                    self.report.bytes += desc.size();
                }
                _ => self.report.blobs_written += 1,
            }
        }
        for (i, m) in manifests.iter().enumerate().rev() {
            let by_digest = m.digest.to_string();
            let reference = match reference {
                Some(r) if i == 0 => r,
                _ => &by_digest,
            };
            self.to.put_manifest(reference, &m.media_type, &m.bytes)?;
        }
        Ok(manifests)
    }

    /// Copies the referrers the source lists for `subject` (from its referrers API or fallback
    /// tag), each with its closure, by digest. A destination that does not list them afterwards (it
    /// has no referrers API) gets them under the fallback tag. A source that cannot list referrers
    /// is a warning, not a failure: the image itself is copied.
    fn referrers(&mut self, subject: &Digest) -> Result<()> {
        let found = match self.from.referrers(subject) {
            Ok(found) => found,
            Err(e) => {
                self.tally.event(&Event::Warning {
                    message: &format!("referrers of {subject}: {e}"),
                });
                return Ok(());
            }
        };
        let found: Vec<Descriptor> = found
            .into_iter()
            .filter(|r| graph::is_manifest_like(r.media_type().as_ref()))
            .collect();
        if found.is_empty() {
            return Ok(());
        }
        for r in &found {
            let m = self.from.get_manifest(r.digest().as_ref())?;
            self.image(m, None)?;
        }
        let listed: HashSet<Digest> = self
            .to
            .referrers(subject)?
            .into_iter()
            .map(|d| d.digest().clone())
            .collect();
        let missing: Vec<Descriptor> = found
            .into_iter()
            .filter(|r| !listed.contains(r.digest()))
            .collect();
        if !missing.is_empty() {
            self.to.add_fallback_referrers(subject, &missing)?;
        }
        Ok(())
    }
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

/// `m` and every manifest below it, parents before children, each once (a manifest in `seen` is
/// not fetched again).
fn collect(
    repo: &Repository,
    m: Manifest,
    out: &mut Vec<Manifest>,
    seen: &mut HashSet<Digest>,
) -> Result<()> {
    let root = m.digest.clone();
    collect_below(repo, m, out, seen, &root, 0)
}

fn collect_below(
    repo: &Repository,
    m: Manifest,
    out: &mut Vec<Manifest>,
    seen: &mut HashSet<Digest>,
    root: &Digest,
    depth: usize,
) -> Result<()> {
    if !seen.insert(m.digest.clone()) {
        return Ok(());
    }
    // A registry that serves ever deeper indexes is refused, not followed until the stack runs out.
    if depth > graph::MAX_NESTING {
        return Err(Error::TooDeep {
            root: root.clone(),
            what: "image indexes",
        });
    }
    let parsed = graph::parse_children(&m.bytes)?;
    out.push(m);
    for child in parsed.children {
        if graph::is_manifest_like(child.media_type().as_ref()) && !seen.contains(child.digest()) {
            let cm = repo.get_manifest(child.digest().as_ref())?;
            collect_below(repo, cm, out, seen, root, depth + 1)?;
        }
    }
    Ok(())
}

/// Puts one blob into `to` unless it is there: mounted from `from` on one registry, else streamed.
/// Says which of the three it was.
fn blob(
    from: &Repository,
    to: &Repository,
    desc: &Descriptor,
    same_registry: bool,
    tally: &Tally,
) -> Result<Outcome> {
    let outcome = if to.head_blob(desc.digest())? == Some(desc.size()) {
        Outcome::Skipped
    } else {
        let open = || from.open_blob(desc);
        let origin = format!("{}/{}", from.registry(), from.name());
        let mount = same_registry.then(|| from.name());
        match to.push_blob(desc, &open, &origin, mount, &mut |_| {})? {
            Pushed::Uploaded => Outcome::Transferred,
            _ => Outcome::Mounted,
        }
    };
    tally.event(&Event::BlobDone {
        digest: desc.digest(),
        size: desc.size(),
        outcome,
    });
    Ok(outcome)
}
