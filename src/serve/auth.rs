//! Basic authentication against an htpasswd file with bcrypt entries, as docker-registry reads them
//! (`user:$2y$...`; other hash kinds are refused when the file is loaded, not silently never matched).

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Mutex;

use base64::Engine;

use crate::digest;
use crate::error::{Error, IoContext, Result};

/// The users of an htpasswd file.
pub(crate) struct Htpasswd {
    users: HashMap<String, String>,
    /// Digests of `user:password` pairs already checked good: bcrypt is slow on purpose, and a client
    /// sends the same credentials with every request.
    good: Mutex<HashSet<String>>,
}

impl Htpasswd {
    /// Reads an htpasswd file. Blank lines and `#` comments are skipped.
    pub(crate) fn load(path: &Path) -> Result<Htpasswd> {
        let text = std::fs::read_to_string(path).at(path)?;
        let mut users = HashMap::new();
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
            users.insert(user.to_string(), hash.to_string());
        }
        if users.is_empty() {
            return Err(Error::BadFile {
                path: path.to_path_buf(),
                line: None,
                reason: "no users".into(),
            });
        }
        Ok(Htpasswd {
            users,
            good: Mutex::new(HashSet::new()),
        })
    }

    /// Whether an `Authorization` header carries the Basic credentials of a user of the file.
    pub(crate) fn allows(&self, authorization: Option<&str>) -> bool {
        let Some(b64) = authorization.and_then(|h| {
            let (scheme, rest) = h.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("basic").then_some(rest.trim())
        }) else {
            return false;
        };
        let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(b64) else {
            return false;
        };
        let key = digest::sha256(&raw).to_string();
        if self
            .good
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(&key)
        {
            return true;
        }
        let Ok(text) = std::str::from_utf8(&raw) else {
            return false;
        };
        let Some((user, password)) = text.split_once(':') else {
            return false;
        };
        let Some(hash) = self.users.get(user) else {
            return false;
        };
        let ok = bcrypt::verify(password, hash).unwrap_or(false);
        if ok {
            let mut good = self.good.lock().unwrap_or_else(|e| e.into_inner());
            if good.len() > 10_000 {
                good.clear();
            }
            good.insert(key);
        }
        ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bcrypt_entries_gate_basic_auth() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("htpasswd");
        let hash = bcrypt::hash("s3cret", 4)
            .unwrap()
            .replacen("$2b$", "$2y$", 1);
        std::fs::write(&path, format!("# users\nalice:{hash}\n")).unwrap();
        let h = Htpasswd::load(&path).unwrap();
        let basic = |s: &str| {
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(s)
            )
        };
        assert!(h.allows(Some(&basic("alice:s3cret"))));
        assert!(h.allows(Some(&basic("alice:s3cret")))); // from the memo
        for bad in ["alice:wrong", "bob:s3cret", "alice", ""] {
            assert!(!h.allows(Some(&basic(bad))), "{bad}");
        }
        assert!(!h.allows(None));
        assert!(!h.allows(Some("Bearer x")));

        std::fs::write(&path, "alice:{SHA}abc\n").unwrap();
        let err = Htpasswd::load(&path).err().unwrap().to_string();
        assert!(err.contains(":1: only bcrypt"), "{err}");
    }
}
