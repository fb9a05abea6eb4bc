//! Cross-process locks on a layout (fs2 advisory locks on files under `.ocilayout/`).
//!
//! Two locks, always taken in this order:
//! - `writers.lock`: held shared by every process that writes blobs (pull, import) for as long as it
//!   writes, and exclusive by `gc`, so gc never sweeps while a writer has blobs not yet named.
//! - `index.lock`: held exclusive for every read-modify-write of `index.json`, and by gc for its whole
//!   mark and sweep, so no entry is added to a blob gc is about to delete.

use std::fs::{self, File, OpenOptions};
use std::path::Path;

use fs2::FileExt;

use crate::error::{IoContext, Result};
use crate::store::STATE_DIR;

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
pub(crate) fn acquire(root: &Path, name: &str, mode: Mode) -> Result<LockGuard> {
    let dir = root.join(STATE_DIR);
    fs::create_dir_all(&dir).at(&dir)?;
    let path = dir.join(name);
    let file = match OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
    {
        Ok(f) => f,
        // A read-only layout (directory, file or file system): an existing lock file locks as well
        // when opened for reading (flock needs no write access).
        Err(e) if read_only(&e) => File::open(&path).map_err(|_| e).at(&path)?,
        Err(e) => return Err(e).at(&path),
    };
    match mode {
        Mode::Shared => FileExt::lock_shared(&file),
        Mode::Exclusive => FileExt::lock_exclusive(&file),
    }
    .at(&path)?;
    Ok(LockGuard { file })
}

/// Whether an error means the file could not be opened for writing, though it may be read.
fn read_only(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem
    )
}
