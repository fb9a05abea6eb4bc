//! What the server knows about blob files by hashing them, and the hashing itself: one hash per file
//! version however many requests ask at once (they all wait for the same one), stopped as soon as no
//! request waits for it any more.

use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use oci_spec::image::Digest;
use tokio::sync::watch;

use super::catalog::FileKey;
use crate::digest::{Algorithm, Hasher};

/// Bytes hashed per read.
const CHUNK: usize = 256 << 10;
/// File versions remembered as verified (or found corrupt); the memory is cleared when full.
const REMEMBERED: usize = 100_000;

/// One hash in progress; requests that wait for it hold it.
struct Flight {
    key: FileKey,
    done: watch::Receiver<Option<bool>>,
}

/// Verified (or corrupt) file versions, and the hashes in progress.
#[derive(Default)]
pub(crate) struct Verifier {
    known: Mutex<HashMap<Digest, (FileKey, bool)>>,
    flights: Mutex<HashMap<Digest, Weak<Flight>>>,
    /// Bytes hashed so far, in all (to test that a blob is hashed once).
    hashed: AtomicU64,
}

/// Why a hash gave no answer.
#[derive(Debug)]
pub(crate) enum Unverified {
    /// Reading the file failed.
    Read(std::io::Error),
    /// The hash stopped (the server is stopping).
    Stopped,
}

impl Verifier {
    /// What an earlier hash of this file version found: `Some(true)` matched, `Some(false)` did not.
    pub(crate) fn get(&self, d: &Digest, key: &FileKey) -> Option<bool> {
        let known = self.known.lock().unwrap_or_else(|e| e.into_inner());
        known.get(d).filter(|(k, _)| k == key).map(|(_, ok)| *ok)
    }

    /// Records what hashing this file version found.
    pub(crate) fn put(&self, d: &Digest, key: FileKey, ok: bool) {
        let mut known = self.known.lock().unwrap_or_else(|e| e.into_inner());
        if known.len() >= REMEMBERED {
            known.clear();
        }
        known.insert(d.clone(), (key, ok));
    }

    /// Counts bytes hashed while streaming.
    pub(crate) fn count(&self, n: u64) {
        self.hashed.fetch_add(n, Ordering::Relaxed);
    }

    /// Whether `file` (version `key`) hashes to `d`: remembered, or hashed once on the blocking pool
    /// for every caller asking at the same time. A caller that goes away stops waiting; when none
    /// waits, the hash stops.
    pub(crate) async fn check(
        self: &Arc<Self>,
        d: &Digest,
        file: &File,
        key: FileKey,
    ) -> Result<bool, Unverified> {
        if let Some(ok) = self.get(d, &key) {
            return Ok(ok);
        }
        let flight = {
            let mut flights = self.flights.lock().unwrap_or_else(|e| e.into_inner());
            match flights.get(d).and_then(Weak::upgrade) {
                Some(f) if f.key == key => f,
                _ => {
                    let file = file.try_clone().map_err(Unverified::Read)?;
                    let (tx, rx) = watch::channel(None);
                    let f = Arc::new(Flight { key, done: rx });
                    flights.insert(d.clone(), Arc::downgrade(&f));
                    let me = self.clone();
                    let d = d.clone();
                    let waiting = Arc::downgrade(&f);
                    tokio::task::spawn_blocking(move || {
                        let found = me.hash(&d, &file, &waiting);
                        if let Some(ok) = found {
                            me.put(&d, key, ok);
                            let _ = tx.send(Some(ok));
                        }
                        let mut flights = me.flights.lock().unwrap_or_else(|e| e.into_inner());
                        if flights.get(&d).is_some_and(|w| w.ptr_eq(&waiting)) {
                            flights.remove(&d);
                        }
                    });
                    f
                }
            }
        };
        let mut done = flight.done.clone();
        let result = match done.wait_for(Option::is_some).await {
            Ok(v) => Ok(*v == Some(true)),
            Err(_) => Err(Unverified::Stopped),
        };
        result
    }

    /// Hashes `file` from its start; `None` when nobody waits any more (or a read fails, which the
    /// waiters then see as a stopped hash).
    fn hash(&self, d: &Digest, file: &File, waiting: &Weak<Flight>) -> Option<bool> {
        let alg = Algorithm::of(d).ok()?;
        let mut h = Hasher::new(alg);
        let mut buf = vec![0; CHUNK];
        let mut at = 0u64;
        loop {
            if waiting.strong_count() == 0 {
                return None;
            }
            let n = file.read_at(&mut buf, at).ok()?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
            at += n as u64;
            self.count(n as u64);
        }
        Some(&h.finish() == d)
    }

    /// Bytes hashed so far.
    #[cfg(test)]
    pub(crate) fn hashed(&self) -> u64 {
        self.hashed.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn big_sparse(dir: &std::path::Path, size: u64) -> (File, FileKey) {
        let path = dir.join("blob");
        let f = File::create(&path).unwrap();
        f.set_len(size).unwrap();
        let f = File::open(&path).unwrap();
        let key = FileKey::of(&f.metadata().unwrap());
        (f, key)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_blob_is_hashed_once_however_many_ask() {
        let dir = tempfile::tempdir().unwrap();
        let size = 8 << 20;
        let (f, key) = big_sparse(dir.path(), size);
        let d = crate::digest::sha256(&vec![0u8; size as usize]);
        let v = Arc::new(Verifier::default());
        let f = Arc::new(f);
        let asks: Vec<_> = (0..40)
            .map(|_| {
                let (v, f, d) = (v.clone(), f.clone(), d.clone());
                tokio::spawn(async move { v.check(&d, &f, key).await.unwrap() })
            })
            .collect();
        for a in asks {
            assert!(a.await.unwrap());
        }
        assert_eq!(v.hashed(), size, "one hash for forty requests");
        // Remembered: no more hashing.
        assert!(v.check(&d, &f, key).await.unwrap());
        assert_eq!(v.hashed(), size);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_hash_nobody_waits_for_stops() {
        let dir = tempfile::tempdir().unwrap();
        // Sparse: reading it costs nothing, hashing it seconds.
        let size = 4 << 30;
        let (f, key) = big_sparse(dir.path(), size);
        let d = crate::digest::sha256(b"not these bytes");
        let v = Arc::new(Verifier::default());
        let f = Arc::new(f);
        let ask = {
            let (v, f, d) = (v.clone(), f.clone(), d.clone());
            tokio::spawn(async move { v.check(&d, &f, key).await })
        };
        while v.hashed() == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        ask.abort();
        let _ = ask.await;
        // The flight ends soon after its last waiter left.
        for _ in 0..1000 {
            if v.flights.lock().unwrap().is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(v.flights.lock().unwrap().is_empty(), "the hash stopped");
        assert!(v.hashed() < size, "stopped early: {} of {size}", v.hashed());
        assert_eq!(v.get(&d, &key), None, "nothing concluded");
    }
}
