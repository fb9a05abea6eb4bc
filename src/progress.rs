//! Progress of transfers as events: the library reports what happens through [`Progress`], and the
//! binary decides how to show it (bars on a terminal, a line per image otherwise, nothing when quiet).
//! A `Tally` counts what a run did for the closing [`Summary`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use oci_spec::image::Digest;

use crate::error::Error;

/// How a blob or manifest ended up where it had to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Its bytes were transferred.
    Transferred,
    /// The destination already had it.
    Skipped,
    /// The registry mounted it from another repository.
    Mounted,
}

/// Something that happened during a pull, push or sync. Events may come from several threads.
#[derive(Debug)]
#[non_exhaustive]
pub enum Event<'a> {
    /// Work on an image starts (`image` is the name as the user will recognise it).
    ImageStart {
        /// The image.
        image: &'a str,
    },
    /// A blob transfer starts.
    BlobStart {
        /// The blob.
        digest: &'a Digest,
        /// Its size in bytes.
        size: u64,
    },
    /// Bytes of a blob transferred so far (back to 0 when a transfer restarts).
    BlobBytes {
        /// The blob.
        digest: &'a Digest,
        /// Bytes transferred so far.
        bytes: u64,
    },
    /// A blob is done.
    BlobDone {
        /// The blob.
        digest: &'a Digest,
        /// Its size in bytes.
        size: u64,
        /// Whether it was transferred, skipped or mounted.
        outcome: Outcome,
    },
    /// An image is complete at its destination.
    ImageDone {
        /// The image.
        image: &'a str,
        /// The digest of its manifest or index at the destination.
        digest: &'a Digest,
        /// Whether nothing had to change.
        unchanged: bool,
    },
    /// An image failed; others go on.
    ImageFailed {
        /// The image.
        image: &'a str,
        /// Why it failed.
        error: &'a Error,
    },
    /// Something worth knowing that does not fail the image.
    Warning {
        /// The warning, one line.
        message: &'a str,
    },
}

/// A receiver of events.
pub trait Progress: Send + Sync {
    /// Receives one event; called from whichever thread the work is on, so it should be quick.
    fn event(&self, event: &Event<'_>);
}

/// Ignores every event.
#[derive(Clone, Copy, Debug, Default)]
pub struct Silent;

impl Progress for Silent {
    fn event(&self, _: &Event<'_>) {}
}

/// What a run did, for the closing summary.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Images completed.
    pub images: u64,
    /// Images that failed.
    pub failed: u64,
    /// Blobs and manifests whose bytes were transferred.
    pub transferred: u64,
    /// Blobs and manifests already at the destination.
    pub skipped: u64,
    /// Blobs mounted from another repository.
    pub mounted: u64,
    /// Bytes transferred.
    pub bytes: u64,
    /// Wall-clock time of the run.
    pub elapsed: Duration,
}

/// Counts events into a [`Summary`] while passing them on.
pub(crate) struct Tally<'a> {
    inner: &'a dyn Progress,
    start: Instant,
    counters: [AtomicU64; 6],
}

impl<'a> Tally<'a> {
    /// Counts the events passed to it and hands each on to `inner`.
    pub(crate) fn new(inner: &'a dyn Progress) -> Self {
        Tally {
            inner,
            start: Instant::now(),
            counters: Default::default(),
        }
    }

    /// The counts so far.
    pub(crate) fn summary(&self) -> Summary {
        let c = |i: usize| self.counters[i].load(Ordering::Relaxed);
        Summary {
            images: c(0),
            failed: c(1),
            transferred: c(2),
            skipped: c(3),
            mounted: c(4),
            bytes: c(5),
            elapsed: self.start.elapsed(),
        }
    }

    fn add(&self, i: usize, n: u64) {
        self.counters[i].fetch_add(n, Ordering::Relaxed);
    }
}

impl Progress for Tally<'_> {
    fn event(&self, event: &Event<'_>) {
        match event {
            Event::ImageDone { .. } => self.add(0, 1),
            Event::ImageFailed { .. } => self.add(1, 1),
            Event::BlobDone { size, outcome, .. } => match outcome {
                Outcome::Transferred => {
                    self.add(2, 1);
                    self.add(5, *size);
                }
                Outcome::Skipped => self.add(3, 1),
                Outcome::Mounted => self.add(4, 1),
            },
            _ => {}
        }
        self.inner.event(event);
    }
}
