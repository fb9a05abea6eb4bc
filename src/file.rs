//! Opening a file a layout holds (`oci-layout`, `index.json`, a blob): only a regular file is ever
//! read. A FIFO, a socket or a device where a layout should hold a file is refused at once, naming the
//! path and what it is, and never opened in a way that blocks: a hostile layout cannot hang a command
//! or the server. Every read of a layout's files goes through [`open`].

use std::fs::{self, File, Metadata};
use std::io::{self, Read};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

use crate::error::{Error, FileKind, IoContext, Result};

/// Whether a symbolic link at the file itself is followed. Links in the directories above it are
/// the caller's to check (`store::existing_dir`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Links {
    /// A link is followed; what it points at must be a regular file.
    Follow,
    /// A link is refused (`O_NOFOLLOW`).
    Refuse,
}

/// Opens `path` for reading when it is a regular file; anything else is [`Error::NotAFile`].
///
/// The path is `stat`ed first, so a device is never opened at all (opening one can have effects of
/// its own); then it is opened with `O_NONBLOCK` (a FIFO swapped in meanwhile opens at once instead
/// of waiting for a writer), the descriptor is `fstat`ed and refused unless it is a regular file, and
/// `O_NONBLOCK` is cleared again. A missing file is an [`Error::Io`] of kind `NotFound` (see
/// [`is_not_found`]).
pub(crate) fn open(path: &Path, links: Links) -> Result<File> {
    let meta = match links {
        Links::Follow => fs::metadata(path),
        Links::Refuse => fs::symlink_metadata(path),
    }
    .at(path)?;
    regular(path, &meta)?;
    let mut flags = libc::O_NONBLOCK | libc::O_CLOEXEC;
    if links == Links::Refuse {
        flags |= libc::O_NOFOLLOW;
    }
    let file = fs::OpenOptions::new()
        .read(true)
        .custom_flags(flags)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            // Replaced by a link between the `lstat` and the open.
            Some(libc::ELOOP) if links == Links::Refuse => Error::NotAFile {
                path: path.to_path_buf(),
                kind: FileKind::Symlink,
            },
            _ => Error::io(path, e),
        })?;
    regular(path, &file.metadata().at(path)?)?;
    blocking(&file).at(path)?;
    Ok(file)
}

/// Opens `path`, already `stat`ed by the caller and found to be a regular file, to read its first
/// few bytes: the descriptor is still `fstat`ed and refused unless it is a regular file (a FIFO
/// swapped in meanwhile opens at once, because of `O_NONBLOCK`, and is refused), but the second
/// `stat` and the clearing of `O_NONBLOCK` are left out: a read of a regular file never blocks
/// whatever that flag says. For gc's marking, which peeks at every small blob it keeps.
pub(crate) fn open_to_peek(path: &Path) -> Result<File> {
    let file = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)
        .at(path)?;
    regular(path, &file.metadata().at(path)?)?;
    Ok(file)
}

/// Reads the whole regular file at `path` (see [`open`]).
pub(crate) fn read(path: &Path, links: Links) -> Result<Vec<u8>> {
    let mut file = open(path, links)?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).at(path)?;
    Ok(bytes)
}

/// Whether `e` says that the file [`open`] was asked for is not there.
pub(crate) fn is_not_found(e: &Error) -> bool {
    matches!(e, Error::Io { source, .. } if source.kind() == io::ErrorKind::NotFound)
}

/// Refuses anything but a regular file, saying what it is.
pub(crate) fn regular(path: &Path, meta: &Metadata) -> Result<()> {
    let t = meta.file_type();
    let kind = if t.is_file() {
        return Ok(());
    } else if t.is_fifo() {
        FileKind::Fifo
    } else if t.is_socket() {
        FileKind::Socket
    } else if t.is_char_device() {
        FileKind::CharDevice
    } else if t.is_block_device() {
        FileKind::BlockDevice
    } else if t.is_dir() {
        FileKind::Directory
    } else if t.is_symlink() {
        FileKind::Symlink
    } else {
        FileKind::Other
    };
    Err(Error::NotAFile {
        path: path.to_path_buf(),
        kind,
    })
}

/// Clears `O_NONBLOCK`, which was only there for the open.
fn blocking(file: &File) -> io::Result<()> {
    let fd = file.as_raw_fd();
    // SAFETY: `fd` is a descriptor this function borrows from an open `File`; F_GETFL and F_SETFL
    // read and set its status flags and touch no memory.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: as above.
    if unsafe { libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every kind of file that is not a regular file is refused at once, naming the path and the
    /// kind; a regular file is read, and a link is followed or refused as asked.
    #[test]
    fn only_regular_files_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        fs::write(d.join("file"), b"hello").unwrap();
        let fifo = std::ffi::CString::new(d.join("fifo").to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
        let _socket = std::os::unix::net::UnixListener::bind(d.join("socket")).unwrap();
        fs::create_dir(d.join("dir")).unwrap();
        std::os::unix::fs::symlink("file", d.join("link")).unwrap();
        std::os::unix::fs::symlink("fifo", d.join("link-to-fifo")).unwrap();

        assert_eq!(read(&d.join("file"), Links::Refuse).unwrap(), b"hello");
        assert_eq!(read(&d.join("link"), Links::Follow).unwrap(), b"hello");
        let cases = [
            ("fifo", Links::Follow, FileKind::Fifo),
            ("socket", Links::Follow, FileKind::Socket),
            ("dir", Links::Follow, FileKind::Directory),
            ("link", Links::Refuse, FileKind::Symlink),
            ("link-to-fifo", Links::Follow, FileKind::Fifo),
        ];
        for (name, links, want) in cases {
            let path = d.join(name);
            match read(&path, links) {
                Err(Error::NotAFile { path: p, kind }) => {
                    assert_eq!((p.as_path(), kind), (path.as_path(), want), "{name}")
                }
                other => panic!("{name}: {other:?}"),
            }
        }
        assert!(is_not_found(
            &read(&d.join("missing"), Links::Follow).unwrap_err()
        ));
        // The descriptor handed out blocks as usual.
        let file = open(&d.join("file"), Links::Refuse).unwrap();
        // SAFETY: F_GETFL on an open descriptor.
        let flags = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_GETFL) };
        assert_eq!(flags & libc::O_NONBLOCK, 0);

        // The peek's open: a regular file is read; anything swapped in for it is refused at once.
        let mut peeked = String::new();
        open_to_peek(&d.join("file"))
            .unwrap()
            .read_to_string(&mut peeked)
            .unwrap();
        assert_eq!(peeked, "hello");
        for (name, want) in [
            ("fifo", FileKind::Fifo),
            ("link-to-fifo", FileKind::Fifo),
            ("dir", FileKind::Directory),
        ] {
            match open_to_peek(&d.join(name)) {
                Err(Error::NotAFile { kind, .. }) => assert_eq!(kind, want, "{name}"),
                other => panic!("{name}: {other:?}"),
            }
        }
        assert!(is_not_found(&open_to_peek(&d.join("missing")).unwrap_err()));
    }
}
