//! Basic authentication against an htpasswd file with bcrypt entries, as docker-registry reads them
//! (`user:$2y$...`; other hash kinds are refused when the file is loaded, not silently never matched).
//!
//! bcrypt is slow on purpose, so it is kept from hurting anyone but the client that pays for it:
//! - it runs on the blocking pool, at most as many at once as there are cores, and one at a time
//!   per client address;
//! - credentials once verified are remembered (by a hash of the header, never the password), so a
//!   client that sends them with every request pays once, and a flood of wrong passwords from
//!   others does not delay it;
//! - an unknown user is checked against a dummy hash of the same cost, so it takes as long as a
//!   wrong password and user names cannot be told apart by timing;
//! - after [`FREE_FAILURES`] wrong credentials in a row, a client address waits before each further
//!   attempt, twice as long each time up to [`MAX_BACKOFF`].

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;

use super::blocking;
use crate::digest;
use crate::error::{Error, IoContext, Result};

/// Wrong credentials a client may send in a row before it is slowed down.
pub(crate) const FREE_FAILURES: u32 = 5;
/// The first wait after [`FREE_FAILURES`]; it doubles with each further failure.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// The longest wait between attempts of a failing client.
pub(crate) const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// Credentials remembered as good, at most (the memory is cleared when full).
const REMEMBERED: usize = 10_000;
/// Client addresses tracked for backoff, at most (quiet ones are forgotten first).
const TRACKED: usize = 10_000;
/// How long a failure counts against a client address.
const FORGIVEN: Duration = Duration::from_secs(900);

/// What one client address has done lately.
#[derive(Default)]
struct Record {
    failures: u32,
    last: Option<Instant>,
}

/// The users of an htpasswd file, and what the server remembers of who tried them.
pub(crate) struct Htpasswd {
    users: HashMap<String, String>,
    /// A hash of the users' cost that no password matches, verified for unknown users.
    dummy: String,
    /// Digests of `user:password` pairs already checked good, and their user.
    good: Mutex<HashMap<String, String>>,
    /// Concurrent bcrypt verifications.
    slots: tokio::sync::Semaphore,
    /// Per client address: one verification at a time, and its failures.
    clients: Mutex<HashMap<IpAddr, Arc<tokio::sync::Mutex<Record>>>>,
    /// bcrypt verifications run, in all (for tests).
    verifications: AtomicU64,
}

impl Htpasswd {
    /// Reads an htpasswd file. Blank lines and `#` comments are skipped.
    pub(crate) fn load(path: &Path) -> Result<Htpasswd> {
        let text = std::fs::read_to_string(path).at(path)?;
        let mut users = HashMap::new();
        let mut cost = bcrypt::DEFAULT_COST;
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = |why: &str| Error::BadFile {
                path: path.to_path_buf(),
                line: Some(i + 1),
                reason: why.to_string(),
            };
            let (user, hash) = line
                .split_once(':')
                .ok_or_else(|| bad("expected USER:HASH"))?;
            if !(hash.starts_with("$2y$") || hash.starts_with("$2a$") || hash.starts_with("$2b$")) {
                return Err(bad("only bcrypt entries are supported (htpasswd -B)"));
            }
            if users.is_empty() {
                cost = hash
                    .get(4..6)
                    .and_then(|c| c.parse().ok())
                    .ok_or_else(|| bad("a bcrypt entry without its cost"))?;
            }
            users.insert(user.to_string(), hash.to_string());
        }
        if users.is_empty() {
            return Err(Error::BadFile {
                path: path.to_path_buf(),
                line: None,
                reason: "no users".into(),
            });
        }
        // The password of the dummy hash is random and forgotten at once: nothing matches it.
        let secret = digest::sha256(format!("{:?}{:p}", Instant::now(), &users).as_bytes());
        let dummy = bcrypt::hash(secret.digest(), cost).map_err(|e| Error::BadFile {
            path: path.to_path_buf(),
            line: None,
            reason: format!("cannot make a bcrypt hash of cost {cost}: {e}"),
        })?;
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Ok(Htpasswd {
            users,
            dummy,
            good: Mutex::new(HashMap::new()),
            slots: tokio::sync::Semaphore::new(cores),
            clients: Mutex::new(HashMap::new()),
            verifications: AtomicU64::new(0),
        })
    }

    fn record(&self, ip: IpAddr) -> Arc<tokio::sync::Mutex<Record>> {
        let mut clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        if clients.len() >= TRACKED {
            clients.retain(|_, r| {
                Arc::strong_count(r) > 1
                    || r.try_lock().map_or(true, |r| {
                        r.failures > 0 && r.last.is_some_and(|t| t.elapsed() < FORGIVEN)
                    })
            });
        }
        clients.entry(ip).or_default().clone()
    }

    /// The user whose Basic credentials an `Authorization` header from `ip` carries, or `None`.
    pub(crate) async fn check(&self, ip: IpAddr, authorization: Option<&str>) -> Option<String> {
        // No credentials at all is how every client starts: not a failure.
        let b64 = authorization.and_then(|h| {
            let (scheme, rest) = h.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("basic").then_some(rest.trim())
        })?;
        let raw = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap_or_default();
        let key = digest::sha256(&raw).to_string();
        if let Some(user) = self.remembered(&key) {
            return Some(user);
        }
        let record = self.record(ip);
        let mut record = record.lock().await;
        if record.last.is_some_and(|t| t.elapsed() >= FORGIVEN) {
            record.failures = 0;
        }
        if record.failures >= FREE_FAILURES {
            let wait = FIRST_BACKOFF
                .saturating_mul(1 << (record.failures - FREE_FAILURES).min(16))
                .min(MAX_BACKOFF);
            let since = record.last.map_or(Duration::ZERO, |t| t.elapsed());
            tokio::time::sleep(wait.saturating_sub(since)).await;
        }
        // Another request of this client may have verified the same credentials meanwhile.
        if let Some(user) = self.remembered(&key) {
            return Some(user);
        }
        let (user, password) = std::str::from_utf8(&raw)
            .ok()
            .and_then(|t| t.split_once(':'))
            .map_or((String::new(), String::new()), |(u, p)| {
                (u.to_string(), p.to_string())
            });
        let known = self.users.get(&user);
        let hash = known.unwrap_or(&self.dummy).clone();
        let ok = {
            let _slot = self.slots.acquire().await.ok()?;
            self.verifications.fetch_add(1, Ordering::Relaxed);
            blocking(move || bcrypt::verify(password, &hash).unwrap_or(false))
                .await
                .unwrap_or(false)
        } && known.is_some();
        record.last = Some(Instant::now());
        if ok {
            record.failures = 0;
            let mut good = self.good.lock().unwrap_or_else(|e| e.into_inner());
            if good.len() >= REMEMBERED {
                good.clear();
            }
            good.insert(key, user.clone());
            Some(user)
        } else {
            record.failures = record.failures.saturating_add(1);
            None
        }
    }

    fn remembered(&self, key: &str) -> Option<String> {
        self.good
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(key)
            .cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(s: &str) -> String {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(s)
        )
    }

    fn file(dir: &Path, text: &str) -> std::path::PathBuf {
        let path = dir.join("htpasswd");
        std::fs::write(&path, text).unwrap();
        path
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn bcrypt_entries_gate_basic_auth() {
        let dir = tempfile::tempdir().unwrap();
        let hash = bcrypt::hash("s3cret", 4)
            .unwrap()
            .replacen("$2b$", "$2y$", 1);
        let h = Htpasswd::load(&file(dir.path(), &format!("# users\nalice:{hash}\n"))).unwrap();
        let ip: IpAddr = [127, 0, 0, 1].into();
        assert_eq!(
            h.check(ip, Some(&basic("alice:s3cret"))).await.as_deref(),
            Some("alice")
        );
        let before = h.verifications.load(Ordering::Relaxed);
        assert_eq!(
            h.check(ip, Some(&basic("alice:s3cret"))).await.as_deref(),
            Some("alice")
        );
        assert_eq!(
            h.verifications.load(Ordering::Relaxed),
            before,
            "from the memo"
        );
        for bad in ["alice:wrong", "bob:s3cret", "alice", ""] {
            assert_eq!(h.check(ip, Some(&basic(bad))).await, None, "{bad}");
        }
        assert_eq!(h.check(ip, None).await, None);
        assert_eq!(h.check(ip, Some("Bearer x")).await, None);

        let err = Htpasswd::load(&file(dir.path(), "alice:{SHA}abc\n"))
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains(":1: only bcrypt"), "{err}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_unknown_user_costs_a_bcrypt_like_a_wrong_password() {
        let dir = tempfile::tempdir().unwrap();
        let hash = bcrypt::hash("s3cret", 4).unwrap();
        let h = Htpasswd::load(&file(dir.path(), &format!("alice:{hash}\n"))).unwrap();
        assert!(h.dummy.starts_with("$2b$04$"), "same cost: {}", h.dummy);
        let ip: IpAddr = [10, 0, 0, 9].into();
        let n = || h.verifications.load(Ordering::Relaxed);
        let before = n();
        assert_eq!(h.check(ip, Some(&basic("alice:wrong"))).await, None);
        assert_eq!(n(), before + 1);
        assert_eq!(h.check(ip, Some(&basic("mallory:wrong"))).await, None);
        assert_eq!(
            n(),
            before + 2,
            "the unknown user was verified against the dummy hash"
        );
        assert_eq!(h.check(ip, Some(&basic("no-colon"))).await, None);
        assert_eq!(n(), before + 3);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn repeated_failures_from_one_client_are_slowed() {
        let dir = tempfile::tempdir().unwrap();
        let hash = bcrypt::hash("s3cret", 4).unwrap();
        let h = Htpasswd::load(&file(dir.path(), &format!("alice:{hash}\n"))).unwrap();
        let bad: IpAddr = [10, 0, 0, 1].into();
        let other: IpAddr = [10, 0, 0, 2].into();
        let wrong = basic("alice:wrong");
        for _ in 0..FREE_FAILURES {
            assert_eq!(h.check(bad, Some(&wrong)).await, None);
        }
        let t = tokio::time::Instant::now();
        assert_eq!(h.check(bad, Some(&wrong)).await, None);
        assert!(t.elapsed() >= FIRST_BACKOFF, "{:?}", t.elapsed());
        let t = tokio::time::Instant::now();
        assert_eq!(h.check(bad, Some(&wrong)).await, None);
        assert!(t.elapsed() >= FIRST_BACKOFF * 2, "{:?}", t.elapsed());
        // Another address has its own count, and the right password still works after the wait.
        assert_eq!(h.check(other, Some(&wrong)).await, None);
        assert_eq!(h.record(other).lock().await.failures, 1);
        assert_eq!(
            h.check(bad, Some(&basic("alice:s3cret"))).await.as_deref(),
            Some("alice")
        );
    }
}
