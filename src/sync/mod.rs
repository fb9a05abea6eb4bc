//! Copying image graphs between a layout and a registry: [`pull`] (registry → layout) and [`push`] /
//! [`sync`] (layout → registry). Both keep the exact bytes, so every digest is unchanged; both move
//! children before the parents that name them and the name last; both bring referrers along.

mod pull;
mod push;

use std::sync::atomic::{AtomicUsize, Ordering};

use std::collections::HashSet;

use oci_spec::image::{Descriptor, Digest};

use crate::error::{Error, Result};
use crate::layout::{Entry, IndexDocument};
use crate::names::Namer;
use crate::progress::{Event, Progress, Summary};
use crate::resolve::IndexEntry;

pub use pull::{pull, PullOptions};
pub use push::{push, sync, PushOptions};

/// What a multi-image run did: the summary and the images that failed, each with its error.
#[derive(Debug, Default)]
pub struct Report {
    /// Counts of images, blobs and bytes.
    pub summary: Summary,
    /// Each image that failed, as the user named it, with its error.
    pub failures: Vec<(String, Error)>,
}

impl Report {
    /// Whether every image made it.
    pub fn ok(&self) -> bool {
        self.failures.is_empty()
    }

    /// Reports one image's outcome (its digest and whether nothing changed, or the error) to
    /// `progress`, keeping the error for the caller.
    pub(crate) fn record(
        &mut self,
        progress: &dyn Progress,
        image: String,
        outcome: Result<(Digest, bool)>,
    ) {
        match outcome {
            Ok((digest, unchanged)) => progress.event(&Event::ImageDone {
                image: &image,
                digest: &digest,
                unchanged,
            }),
            Err(e) => {
                progress.event(&Event::ImageFailed {
                    image: &image,
                    error: &e,
                });
                self.failures.push((image, e));
            }
        }
    }
}

/// Runs `f` on every item with at most `jobs` threads, returning the results in item order.
pub(crate) fn parallel<T: Sync, R: Send>(
    jobs: usize,
    items: &[T],
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let jobs = jobs.clamp(1, items.len().max(1));
    if jobs == 1 {
        return items.iter().map(f).collect();
    }
    let next = AtomicUsize::new(0);
    let mut out: Vec<(usize, R)> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..jobs)
            .map(|_| {
                s.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(item) = items.get(i) else { break };
                        done.push((i, f(item)));
                    }
                    done
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("a transfer worker panicked"))
            .collect()
    });
    out.sort_by_key(|(i, _)| *i);
    out.into_iter().map(|(_, r)| r).collect()
}

/// Adds each of `referrers` to `doc` as an entry without a name (and without annotations or platform),
/// unless an entry with its digest is there already. One pass over the index for all of them.
pub(crate) fn add_unnamed(doc: &mut IndexDocument, referrers: &[Descriptor]) -> usize {
    let fresh: Vec<Entry> = {
        let present: HashSet<&str> = doc.entries().iter().map(|e| e.digest_str()).collect();
        referrers
            .iter()
            .filter(|r| !present.contains(r.digest().as_ref()))
            .map(|r| {
                let mut entry = r.clone();
                entry.set_annotations(None);
                entry.set_platform(None);
                Entry::new(entry)
            })
            .collect()
    };
    let mut namer = Namer::new(doc);
    fresh
        .into_iter()
        .map(|e| namer.add_unnamed(e, crate::names::same_digest))
        .filter(|added| *added)
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parallel_keeps_order_and_bounds() {
        let items: Vec<u32> = (0..100).collect();
        let out = parallel(7, &items, |i| i * 2);
        assert_eq!(out, items.iter().map(|i| i * 2).collect::<Vec<_>>());
        assert!(parallel(3, &Vec::<u32>::new(), |i| *i).is_empty());
    }

    /// 20,000 referrers added to a 20,000-entry index in one pass (each add cloned and rescanned
    /// the whole index: minutes). Added once each, whatever is there already.
    #[test]
    fn twenty_thousand_referrers_are_added_in_one_pass() {
        use oci_spec::image::MediaType;
        let desc = |i: usize| {
            let d = crate::digest::sha256(i.to_string().as_bytes());
            Descriptor::new(MediaType::ImageManifest, 100, d)
        };
        let mut doc = IndexDocument::empty();
        for i in 0..20_000 {
            doc.push(Entry::new(desc(i)));
        }
        let referrers: Vec<Descriptor> = (10_000..30_000).map(desc).collect();
        let started = std::time::Instant::now();
        assert_eq!(add_unnamed(&mut doc, &referrers), 10_000);
        assert_eq!(add_unnamed(&mut doc, &referrers), 0);
        let took = started.elapsed();
        assert_eq!(doc.entries().len(), 30_000);
        assert!(took.as_secs() < 10, "{took:?}");
    }
}
