//! The blob store: `blobs/<alg>/<hex>` under a layout. Every byte that enters it is hashed as it streams
//! into a temporary file outside `blobs/<alg>/`, checked for digest and size, fsynced and renamed into
//! place; a blob is never named before it is complete and verified.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use oci_spec::image::Digest;

use crate::digest::{self, Algorithm, HashingWriter};
use crate::error::{Error, IoContext, Result};
use crate::file::{self, Links};

mod verified;
pub use verified::VerifiedReader;

/// Directory (relative to the layout root) that holds our temporary files and lock files.
pub(crate) const STATE_DIR: &str = ".ocilayout";
/// Directory (relative to the layout root) that holds temporary blob files while they are written.
pub(crate) const TMP_DIR: &str = ".ocilayout/tmp";
/// Directory (relative to the layout root) that holds unfinished uploads parked between requests
/// (`serve`'s upload sessions). gc does not clear it: an upload that is merely idle is not a crash.
#[cfg(feature = "serve")]
pub(crate) const PARKED_DIR: &str = ".ocilayout/uploads";

/// The directory `root/rel` (`rel` relative, `/`-separated), checked component by component with
/// `lstat` so that none of our own state is reached through a symbolic link; missing components are
/// created one at a time (never `root` itself: a vanished layout is an error, not recreated).
pub(crate) fn ensure_dir(root: &Path, rel: &str) -> Result<PathBuf> {
    let mut path = root.to_path_buf();
    for part in rel.split('/') {
        path.push(part);
        if check_dir(&path)?.is_none() {
            match fs::create_dir(&path) {
                Err(e) if e.kind() != io::ErrorKind::AlreadyExists => {
                    return Err(Error::io(path, e))
                }
                // Made by another process in the meantime: checked again below.
                _ => {}
            }
            if check_dir(&path)?.is_none() {
                return Err(Error::io(&path, io::ErrorKind::NotFound.into()));
            }
        }
    }
    Ok(path)
}

/// The directory `root/rel` when it exists, `None` when it does not, an error when any component
/// below `root` is a symbolic link or not a directory. Nothing is created.
pub(crate) fn existing_dir(root: &Path, rel: &str) -> Result<Option<PathBuf>> {
    let mut path = root.to_path_buf();
    for part in rel.split('/') {
        path.push(part);
        if check_dir(&path)?.is_none() {
            return Ok(None);
        }
    }
    Ok(Some(path))
}

/// `lstat`s `path`: `Some(())` for a real directory, `None` when nothing is there, an error for a
/// symbolic link or anything else.
fn check_dir(path: &Path) -> Result<Option<()>> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => Ok(Some(())),
        Ok(m) => Err(Error::Unsafe {
            path: path.to_path_buf(),
            reason: if m.file_type().is_symlink() {
                "is a symbolic link, not a directory of this layout".into()
            } else {
                "is not a directory".into()
            },
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(path, e)),
    }
}

/// Refuses `path` when it is a symbolic link or anything but a regular file; a missing file is fine.
/// Checked before a file of ours is replaced by a rename or opened for writing.
pub(crate) fn check_not_link(path: &Path) -> Result<()> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.is_file() => Ok(()),
        Ok(m) => Err(Error::Unsafe {
            path: path.to_path_buf(),
            reason: if m.file_type().is_symlink() {
                "is a symbolic link".into()
            } else {
                "is not a regular file".into()
            },
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(path, e)),
    }
}

/// The blobs of one layout.
#[derive(Clone, Debug)]
pub struct BlobStore {
    root: PathBuf,
}

impl BlobStore {
    pub(crate) fn new(root: impl Into<PathBuf>) -> Self {
        BlobStore { root: root.into() }
    }

    /// The path of a blob. The digest is validated first, so the path never leaves `blobs/`.
    pub fn path(&self, d: &Digest) -> Result<PathBuf> {
        digest::validate(d)?;
        Ok(self
            .root
            .join("blobs")
            .join(d.algorithm().as_ref())
            .join(d.digest()))
    }

    /// The size of a blob, or `None` when it is not there. Anything but a regular file is
    /// [`Error::NotAFile`].
    pub fn size(&self, d: &Digest) -> Result<Option<u64>> {
        let path = self.path(d)?;
        match fs::metadata(&path) {
            Ok(m) => file::regular(&path, &m).map(|()| Some(m.len())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(path, e)),
        }
    }

    /// Whether a blob is present with exactly the expected size. A blob about to be referenced by a new
    /// entry is never trusted by its name alone.
    pub fn has(&self, d: &Digest, size: u64) -> Result<bool> {
        Ok(self.size(d)? == Some(size))
    }

    /// Opens a blob for reading, as it is: nothing checks what is read. A FIFO, socket or device in
    /// its place is [`Error::NotAFile`], refused without blocking. [`open_verified`] gives a reader
    /// that fails on content that is not what its descriptor says.
    ///
    /// [`open_verified`]: BlobStore::open_verified
    pub fn open(&self, d: &Digest) -> Result<File> {
        let path = self.path(d)?;
        file::open(&path, Links::Follow).map_err(|e| self.missing_as_blob(d, e))
    }

    /// A blob file that is not there is [`Error::BlobMissing`]; any other error stays as it is.
    fn missing_as_blob(&self, d: &Digest, e: Error) -> Error {
        if file::is_not_found(&e) {
            Error::BlobMissing {
                digest: d.clone(),
                layout: self.root.clone(),
            }
        } else {
            e
        }
    }

    /// Opens a blob that [`BlobStore::size`] found to be a regular file, to peek at its first bytes
    /// (see `file::open_to_peek`).
    pub(crate) fn open_to_peek(&self, d: &Digest) -> Result<File> {
        let path = self.path(d)?;
        file::open_to_peek(&path).map_err(|e| self.missing_as_blob(d, e))
    }

    /// Opens a blob as [`BlobStore::open`] does, refusing a symbolic link anywhere below the layout
    /// (`blobs/`, `blobs/<alg>/`, the blob itself) with [`Error::Unsafe`] or [`Error::NotAFile`]: a
    /// server must not stream a file from outside the layout.
    #[cfg(feature = "serve")]
    pub(crate) fn open_no_follow(&self, d: &Digest) -> Result<File> {
        let path = self.path(d)?;
        if existing_dir(&self.root, &format!("blobs/{}", d.algorithm().as_ref()))?.is_none() {
            return Err(Error::BlobMissing {
                digest: d.clone(),
                layout: self.root.clone(),
            });
        }
        file::open(&path, Links::Refuse).map_err(|e| self.missing_as_blob(d, e))
    }

    /// Reads a whole blob of at most `limit` bytes and checks its digest.
    pub fn read_verified(&self, d: &Digest, limit: u64) -> Result<Vec<u8>> {
        let file = self.open(d)?;
        let len = file.metadata().at(self.path(d)?)?.len();
        if len > limit {
            return Err(Error::TooLarge {
                what: format!("blob {d}"),
                size: len,
                limit,
            });
        }
        let mut bytes = Vec::with_capacity(len as usize);
        file.take(limit + 1)
            .read_to_end(&mut bytes)
            .at(self.path(d)?)?;
        digest::verify_bytes(d, &bytes, self.path(d)?.display())?;
        Ok(bytes)
    }

    /// Starts writing a new blob hashed with `algorithm`.
    pub fn writer(&self, algorithm: Algorithm) -> Result<BlobWriter> {
        let dir = ensure_dir(&self.root, TMP_DIR)?;
        let (file, tmp) = create_temp(&dir, |n| format!("blob-{}-{n}", std::process::id()))?;
        Ok(BlobWriter {
            store: self.clone(),
            out: Some(HashingWriter::new(file, algorithm)),
            tmp,
        })
    }

    #[cfg(feature = "serve")]
    /// Starts a blob that is written in parts with no file open in between (see [`ParkedBlob`]).
    pub(crate) fn parked(&self, algorithm: Algorithm) -> Result<ParkedBlob> {
        let dir = ensure_dir(&self.root, PARKED_DIR)?;
        let (file, tmp) = create_temp(&dir, |n| format!("upload-{}-{n}", std::process::id()))?;
        drop(file);
        Ok(ParkedBlob {
            store: self.clone(),
            tmp,
            hasher: digest::Hasher::new(algorithm),
            count: 0,
        })
    }

    #[cfg(feature = "serve")]
    /// Removes parked uploads left by processes that are gone (their file names carry the pid).
    /// Returns how many were removed.
    pub(crate) fn clear_orphaned_parked(&self) -> Result<usize> {
        let Some(dir) = existing_dir(&self.root, PARKED_DIR)? else {
            return Ok(0);
        };
        let mut n = 0;
        for entry in fs::read_dir(&dir).at(&dir)? {
            let entry = entry.at(&dir)?;
            let name = entry.file_name();
            let pid = name
                .to_str()
                .and_then(|n| n.strip_prefix("upload-"))
                .and_then(|n| n.split('-').next())
                .and_then(|p| p.parse::<libc::pid_t>().ok());
            let Some(pid) = pid.filter(|p| *p > 0) else {
                continue;
            };
            // SAFETY: kill with signal 0 sends nothing; it only asks whether the process exists.
            let gone = unsafe { libc::kill(pid, 0) } != 0
                && io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH);
            if gone && entry.file_type().at(entry.path())?.is_file() {
                fs::remove_file(entry.path()).at(entry.path())?;
                n += 1;
            }
        }
        Ok(n)
    }

    /// Streams `reader` into the store, checking that it hashes to `expected` and, when given, has
    /// `size` bytes. Nothing is named unless both match.
    pub fn put_reader(
        &self,
        reader: &mut dyn Read,
        expected: &Digest,
        size: Option<u64>,
    ) -> Result<u64> {
        let mut w = self.writer(Algorithm::of(expected)?)?;
        let tmp = w.tmp.clone();
        io::copy(reader, &mut w).at(&tmp)?;
        w.commit_verified(expected, size)
    }

    /// Stores bytes under their sha256 digest and returns it.
    pub fn put_bytes(&self, bytes: &[u8]) -> Result<Digest> {
        let mut w = self.writer(Algorithm::Sha256)?;
        let tmp = w.tmp.clone();
        w.write_all(bytes).at(&tmp)?;
        w.commit().map(|(d, _)| d)
    }

    /// Removes a blob; a blob already gone is not an error. Crate-private: only gc, rm and a refused
    /// import remove blobs, under the exclusive writer lock and after proving nothing names them.
    pub(crate) fn remove(&self, d: &Digest) -> Result<()> {
        let path = self.path(d)?;
        // `blobs/<alg>` through a symbolic link would remove a file outside the layout.
        if existing_dir(&self.root, &format!("blobs/{}", d.algorithm().as_ref()))?.is_none() {
            return Ok(());
        }
        match fs::remove_file(&path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(Error::io(path, e)),
            _ => Ok(()),
        }
    }

    /// Every blob in the store with its size. Files whose names are not valid digests are skipped.
    pub fn list(&self) -> Result<Vec<(Digest, u64)>> {
        self.digests()?
            .into_iter()
            .filter_map(|d| self.size(&d).transpose().map(|n| n.map(|n| (d, n))))
            .collect()
    }

    /// Every blob in the store, by digest, without a `stat` per file (the directory listing's file
    /// types suffice): gc sizes only what it removes. Files whose names are not valid digests are
    /// skipped.
    pub fn digests(&self) -> Result<Vec<Digest>> {
        let mut out = Vec::new();
        for alg in [Algorithm::Sha256, Algorithm::Sha512] {
            let Some(dir) = existing_dir(&self.root, &format!("blobs/{}", alg.as_str()))? else {
                continue;
            };
            let entries = match fs::read_dir(&dir) {
                Ok(e) => e,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(Error::io(dir, e)),
            };
            for entry in entries {
                let entry = entry.at(&dir)?;
                let name = entry.file_name();
                let Some(name) = name.to_str() else { continue };
                let Ok(d) = digest::parse(&format!("{}:{name}", alg.as_str())) else {
                    continue;
                };
                if entry.file_type().at(entry.path())?.is_file() {
                    out.push(d);
                }
            }
        }
        Ok(out)
    }

    /// Removes temporary files left by writers that crashed. Only safe while no writer runs: callers
    /// hold the layout's exclusive writer lock.
    pub(crate) fn clear_temp_files(&self) -> Result<usize> {
        // A symbolic link at `.ocilayout` or its `tmp` is refused: emptying it would delete files
        // outside the layout.
        let Some(dir) = existing_dir(&self.root, TMP_DIR)? else {
            return Ok(0);
        };
        let entries = fs::read_dir(&dir).at(&dir)?;
        let mut n = 0;
        for entry in entries {
            let entry = entry.at(&dir)?;
            let path = entry.path();
            // The entry's own type (not followed): a symbolic link in tmp is removed as a link.
            let removed = if entry.file_type().at(&path)?.is_dir() {
                fs::remove_dir_all(&path)
            } else {
                fs::remove_file(&path)
            };
            removed.at(&path)?;
            n += 1;
        }
        Ok(n)
    }
}

/// A blob being written: bytes go to a temporary file and are hashed on the way. [`commit`] or
/// [`commit_verified`] names it; dropping it uncommitted removes the temporary file.
///
/// [`commit`]: BlobWriter::commit
/// [`commit_verified`]: BlobWriter::commit_verified
pub struct BlobWriter {
    store: BlobStore,
    out: Option<HashingWriter<File>>,
    tmp: PathBuf,
}

impl BlobWriter {
    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.out.as_ref().map_or(0, |o| o.count())
    }

    /// The temporary file's path.
    pub(crate) fn temp_path(&self) -> &Path {
        &self.tmp
    }

    /// Names the blob by the digest of what was written.
    pub fn commit(self) -> Result<(Digest, u64)> {
        self.finish(None, None)
    }

    /// Names the blob only if what was written hashes to `expected` and, when given, has `size` bytes.
    pub fn commit_verified(self, expected: &Digest, size: Option<u64>) -> Result<u64> {
        self.finish(Some(expected), size).map(|(_, n)| n)
    }

    fn finish(self, expected: Option<&Digest>, size: Option<u64>) -> Result<(Digest, u64)> {
        self.verify(expected, size)?.persist()
    }

    /// Checks what was written against `expected` and `size` (the digest was computed while the bytes
    /// streamed) without naming it yet: [`VerifiedBlob::persist`] does the durable part, so a caller
    /// can overlap it with writing the next blob.
    pub fn verify(mut self, expected: Option<&Digest>, size: Option<u64>) -> Result<VerifiedBlob> {
        let out = self.out.take().expect("a writer is finished once");
        let (file, found, len) = out.finish();
        if let Some(expected) = expected {
            if &found != expected {
                // Where the bytes came from is the caller's to say (`Error::located`); until then
                // the temporary file they were written to.
                return Err(Error::DigestMismatch {
                    expected: expected.clone(),
                    found: found.clone(),
                    location: self.tmp.display().to_string(),
                });
            }
        }
        if let Some(size) = size {
            if size != len {
                return Err(Error::SizeMismatch {
                    digest: found.clone(),
                    expected: size,
                    found: len,
                });
            }
        }
        Ok(VerifiedBlob {
            store: self.store.clone(),
            file: Some(file),
            tmp: std::mem::take(&mut self.tmp),
            digest: found,
            len,
        })
    }
}

#[cfg(feature = "serve")]
/// A blob being written in parts, parked between them: a file under `.ocilayout/uploads` and the hash
/// state in memory, with no descriptor open. [`ParkedBlob::resume`] reopens it to append;
/// dropping it removes the file.
pub(crate) struct ParkedBlob {
    store: BlobStore,
    tmp: PathBuf,
    hasher: digest::Hasher,
    count: u64,
}

#[cfg(feature = "serve")]
impl ParkedBlob {
    /// Bytes written so far.
    pub(crate) fn written(&self) -> u64 {
        self.count
    }

    /// Reopens the file to append to it. The file must still hold exactly the bytes hashed so far:
    /// anything else (removed, replaced by a link, grown or cut behind our back) is an error.
    pub(crate) fn resume(mut self) -> Result<BlobWriter> {
        use std::os::unix::fs::OpenOptionsExt;
        let tmp = std::mem::take(&mut self.tmp);
        let file = fs::OpenOptions::new()
            .append(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open(&tmp)
            .at(&tmp)?;
        let meta = file.metadata().at(&tmp)?;
        if !meta.is_file() || meta.len() != self.count {
            let _ = fs::remove_file(&tmp);
            return Err(Error::Unsafe {
                path: tmp,
                reason: "an upload's file changed while it was parked".into(),
            });
        }
        let hasher = std::mem::replace(&mut self.hasher, digest::Hasher::new(Algorithm::Sha256));
        Ok(BlobWriter {
            store: self.store.clone(),
            out: Some(HashingWriter::resume(file, hasher, self.count)),
            tmp,
        })
    }
}

#[cfg(feature = "serve")]
impl Drop for ParkedBlob {
    fn drop(&mut self) {
        if !self.tmp.as_os_str().is_empty() {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

#[cfg(feature = "serve")]
impl BlobWriter {
    /// Closes the file and keeps the hash state, to carry on with [`ParkedBlob::resume`].
    pub(crate) fn park(mut self) -> ParkedBlob {
        let (file, hasher, count) = self
            .out
            .take()
            .expect("a writer is parked before it is finished")
            .into_parts();
        drop(file);
        ParkedBlob {
            store: self.store.clone(),
            tmp: std::mem::take(&mut self.tmp),
            hasher,
            count,
        }
    }
}

/// A blob whose content was verified but is not named yet; dropping it removes the temporary file.
pub struct VerifiedBlob {
    store: BlobStore,
    file: Option<File>,
    tmp: PathBuf,
    digest: Digest,
    len: u64,
}

impl VerifiedBlob {
    /// The blob's digest.
    pub fn digest(&self) -> &Digest {
        &self.digest
    }

    /// Names the blob durably: fsync, rename into `blobs/<alg>/`, fsync of that directory.
    pub fn persist(mut self) -> Result<(Digest, u64)> {
        let file = self.file.take().expect("persisted once");
        file.sync_all().at(&self.tmp)?;
        drop(file);
        let dest = self.store.path(&self.digest)?;
        let dir = ensure_dir(
            &self.store.root,
            &format!("blobs/{}", self.digest.algorithm().as_ref()),
        )?;
        fs::rename(&self.tmp, &dest).at(&dest)?;
        sync_dir(&dir)?;
        Ok((self.digest.clone(), self.len))
    }
}

impl Drop for VerifiedBlob {
    fn drop(&mut self) {
        // Not persisted (or persisting failed): the temporary file must not outlive it. After a
        // rename this removes nothing.
        let _ = fs::remove_file(&self.tmp);
    }
}

impl Write for BlobWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.out
            .as_mut()
            .expect("not written after finishing")
            .write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for BlobWriter {
    fn drop(&mut self) {
        // Uncommitted or failed: the temporary file must not outlive the writer. After `verify` the
        // path moved to the `VerifiedBlob` and this is empty.
        if !self.tmp.as_os_str().is_empty() {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

/// Creates a new temporary file in `dir` named `name(n)`, `n` counting up per process. A name that is
/// taken is skipped: a writer killed earlier may have left it under this process's id, which the
/// system has since recycled (until the next gc clears it).
pub(crate) fn create_temp(dir: &Path, name: impl Fn(u64) -> String) -> Result<(File, PathBuf)> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    loop {
        let path = dir.join(name(COUNTER.fetch_add(1, Ordering::Relaxed)));
        match fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(file) => return Ok((file, path)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(Error::io(path, e)),
        }
    }
}

/// Fsyncs a directory so that a rename into it is durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir).and_then(|d| d.sync_all()).at(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, BlobStore) {
        let dir = tempfile::tempdir().unwrap();
        let s = BlobStore::new(dir.path());
        (dir, s)
    }

    #[test]
    fn verified_write_names_only_matching_content() {
        let (dir, s) = store();
        let good = digest::sha256(b"hello");
        let n = s.put_reader(&mut &b"hello"[..], &good, Some(5)).unwrap();
        assert_eq!(n, 5);
        assert_eq!(fs::read(s.path(&good).unwrap()).unwrap(), b"hello");
        assert!(s.has(&good, 5).unwrap());
        assert!(!s.has(&good, 4).unwrap());

        let other = digest::sha256(b"other");
        let err = s.put_reader(&mut &b"evil"[..], &other, None).unwrap_err();
        assert!(matches!(err, Error::DigestMismatch { .. }), "{err}");
        assert!(s.size(&other).unwrap().is_none());
        let err = s
            .put_reader(&mut &b"hello"[..], &good, Some(6))
            .unwrap_err();
        assert!(matches!(err, Error::SizeMismatch { .. }), "{err}");
        // No temporary file outlives a failed write.
        assert_eq!(fs::read_dir(dir.path().join(TMP_DIR)).unwrap().count(), 0);
    }

    #[test]
    fn read_verified_detects_corruption_and_limits() {
        let (_dir, s) = store();
        let d = s.put_bytes(b"{}").unwrap();
        assert_eq!(d.to_string(), digest::EMPTY_JSON);
        assert_eq!(s.read_verified(&d, 10).unwrap(), b"{}");
        assert!(matches!(
            s.read_verified(&d, 1).unwrap_err(),
            Error::TooLarge { .. }
        ));
        fs::write(s.path(&d).unwrap(), b"[]").unwrap();
        assert!(matches!(
            s.read_verified(&d, 10).unwrap_err(),
            Error::DigestMismatch { .. }
        ));
        s.remove(&d).unwrap();
        assert!(matches!(
            s.read_verified(&d, 10).unwrap_err(),
            Error::BlobMissing { .. }
        ));
        assert_eq!(s.list().unwrap().len(), 0);
    }

    #[cfg(feature = "serve")]
    #[test]
    fn a_parked_blob_resumes_where_it_stopped_and_checks_its_file() {
        use std::io::Write;
        let (dir, s) = store();
        let p = s.parked(Algorithm::Sha256).unwrap();
        let path = p.tmp.clone();
        assert!(path.starts_with(dir.path().join(PARKED_DIR)));
        let mut w = p.resume().unwrap();
        w.write_all(b"hel").unwrap();
        let p = w.park();
        assert_eq!(p.written(), 3);
        let mut w = p.resume().unwrap();
        w.write_all(b"lo").unwrap();
        let good = digest::sha256(b"hello");
        w.commit_verified(&good, Some(5)).unwrap();
        assert_eq!(fs::read(s.path(&good).unwrap()).unwrap(), b"hello");
        assert!(!path.exists(), "renamed into blobs/");

        // Changed behind its back: refused, and gone.
        let mut w = s.parked(Algorithm::Sha256).unwrap().resume().unwrap();
        w.write_all(b"abc").unwrap();
        let p = w.park();
        fs::write(&p.tmp, b"abcd").unwrap();
        let path = p.tmp.clone();
        assert!(p.resume().is_err());
        assert!(!path.exists());
        // Dropped: its file goes too.
        let p = s.parked(Algorithm::Sha256).unwrap();
        let path = p.tmp.clone();
        drop(p);
        assert!(!path.exists());
    }

    #[cfg(feature = "serve")]
    #[test]
    fn parked_files_of_dead_processes_are_cleared() {
        let (dir, s) = store();
        let parked = dir.path().join(PARKED_DIR);
        fs::create_dir_all(&parked).unwrap();
        let mine = parked.join(format!("upload-{}-0", std::process::id()));
        // Above any pid_max: no such process.
        let dead = parked.join("upload-2000000000-0");
        let other = parked.join("notes.txt");
        for f in [&mine, &dead, &other] {
            fs::write(f, b"x").unwrap();
        }
        assert_eq!(s.clear_orphaned_parked().unwrap(), 1);
        assert!(mine.exists() && other.exists() && !dead.exists());
    }
}
