//! Where an exported archive goes. A regular file (or a new name) is written under a temporary name
//! beside it, `.NAME.tmp-PID-N`, and renamed into place only when complete, keeping the old file's
//! mode (a new file gets 0644 less the umask); a FIFO, a device or `/dev/fd/N` is written in place,
//! never replaced. The temporary file is removed when the export fails, when the process gets
//! SIGINT, SIGTERM or SIGHUP (once the program called [`remove_temp_files_on_signal`]), and, when a
//! process was killed outright, by the next export to the same path (only files whose process no
//! longer exists).

use std::ffi::CString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicPtr, AtomicU64, Ordering};

use super::COPY_BUFFER;
use crate::error::{Error, IoContext, Result};

/// Writes what `write` produces to `path` (see the module documentation for how each kind of target
/// is treated). A regular file at `path` is left as it was unless `write` succeeds.
pub(crate) fn write_to<T>(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> Result<T>,
) -> Result<T> {
    // Followed: `/dev/fd/N` and a link to a file are what they point at.
    match fs::metadata(path) {
        Ok(m) if m.is_dir() => Err(Error::BadTarget {
            path: path.to_path_buf(),
            reason: "is a directory, not an archive file",
        }),
        Ok(m) if m.is_file() => {
            // A link to a file: the file it points at is replaced, the link stays a link.
            let real = if fs::symlink_metadata(path)
                .at(path)?
                .file_type()
                .is_symlink()
            {
                fs::canonicalize(path).at(path)?
            } else {
                path.to_path_buf()
            };
            replace(&real, Some(m.permissions().mode() & 0o7777), write)
        }
        Ok(_) => in_place(path, write),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            if fs::symlink_metadata(path).is_ok() {
                return Err(Error::BadTarget {
                    path: path.to_path_buf(),
                    reason: "is a symbolic link to nothing; refusing to replace it",
                });
            }
            replace(path, None, write)
        }
        Err(e) => Err(Error::io(path, e)),
    }
}

/// A FIFO, a character or block device: opened for writing and written, never replaced or truncated.
fn in_place<T>(path: &Path, write: impl FnOnce(&mut dyn Write) -> Result<T>) -> Result<T> {
    let file = OpenOptions::new().write(true).open(path).at(path)?;
    let mut out = BufWriter::with_capacity(COPY_BUFFER, file);
    let value = write(&mut out)?;
    out.flush().at(path)?;
    Ok(value)
}

/// Writes a temporary file beside `path` and renames it over `path`. `mode`: the mode of the file
/// being replaced, kept exactly (the umask does not apply); `None` for a new file (0644 less umask).
fn replace<T>(
    path: &Path,
    mode: Option<u32>,
    write: impl FnOnce(&mut dyn Write) -> Result<T>,
) -> Result<T> {
    let name = path.file_name().ok_or_else(|| Error::BadTarget {
        path: path.to_path_buf(),
        reason: "not a file name",
    })?;
    let prefix = format!(".{}.tmp-", name.to_string_lossy());
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    remove_stale(dir, &prefix);
    let (file, tmp, _registered) = create_temp(path, dir, &prefix, mode)?;
    let result = (|| {
        let mut out = BufWriter::with_capacity(COPY_BUFFER, file);
        let value = write(&mut out)?;
        // Not fsynced, like `tar cf`: the rename only keeps a failed export from leaving a partial
        // archive under the final name. Layout durability is the importer's business.
        out.into_inner()
            .map_err(|e| Error::io(path, e.into_error()))?;
        fs::rename(&tmp, path).at(path)?;
        Ok(value)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Creates `dir/<prefix><pid>-<n>` exclusively, with `mode` set exactly when given, registered for
/// removal on a signal before it exists (so no signal finds it unregistered). An error names
/// `target`, the path the user gave, not the temporary name.
fn create_temp(
    target: &Path,
    dir: &Path,
    prefix: &str,
    mode: Option<u32>,
) -> Result<(File, PathBuf, Registration)> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    loop {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let tmp = dir.join(format!("{prefix}{}-{n}", std::process::id()));
        // A name of this process's id that exists already is a dead process's leftover (ids are
        // reused): removing it on a signal takes nothing from anyone.
        let registration = Registration::new(&tmp);
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode.unwrap_or(0o644))
            .open(&tmp)
        {
            Ok(file) => {
                if let Some(mode) = mode {
                    if let Err(e) = file.set_permissions(fs::Permissions::from_mode(mode)) {
                        let _ = fs::remove_file(&tmp);
                        return Err(Error::io(target, e));
                    }
                }
                return Ok((file, tmp, registration));
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(Error::io(target, e)),
        }
    }
}

/// Removes `dir/<prefix><pid>-<n>` regular files whose process no longer exists: what an export
/// killed outright (`kill -9`, a power cut) left. A file whose process id has been reused by a
/// running process is left for a later export. Best effort.
fn remove_stale(dir: &Path, prefix: &str) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(prefix)) else {
            continue;
        };
        let Some((pid, n)) = rest.split_once('-') else {
            continue;
        };
        let (Ok(pid), true) = (
            pid.parse::<libc::pid_t>(),
            !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()),
        ) else {
            continue;
        };
        if pid <= 0 || pid as u32 == std::process::id() || process_exists(pid) {
            continue;
        }
        if entry.file_type().is_ok_and(|t| t.is_file()) {
            let _ = fs::remove_file(entry.path());
        }
    }
}

fn process_exists(pid: libc::pid_t) -> bool {
    // SAFETY: kill with signal 0 sends nothing; it only checks that the process exists.
    let r = unsafe { libc::kill(pid, 0) };
    r == 0 || io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
}

/// Temporary files a signal handler removes: slots holding C strings. A string is never freed once
/// registered (a few bytes per export), so the handler never reads freed memory.
const SLOTS: usize = 16;
static TEMP_FILES: [AtomicPtr<libc::c_char>; SLOTS] =
    [const { AtomicPtr::new(std::ptr::null_mut()) }; SLOTS];

/// A temporary file registered for removal on a signal while this is alive.
struct Registration(Option<usize>);

impl Registration {
    fn new(path: &Path) -> Registration {
        let Ok(c) = CString::new(path.as_os_str().as_bytes()) else {
            return Registration(None);
        };
        let ptr = c.into_raw();
        for (i, slot) in TEMP_FILES.iter().enumerate() {
            if slot
                .compare_exchange(
                    std::ptr::null_mut(),
                    ptr,
                    Ordering::SeqCst,
                    Ordering::SeqCst,
                )
                .is_ok()
            {
                return Registration(Some(i));
            }
        }
        // Every slot taken (many exports at once in one process): not removed on a signal, but
        // still on failure, and by the next export once this process is gone.
        Registration(None)
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        if let Some(i) = self.0 {
            TEMP_FILES[i].store(std::ptr::null_mut(), Ordering::SeqCst);
        }
    }
}

extern "C" fn on_signal(signal: libc::c_int) {
    for slot in &TEMP_FILES {
        let path = slot.load(Ordering::SeqCst);
        if !path.is_null() {
            // SAFETY: a registered pointer is a NUL-terminated string that is never freed; unlink,
            // signal and raise are async-signal-safe.
            unsafe { libc::unlink(path) };
        }
    }
    // SAFETY: as above. The default action then ends the process as the signal would have.
    unsafe {
        libc::signal(signal, libc::SIG_DFL);
        libc::raise(signal);
    }
}

/// Installs handlers for SIGINT, SIGTERM and SIGHUP that remove the temporary files of exports in
/// progress and then end the process as the signal would have. A signal that was ignored when the
/// program started (`nohup`, a background job) stays ignored. For programs, not libraries: it
/// replaces the process's handlers for these signals.
pub fn remove_temp_files_on_signal() {
    let handler = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
    for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        // SAFETY: installs a handler that only does async-signal-safe work (see `on_signal`).
        unsafe {
            if libc::signal(signal, handler) == libc::SIG_IGN {
                libc::signal(signal, libc::SIG_IGN);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stale_temp_file_is_removed_only_when_its_process_is_gone() {
        let dir = tempfile::tempdir().unwrap();
        let mut dead = std::process::Command::new("true").spawn().unwrap();
        let dead_pid = dead.id();
        dead.wait().unwrap();
        let alive = std::process::id();
        let names = [
            format!(".a.tar.tmp-{dead_pid}-0"),
            format!(".a.tar.tmp-{alive}-0"),    // ours: never
            ".a.tar.tmp-1-3".to_string(),       // init: alive
            format!(".a.tar.tmp-{dead_pid}-x"), // not our pattern
            format!(".b.tar.tmp-{dead_pid}-0"), // another target
        ];
        for n in &names {
            fs::write(dir.path().join(n), b"partial").unwrap();
        }
        remove_stale(dir.path(), ".a.tar.tmp-");
        let left: Vec<bool> = names.iter().map(|n| dir.path().join(n).exists()).collect();
        assert_eq!(left, [false, true, true, true, true]);
    }
}
