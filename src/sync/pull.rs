//! Pull: registry → layout. Three phases. Plan: per image (in parallel) resolve the reference, read
//! the manifest tree (from the layout when a manifest is already there, else fetched and verified) and
//! its referrers. Fetch: every missing blob of every image once, in parallel, streamed into the store
//! and verified. Commit: per image, its manifests children-first, then one `index.json` update under
//! its canonical name. `index.json` is read once for the whole run; manifests are fetched and written
//! `jobs` at a time. The shared writer lock is held for the whole pull, so `gc` never sweeps a blob
//! the pull found present or wrote and is about to name.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use oci_spec::image::{Descriptor, Digest};

use super::{add_unnamed, parallel, Report};
use crate::error::{Error, Result};
use crate::graph::{self, LOCAL_MANIFEST_LIMIT, MANIFEST_LIMIT};
use crate::layout::Layout;
use crate::names::{self, NameOptions};
use crate::platform::Platform;
use crate::progress::{Event, Outcome, Progress, Tally};
use crate::reference::Reference;
use crate::registry::{Client, Manifest, Repository};
use crate::resolve;

/// How to pull.
#[derive(Clone, Debug)]
pub struct PullOptions {
    /// Pull only the manifest for this platform (default: the whole index, every platform).
    pub platform: Option<Platform>,
    /// How the name is written into `index.json`.
    pub names: NameOptions,
    /// Also pull the referrers (signatures, SBOMs) of the pulled manifests.
    pub referrers: bool,
}

impl Default for PullOptions {
    fn default() -> Self {
        PullOptions {
            platform: None,
            names: NameOptions::default(),
            referrers: true,
        }
    }
}

/// What one image needs.
struct Plan {
    name: Reference,
    /// The descriptor the index entry gets.
    root: Descriptor,
    /// Manifests missing from the layout, children before parents.
    manifests: Vec<Arc<Manifest>>,
    /// Other blobs missing from the layout.
    blobs: Vec<Descriptor>,
    /// Referrer manifests to keep reachable as unnamed entries.
    referrers: Vec<Descriptor>,
    /// Whether the entry is already there under this name.
    named: bool,
}

/// Manifests fetched during this run, so images that share one fetch it once.
type Cache = Mutex<HashMap<Digest, Arc<Manifest>>>;

/// Pulls `images` into `layout`. An image that fails does not stop the others; the report lists it.
/// Errors that concern the layout itself (locks, index.json) end the whole pull.
pub fn pull(
    client: &Client,
    layout: &Layout,
    images: &[Reference],
    opts: &PullOptions,
    progress: &dyn Progress,
) -> Result<Report> {
    // Held from before anything is found present until the last index update: gc cannot remove a
    // blob this pull counts on, nor one it wrote and has not named yet.
    let _writers = layout.lock_writers()?;
    let tally = Tally::new(progress);
    let cache = Cache::default();
    let jobs = client.config().jobs.max(1);
    // index.json is read once here, not once per image: what each plan needs to know of it.
    let mut present = Present::read(layout)?;
    let plans = parallel(jobs, images, |image| {
        let repo = client.repository(image.registry_host(), image.path(), false);
        tally.event(&Event::ImageStart {
            image: &image.to_string(),
        });
        plan(&repo, layout, image, opts, &cache, &present, jobs, &tally)
    });

    // Every blob any plan needs, once.
    let mut wanted: Vec<(Descriptor, usize)> = Vec::new();
    let mut seen = HashSet::new();
    for (i, p) in plans.iter().enumerate() {
        if let Ok(p) = p {
            for b in &p.blobs {
                if seen.insert(b.digest().clone()) {
                    wanted.push((b.clone(), i));
                }
            }
        }
    }
    let results = parallel(jobs, &wanted, |(desc, i)| {
        let image = &images[*i];
        let repo = client.repository(image.registry_host(), image.path(), false);
        fetch(&repo, layout, desc, &tally)
    });
    let mut failed: HashMap<Digest, Error> = HashMap::new();
    for ((desc, _), r) in wanted.iter().zip(results) {
        if let Err(e) = r {
            failed.insert(desc.digest().clone(), e);
        }
    }

    let mut report = Report::default();
    let mut told: HashMap<Digest, String> = HashMap::new();
    for (image, plan) in images.iter().zip(plans) {
        let shown = image.to_string();
        let outcome = plan.and_then(|p| {
            if let Some(d) = p
                .blobs
                .iter()
                .map(|b| b.digest())
                .find(|d| failed.contains_key(*d) || told.contains_key(*d))
            {
                return Err(match failed.remove(d) {
                    Some(e) => {
                        told.insert(d.clone(), e.to_string());
                        e
                    }
                    None => Error::FailedBefore {
                        digest: d.clone(),
                        reason: told[d].clone(),
                    },
                });
            }
            commit(layout, &p, opts, &mut present, jobs, &tally)
                .map(|unchanged| (p.root.digest().clone(), unchanged))
        });
        report.record(&tally, shown, outcome);
    }
    report.summary = tally.summary();
    Ok(report)
}

/// What `index.json` held when the pull began (and what this pull has added since): the digest of
/// every entry, and every (digest, canonical name) pair.
struct Present {
    digests: HashSet<Digest>,
    named: HashSet<(Digest, String)>,
}

impl Present {
    fn read(layout: &Layout) -> Result<Self> {
        let index = layout.read_index()?;
        let mut present = Present {
            digests: HashSet::with_capacity(index.manifests().len()),
            named: HashSet::new(),
        };
        for e in index.manifests() {
            present.digests.insert(e.digest().clone());
            if let Some(name) = resolve::entry_name(e) {
                present.named.insert((e.digest().clone(), name.to_string()));
            }
        }
        Ok(present)
    }
}

/// Works out what one image needs: the entry's descriptor, and every manifest and blob of its
/// closure (and its referrers') that the layout lacks.
#[allow(clippy::too_many_arguments)]
fn plan(
    repo: &Repository,
    layout: &Layout,
    image: &Reference,
    opts: &PullOptions,
    cache: &Cache,
    present: &Present,
    jobs: usize,
    progress: &dyn Progress,
) -> Result<Plan> {
    let reference = match image.digest() {
        Some(d) => d.to_string(),
        None => image.tag().unwrap_or("latest").to_string(),
    };
    let mut root = match repo.head_manifest(&reference)? {
        Some(d) => d,
        None => repo.get_manifest(&reference)?.descriptor(),
    };
    if let Some(d) = image.digest() {
        if root.digest() != d {
            return Err(Error::DigestMismatch {
                expected: d.clone(),
                found: root.digest().clone(),
                location: format!("{image} (the manifest the registry serves)"),
            });
        }
    }
    let mut walk = Walk {
        repo,
        layout,
        cache,
        progress,
        seen: HashSet::new(),
        manifests: Vec::new(),
        blobs: Vec::new(),
    };
    if let Some(platform) = &opts.platform {
        root = walk.select_platform(root, platform)?;
    }
    walk.collect(&root, 0)?;
    let mut referrers = Vec::new();
    if opts.referrers {
        let mut subjects = vec![root.digest().clone()];
        if graph::is_index(root.media_type().as_ref()) {
            let bytes = walk.bytes(&root)?;
            subjects.extend(
                graph::parse_children(&bytes)?
                    .children
                    .into_iter()
                    .filter(|c| graph::is_manifest_like(c.media_type().as_ref()))
                    .map(|c| c.digest().clone()),
            );
        }
        for subject in subjects {
            let found = match repo.referrers(&subject) {
                Ok(found) => found,
                Err(e) => {
                    progress.event(&Event::Warning {
                        message: &format!("referrers of {subject}: {e}"),
                    });
                    continue;
                }
            };
            let found: Vec<Descriptor> = found
                .into_iter()
                .filter(|r| graph::is_manifest_like(r.media_type().as_ref()))
                .collect();
            walk.prefetch(&found, jobs)?;
            for r in found {
                walk.collect(&r, 0)?;
                referrers.push(r);
            }
        }
    }
    let named = present
        .named
        .contains(&(root.digest().clone(), image.to_string()));
    Ok(Plan {
        name: image.clone(),
        root,
        manifests: walk.manifests,
        blobs: walk.blobs,
        referrers,
        named,
    })
}

/// The descent through one image's manifests.
struct Walk<'a> {
    repo: &'a Repository<'a>,
    layout: &'a Layout,
    cache: &'a Cache,
    progress: &'a dyn Progress,
    seen: HashSet<Digest>,
    manifests: Vec<Arc<Manifest>>,
    blobs: Vec<Descriptor>,
}

impl Walk<'_> {
    /// Visits `desc` and everything below it, children first.
    fn collect(&mut self, desc: &Descriptor, depth: usize) -> Result<()> {
        let d = desc.digest();
        crate::digest::validate(d)?;
        if !self.seen.insert(d.clone()) {
            return Ok(());
        }
        let media_type = desc.media_type().to_string();
        if graph::is_schema1(&media_type) {
            return Err(Error::Schema1 {
                what: d.to_string(),
            });
        }
        let store = self.layout.blobs();
        if !graph::is_manifest_like(&media_type) {
            if store.has(d, desc.size())? {
                self.skipped(desc);
            } else {
                self.blobs.push(desc.clone());
            }
            return Ok(());
        }
        if depth > graph::MAX_NESTING {
            return Err(Error::TooDeep {
                root: d.clone(),
                what: "manifests",
            });
        }
        let local = store.has(d, desc.size())?;
        let bytes = self.bytes(desc)?;
        for child in graph::parse_children(&bytes)?.children {
            self.collect(&child, depth + 1)?;
        }
        if local {
            self.skipped(desc);
        } else {
            let m = self.fetched(desc)?;
            self.manifests.push(m);
        }
        Ok(())
    }

    /// Fetches the manifests of `descs` the layout lacks into the run's cache, `jobs` at a time:
    /// an image with thousands of referrers does not wait for them one by one.
    fn prefetch(&self, descs: &[Descriptor], jobs: usize) -> Result<()> {
        let store = self.layout.blobs();
        let mut wanted = Vec::new();
        for d in descs {
            crate::digest::validate(d.digest())?;
            if !self.seen.contains(d.digest()) && !store.has(d.digest(), d.size())? {
                wanted.push(d);
            }
        }
        for r in parallel(jobs, &wanted, |d| self.fetched(d)) {
            r?;
        }
        Ok(())
    }

    fn skipped(&self, desc: &Descriptor) {
        self.progress.event(&Event::BlobDone {
            digest: desc.digest(),
            size: desc.size(),
            outcome: Outcome::Skipped,
        });
    }

    /// A manifest's bytes: from the layout when it has them, else from the registry.
    fn bytes(&self, desc: &Descriptor) -> Result<Vec<u8>> {
        let store = self.layout.blobs();
        if store.has(desc.digest(), desc.size())? {
            return store.read_verified(desc.digest(), LOCAL_MANIFEST_LIMIT);
        }
        Ok(self.fetched(desc)?.bytes.clone())
    }

    /// A manifest fetched by digest (once per run), checked against the descriptor's size.
    fn fetched(&self, desc: &Descriptor) -> Result<Arc<Manifest>> {
        let d = desc.digest();
        if let Some(m) = self.cache.lock().unwrap().get(d) {
            return Ok(m.clone());
        }
        if desc.size() > MANIFEST_LIMIT {
            return Err(Error::TooLarge {
                what: format!("manifest {d}"),
                size: desc.size(),
                limit: MANIFEST_LIMIT,
            });
        }
        let mut m = self.repo.get_manifest(d.as_ref())?;
        if m.bytes.len() as u64 != desc.size() {
            return Err(Error::SizeMismatch {
                digest: d.clone(),
                expected: desc.size(),
                found: m.bytes.len() as u64,
            });
        }
        // The descriptor that names the manifest decides its media type, as in the layout.
        m.media_type = desc.media_type().to_string();
        let m = Arc::new(m);
        self.cache.lock().unwrap().insert(d.clone(), m.clone());
        Ok(m)
    }

    /// Descends from an index to the one manifest for `platform` (a single-platform image must be
    /// for it), by the same rule as in a layout. A config is read from the store, downloaded into it
    /// first when missing (the image needs it anyway); one downloaded here counts as seen, so that
    /// the walk does not report it again as skipped.
    fn select_platform(&mut self, current: Descriptor, platform: &Platform) -> Result<Descriptor> {
        let mut downloaded = Vec::new();
        let found = crate::platform::descend_to_platform(current, platform, |d| {
            if graph::is_manifest_like(d.media_type().as_ref()) {
                return self.bytes(d);
            }
            let store = self.layout.blobs();
            if !store.has(d.digest(), d.size())? {
                fetch(self.repo, self.layout, d, self.progress)?;
                downloaded.push(d.digest().clone());
            }
            store.read_verified(d.digest(), LOCAL_MANIFEST_LIMIT)
        });
        self.seen.extend(downloaded);
        found
    }
}

/// Downloads one blob into the layout's store.
fn fetch(
    repo: &Repository,
    layout: &Layout,
    desc: &Descriptor,
    progress: &dyn Progress,
) -> Result<()> {
    let d = desc.digest();
    if layout.blobs().has(d, desc.size())? {
        progress.event(&Event::BlobDone {
            digest: d,
            size: desc.size(),
            outcome: Outcome::Skipped,
        });
        return Ok(());
    }
    progress.event(&Event::BlobStart {
        digest: d,
        size: desc.size(),
    });
    repo.fetch_blob(desc, layout.blobs(), &mut |bytes| {
        progress.event(&Event::BlobBytes { digest: d, bytes })
    })?;
    progress.event(&Event::BlobDone {
        digest: d,
        size: desc.size(),
        outcome: Outcome::Transferred,
    });
    Ok(())
}

/// Writes an image's manifests, children first, then names it in `index.json` (once). Returns
/// whether nothing had to change.
fn commit(
    layout: &Layout,
    plan: &Plan,
    opts: &PullOptions,
    present: &mut Present,
    jobs: usize,
    progress: &dyn Progress,
) -> Result<bool> {
    write_manifests(layout, &plan.manifests, jobs, progress)?;
    let missing_referrer = plan
        .referrers
        .iter()
        .any(|r| !present.digests.contains(r.digest()));
    if plan.named && !missing_referrer {
        return Ok(true);
    }
    layout.update_index(|doc| {
        names::apply_names(
            doc,
            &plan.root,
            std::slice::from_ref(&plan.name),
            &opts.names,
        );
        add_unnamed(doc, &plan.referrers);
        Ok(())
    })?;
    present.digests.insert(plan.root.digest().clone());
    present
        .named
        .insert((plan.root.digest().clone(), plan.name.to_string()));
    present
        .digests
        .extend(plan.referrers.iter().map(|r| r.digest().clone()));
    Ok(false)
}

/// Stores `manifests` (listed children before parents), `jobs` at a time, in waves: a manifest goes
/// out only after every child of it in the list is durable, so the store never holds a manifest
/// whose children this pull has yet to write. Manifests that do not depend on each other (the
/// platforms of an index, the referrers of an image) are written side by side.
fn write_manifests(
    layout: &Layout,
    manifests: &[Arc<Manifest>],
    jobs: usize,
    progress: &dyn Progress,
) -> Result<()> {
    let position: HashMap<&Digest, usize> = manifests
        .iter()
        .enumerate()
        .map(|(i, m)| (&m.digest, i))
        .collect();
    let mut wave = vec![0usize; manifests.len()];
    for (i, m) in manifests.iter().enumerate() {
        let children = graph::parse_children(&m.bytes)?.children;
        wave[i] = children
            .iter()
            .filter_map(|c| position.get(c.digest()).filter(|j| **j < i))
            .map(|j| wave[*j] + 1)
            .max()
            .unwrap_or(0);
    }
    let store = layout.blobs();
    let last = wave.iter().copied().max().unwrap_or(0);
    for w in 0..=last {
        let batch: Vec<&Arc<Manifest>> = manifests
            .iter()
            .zip(&wave)
            .filter(|(_, mw)| **mw == w)
            .map(|(m, _)| m)
            .collect();
        let written = parallel(jobs, &batch, |m| -> Result<()> {
            let size = m.bytes.len() as u64;
            if store.has(&m.digest, size)? {
                return Ok(());
            }
            store.put_reader(&mut m.bytes.as_slice(), &m.digest, Some(size))?;
            progress.event(&Event::BlobDone {
                digest: &m.digest,
                size,
                outcome: Outcome::Transferred,
            });
            Ok(())
        });
        for r in written {
            r?;
        }
    }
    Ok(())
}
