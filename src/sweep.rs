//! The sweep: listing a layout's blobs and removing the ones gc and rm have proven unreachable, fast
//! and never outside the layout. Each `blobs/<alg>` directory is opened once, component by
//! component without following a symbolic link, and held: it is listed with the file types the
//! directory itself records (no `stat` per blob), and a blob is sized and removed by its name
//! relative to that held directory, so no symbolic link swapped in meanwhile can send a removal
//! elsewhere (and `unlink` never follows the link it removes). Removals are spread over the
//! cores.

use std::ffi::{CStr, CString};
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use oci_spec::image::Digest;

use crate::digest::{self, Algorithm};
use crate::error::{Error, Result};
use crate::store;

/// One `blobs/<alg>` directory of a layout, held open.
pub(crate) struct BlobDir {
    fd: OwnedFd,
    path: PathBuf,
    algorithm: Algorithm,
}

impl BlobDir {
    /// Opens `root/blobs/<alg>`: `None` when it does not exist, an error when `blobs` or `<alg>` is a
    /// symbolic link or not a directory.
    pub(crate) fn open(root: &Path, algorithm: Algorithm) -> Result<Option<BlobDir>> {
        let rel = format!("blobs/{}", algorithm.as_str());
        // The checked path first, for the error that names what is wrong.
        let Some(path) = store::existing_dir(root, &rel)? else {
            return Ok(None);
        };
        let top = File::open(root).map_err(|e| Error::io(root, e))?;
        let mut fd = OwnedFd::from(top);
        let mut at = root.to_path_buf();
        for part in ["blobs", algorithm.as_str()] {
            at.push(part);
            fd = match open_dir_at(&fd, part) {
                Ok(next) => next,
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
                Err(e) if matches!(e.raw_os_error(), Some(libc::ELOOP | libc::ENOTDIR)) => {
                    return Err(Error::Unsafe {
                        path: at,
                        reason: "is a symbolic link, not a directory of this layout".into(),
                    })
                }
                Err(e) => return Err(Error::io(at, e)),
            };
        }
        Ok(Some(BlobDir {
            fd,
            path,
            algorithm,
        }))
    }

    /// Every regular file whose name is a valid digest of this algorithm, from one read of the
    /// directory. The file type comes from the directory entry; only a file system that does not
    /// record it costs a `stat`. Symbolic links and other kinds of file are skipped.
    pub(crate) fn list(&self) -> Result<Vec<Digest>> {
        let io_err = |e| Error::io(&self.path, e);
        // `fdopendir` takes the descriptor it is given: give it a copy of ours.
        let copy = self.fd.try_clone().map_err(io_err)?;
        let raw = std::os::fd::IntoRawFd::into_raw_fd(copy);
        // SAFETY: `raw` is an open directory descriptor we own; on success the stream owns it.
        let stream = unsafe { libc::fdopendir(raw) };
        if stream.is_null() {
            let e = io::Error::last_os_error();
            // SAFETY: on failure the descriptor is still ours to close, once.
            drop(unsafe { OwnedFd::from_raw_fd(raw) });
            return Err(io_err(e));
        }
        let stream = DirStream(stream);
        let mut out = Vec::new();
        let prefix = format!("{}:", self.algorithm.as_str());
        loop {
            // SAFETY: errno is thread-local; cleared so that the end of the stream (NULL, errno
            // untouched) is told from an error (NULL, errno set).
            unsafe { *libc::__errno_location() = 0 };
            // SAFETY: `stream.0` is a valid stream until `DirStream` is dropped.
            let entry = unsafe { libc::readdir(stream.0) };
            if entry.is_null() {
                let e = io::Error::last_os_error();
                if e.raw_os_error().unwrap_or(0) != 0 {
                    return Err(io_err(e));
                }
                break;
            }
            // SAFETY: a non-null entry is valid until the next `readdir` on this stream; its name
            // is a NUL-terminated string.
            let (name, kind) =
                unsafe { (CStr::from_ptr((*entry).d_name.as_ptr()), (*entry).d_type) };
            let Ok(text) = name.to_str() else { continue };
            let Ok(d) = digest::parse(&format!("{prefix}{text}")) else {
                continue;
            };
            let regular = match kind {
                libc::DT_REG => true,
                libc::DT_UNKNOWN => self.stat(name)?.is_some_and(|(regular, _)| regular),
                _ => false,
            };
            if regular {
                out.push(d);
            }
        }
        Ok(out)
    }

    /// The size of a blob that is a regular file here; `None` when it is gone or is not a regular
    /// file (it is then not a blob to sweep). Never follows a symbolic link.
    pub(crate) fn size(&self, d: &Digest) -> Result<Option<u64>> {
        let name = self.name(d)?;
        Ok(self
            .stat(&name)?
            .filter(|(regular, _)| *regular)
            .map(|(_, size)| size))
    }

    /// Removes a blob by name; one already gone is not an error.
    pub(crate) fn remove(&self, d: &Digest) -> Result<()> {
        let name = self.name(d)?;
        // SAFETY: a valid directory descriptor and a NUL-terminated name; `unlinkat` without
        // `AT_REMOVEDIR` removes a file or a link itself, never what a link points at.
        let r = unsafe { libc::unlinkat(self.fd.as_raw_fd(), name.as_ptr(), 0) };
        if r == 0 {
            return Ok(());
        }
        match io::Error::last_os_error() {
            e if e.kind() == io::ErrorKind::NotFound => Ok(()),
            e => Err(Error::io(self.path.join(d.digest()), e)),
        }
    }

    /// A digest's file name in this directory (validated: no `/`, no `..`).
    fn name(&self, d: &Digest) -> Result<CString> {
        digest::validate(d)?;
        // A validated digest's encoded part is hex: it has no NUL.
        CString::new(d.digest().as_bytes()).map_err(|_| Error::Unsafe {
            path: self.path.join(d.digest()),
            reason: "is not a blob name".into(),
        })
    }

    /// `fstatat` without following a link: whether the entry is a regular file, and its size;
    /// `None` when it does not exist.
    fn stat(&self, name: &CStr) -> Result<Option<(bool, u64)>> {
        let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
        // SAFETY: a valid directory descriptor, a NUL-terminated name and room for the result.
        let r = unsafe {
            libc::fstatat(
                self.fd.as_raw_fd(),
                name.as_ptr(),
                st.as_mut_ptr(),
                libc::AT_SYMLINK_NOFOLLOW,
            )
        };
        if r != 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::NotFound {
                return Ok(None);
            }
            let path = self.path.join(std::ffi::OsStr::from_bytes(name.to_bytes()));
            return Err(Error::io(path, e));
        }
        // SAFETY: `fstatat` succeeded and filled it.
        let st = unsafe { st.assume_init() };
        let regular = st.st_mode & libc::S_IFMT == libc::S_IFREG;
        Ok(Some((regular, u64::try_from(st.st_size).unwrap_or(0))))
    }
}

/// A directory stream, closed when dropped.
struct DirStream(*mut libc::DIR);

impl Drop for DirStream {
    fn drop(&mut self) {
        // SAFETY: the stream came from a successful `fdopendir` and is closed once.
        unsafe { libc::closedir(self.0) };
    }
}

/// Opens the directory `name` under the directory `dir`, refusing a symbolic link.
fn open_dir_at(dir: &OwnedFd, name: &str) -> io::Result<OwnedFd> {
    let c = CString::new(name).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let flags = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC;
    // SAFETY: a valid directory descriptor and a NUL-terminated name.
    let fd = unsafe { libc::openat(dir.as_raw_fd(), c.as_ptr(), flags) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `openat` returned a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// The held blob directories of a layout, one per algorithm present.
pub(crate) struct Blobs {
    dirs: Vec<BlobDir>,
}

impl Blobs {
    /// Opens every `blobs/<alg>` directory of the layout at `root` that exists.
    pub(crate) fn open(root: &Path) -> Result<Blobs> {
        let mut dirs = Vec::new();
        for alg in [Algorithm::Sha256, Algorithm::Sha512] {
            dirs.extend(BlobDir::open(root, alg)?);
        }
        Ok(Blobs { dirs })
    }

    /// Every blob, by digest (see [`BlobDir::list`]).
    pub(crate) fn list(&self) -> Result<Vec<Digest>> {
        let mut out = Vec::new();
        for dir in &self.dirs {
            out.extend(dir.list()?);
        }
        Ok(out)
    }

    fn dir(&self, d: &Digest) -> Option<&BlobDir> {
        let alg = Algorithm::of(d).ok()?;
        self.dirs.iter().find(|dir| dir.algorithm == alg)
    }

    /// The sizes of `digests`, looked up over the cores: each with its size, or dropped when it is
    /// gone or not a regular file. In the order given.
    pub(crate) fn sizes(&self, digests: Vec<Digest>) -> Result<Vec<(Digest, u64)>> {
        let sized = spread(digests, |d| match self.dir(&d) {
            Some(dir) => Ok(dir.size(&d)?.map(|n| (d, n))),
            None => Ok(None),
        })?;
        Ok(sized.into_iter().flatten().collect())
    }

    /// Removes `digests`, spread over the cores. On an error the other removals stop soon after
    /// and the first error is returned; what was removed is gone (it was unreachable).
    pub(crate) fn remove(&self, digests: &[&Digest]) -> Result<()> {
        spread(digests.to_vec(), |d| match self.dir(d) {
            Some(dir) => dir.remove(d),
            None => Ok(()),
        })
        .map(|_| ())
    }
}

/// Below this many items a second thread costs more than it saves.
const PER_THREAD: usize = 256;

/// Runs `f` on every item, on up to as many threads as there are cores, and returns the results in
/// the items' order; the first error stops the rest.
fn spread<T: Send, R: Send>(items: Vec<T>, f: impl Fn(T) -> Result<R> + Sync) -> Result<Vec<R>> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = cores.min(items.len() / PER_THREAD).clamp(1, 16);
    if threads == 1 {
        return items.into_iter().map(f).collect();
    }
    let per = items.len().div_ceil(threads);
    let mut chunks: Vec<Vec<T>> = Vec::with_capacity(threads);
    let mut items = items.into_iter();
    for _ in 0..threads {
        chunks.push(items.by_ref().take(per).collect());
    }
    let failed = AtomicBool::new(false);
    let (f, failed) = (&f, &failed);
    let results: Vec<Result<Vec<R>>> = std::thread::scope(|s| {
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|chunk| {
                s.spawn(move || {
                    let mut out = Vec::with_capacity(chunk.len());
                    for item in chunk {
                        if failed.load(Ordering::Relaxed) {
                            break;
                        }
                        match f(item) {
                            Ok(r) => out.push(r),
                            Err(e) => {
                                failed.store(true, Ordering::Relaxed);
                                return Err(e);
                            }
                        }
                    }
                    Ok(out)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(Error::io(
                        Path::new("."),
                        io::Error::other("a sweep thread panicked"),
                    ))
                })
            })
            .collect()
    });
    let mut out = Vec::new();
    for r in results {
        out.extend(r?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Listing skips links and odd names; sizing and removing go by name in the held directory,
    /// never through a link; a link where `blobs/sha256` should be is refused.
    #[test]
    fn lists_sizes_and_removes_only_files_of_the_held_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("l");
        let dir = root.join("blobs/sha256");
        std::fs::create_dir_all(&dir).unwrap();
        let outside = tmp.path().join("outside");
        std::fs::write(&outside, b"keep me").unwrap();
        let blob = digest::sha256(b"hello");
        std::fs::write(dir.join(blob.digest()), b"hello").unwrap();
        let link = digest::sha256(b"link");
        std::os::unix::fs::symlink(&outside, dir.join(link.digest())).unwrap();
        std::fs::write(dir.join("not-a-digest"), b"x").unwrap();
        let blobs = Blobs::open(&root).unwrap();
        assert_eq!(blobs.list().unwrap(), vec![blob.clone()]);
        assert_eq!(
            blobs.sizes(vec![blob.clone(), link.clone()]).unwrap(),
            vec![(blob.clone(), 5)]
        );
        blobs.remove(&[&blob, &link]).unwrap();
        assert!(!dir.join(blob.digest()).exists());
        // The link itself went; what it pointed at did not.
        assert!(std::fs::symlink_metadata(dir.join(link.digest())).is_err());
        assert_eq!(std::fs::read(&outside).unwrap(), b"keep me");

        std::fs::remove_dir_all(&dir).unwrap();
        std::os::unix::fs::symlink(tmp.path(), &dir).unwrap();
        assert!(matches!(Blobs::open(&root), Err(Error::Unsafe { .. })));
        assert!(outside.exists());
    }

    /// Spread work keeps the items' order and stops at an error.
    #[test]
    fn spread_keeps_order_and_reports_an_error() {
        let items: Vec<usize> = (0..5000).collect();
        let out = spread(items.clone(), Ok).unwrap();
        assert_eq!(out, items);
        let err = spread(items, |i| {
            if i == 4000 {
                Err(Error::io(Path::new("x"), io::Error::other("boom")))
            } else {
                Ok(i)
            }
        });
        assert!(err.is_err());
    }
}
