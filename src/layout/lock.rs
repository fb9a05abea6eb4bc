//! Cross-process locks on a layout (fs2 advisory locks on files under `.ocilayout/`).
//!
//! Two locks, always taken in this order:
//! - `writers.lock`: held shared by every process that writes blobs (pull, import) for as long as it
//!   writes, and exclusive by `gc`, so gc never sweeps while a writer has blobs not yet named.
//! - `index.lock`: held exclusive for every read-modify-write of `index.json`, and by gc for its whole
//!   mark and sweep, so no entry is added to a blob gc is about to delete.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;

use fs2::FileExt;

use crate::error::{Error, IoContext, Result};
use crate::store::{self, STATE_DIR};

/// The writer lock's file name.
pub(crate) const WRITERS: &str = "writers.lock";

/// A held lock; dropping it releases the lock.
#[derive(Debug)]
pub struct LockGuard {
    file: File,
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        let _ = FileExt::unlock(&self.file);
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    Shared,
    Exclusive,
}

/// Takes a lock on `<root>/.ocilayout/<name>`, blocking until it is granted.
///
/// `.ocilayout` and the lock file are never followed through a symbolic link (`lstat` for the
/// directory, `O_NOFOLLOW` for the file), so a planted link cannot make us create a file outside the
/// layout. `.ocilayout` is created only in a layout (one with an `oci-layout` file) or in a directory
/// our `init` has marked as its own. A lock file that was unlinked while we waited for it (a refused
/// import or pull removing the layout it created) is not held: the layout is opened again, or its
/// absence reported.
pub(crate) fn acquire(root: &Path, name: &str, mode: Mode) -> Result<LockGuard> {
    loop {
        let dir = root.join(STATE_DIR);
        if store::existing_dir(root, STATE_DIR)?.is_none() && !layout_marker(root)? {
            return Err(gone(root));
        }
        store::ensure_dir(root, STATE_DIR)?;
        if mode == Mode::Exclusive && name == WRITERS {
            // Whoever holds this may clear `.ocilayout/tmp` (gc, an undo): a link there is refused
            // now, before anything is swept, not halfway through.
            store::existing_dir(root, store::TMP_DIR)?;
        }
        let path = dir.join(name);
        let flags = libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC;
        let file = match OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .custom_flags(flags)
            .open(&path)
        {
            Ok(f) => f,
            // A read-only layout (directory, file or file system): an existing lock file locks as
            // well when opened for reading (flock needs no write access).
            Err(e) if read_only(&e) => OpenOptions::new()
                .read(true)
                .custom_flags(flags)
                .open(&path)
                .map_err(|_| e)
                .map_err(|e| refused_link(&path, e))?,
            Err(e) => return Err(refused_link(&path, e)),
        };
        if !file.metadata().at(&path)?.is_file() {
            return Err(Error::Unsafe {
                path,
                reason: "is not a regular file".into(),
            });
        }
        match mode {
            Mode::Shared => FileExt::lock_shared(&file),
            Mode::Exclusive => FileExt::lock_exclusive(&file),
        }
        .at(&path)?;
        // Still the file at that name? Otherwise whoever held it removed it (and maybe the layout).
        let held = file.metadata().at(&path)?;
        match fs::symlink_metadata(&path) {
            Ok(now) if now.ino() == held.ino() && now.dev() == held.dev() => {
                return Ok(LockGuard { file })
            }
            Ok(_) => continue,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                if !layout_marker(root)? {
                    return Err(gone(root));
                }
            }
            Err(e) => return Err(Error::io(path, e)),
        }
    }
}

/// Whether `root` holds an `oci-layout` file (not followed through a link).
fn layout_marker(root: &Path) -> Result<bool> {
    let marker = root.join("oci-layout");
    match fs::symlink_metadata(&marker) {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(Error::io(marker, e)),
    }
}

fn gone(root: &Path) -> Error {
    Error::NotALayout {
        path: root.to_path_buf(),
        reason: "no oci-layout file (removed, or never created)".into(),
    }
}

/// `ELOOP` from an `O_NOFOLLOW` open is a symbolic link where our lock file should be.
fn refused_link(path: &Path, e: io::Error) -> Error {
    if e.raw_os_error() == Some(libc::ELOOP) {
        Error::Unsafe {
            path: path.to_path_buf(),
            reason: "is a symbolic link, not a lock file of this layout".into(),
        }
    } else {
        Error::io(path, e)
    }
}

/// Whether an error means the file could not be opened for writing, though it may be read.
fn read_only(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::Layout;

    /// A lock file removed (with the layout) while a process waited for it is not held: the waiter
    /// reports the layout gone rather than recreate state in a directory that is no layout.
    #[test]
    fn a_lock_unlinked_while_waited_for_is_not_held() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("l");
        let layout = Layout::init(&root).unwrap();
        let held = layout.lock_index().unwrap();
        let waiter = {
            let root = root.clone();
            std::thread::spawn(move || acquire(&root, "index.lock", Mode::Exclusive))
        };
        std::thread::sleep(std::time::Duration::from_millis(200));
        fs::remove_file(root.join("oci-layout")).unwrap();
        fs::remove_file(root.join(".ocilayout/index.lock")).unwrap();
        drop(held);
        let err = waiter.join().unwrap().unwrap_err();
        assert!(matches!(err, Error::NotALayout { .. }), "{err}");
        assert!(!root.join(".ocilayout/index.lock").exists());

        // With the layout still there, the waiter takes a fresh lock file instead.
        fs::write(root.join("oci-layout"), super::super::OCI_LAYOUT_CONTENT).unwrap();
        let held = layout.lock_index().unwrap();
        let waiter = {
            let root = root.clone();
            std::thread::spawn(move || acquire(&root, "index.lock", Mode::Exclusive).map(|_| ()))
        };
        std::thread::sleep(std::time::Duration::from_millis(200));
        fs::remove_file(root.join(".ocilayout/index.lock")).unwrap();
        drop(held);
        waiter.join().unwrap().unwrap();
        assert!(root.join(".ocilayout/index.lock").is_file());
    }
}
