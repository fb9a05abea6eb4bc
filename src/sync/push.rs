//! Push and sync: layout → registry. For each image: walk its closure in the layout (refusing damage),
//! put every blob the repository lacks (mounted from another repository of this run when possible,
//! uploaded otherwise, in parallel, every byte hashed as it is read), then the manifests
//! children-first by digest, the tag last, and finally the image's referrers, recorded under the
//! fallback tag when the registry has no referrers API. Which manifests refer to which subject is
//! read once per run, so a sync's work grows with the layout, not with its square. The bytes are
//! the layout's own, so every digest is unchanged.
use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::sync::{Mutex, OnceLock};

use oci_spec::image::{Descriptor, Digest, ImageIndex};

use super::{parallel, Report};
use crate::error::{Error, Result};
use crate::graph::{self, Graph, Operation, LOCAL_MANIFEST_LIMIT};
use crate::layout::Layout;
use crate::progress::{Event, Outcome, Progress, Summary, Tally};
use crate::reference::Reference;
use crate::registry::referrers::{referrer_descriptor, subject_of};
use crate::registry::{Client, Repository};
use crate::resolve;

/// How to push.
#[derive(Clone, Debug)]
pub struct PushOptions {
    /// Also push the referrers (signatures, SBOMs) the layout holds for the pushed manifests.
    pub referrers: bool,
}

impl Default for PushOptions {
    fn default() -> Self {
        PushOptions { referrers: true }
    }
}

/// Pushes the image `source` (a descriptor from the layout) to `dest`.
pub fn push(
    client: &Client,
    layout: &Layout,
    source: &Descriptor,
    dest: &Reference,
    opts: &PushOptions,
    progress: &dyn Progress,
) -> Result<Summary> {
    let tally = Tally::new(progress);
    let pusher = Pusher::new(client, layout, opts, &tally)?;
    let shown = dest.to_string();
    tally.event(&Event::ImageStart { image: &shown });
    match pusher.image(source, dest) {
        Ok(unchanged) => tally.event(&Event::ImageDone {
            image: &shown,
            digest: source.digest(),
            unchanged,
        }),
        Err(e) => {
            tally.event(&Event::ImageFailed {
                image: &shown,
                error: &e,
            });
            return Err(e);
        }
    }
    Ok(tally.summary())
}

/// Pushes every named image of the layout to `registry` (`host[:port]`), its domain replaced and its
/// path prefixed with `prefix`: `docker.io/library/alpine:3.16` → `<registry>/<prefix>/library/alpine:3.16`.
pub fn sync(
    client: &Client,
    layout: &Layout,
    registry: &str,
    prefix: &str,
    opts: &PushOptions,
    progress: &dyn Progress,
) -> Result<Report> {
    let tally = Tally::new(progress);
    let pusher = Pusher::new(client, layout, opts, &tally)?;
    let mut report = Report::default();
    let mut seen = HashSet::new();
    let mut targets: HashMap<Reference, (String, Digest)> = HashMap::new();
    for entry in pusher.index.manifests() {
        let Some(name) = resolve::entry_name(entry) else {
            if let Some(tag) = resolve::entry_names(entry).tag {
                tally.event(&Event::Warning {
                    message: &format!(
                        "skipping {tag} ({}): a bare tag has no repository to push to",
                        entry.digest()
                    ),
                });
            }
            continue;
        };
        if !seen.insert(name.clone()) {
            continue;
        }
        let rebased = name.rebase(registry, prefix);
        // Each image is shown as `SOURCE -> DESTINATION`.
        let shown = match &rebased {
            Ok(dest) => format!("{name} -> {dest}"),
            Err(_) => name.to_string(),
        };
        tally.event(&Event::ImageStart { image: &shown });
        let outcome = rebased.and_then(|dest| {
            // Replacing the domain can map two names onto one: never overwrite silently.
            match targets.get(&dest) {
                Some((other, digest)) if digest != entry.digest() => Err(Error::DestinationTaken {
                    dest: dest.to_string(),
                    other: other.to_string(),
                    digest: digest.clone(),
                    new: entry.digest().clone(),
                }),
                _ => {
                    targets.insert(dest.clone(), (shown.clone(), entry.digest().clone()));
                    pusher.image(entry, &dest)
                }
            }
        });
        report.record(
            &tally,
            shown,
            outcome.map(|unchanged| (entry.digest().clone(), unchanged)),
        );
    }
    report.summary = tally.summary();
    Ok(report)
}

struct Pusher<'a> {
    client: &'a Client,
    layout: &'a Layout,
    opts: &'a PushOptions,
    progress: &'a dyn Progress,
    index: ImageIndex,
    /// Subject → the manifests in `index.json` that refer to it: read once per run, on first use.
    subjects: OnceLock<HashMap<Digest, Vec<Descriptor>>>,
    /// Where each blob is known to be on each registry, for cross-repository mounts.
    mounts: Mutex<HashMap<(String, Digest), String>>,
}

impl<'a> Pusher<'a> {
    fn new(
        client: &'a Client,
        layout: &'a Layout,
        opts: &'a PushOptions,
        progress: &'a dyn Progress,
    ) -> Result<Self> {
        Ok(Pusher {
            client,
            layout,
            opts,
            progress,
            index: layout.read_index()?,
            subjects: OnceLock::new(),
            mounts: Mutex::default(),
        })
    }

    /// Pushes one image and its referrers. Returns whether the registry already had everything.
    fn image(&self, root: &Descriptor, dest: &Reference) -> Result<bool> {
        let repo = self
            .client
            .repository(dest.registry_host(), dest.path(), true);
        let graph = self.closure(std::slice::from_ref(root))?;
        let referrers = if self.opts.referrers {
            self.referrers(&graph)?
        } else {
            Vec::new()
        };
        let referrer_roots: Vec<Descriptor> = referrers.iter().map(|(d, _)| d.clone()).collect();
        let referrer_graph = self.closure(&referrer_roots)?;

        // Blobs first, in parallel.
        let mut blobs: Vec<&Descriptor> = Vec::new();
        let mut seen = HashSet::new();
        for node in graph.nodes.iter().chain(&referrer_graph.nodes) {
            let d = &node.descriptor;
            if !graph::is_manifest_like(d.media_type().as_ref()) && seen.insert(d.digest()) {
                blobs.push(d);
            }
        }
        let jobs = self.client.config().jobs.max(1);
        let results = parallel(jobs, &blobs, |d| self.blob(&repo, d));
        let mut unchanged = true;
        for r in results {
            unchanged &= r?;
        }

        // Manifests children-first by digest; the root under its tag last.
        unchanged &= self.manifests(&repo, &graph, Some(root.digest()), jobs)?;
        let target = match dest.digest() {
            Some(d) if d != root.digest() => {
                return Err(Error::DestinationDigest {
                    dest: dest.to_string(),
                    named: d.clone(),
                    image: root.digest().clone(),
                })
            }
            Some(d) => d.to_string(),
            None => dest.tag().unwrap_or("latest").to_string(),
        };
        unchanged &= self.manifest(&repo, root, &target)?;

        // Referrers after their subjects; then, per subject, the ones the registry does not list
        // (it has no referrers API) go under the fallback tag, which we then keep.
        unchanged &= self.manifests(&repo, &referrer_graph, None, jobs)?;
        let mut by_subject: Vec<(&Digest, Vec<&Descriptor>)> = Vec::new();
        for (r, subject) in &referrers {
            match by_subject.iter_mut().find(|(s, _)| *s == subject) {
                Some((_, list)) => list.push(r),
                None => by_subject.push((subject, vec![r])),
            }
        }
        for (subject, list) in by_subject {
            let listed: HashSet<Digest> = repo
                .referrers(subject)?
                .into_iter()
                .map(|d| d.digest().clone())
                .collect();
            let mut missing = Vec::new();
            for d in list.into_iter().filter(|d| !listed.contains(d.digest())) {
                let bytes = self.read(d)?;
                let media_type = d.media_type().as_ref();
                missing.push(referrer_descriptor(media_type, d.digest(), &bytes));
            }
            if !missing.is_empty() {
                repo.add_fallback_referrers(subject, &missing)?;
                unchanged = false;
            }
        }
        Ok(unchanged)
    }

    /// The closure of `roots` in the layout; a missing or damaged blob is an error naming it.
    fn closure(&self, roots: &[Descriptor]) -> Result<Graph> {
        let graph = graph::walk(self.layout.blobs(), roots)?;
        graph.require(Operation::Push, self.layout.root())?;
        Ok(graph)
    }

    /// Manifests in `index.json` whose `subject` is in the closure (and which are not in it
    /// themselves): (referrer, subject).
    fn referrers(&self, graph: &Graph) -> Result<Vec<(Descriptor, Digest)>> {
        let subjects = self.subjects.get_or_init(|| self.subject_map());
        let mut out = Vec::new();
        for node in &graph.nodes {
            let subject = node.descriptor.digest();
            for r in subjects.get(subject).into_iter().flatten() {
                if !graph.contains(r.digest()) {
                    out.push((r.clone(), subject.clone()));
                }
            }
        }
        Ok(out)
    }

    /// Subject → referrers, over every manifest `index.json` names (each read once): the one pass
    /// that finds the referrers of every image of the run. A manifest that cannot be read refers
    /// to nothing here; pushing it as part of an image reports it.
    fn subject_map(&self) -> HashMap<Digest, Vec<Descriptor>> {
        let mut map: HashMap<Digest, Vec<Descriptor>> = HashMap::new();
        let mut seen = HashSet::new();
        for e in self.index.manifests() {
            if !graph::is_manifest_like(e.media_type().as_ref()) || !seen.insert(e.digest()) {
                continue;
            }
            let Ok(bytes) = self.read(e) else { continue };
            if let Some(subject) = subject_of(&bytes) {
                map.entry(subject).or_default().push(e.clone());
            }
        }
        map
    }

    fn read(&self, d: &Descriptor) -> Result<Vec<u8>> {
        self.layout
            .blobs()
            .read_verified(d.digest(), LOCAL_MANIFEST_LIMIT)
    }

    /// Puts every manifest of `graph` but `except` under its digest, `jobs` at a time, in waves: a
    /// manifest goes only once the manifests it names are there (a registry may refuse an index
    /// whose children it lacks), so independent ones (platforms, referrers) go side by side.
    /// Returns whether the registry had them all.
    fn manifests(
        &self,
        repo: &Repository,
        graph: &Graph,
        except: Option<&Digest>,
        jobs: usize,
    ) -> Result<bool> {
        let nodes: Vec<&graph::Node> = graph
            .nodes
            .iter()
            .filter(|n| graph::is_manifest_like(n.descriptor.media_type().as_ref()))
            .filter(|n| Some(n.descriptor.digest()) != except)
            .collect();
        // The walk lists children before parents, so a child's wave is known before its parent's.
        let mut wave: HashMap<&Digest, usize> = HashMap::with_capacity(nodes.len());
        for n in &nodes {
            let w = n
                .children
                .iter()
                .filter_map(|c| wave.get(c))
                .map(|w| w + 1)
                .max()
                .unwrap_or(0);
            wave.insert(n.descriptor.digest(), w);
        }
        let last = wave.values().copied().max().unwrap_or(0);
        let mut unchanged = true;
        for w in 0..=last {
            let batch: Vec<&Descriptor> = nodes
                .iter()
                .map(|n| &n.descriptor)
                .filter(|d| wave.get(d.digest()) == Some(&w))
                .collect();
            for r in parallel(jobs, &batch, |d| {
                self.manifest(repo, d, d.digest().as_ref())
            }) {
                unchanged &= r?;
            }
        }
        Ok(unchanged)
    }

    /// Puts a manifest under `reference` unless the registry has it with that digest. Returns
    /// whether it was already there.
    fn manifest(&self, repo: &Repository, d: &Descriptor, reference: &str) -> Result<bool> {
        if let Some(have) = repo.head_manifest(reference)? {
            // A registry may name what it holds in its own algorithm (distribution: sha256
            // always): then only the bytes can tell.
            let same =
                match crate::digest::same_algorithm(have.digest().as_ref(), d.digest().as_ref()) {
                    true => have.digest() == d.digest(),
                    false => {
                        crate::digest::same_content(d.digest(), have.digest(), &self.read(d)?)?
                    }
                };
            if same {
                self.done(d, Outcome::Skipped);
                return Ok(true);
            }
        }
        let bytes = self.read(d)?;
        repo.put_manifest(reference, d.media_type().as_ref(), &bytes)?;
        self.done(d, Outcome::Transferred);
        Ok(false)
    }

    /// Puts a blob unless the repository has it: mounted when this run saw it in another repository
    /// of the same registry, uploaded otherwise. Returns whether it was already there.
    fn blob(&self, repo: &Repository, d: &Descriptor) -> Result<bool> {
        let digest = d.digest();
        let key = (repo.registry().to_string(), digest.clone());
        let remember = || {
            self.mounts
                .lock()
                .unwrap()
                .insert(key.clone(), repo.name().to_string());
        };
        if repo.head_blob(digest)?.is_some() {
            remember();
            self.done(d, Outcome::Skipped);
            return Ok(true);
        }
        let from = self.mounts.lock().unwrap().get(&key).cloned();
        self.progress.event(&Event::BlobStart {
            digest,
            size: d.size(),
        });
        let store = self.layout.blobs();
        let open = || -> Result<Box<dyn Read + Send>> { Ok(Box::new(store.open(digest)?)) };
        let origin = store.path(digest)?.display().to_string();
        let pushed = repo.push_blob(d, &open, &origin, from.as_deref(), &mut |bytes| {
            self.progress.event(&Event::BlobBytes { digest, bytes })
        })?;
        remember();
        self.done(
            d,
            match pushed {
                crate::registry::Pushed::Mounted => Outcome::Mounted,
                crate::registry::Pushed::Uploaded => Outcome::Transferred,
            },
        );
        Ok(false)
    }

    fn done(&self, d: &Descriptor, outcome: Outcome) {
        self.progress.event(&Event::BlobDone {
            digest: d.digest(),
            size: d.size(),
            outcome,
        });
    }
}
