//! What the server knows of `index.json`: a snapshot of its entries grouped by repository and tag,
//! rebuilt only when the file changes (its device, inode, size, mtime and ctime), so that another
//! process's `tag`, `pull`, `import` or `gc` shows on the next request while a large index is not
//! parsed again per request. Also how a requested repository maps to the layout's names.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs::Metadata;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::sync::{Arc, Mutex};

use oci_spec::image::Descriptor;

use crate::error::{Error, IoContext, Result};
use crate::layout::{parse_index, Layout};
use crate::reference::Reference;
use crate::resolve;

/// Identifies one version of a file: a rename, a rewrite in place or a truncation changes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FileKey {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl FileKey {
    pub(crate) fn of(m: &Metadata) -> FileKey {
        FileKey {
            dev: m.dev(),
            ino: m.ino(),
            size: m.size(),
            mtime: (m.mtime(), m.mtime_nsec()),
            ctime: (m.ctime(), m.ctime_nsec()),
        }
    }
}

/// The entries of one repository.
#[derive(Debug, Default)]
pub(crate) struct Repo {
    /// Tag → positions of the entries that carry it.
    pub tags: BTreeMap<String, Vec<usize>>,
}

/// One parse of `index.json`, grouped for lookups.
#[derive(Debug, Default)]
pub(crate) struct Snapshot {
    /// The entries, in file order.
    pub entries: Vec<Descriptor>,
    /// Canonical repository (`docker.io/library/alpine`) → its entries.
    pub repos: HashMap<String, Repo>,
    /// Entries named by a bare tag only (umoci, skopeo `oci:dir:tag`, oras): served under the
    /// default repository.
    pub bare: BTreeMap<String, Vec<usize>>,
    /// Digest → position of the first entry with it.
    pub by_digest: HashMap<String, usize>,
}

impl Snapshot {
    /// Groups the entries of an index.
    pub(crate) fn build(entries: Vec<Descriptor>) -> Snapshot {
        let mut s = Snapshot::default();
        for (i, e) in entries.iter().enumerate() {
            s.by_digest.entry(e.digest().to_string()).or_insert(i);
            let names = resolve::entry_names(e);
            match (names.name, names.tag) {
                (Some(name), tag) => {
                    let repo = s.repos.entry(name.repository()).or_default();
                    if let Some(tag) = tag.filter(|_| name.digest().is_none()) {
                        repo.tags.entry(tag).or_default().push(i);
                    }
                }
                (None, Some(tag)) => s.bare.entry(tag).or_default().push(i),
                (None, None) => {}
            }
        }
        s.entries = entries;
        s
    }

    /// The tags of a repository, sorted; `None` when the repository is unknown.
    pub(crate) fn tags(&self, repo: &RepoName) -> Option<Vec<String>> {
        let named = self.repos.get(&repo.canonical);
        let bare = repo.is_default.then_some(&self.bare);
        if named.is_none() && bare.is_none_or(|b| b.is_empty()) {
            return None;
        }
        let mut tags: BTreeSet<&String> = BTreeSet::new();
        tags.extend(named.iter().flat_map(|r| r.tags.keys()));
        tags.extend(bare.iter().flat_map(|b| b.keys()));
        Some(tags.into_iter().cloned().collect())
    }

    /// The one entry a tag of a repository names. Several entries with different digests are an
    /// error listing each, never a silent pick.
    pub(crate) fn lookup(
        &self,
        repo: &RepoName,
        tag: &str,
    ) -> std::result::Result<&Descriptor, Lookup> {
        let mut hits: Vec<usize> = Vec::new();
        let named = self.repos.get(&repo.canonical);
        if let Some(r) = named {
            hits.extend(r.tags.get(tag).into_iter().flatten());
        }
        if repo.is_default {
            hits.extend(self.bare.get(tag).into_iter().flatten());
        }
        let Some(&first) = hits.first() else {
            let known = named.is_some() || (repo.is_default && !self.bare.is_empty());
            return Err(if known { Lookup::NoTag } else { Lookup::NoRepo });
        };
        let digests: BTreeSet<&str> = hits
            .iter()
            .map(|&i| self.entries[i].digest().as_ref())
            .collect();
        if digests.len() > 1 {
            let mut candidates: Vec<String> = hits
                .iter()
                .map(|&i| {
                    let e = &self.entries[i];
                    format!("{} ({})", resolve::display_name(e), e.digest())
                })
                .collect();
            candidates.sort();
            candidates.dedup();
            return Err(Lookup::Ambiguous(candidates));
        }
        Ok(&self.entries[first])
    }

    /// Every repository, as a client asks for it (see [`client_name`]); the default repository
    /// when bare-tag entries exist. Only valid repository names: one no client could ask for
    /// (an uppercase host) is left out. Sorted.
    pub(crate) fn repositories(&self, default: Option<&RepoName>) -> Vec<String> {
        let mut out: BTreeSet<String> = self.repos.keys().map(|r| client_name(r)).collect();
        if let Some(d) = default.filter(|_| !self.bare.is_empty()) {
            out.insert(client_name(&d.canonical));
        }
        out.into_iter().filter(|n| is_valid_repository(n)).collect()
    }
}

/// Why a tag lookup found nothing to serve.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Lookup {
    /// The repository has no entry at all.
    NoRepo,
    /// The repository exists, the tag does not.
    NoTag,
    /// Entries with different digests carry the name.
    Ambiguous(Vec<String>),
}

/// A repository named in a request, mapped to the layout's naming.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RepoName {
    /// The canonical repository, such as `docker.io/library/alpine`.
    pub canonical: String,
    /// Whether it is the `--default-repo`, which also serves the bare-tag entries.
    pub is_default: bool,
}

/// Maps a requested repository, and containerd's `ns` query parameter when it acts as a mirror, to
/// a canonical repository: `alpine` and `library/alpine` are `docker.io/library/alpine`,
/// `ghcr.io/org/app` keeps its host, `app` with `ns=ghcr.io` is `ghcr.io/app`, and
/// `myreg_5000/app` is `myreg:5000/app` (a repository name cannot hold `:`; see [`client_name`]).
pub(crate) fn repo_name(
    requested: &str,
    ns: Option<&str>,
    default: Option<&str>,
) -> Result<RepoName> {
    let full = match ns.filter(|n| !n.is_empty()) {
        Some(ns) => format!("{ns}/{requested}"),
        None => match requested.split_once('/') {
            Some((first, rest)) => match port_mapped(first) {
                Some((host, port)) => format!("{host}:{port}/{rest}"),
                None => requested.to_string(),
            },
            None => requested.to_string(),
        },
    };
    let r = Reference::parse_without_default_tag(&full)?;
    if r.tag().is_some() || r.digest().is_some() {
        return Err(Error::InvalidReference {
            input: full,
            reason: "a repository name has neither tag nor digest".into(),
        });
    }
    let canonical = r.repository();
    let is_default = default == Some(canonical.as_str());
    Ok(RepoName {
        canonical,
        is_default,
    })
}

/// A first path component `HOST_PORT` (`myreg_5000`, `10.0.0.1_5000`): the registry `HOST:PORT`.
fn port_mapped(first: &str) -> Option<(&str, &str)> {
    let (host, port) = first.rsplit_once('_')?;
    let host_ok = !host.is_empty()
        && host
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'.' || c == b'-');
    let port_ok = (1..=5).contains(&port.len()) && port.bytes().all(|c| c.is_ascii_digit());
    (host_ok && port_ok).then_some((host, port))
}

/// The canonical repository of a `--default-repo` argument.
pub(crate) fn default_repo(name: &str) -> Result<String> {
    Ok(repo_name(name, None, None)?.canonical)
}

/// How a client asks for a canonical repository, a valid repository name of the distribution API
/// (which allows no `:`): Docker Hub names without `docker.io/`, other registries with their host,
/// and a registry with a port with `_` for its `:` (`myreg:5000/app` is `myreg_5000/app`), the path
/// prefix a registries.conf mirror `location` names. A Docker Hub repository whose first component
/// reads as such a prefix keeps its `docker.io/`, so that each name maps back to itself.
pub(crate) fn client_name(canonical: &str) -> String {
    let Some((domain, path)) = canonical.split_once('/') else {
        return canonical.to_string();
    };
    if domain == "docker.io" {
        let first = path.split('/').next().unwrap_or(path);
        if port_mapped(first).is_none() {
            return path.to_string();
        }
        return canonical.to_string();
    }
    match domain.rsplit_once(':') {
        Some((host, port)) => format!("{host}_{port}/{path}"),
        None => canonical.to_string(),
    }
}

/// Whether `name` is a repository name of the distribution API: `/`-separated components of
/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`. Clients refuse any other, so `_catalog` lists no other.
pub(crate) fn is_valid_repository(name: &str) -> bool {
    name.split('/').all(|c| {
        let b = c.as_bytes();
        let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
        if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
            return false;
        }
        // Between alphanumeric runs: one `.`, one or two `_`, or any number of `-`.
        let mut i = 0;
        while i < b.len() {
            if alnum(b[i]) {
                i += 1;
                continue;
            }
            let start = i;
            while i < b.len() && !alnum(b[i]) {
                i += 1;
            }
            let sep = &c[start..i];
            let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|x| x == b'-');
            if !ok {
                return false;
            }
        }
        true
    })
}

/// The current snapshot of a layout's `index.json`, reparsed only when the file changed.
pub(crate) struct Catalog {
    layout: Layout,
    current: Mutex<Option<(FileKey, Arc<Snapshot>)>>,
    /// Held while parsing, so that requests arriving together after a change parse once.
    reloading: Mutex<()>,
}

impl Catalog {
    pub(crate) fn new(layout: Layout) -> Catalog {
        Catalog {
            layout,
            current: Mutex::new(None),
            reloading: Mutex::new(()),
        }
    }

    /// The snapshot for `index.json` as it is now: one `stat` when nothing changed. The file is
    /// opened once and its key taken from that open file, so the key always describes the bytes
    /// that were parsed, whatever renames race with it.
    pub(crate) fn snapshot(&self) -> Result<Arc<Snapshot>> {
        if let Some(s) = self.fresh()? {
            return Ok(s);
        }
        self.reload()
    }

    /// The snapshot if `index.json` has not changed since it was taken (one `stat`, cheap enough for
    /// an async worker); `None` when it must be reloaded.
    pub(crate) fn fresh(&self) -> Result<Option<Arc<Snapshot>>> {
        let path = self.layout.root().join("index.json");
        let key = FileKey::of(&std::fs::metadata(&path).at(&path)?);
        Ok(self
            .lock()
            .as_ref()
            .filter(|(k, _)| *k == key)
            .map(|(_, s)| s.clone()))
    }

    /// Parses `index.json` again (blocking: seconds for a very large index).
    pub(crate) fn reload(&self) -> Result<Arc<Snapshot>> {
        let _one = self.reloading.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(s) = self.fresh()? {
            return Ok(s);
        }
        let path = self.layout.root().join("index.json");
        let mut file = crate::file::open(&path, crate::file::Links::Follow)?;
        let key = FileKey::of(&file.metadata().at(&path)?);
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).at(&path)?;
        let index = parse_index(&bytes, &path)?;
        let snapshot = Arc::new(Snapshot::build(index.manifests().clone()));
        *self.lock() = Some((key, snapshot.clone()));
        Ok(snapshot)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<(FileKey, Arc<Snapshot>)>> {
        // A panic while the lock was held left nothing half-written (the value is replaced whole).
        self.current.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resolve::{CONTAINERD_NAME, REF_NAME};
    use oci_spec::image::MediaType;

    fn entry(seed: &[u8], annotations: &[(&str, &str)]) -> Descriptor {
        let mut d = Descriptor::new(MediaType::ImageManifest, 1, crate::digest::sha256(seed));
        d.set_annotations(Some(
            annotations
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        ));
        d
    }

    #[test]
    fn names_map_the_way_clients_ask() {
        let cases: &[(&str, Option<&str>, &str)] = &[
            ("alpine", None, "docker.io/library/alpine"),
            ("library/alpine", None, "docker.io/library/alpine"),
            ("alpine", Some("docker.io"), "docker.io/library/alpine"),
            (
                "library/alpine",
                Some("index.docker.io"),
                "docker.io/library/alpine",
            ),
            ("ghcr.io/org/app", None, "ghcr.io/org/app"),
            ("org/app", Some("ghcr.io"), "ghcr.io/org/app"),
            ("app", Some("localhost:5000"), "localhost:5000/app"),
            ("myreg_5000/app", None, "myreg:5000/app"),
            ("10.0.0.1_5000/a/b", None, "10.0.0.1:5000/a/b"),
            ("docker.io/user_2/app", None, "docker.io/user_2/app"),
            ("user_x/app", None, "docker.io/user_x/app"),
        ];
        for (r, ns, want) in cases {
            assert_eq!(
                repo_name(r, *ns, None).unwrap().canonical,
                *want,
                "{r} {ns:?}"
            );
        }
        for bad in ["Alpine", "a:b", "a@sha256:00", "a//b", ""] {
            assert!(repo_name(bad, None, None).is_err(), "{bad}");
        }
        let d = default_repo("bundle").unwrap();
        assert!(
            repo_name("library/bundle", None, Some(&d))
                .unwrap()
                .is_default
        );
    }

    /// Every canonical repository maps to a valid repository name that maps back to it.
    #[test]
    fn client_names_are_valid_and_map_back() {
        let cases: &[(&str, &str)] = &[
            ("docker.io/library/alpine", "library/alpine"),
            ("ghcr.io/org/app", "ghcr.io/org/app"),
            ("myreg:5000/app", "myreg_5000/app"),
            ("localhost:5000/a/b", "localhost_5000/a/b"),
            ("10.1.2.3:443/x", "10.1.2.3_443/x"),
            ("docker.io/user_2/app", "docker.io/user_2/app"),
            ("docker.io/a__b/c", "a__b/c"),
        ];
        for (canonical, client) in cases {
            assert_eq!(client_name(canonical), *client, "{canonical}");
            assert!(is_valid_repository(client), "{client}");
            assert_eq!(repo_name(client, None, None).unwrap().canonical, *canonical);
        }
        for bad in [
            "MyReg_5000/x",
            "a:5000/x",
            "a//b",
            "-a",
            "a.",
            "a___b",
            "a..b",
            "",
        ] {
            assert!(!is_valid_repository(bad), "{bad}");
        }
        for good in ["a", "a-b", "a--b", "a__b", "a.b/c_d", "0"] {
            assert!(is_valid_repository(good), "{good}");
        }
    }

    #[test]
    fn lookups_group_by_repository_and_refuse_ambiguity() {
        let s = Snapshot::build(vec![
            entry(
                b"a",
                &[
                    (CONTAINERD_NAME, "docker.io/library/alpine:3.16"),
                    (REF_NAME, "3.16"),
                ],
            ),
            entry(b"b", &[(REF_NAME, "ghcr.io/org/app:v1")]),
            entry(b"c", &[(REF_NAME, "v1")]),
            entry(b"d", &[(REF_NAME, "alpine:edge")]),
            entry(b"e", &[(CONTAINERD_NAME, "alpine:edge")]),
        ]);
        let alpine = repo_name("alpine", None, None).unwrap();
        assert_eq!(
            s.lookup(&alpine, "3.16").unwrap().digest(),
            &crate::digest::sha256(b"a")
        );
        assert_eq!(s.lookup(&alpine, "nope").unwrap_err(), Lookup::NoTag);
        assert!(matches!(s.lookup(&alpine, "edge"), Err(Lookup::Ambiguous(c)) if c.len() == 2));
        let app = repo_name("org/app", Some("ghcr.io"), None).unwrap();
        assert_eq!(s.tags(&app).unwrap(), vec!["v1"]);
        let other = repo_name("other", None, None).unwrap();
        assert_eq!(s.lookup(&other, "v1").unwrap_err(), Lookup::NoRepo);
        assert_eq!(s.tags(&other), None);
        let d = default_repo("bundle").unwrap();
        let bundle = repo_name("bundle", None, Some(&d)).unwrap();
        assert_eq!(
            s.lookup(&bundle, "v1").unwrap().digest(),
            &crate::digest::sha256(b"c")
        );
        assert_eq!(
            s.repositories(Some(&bundle)),
            vec!["ghcr.io/org/app", "library/alpine", "library/bundle"]
        );
        assert_eq!(s.repositories(None).len(), 2);
    }
}
