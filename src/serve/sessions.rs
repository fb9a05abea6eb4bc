//! Upload sessions (`POST /v2/NAME/blobs/uploads/` until the final `PUT`): unguessable ids, each tied
//! to the user who opened it, capped in number (in total and per client address), expired when idle.
//!
//! An idle session holds no descriptor and no lock: its bytes are a parked file under
//! `.ocilayout/uploads` (which gc leaves alone) and its hash state is in memory, so a thousand open
//! sessions cost a thousand small files and nothing else.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use hyper::StatusCode;

use super::http::{ApiError, Code};
use crate::store::ParkedBlob;

/// One upload in progress.
pub(crate) struct Session {
    /// The bytes so far; `None` once the session failed or finished.
    pub blob: Option<ParkedBlob>,
    touched: Instant,
}

/// A session and who opened it.
struct Slot {
    owner: Option<String>,
    client: IpAddr,
    session: Arc<tokio::sync::Mutex<Session>>,
}

impl Session {
    /// Bytes received so far.
    pub(crate) fn written(&self) -> u64 {
        self.blob.as_ref().map_or(0, |b| b.written())
    }
}

/// The bounds on sessions.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Caps {
    pub total: usize,
    pub per_client: usize,
    pub idle: Duration,
}

/// The open upload sessions.
pub(crate) struct Sessions {
    caps: Caps,
    map: Mutex<HashMap<String, Slot>>,
}

/// Who asks: the client's address and, with `--htpasswd`, the user it authenticated as.
#[derive(Clone, Debug)]
pub(crate) struct Client {
    pub ip: IpAddr,
    pub user: Option<String>,
}

impl Sessions {
    pub(crate) fn new(caps: Caps) -> Sessions {
        Sessions {
            caps,
            map: Default::default(),
        }
    }

    fn map(&self) -> MutexGuard<'_, HashMap<String, Slot>> {
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Opens a session for `client`, or refuses with 429 when a cap is reached.
    pub(crate) fn open(&self, client: &Client, blob: ParkedBlob) -> Result<String, ApiError> {
        let id = new_id()?;
        let mut map = self.map();
        let busy = |what: String| {
            ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                Code::TooManyRequests,
                format!("{what}; finish or cancel one, or wait for idle ones to expire"),
            )
        };
        if map.len() >= self.caps.total {
            return Err(busy(format!(
                "the server has {} upload sessions open, its limit",
                map.len()
            )));
        }
        let mine = map.values().filter(|s| s.client == client.ip).count();
        if mine >= self.caps.per_client {
            return Err(busy(format!(
                "{} has {mine} upload sessions open, the limit per client",
                client.ip
            )));
        }
        map.insert(
            id.clone(),
            Slot {
                owner: client.user.clone(),
                client: client.ip,
                session: Arc::new(tokio::sync::Mutex::new(Session {
                    blob: Some(blob),
                    touched: Instant::now(),
                })),
            },
        );
        Ok(id)
    }

    /// The session `id`, if it exists and `client` may use it (the user who opened it, when users
    /// authenticate). Anything else is unknown: a session of another user is not revealed.
    pub(crate) async fn get(
        &self,
        client: &Client,
        id: &str,
    ) -> Option<tokio::sync::OwnedMutexGuard<Session>> {
        let s = {
            let map = self.map();
            let slot = map.get(id).filter(|s| s.owner == client.user)?;
            slot.session.clone()
        };
        let mut s = s.lock_owned().await;
        s.blob.as_ref()?;
        s.touched = Instant::now();
        Some(s)
    }

    /// Ends session `id` (its parked file goes with it, unless the caller took it).
    pub(crate) fn close(&self, id: &str) {
        self.map().remove(id);
    }

    /// Ends the sessions idle for longer than the idle cap. Run periodically.
    pub(crate) fn expire(&self) {
        let idle = self.caps.idle;
        // A session in use (locked) is not idle.
        self.map().retain(|_, s| {
            s.session
                .try_lock()
                .map_or(true, |s| s.touched.elapsed() < idle)
        });
    }

    /// How many sessions are open.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.map().len()
    }
}

/// A session id: 128 bits from the operating system's random source, in hex.
fn new_id() -> Result<String, ApiError> {
    let mut bytes = [0u8; 16];
    let mut filled = 0;
    while filled < bytes.len() {
        let rest = &mut bytes[filled..];
        // SAFETY: the pointer and length describe `rest`, a live, writable buffer.
        let n = unsafe { libc::getrandom(rest.as_mut_ptr().cast(), rest.len(), 0) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                Code::Unsupported,
                format!("no random bytes for an upload id: {e}"),
            ));
        }
        filled += n as usize;
    }
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parked(dir: &std::path::Path) -> ParkedBlob {
        crate::store::BlobStore::new(dir)
            .parked(crate::digest::Algorithm::Sha256)
            .unwrap()
    }

    #[tokio::test]
    async fn caps_owners_and_expiry() {
        let dir = tempfile::tempdir().unwrap();
        crate::Layout::init(dir.path()).unwrap();
        let s = Sessions::new(Caps {
            total: 3,
            per_client: 2,
            idle: Duration::from_secs(3600),
        });
        let a = Client {
            ip: [10, 0, 0, 1].into(),
            user: Some("alice".into()),
        };
        let b = Client {
            ip: [10, 0, 0, 2].into(),
            user: Some("bob".into()),
        };
        let id1 = s.open(&a, parked(dir.path())).unwrap();
        s.open(&a, parked(dir.path())).unwrap();
        let e = s.open(&a, parked(dir.path())).unwrap_err();
        assert_eq!(e.status, StatusCode::TOO_MANY_REQUESTS, "{}", e.message);
        assert!(e.message.contains("per client"), "{}", e.message);
        s.open(&b, parked(dir.path())).unwrap();
        let e = s.open(&b, parked(dir.path())).unwrap_err();
        assert!(e.message.contains("its limit"), "{}", e.message);

        // Only its owner reaches a session.
        assert!(s.get(&b, &id1).await.is_none());
        assert!(s.get(&a, &id1).await.is_some());
        assert_eq!(id1.len(), 32);
        assert!(id1.bytes().all(|c| c.is_ascii_hexdigit()));

        s.close(&id1);
        assert_eq!(s.len(), 2);
        let quick = Sessions::new(Caps {
            total: 3,
            per_client: 3,
            idle: Duration::ZERO,
        });
        quick.open(&a, parked(dir.path())).unwrap();
        quick.expire();
        assert_eq!(quick.len(), 0);
        // Expiry removed the parked file too.
        let left = std::fs::read_dir(dir.path().join(".ocilayout/uploads"))
            .unwrap()
            .count();
        assert_eq!(left, 2, "the two sessions of `s` left remain parked");
    }

    #[test]
    fn ids_do_not_repeat() {
        let ids: std::collections::HashSet<String> = (0..1000).map(|_| new_id().unwrap()).collect();
        assert_eq!(ids.len(), 1000);
    }
}
