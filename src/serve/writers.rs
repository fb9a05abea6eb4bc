//! The layout's shared writer lock as the server holds it, so that `gc` never sweeps what a push has
//! written but not yet named.
//!
//! Two things keep the lock held:
//! - work in flight: every step between writing a blob into `blobs/` and naming it (a blob commit, a
//!   mount, a manifest PUT from its children check to its `index.json` entry) holds an [`InFlight`]
//!   token, taken before the first write and dropped after the name (or the pending mark) is in place;
//! - pushed content not yet named: a blob committed by a push waits for the manifest that names it.
//!   It is kept from gc while pushes go on, and given up to gc [`PENDING_IDLE`] after the last push
//!   request, so a client that stops half way keeps gc waiting for at most that long.
//!
//! Upload sessions hold nothing here: their partial data lives under `.ocilayout/uploads`, which gc
//! leaves alone, so an idle session never keeps `gc`, `rm` or `import` waiting.

use std::collections::HashSet;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use oci_spec::image::{Descriptor, Digest};

use super::http::ApiError;
use super::manifests::internal;
use crate::error::Error;
use crate::graph;
use crate::layout::{Layout, LockGuard};

/// How long after the last push request pushed-but-unnamed blobs stay protected from gc.
pub(crate) const PENDING_IDLE: Duration = Duration::from_secs(60);

/// What keeps the lock held, and the lock.
struct Held {
    lock: Option<LockGuard>,
    in_flight: usize,
    /// Pushed digests not yet reachable from a name.
    pending: HashSet<Digest>,
    last: Instant,
}

/// `root` and every digest it reaches. Blocking: it reads the manifests of the closure.
pub(crate) fn closure(layout: &Layout, root: &Descriptor) -> Vec<Digest> {
    let mut out = vec![root.digest().clone()];
    if let Ok(g) = graph::walk(layout.blobs(), [root]) {
        out.extend(g.nodes.into_iter().map(|n| n.descriptor.digest().clone()));
    }
    out
}

/// The server's hold on the layout's shared writer lock.
pub(crate) struct Writers {
    layout: Layout,
    /// One task at a time waits for the lock (while gc runs): the others wait here, off the
    /// blocking pool.
    acquiring: tokio::sync::Mutex<()>,
    held: Mutex<Held>,
}

/// One step of a push in flight: the lock stays held at least until it is dropped.
pub(crate) struct InFlight<'a> {
    writers: &'a Writers,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        let mut h = self.writers.held();
        h.in_flight -= 1;
        h.last = Instant::now();
        release_if_done(&mut h);
    }
}

fn release_if_done(h: &mut Held) {
    if h.in_flight == 0 && h.pending.is_empty() {
        h.lock = None;
    }
}

impl Writers {
    pub(crate) fn new(layout: Layout) -> Writers {
        Writers {
            layout,
            acquiring: tokio::sync::Mutex::new(()),
            held: Mutex::new(Held {
                lock: None,
                in_flight: 0,
                pending: HashSet::new(),
                last: Instant::now(),
            }),
        }
    }

    fn held(&self) -> MutexGuard<'_, Held> {
        self.held.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts a step that writes into `blobs/` or names something: waits for the lock while gc runs.
    pub(crate) async fn begin(&self) -> Result<InFlight<'_>, ApiError> {
        let _one = self.acquiring.lock().await;
        {
            let mut h = self.held();
            if h.lock.is_some() {
                h.in_flight += 1;
                return Ok(InFlight { writers: self });
            }
        }
        let layout = self.layout.clone();
        let lock = tokio::task::spawn_blocking(move || layout.lock_writers())
            .await
            .map_err(|_| {
                internal(Error::Internal {
                    what: "a blocking task of the server",
                })
            })?
            .map_err(internal)?;
        let mut h = self.held();
        h.lock = Some(lock);
        h.in_flight += 1;
        Ok(InFlight { writers: self })
    }

    /// `d` was written by a push and is not named yet: keep it from gc (the caller's step is in
    /// flight, so the lock is held).
    pub(crate) fn pending(&self, _step: &InFlight<'_>, d: Digest) {
        let mut h = self.held();
        h.pending.insert(d);
        h.last = Instant::now();
    }

    /// These digests (a named manifest's closure) are reachable from a name now: no longer pending.
    pub(crate) fn named(&self, _step: &InFlight<'_>, closure: Vec<Digest>) {
        let mut h = self.held();
        for d in closure {
            h.pending.remove(&d);
        }
    }

    /// Gives pushed-but-unnamed content up to gc once pushes have been idle for [`PENDING_IDLE`],
    /// releasing the lock when nothing is in flight. Run periodically.
    pub(crate) fn expire(&self) {
        let mut h = self.held();
        if h.last.elapsed() >= PENDING_IDLE {
            h.pending.clear();
        }
        release_if_done(&mut h);
    }

    /// Runs `f` on the blocking pool while no push of this server takes a step: `f` takes gc's
    /// exclusive locks itself (a DELETE that removes a blob), so the shared writer lock this server
    /// may hold for its pushes is given up for the duration and taken again afterwards. New steps
    /// wait meanwhile; steps already in flight finish first. Content pushed but not yet named stays
    /// protected from this server's own DELETE (which removes only what it was asked to) but, for
    /// that moment, not from a `gc` of another process that was already waiting for the lock.
    pub(crate) async fn exclusively<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        let failed = || {
            internal(Error::Internal {
                what: "a blocking task of the server",
            })
        };
        let _one = self.acquiring.lock().await;
        while self.held().in_flight > 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let held = self.held().lock.take().is_some();
        let out = tokio::task::spawn_blocking(f).await.map_err(|_| failed())?;
        if held {
            let layout = self.layout.clone();
            let lock = tokio::task::spawn_blocking(move || layout.lock_writers())
                .await
                .map_err(|_| failed())?
                .map_err(internal)?;
            let mut h = self.held();
            if h.lock.is_none() {
                h.lock = Some(lock);
            }
        }
        Ok(out)
    }

    /// Whether the server holds the writer lock now (for tests of the rules above).
    #[cfg(test)]
    pub(crate) fn is_held(&self) -> bool {
        self.held().lock.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_lock_is_held_while_any_step_is_in_flight() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::init(dir.path()).unwrap();
        let w = Writers::new(layout.clone());
        let a = w.begin().await.unwrap();
        let b = w.begin().await.unwrap();
        assert!(w.is_held());
        drop(a);
        // The other step has written but not named: the lock stays.
        assert!(w.is_held());
        let d = crate::digest::sha256(b"x");
        w.pending(&b, d);
        drop(b);
        assert!(w.is_held(), "pending content keeps the lock");
        w.expire();
        assert!(w.is_held(), "not idle yet");
        w.held().last = Instant::now() - PENDING_IDLE;
        w.expire();
        assert!(!w.is_held());
        // gc can take the exclusive lock now.
        drop(layout.lock_writers_exclusive().unwrap());
    }
}
