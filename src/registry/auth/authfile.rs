//! Writing a containers `auth.json`, as `skopeo login` and `podman login` do: where they write it
//! (see [`CredentialSources::login_file`]), one `auths` entry per registry holding
//! `{"auth": base64("user:password")}`, every other entry and every field we do not know kept as it
//! was, the file replaced whole (a temporary file beside it, fsync, rename, fsync of the directory)
//! and readable by its owner only (mode 0600).
//!
//! [`CredentialSources::login_file`]: super::CredentialSources::login_file

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde_json::{Map, Value};

use super::credentials::normalize_host;
use crate::error::{Error, IoContext, Result};

/// The key of `registry` in `auths`: what the user typed without a scheme or a trailing `/`
/// (`host:5000`, `quay.io/org`), as `podman login` writes it.
pub fn auth_key(registry: &str) -> String {
    registry
        .trim_start_matches("docker://")
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string()
}

/// Saves `username` and `password` for `registry` in the auth file at `path`, creating the file
/// (and its directory) when needed. An entry for the same registry under another spelling of its
/// key (`https://host/`, `index.docker.io` for `docker.io`) is replaced too.
pub fn save(path: &Path, registry: &str, username: &str, password: &str) -> Result<()> {
    let key = auth_key(registry);
    let mut doc = read(path)?;
    let auths = auths_mut(&mut doc, path)?;
    auths.retain(|k, _| normalize_host(k) != normalize_host(&key));
    let secret = base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
    let mut entry = Map::new();
    entry.insert("auth".into(), Value::String(secret));
    auths.insert(key, Value::Object(entry));
    write(path, &doc)
}

/// Removes the entry of `registry` (under any spelling of its key) from the auth file at `path`;
/// whether there was one. A missing file has none.
pub fn remove(path: &Path, registry: &str) -> Result<bool> {
    if !exists(path)? {
        return Ok(false);
    }
    let key = auth_key(registry);
    let mut doc = read(path)?;
    let auths = auths_mut(&mut doc, path)?;
    let before = auths.len();
    auths.retain(|k, _| normalize_host(k) != normalize_host(&key));
    if auths.len() == before {
        return Ok(false);
    }
    write(path, &doc)?;
    Ok(true)
}

/// Removes every `auths` entry from the auth file at `path` (credential helpers and other fields
/// stay); how many there were.
pub fn remove_all(path: &Path) -> Result<usize> {
    if !exists(path)? {
        return Ok(0);
    }
    let mut doc = read(path)?;
    let auths = auths_mut(&mut doc, path)?;
    let n = auths.len();
    auths.clear();
    write(path, &doc)?;
    Ok(n)
}

fn exists(path: &Path) -> Result<bool> {
    match fs::metadata(path) {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(Error::io(path, e)),
    }
}

/// The file as a JSON object; an empty one when it does not exist or is empty.
fn read(path: &Path) -> Result<Value> {
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(Error::io(path, e)),
    };
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Map::new()));
    }
    // serde_json's messages can quote a value, which may be a secret: the position only.
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(_) => Err(malformed(path, "not a JSON object".into())),
        Err(e) => Err(malformed(
            path,
            format!("not valid JSON (line {}, column {})", e.line(), e.column()),
        )),
    }
}

fn malformed(path: &Path, why: String) -> Error {
    Error::Malformed {
        what: path.display().to_string(),
        reason: format!("cannot update this auth file: {why}"),
    }
}

/// The `auths` object of the document, created when missing.
fn auths_mut<'a>(doc: &'a mut Value, path: &Path) -> Result<&'a mut Map<String, Value>> {
    let Value::Object(top) = doc else {
        return Err(malformed(path, "not a JSON object".into()));
    };
    match top
        .entry("auths")
        .or_insert_with(|| Value::Object(Map::new()))
    {
        Value::Object(auths) => Ok(auths),
        _ => Err(malformed(path, "\"auths\" is not an object".into())),
    }
}

/// Where to write: the file itself, or what it links to (a dotfile manager's link stays a link).
fn target(path: &Path) -> Result<PathBuf> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => fs::canonicalize(path).at(path),
        Ok(m) if !m.is_file() => Err(Error::Unsafe {
            path: path.to_path_buf(),
            reason: "is not a regular file".into(),
        }),
        _ => Ok(path.to_path_buf()),
    }
}

/// Replaces the file with `doc`: a temporary file of mode 0600 in the same directory, fsync,
/// rename, fsync of the directory. A directory that does not exist is created (mode 0700).
fn write(path: &Path, doc: &Value) -> Result<()> {
    let path = target(path)?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    create_private_dir(&dir)?;
    let mut bytes = serde_json::to_vec_pretty(doc).map_err(|e| Error::Malformed {
        what: path.display().to_string(),
        reason: e.to_string(),
    })?;
    bytes.push(b'\n');
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "auth.json".into());
    let (mut file, tmp) = private_temp(&dir, &name)?;
    let written = file
        .write_all(&bytes)
        .and_then(|()| file.sync_all())
        .and_then(|()| fs::rename(&tmp, &path));
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(Error::io(&path, e));
    }
    File::open(&dir).and_then(|d| d.sync_all()).at(&dir)
}

fn create_private_dir(dir: &Path) -> Result<()> {
    let mut b = fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(dir).at(dir)
}

/// A new file `.NAME.tmp-<pid>-<n>` in `dir`, readable and writable by its owner only.
fn private_temp(dir: &Path, name: &str) -> Result<(File, PathBuf)> {
    for n in 0u32.. {
        let tmp = dir.join(format!(".{name}.tmp-{}-{n}", std::process::id()));
        let mut o = OpenOptions::new();
        o.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
        match o.open(&tmp) {
            Ok(f) => return Ok((f, tmp)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(Error::io(tmp, e)),
        }
    }
    Err(Error::io(dir, io::ErrorKind::AlreadyExists.into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::auth::{Credential, CredentialSources};

    fn lookup(path: &Path, registry: &str) -> Option<Credential> {
        let sources = CredentialSources {
            auth_file: Some(path.to_path_buf()),
            ..Default::default()
        };
        sources.lookup(registry, None).unwrap()
    }

    fn basic(u: &str, p: &str) -> Option<Credential> {
        Some(Credential::Basic {
            username: u.into(),
            password: p.into(),
        })
    }

    /// Saving keeps every other entry and every unknown field; the lookup reads back what was
    /// saved; other spellings of the same registry are replaced; logout removes only its entry.
    #[test]
    fn save_and_remove_keep_what_is_not_theirs() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("containers/auth.json");
        save(&path, "host:5000", "alice", "pa:ss wörd").unwrap();
        assert_eq!(lookup(&path, "host:5000"), basic("alice", "pa:ss wörd"));

        let original = serde_json::json!({
            "auths": {
                "quay.io": {"auth": "dTpw", "email": "kept@example.com"},
                "https://host:5000/": {"auth": "b2xkOm9sZA=="}
            },
            "credHelpers": {"gcr.io": "gcloud"},
            "unknownField": [1, 2, 3]
        });
        fs::write(&path, serde_json::to_vec(&original).unwrap()).unwrap();
        save(&path, "https://host:5000", "bob", "secret").unwrap();
        let doc: Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
        assert_eq!(doc["auths"]["quay.io"], original["auths"]["quay.io"]);
        assert_eq!(doc["credHelpers"], original["credHelpers"]);
        assert_eq!(doc["unknownField"], original["unknownField"]);
        assert!(doc["auths"].get("https://host:5000/").is_none(), "{doc}");
        assert_eq!(lookup(&path, "host:5000"), basic("bob", "secret"));

        assert!(remove(&path, "host:5000").unwrap());
        assert!(!remove(&path, "host:5000").unwrap());
        let doc: Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
        assert_eq!(doc["auths"]["quay.io"], original["auths"]["quay.io"]);
        assert_eq!(lookup(&path, "host:5000"), None);

        assert_eq!(remove_all(&path).unwrap(), 1);
        let doc: Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
        assert_eq!(doc["auths"], serde_json::json!({}));
        assert_eq!(doc["credHelpers"], original["credHelpers"]);
        // No temporary file is left beside it.
        let names: Vec<_> = fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["auth.json"]);
    }

    #[cfg(unix)]
    #[test]
    fn the_file_is_private_and_a_link_stays_a_link() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.json");
        fs::write(&real, b"{}").unwrap();
        fs::set_permissions(&real, fs::Permissions::from_mode(0o644)).unwrap();
        let link = dir.path().join("auth.json");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        save(&link, "h", "u", "p").unwrap();
        assert!(fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(lookup(&real, "h"), basic("u", "p"));
        let mode = fs::metadata(&real).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    /// A file that is not an auth file is refused, not overwritten, and the message holds no
    /// secret from it.
    #[test]
    fn a_file_that_is_not_an_auth_file_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("auth.json");
        for bad in [
            &b"[1]"[..],
            b"{\"auths\": 3}",
            b"{\"auths\": {\"h\": \"SECRET",
        ] {
            fs::write(&path, bad).unwrap();
            let err = save(&path, "h", "u", "p").unwrap_err().to_string();
            assert!(err.contains("cannot update this auth file"), "{err}");
            assert!(!err.contains("SECRET"), "{err}");
            assert_eq!(fs::read(&path).unwrap(), bad);
        }
    }
}
