//! A layout directory: `oci-layout`, `index.json` and the blob store. Creating and opening layouts,
//! reading `index.json`, and replacing it atomically under the index lock.

mod document;
mod init;
mod lock;
mod read;

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use oci_spec::image::{ImageIndex, MediaType};
use serde::Deserialize;

use crate::digest;
use crate::error::{Error, IoContext, Result};
use crate::file::{self, Links};
use crate::store::{self, BlobStore, TMP_DIR};

pub use document::{Entry, IndexDocument};
pub use init::Created;
pub use lock::LockGuard;
use lock::Mode;

/// The `oci-layout` file's content.
pub const OCI_LAYOUT_CONTENT: &str = r#"{"imageLayoutVersion":"1.0.0"}"#;

/// An open OCI image layout.
#[derive(Clone, Debug)]
pub struct Layout {
    root: PathBuf,
    blobs: BlobStore,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LayoutFile {
    image_layout_version: String,
}

impl Layout {
    /// Opens an existing layout, checking its `oci-layout` file.
    pub fn open(path: impl AsRef<Path>) -> Result<Layout> {
        let root = path.as_ref();
        let not_layout = |reason: String| Error::NotALayout {
            path: root.to_path_buf(),
            reason,
        };
        let marker = root.join("oci-layout");
        let bytes = match file::read(&marker, Links::Follow) {
            Ok(b) => b,
            // A plain file at `root` gives ENOTDIR, not ENOENT: the same clear message.
            Err(e) if file::is_not_found(&e) || !root.is_dir() => {
                let reason = if root.is_dir() {
                    "no oci-layout file".to_string()
                } else if root.exists() {
                    "not a directory".to_string()
                } else {
                    "no such directory".to_string()
                };
                return Err(not_layout(reason));
            }
            Err(e) => return Err(e),
        };
        let parsed: LayoutFile =
            serde_json::from_slice(&bytes).map_err(|e| not_layout(format!("oci-layout: {e}")))?;
        if !parsed.image_layout_version.starts_with("1.") {
            return Err(not_layout(format!(
                "unsupported imageLayoutVersion {:?}",
                parsed.image_layout_version
            )));
        }
        Ok(Layout {
            root: root.to_path_buf(),
            blobs: BlobStore::new(root),
        })
    }

    /// The layout directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The blob store.
    pub fn blobs(&self) -> &BlobStore {
        &self.blobs
    }

    fn index_path(&self) -> PathBuf {
        self.root.join("index.json")
    }

    /// Reads `index.json` (no size cap) and validates every top-level descriptor's digest.
    pub fn read_index(&self) -> Result<ImageIndex> {
        let path = self.index_path();
        let bytes = file::read(&path, Links::Follow)?;
        parse_index(&bytes, &path)
    }

    /// Reads `index.json` as a document to rewrite: every entry keeps its original JSON, every
    /// top-level key is kept (see [`IndexDocument`]).
    pub fn read_document(&self) -> Result<IndexDocument> {
        let path = self.index_path();
        let bytes = file::read(&path, Links::Follow)?;
        IndexDocument::parse(bytes, &path)
    }

    /// Reads, changes and rewrites `index.json` under the exclusive index lock. `f` returning an error
    /// leaves `index.json` untouched. Entries and keys `f` does not change are written back as they
    /// were read. Blobs the change names must already be durable.
    pub fn update_index<T>(&self, f: impl FnOnce(&mut IndexDocument) -> Result<T>) -> Result<T> {
        let lock = self.lock_index()?;
        let mut doc = lock.read_document()?;
        let out = f(&mut doc)?;
        lock.write(&doc)?;
        Ok(out)
    }

    /// Takes the exclusive index lock (every read-modify-write of `index.json` holds it). The
    /// returned [`IndexLock`] is the only way to replace `index.json`; dropping it releases the lock.
    pub fn lock_index(&self) -> Result<IndexLock<'_>> {
        Ok(IndexLock {
            layout: self,
            _guard: lock::acquire(&self.root, "index.lock", Mode::Exclusive)?,
        })
    }

    /// Takes the shared writer lock: held while blobs are written that an index entry will name later.
    pub fn lock_writers(&self) -> Result<LockGuard> {
        lock::acquire(&self.root, lock::WRITERS, Mode::Shared)
    }

    /// Takes the exclusive writer lock: no other process of ours writes blobs while it is held.
    pub fn lock_writers_exclusive(&self) -> Result<LockGuard> {
        lock::acquire(&self.root, lock::WRITERS, Mode::Exclusive)
    }
}

/// The exclusive lock on a layout's `index.json`, held from [`Layout::lock_index`] until dropped.
/// Rewrites of `index.json` go through it, so none can happen without the lock:
///
/// ```
/// # fn main() -> ocilayout::Result<()> {
/// # let dir = std::env::temp_dir().join(format!("ocilayout-doc-lock-{}", std::process::id()));
/// let layout = ocilayout::Layout::init(&dir)?;
/// let lock = layout.lock_index()?;
/// let doc = lock.read_document()?;
/// lock.write(&doc)?; // unchanged entries and keys are written back as they were read
/// # drop(lock); std::fs::remove_dir_all(&dir).ok();
/// # Ok(()) }
/// ```
///
/// A [`Layout`] alone cannot replace `index.json`:
///
/// ```compile_fail
/// # fn f(layout: &ocilayout::Layout, index: &ocilayout::oci_spec::image::ImageIndex) {
/// layout.write_index(index);
/// # }
/// ```
#[derive(Debug)]
pub struct IndexLock<'a> {
    layout: &'a Layout,
    _guard: LockGuard,
}

impl IndexLock<'_> {
    /// Reads `index.json` as a document to rewrite (see [`Layout::read_document`]).
    pub fn read_document(&self) -> Result<IndexDocument> {
        self.layout.read_document()
    }

    /// Replaces `index.json` atomically: temp file, fsync, rename, directory fsync. The document is
    /// streamed into the temp file, never held twice. Blobs it names must already be durable.
    pub fn write(&self, doc: &IndexDocument) -> Result<()> {
        atomic_write_with(&self.layout.root, "index.json", |w| doc.write_to(w))
    }

    /// Replaces `index.json` atomically with an index built from scratch: every field not in
    /// `index` is lost (prefer [`IndexLock::read_document`] and [`IndexLock::write`]).
    pub fn write_index(&self, index: &ImageIndex) -> Result<()> {
        self.write(&IndexDocument::from(index))
    }
}

/// An empty `index.json`.
pub fn empty_index() -> ImageIndex {
    let mut index = ImageIndex::default();
    index.set_schema_version(2);
    index.set_media_type(Some(MediaType::ImageIndex));
    index.set_manifests(Vec::new());
    index
}

/// Parses an `index.json` document and validates its descriptors' digests.
pub(crate) fn parse_index(bytes: &[u8], path: &Path) -> Result<ImageIndex> {
    let malformed = |reason: String| Error::Malformed {
        what: path.display().to_string(),
        reason,
    };
    // JSON is UTF-8 throughout, also in fields the parse skips (as `resolve`'s scan finds them).
    let text = std::str::from_utf8(bytes)
        .map_err(|e| malformed(format!("not a valid image index: not UTF-8: {e}")))?;
    let index: ImageIndex = serde_json::from_str(text).map_err(|e| match failing_entry(bytes) {
        Some(at) => malformed(format!("not a valid image index: {at}: {e}")),
        None => malformed(format!("not a valid image index: {e}")),
    })?;
    for (i, d) in index.manifests().iter().enumerate() {
        digest::validate(d.digest()).map_err(|e| malformed(format!("manifests[{i}]: {e}")))?;
    }
    Ok(index)
}

/// Which entry of an index that did not parse is at fault, `manifests[i]` or `manifests[i].digest`,
/// so that the error says where (serde only gives a line and column). Only called on the error path.
fn failing_entry(bytes: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct Entries<'a> {
        #[serde(borrow)]
        manifests: Vec<&'a serde_json::value::RawValue>,
    }
    let entries: Entries = serde_json::from_slice(bytes).ok()?;
    entries.manifests.iter().enumerate().find_map(|(i, e)| {
        crate::graph::descriptor_fault(e.get()).map(|fault| format!("manifests[{i}]{fault}"))
    })
}

/// Writes `name` in `dir` atomically: a temp file under `.ocilayout/tmp`, fsync, rename, fsync of `dir`.
/// A symbolic link at `name` is refused, not replaced (a rename would replace the link, not the file
/// it points at, and quietly cut the user's link), and `.ocilayout/tmp` is never followed.
fn atomic_write(dir: &Path, name: &str, bytes: &[u8]) -> Result<()> {
    atomic_write_with(dir, name, |w| w.write_all(bytes))
}

/// [`atomic_write`] with the content written by `write` through a buffer.
fn atomic_write_with(
    dir: &Path,
    name: &str,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> Result<()> {
    store::check_not_link(&dir.join(name))?;
    let tmp_dir = store::ensure_dir(dir, TMP_DIR)?;
    let (f, tmp) = store::create_temp(&tmp_dir, |n| format!("{name}-{}-{n}", std::process::id()))?;
    let result = (|| {
        let mut w = io::BufWriter::with_capacity(1 << 16, f);
        write(&mut w).at(&tmp)?;
        let f = w
            .into_inner()
            .map_err(|e| Error::io(&tmp, e.into_error()))?;
        f.sync_all().at(&tmp)?;
        let dest = dir.join(name);
        fs::rename(&tmp, &dest).at(&dest)?;
        store::sync_dir(dir)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::image::Descriptor;

    #[test]
    fn init_is_idempotent_and_open_checks() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("l");
        let l = Layout::init(&root).unwrap();
        assert_eq!(l.read_index().unwrap().manifests().len(), 0);
        assert_eq!(
            fs::read_to_string(root.join("oci-layout")).unwrap(),
            OCI_LAYOUT_CONTENT
        );
        Layout::init(&root).unwrap();
        Layout::open(&root).unwrap();

        let other = dir.path().join("other");
        fs::create_dir(&other).unwrap();
        fs::write(other.join("file"), "x").unwrap();
        let err = Layout::init(&other).unwrap_err().to_string();
        assert!(err.contains("not empty"), "{err}");
        let err = Layout::open(&other).unwrap_err().to_string();
        assert!(err.contains("no oci-layout file"), "{err}");
        fs::write(
            other.join("oci-layout"),
            r#"{"imageLayoutVersion":"2.0.0"}"#,
        )
        .unwrap();
        let err = Layout::open(&other).unwrap_err().to_string();
        assert!(err.contains("unsupported imageLayoutVersion"), "{err}");
    }

    #[test]
    fn index_bytes_are_deterministic() {
        let dir = tempfile::tempdir().unwrap();
        let l = Layout::init(dir.path()).unwrap();
        let d = crate::digest::sha256(b"x");
        let mut entry = Descriptor::new(MediaType::ImageManifest, 1, d);
        entry.set_annotations(Some(
            (0..20)
                .map(|i| (format!("k{i}"), format!("v{i}")))
                .collect(),
        ));
        let mut index = empty_index();
        index.set_manifests(vec![entry]);
        l.lock_index().unwrap().write_index(&index).unwrap();
        let text = fs::read_to_string(dir.path().join("index.json")).unwrap();
        // Keys appear in lexicographic order (k0, k1, k10, ..., k19, k2, ...), whatever the map held.
        let mut names: Vec<String> = (0..20).map(|i| format!("k{i}")).collect();
        names.sort();
        let positions: Vec<usize> = names
            .iter()
            .map(|n| text.find(&format!("\"{n}\"")).unwrap())
            .collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{text}");
    }

    #[test]
    fn malformed_index_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let l = Layout::init(dir.path()).unwrap();
        let cases = [
            ("{", "not a valid image index"),
            (
                r#"{"schemaVersion":2,"manifests":[{"mediaType":"a","size":1,"digest":"sha256:../../x"}]}"#,
                "index.json",
            ),
            (
                r#"{"schemaVersion":2,"manifests":[{"mediaType":"a","size":1,"digest":"sha384:38b060a751ac96384cd9327eb1b1e36a21fdb71114be07434c0cc7bf63f6e1da274edebfe76f65fbd51ad2f14898b95b"}]}"#,
                "manifests[0]: invalid digest",
            ),
        ];
        for (text, want) in cases {
            fs::write(dir.path().join("index.json"), text).unwrap();
            let err = l.read_index().unwrap_err().to_string();
            assert!(err.contains(want), "{text}: {err}");
            assert!(!err.contains('\n'), "{err}");
        }
        // Found by the `index_json` fuzz target: bytes that are not UTF-8 in a field the parse skips
        // were let through here but refused by `resolve`'s scan. Both refuse them now.
        fs::write(
            dir.path().join("index.json"),
            b"{\"schemaVersion\":2,\"manifests\":[],\"x\":{\"\xfe\xff\":1}}",
        )
        .unwrap();
        let err = l.read_index().unwrap_err().to_string();
        assert!(err.contains("not UTF-8"), "{err}");
    }
}
