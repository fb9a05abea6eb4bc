//! Copying image graphs between a layout and a registry: [`pull`] (registry → layout) and [`push`] /
//! [`sync`] (layout → registry). Both keep the exact bytes, so every digest is unchanged; both move
//! children before the parents that name them and the name last; both bring referrers along.

mod pull;
mod push;

use std::sync::atomic::{AtomicUsize, Ordering};

use oci_spec::image::{Descriptor, Digest, ImageIndex};

use crate::error::{Error, Result};
use crate::progress::{Event, Progress, Summary};
use crate::resolve;

pub use pull::{pull, PullOptions};
pub use push::{push, sync, PushOptions};

/// What a multi-image run did: the summary and the images that failed, each with its error.
#[derive(Debug, Default)]
pub struct Report {
    pub summary: Summary,
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

/// Index entries without a name: referrers kept reachable (and anything else stored unnamed).
pub(crate) fn unnamed_entries(index: &ImageIndex) -> impl Iterator<Item = &Descriptor> {
    index
        .manifests()
        .iter()
        .filter(|d| resolve::entry_names(*d) == resolve::EntryName::default())
}

/// Adds `d` to `index` as an entry without a name, unless an unnamed entry with its digest is there.
pub(crate) fn add_unnamed(index: &mut ImageIndex, d: &Descriptor) -> bool {
    if unnamed_entries(index).any(|e| e.digest() == d.digest()) {
        return false;
    }
    let mut entry = d.clone();
    entry.set_annotations(None);
    entry.set_platform(None);
    let mut manifests = index.manifests().clone();
    manifests.push(entry);
    index.set_manifests(manifests);
    true
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
}
