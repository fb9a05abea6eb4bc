//! Creating a layout, the one case where a directory without an `oci-layout` file is taken over, and
//! the undo of a layout created by an operation that was then refused.
//!
//! Our `init` writes, in this order: the directory, `.ocilayout/` (the mark that says "ours"),
//! `blobs/sha256/`, `index.json` (exactly [`EMPTY_INDEX_JSON`]), and `oci-layout` last. A directory
//! without `oci-layout` is taken over only when it is empty, or when it is recognisably such an
//! interrupted init: it holds `.ocilayout/` (a real directory), nothing but `.ocilayout`, `blobs` and
//! `index.json`, `blobs/` holds at most an empty `sha256/`, and `index.json`, if there, is
//! byte-for-byte what init writes. Anything else (another program's `index.json`, a layout that lost
//! only its `oci-layout` file, blobs) is refused, naming what is missing, and left untouched.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::{atomic_write, Layout, OCI_LAYOUT_CONTENT};
use crate::digest;
use crate::error::{Error, IoContext, Result};
use crate::file::{self, Links};
use crate::store::{self, BlobStore, STATE_DIR, TMP_DIR};

/// `index.json` as our `init` writes it, byte for byte: how an interrupted init of ours is recognised.
pub(crate) const EMPTY_INDEX_JSON: &str =
    "{\"manifests\":[],\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"schemaVersion\":2}\n";

/// What [`Layout::init_tracked`] created, so that a refused import or pull can remove it again.
#[derive(Debug)]
#[must_use = "call `undo` when the operation that created the layout fails"]
pub struct Created {
    made: Option<Made>,
    /// The folders above the layout this call created (a new nested path), outermost first.
    parents: Vec<PathBuf>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Made {
    /// The directory itself did not exist.
    Dir,
    /// The directory existed, empty (or holding our own interrupted init).
    Content,
}

impl Layout {
    /// Creates a layout at `path`, or opens the one already there (idempotent). A directory without
    /// an `oci-layout` file is refused unless it is empty or an interrupted init of ours.
    pub fn init(path: impl AsRef<Path>) -> Result<Layout> {
        Self::init_tracked(path).map(|(layout, _)| layout)
    }

    /// As [`Layout::init`], and says what it created: [`Created::undo`] removes it again when the
    /// operation that wanted the layout fails and nobody has named anything in it since.
    pub fn init_tracked(path: impl AsRef<Path>) -> Result<(Layout, Created)> {
        let root = path.as_ref();
        let layout = Layout {
            root: root.to_path_buf(),
            blobs: BlobStore::new(root),
        };
        if exists(&root.join("oci-layout"))? {
            return open_existing(root).map(|l| (l, Created::nothing()));
        }
        let mut created = Created::nothing();
        match fs::metadata(root) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                if let Some(parent) = root.parent().filter(|p| !p.as_os_str().is_empty()) {
                    created.parents = create_parents(parent)?;
                }
                match fs::create_dir(root) {
                    Ok(()) => created.made = Some(Made::Dir),
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                    Err(e) => {
                        created.undo(&layout);
                        return Err(Error::io(root, e));
                    }
                }
            }
            Err(e) => return Err(Error::io(root, e)),
            Ok(m) if !m.is_dir() => {
                return Err(Error::NotALayout {
                    path: root.to_path_buf(),
                    reason: "not a directory".into(),
                })
            }
            Ok(_) => {}
        }
        match init_content(&layout, &mut created) {
            Ok(Some(existing)) => Ok((existing, Created::nothing())),
            Ok(None) => Ok((layout, created)),
            Err(e) => {
                // What this call made (folders included) goes again; what it found stays.
                created.undo(&layout);
                Err(e)
            }
        }
    }
}

/// Writes a new layout's content into the directory `layout.root()`, which exists. `Some` when
/// another init finished first: the layout is its, never ours to undo.
fn init_content(layout: &Layout, created: &mut Created) -> Result<Option<Layout>> {
    let root = layout.root();
    if takeover(root)? == Found::Empty && created.made.is_none() {
        created.made = Some(Made::Content);
    }
    // The mark first: from here on, what is in the directory is recognisably ours.
    store::ensure_dir(root, STATE_DIR)?;
    let _guard = layout.lock_index()?;
    if exists(&root.join("oci-layout"))? {
        return open_existing(root).map(Some);
    }
    takeover(root)?;
    store::ensure_dir(root, "blobs/sha256")?;
    if !exists(&root.join("index.json"))? {
        atomic_write(root, "index.json", EMPTY_INDEX_JSON.as_bytes())?;
    }
    // oci-layout last: a directory with it is a complete layout.
    atomic_write(root, "oci-layout", OCI_LAYOUT_CONTENT.as_bytes())?;
    Ok(None)
}

/// Creates the missing folders of `dir`, outermost first, and returns those this call created: a
/// folder another process creates meanwhile is not ours. On failure, what it created is removed.
fn create_parents(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut missing = Vec::new();
    let mut at = dir;
    loop {
        match fs::symlink_metadata(at) {
            Ok(_) => break,
            Err(e) if e.kind() == io::ErrorKind::NotFound => missing.push(at.to_path_buf()),
            Err(e) => return Err(Error::io(at, e)),
        }
        match at.parent() {
            Some(p) if !p.as_os_str().is_empty() => at = p,
            _ => break,
        }
    }
    let mut made = Vec::new();
    for dir in missing.into_iter().rev() {
        match fs::create_dir(&dir) {
            Ok(()) => made.push(dir),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => {
                remove_parents(&made);
                return Err(Error::io(dir, e));
            }
        }
    }
    Ok(made)
}

/// Removes folders `create_parents` made, innermost first, each only while it is empty (`rmdir`):
/// the first that holds anything (another process's work) stops it, and everything above stays.
fn remove_parents(made: &[PathBuf]) {
    for dir in made.iter().rev() {
        if fs::remove_dir(dir).is_err() {
            return;
        }
    }
}

/// Opens a directory that has an `oci-layout` file, completing what a layout needs to be written to.
fn open_existing(root: &Path) -> Result<Layout> {
    let layout = Layout::open(root)?;
    if !exists(&root.join("index.json"))? {
        let _guard = layout.lock_index()?;
        if !exists(&root.join("index.json"))? {
            atomic_write(root, "index.json", EMPTY_INDEX_JSON.as_bytes())?;
        }
    }
    store::ensure_dir(root, "blobs/sha256")?;
    Ok(layout)
}

impl Created {
    fn nothing() -> Created {
        Created {
            made: None,
            parents: Vec::new(),
        }
    }

    /// Whether the layout (or the directory holding it) was created by this call.
    pub fn is_new(&self) -> bool {
        self.made.is_some()
    }

    /// Removes the layout created by [`Layout::init_tracked`], the directory when that made it, and
    /// the folders above it that it made for a new nested path, but only while nothing is named in
    /// it: under both exclusive locks (no writer of ours is between storing a blob and naming it),
    /// `index.json` and `oci-layout` must still be exactly what init wrote. Otherwise, or when
    /// anything not ours is found, it is left as it is. Each file is removed by name and each
    /// directory with `rmdir`, so nothing another process put there goes. Best effort: failures are
    /// not reported (leftovers are harmless, a loss is not).
    pub fn undo(self, layout: &Layout) {
        let Some(made) = self.made else {
            // Only the folders above, when making the directory itself failed.
            remove_parents(&self.parents);
            return;
        };
        let root = layout.root();
        let Ok(_writers) = layout.lock_writers_exclusive() else {
            return;
        };
        let Ok(_index) = layout.lock_index() else {
            return;
        };
        if !holds(&root.join("index.json"), EMPTY_INDEX_JSON)
            || !holds(&root.join("oci-layout"), OCI_LAYOUT_CONTENT)
        {
            return;
        }
        // Blobs stored but never named: this operation's, or a crashed writer's.
        for alg in [digest::Algorithm::Sha256, digest::Algorithm::Sha512] {
            let rel = format!("blobs/{}", alg.as_str());
            let Ok(Some(dir)) = store::existing_dir(root, &rel) else {
                continue;
            };
            let Ok(entries) = fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let name = entry.file_name();
                let is_blob = name
                    .to_str()
                    .is_some_and(|n| digest::parse(&format!("{}:{n}", alg.as_str())).is_ok());
                if is_blob && entry.file_type().is_ok_and(|t| t.is_file()) {
                    let _ = fs::remove_file(entry.path());
                }
            }
        }
        // oci-layout first: from then on the directory is no longer a layout anyone opens.
        let _ = fs::remove_file(root.join("oci-layout"));
        let _ = fs::remove_file(root.join("index.json"));
        for rel in ["blobs/sha256", "blobs/sha512", "blobs"] {
            let _ = fs::remove_dir(root.join(rel));
        }
        let _ = layout.blobs().clear_temp_files();
        let _ = fs::remove_dir(root.join(TMP_DIR));
        let state = root.join(STATE_DIR);
        for lock in ["index.lock", "writers.lock"] {
            let path = state.join(lock);
            if fs::symlink_metadata(&path).is_ok_and(|m| m.is_file()) {
                let _ = fs::remove_file(path);
            }
        }
        let _ = fs::remove_dir(&state);
        if made == Made::Dir && fs::remove_dir(root).is_ok() {
            remove_parents(&self.parents);
        }
    }
}

/// Whether `path` is a regular file (not a link) holding exactly `content`; a missing file counts.
fn holds(path: &Path, content: &str) -> bool {
    match fs::symlink_metadata(path) {
        Err(e) => e.kind() == io::ErrorKind::NotFound,
        Ok(m) if !m.is_file() || m.len() != content.len() as u64 => false,
        Ok(_) => file::read(path, Links::Refuse).is_ok_and(|b| b == content.as_bytes()),
    }
}

fn exists(path: &Path) -> Result<bool> {
    match fs::symlink_metadata(path) {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(Error::io(path, e)),
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Found {
    Empty,
    OurInit,
}

/// Whether a directory without `oci-layout` may be taken over: empty, or an interrupted init of
/// ours (see the module documentation); anything else is refused, naming what is missing.
fn takeover(root: &Path) -> Result<Found> {
    let mut ours: Vec<String> = Vec::new();
    let mut foreign: Vec<String> = Vec::new();
    for entry in fs::read_dir(root).at(root)? {
        let entry = entry.at(root)?;
        let name = entry.file_name().to_string_lossy().into_owned();
        match name.as_str() {
            STATE_DIR | "blobs" | "index.json" => ours.push(name),
            _ => foreign.push(name),
        }
    }
    if ours.is_empty() && foreign.is_empty() {
        return Ok(Found::Empty);
    }
    let refuse = |why: String| {
        Err(Error::NotALayout {
            path: root.to_path_buf(),
            reason: format!("no oci-layout file, and {why}; refusing to write into it"),
        })
    };
    if !foreign.is_empty() {
        foreign.sort();
        let shown: Vec<String> = foreign
            .iter()
            .take(3)
            .map(|n| crate::error::quoted(n))
            .collect();
        let more = if foreign.len() > 3 { ", ..." } else { "" };
        return refuse(format!(
            "the directory is not empty (it holds {}{more})",
            shown.join(", ")
        ));
    }
    if !ours.iter().any(|n| n == STATE_DIR) {
        ours.sort();
        return refuse(format!(
            "it holds {} that our init did not write (a layout missing its oci-layout file, or \
             another program's)",
            ours.join(" and ")
        ));
    }
    if store::existing_dir(root, STATE_DIR)?.is_none() {
        return refuse(format!("{STATE_DIR} vanished"));
    }
    let index = root.join("index.json");
    if exists(&index)? && !holds(&index, EMPTY_INDEX_JSON) {
        return refuse(
            "its index.json is not the empty index our init writes (a layout missing its \
             oci-layout file, or another program's)"
                .into(),
        );
    }
    if let Some(blobs) = store::existing_dir(root, "blobs")? {
        for entry in fs::read_dir(&blobs).at(&blobs)? {
            let entry = entry.at(&blobs)?;
            let empty_sha256 = entry.file_name() == "sha256"
                && store::existing_dir(root, "blobs/sha256")?
                    .is_some_and(|d| fs::read_dir(d).is_ok_and(|mut e| e.next().is_none()));
            if !empty_sha256 {
                return refuse(format!(
                    "blobs/{} is there and not empty, which an interrupted init does not leave",
                    crate::error::one_line(&entry.file_name().to_string_lossy())
                ));
            }
        }
    }
    Ok(Found::OurInit)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a kill between any two steps of init leaves is taken over.
    #[test]
    fn an_interrupted_init_is_resumed() {
        let dir = tempfile::tempdir().unwrap();
        let steps: [&dyn Fn(&Path); 4] = [
            &|r| fs::create_dir(r.join(STATE_DIR)).unwrap(),
            &|r| fs::create_dir_all(r.join("blobs/sha256")).unwrap(),
            &|r| fs::create_dir_all(r.join(TMP_DIR)).unwrap(),
            &|r| fs::write(r.join("index.json"), EMPTY_INDEX_JSON).unwrap(),
        ];
        for n in 0..=steps.len() {
            let root = dir.path().join(format!("l{n}"));
            fs::create_dir(&root).unwrap();
            steps.iter().take(n).for_each(|s| s(&root));
            let (l, created) = Layout::init_tracked(&root).unwrap();
            // An empty directory is ours to undo; a half-done init may be another process's.
            assert_eq!(created.is_new(), n == 0, "{n}");
            assert_eq!(l.read_index().unwrap().manifests().len(), 0);
            assert_eq!(
                fs::read_to_string(root.join("index.json")).unwrap(),
                EMPTY_INDEX_JSON
            );
            assert!(root.join("oci-layout").is_file());
        }
    }

    /// Undo removes the folders init made above a new layout, innermost first, and stops at the
    /// first one that holds something else: another process's work in it stays, and so does the
    /// folder that was there before.
    #[test]
    fn undo_removes_only_the_empty_folders_it_made() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("a/b/c/layout");
        let (l, created) = Layout::init_tracked(&root).unwrap();
        fs::write(dir.path().join("a/theirs"), b"").unwrap();
        created.undo(&l);
        assert!(!dir.path().join("a/b").exists());
        assert!(dir.path().join("a/theirs").is_file());

        // `a` was there before this init: it stays, emptied of what this one made.
        let (l, created) = Layout::init_tracked(&root).unwrap();
        fs::remove_file(dir.path().join("a/theirs")).unwrap();
        created.undo(&l);
        assert_eq!(fs::read_dir(dir.path().join("a")).unwrap().count(), 0);
    }

    /// What init writes as index.json parses as an empty index.
    #[test]
    fn the_empty_index_is_an_index() {
        let index: oci_spec::image::ImageIndex = serde_json::from_str(EMPTY_INDEX_JSON).unwrap();
        assert!(index.manifests().is_empty());
    }
}
