//! Archive members as import reads them: which member paths are safe (nothing may leave the
//! layout), reading small members whole, spooling a member to a temporary file, and copying a
//! member's content while telling a broken archive apart from a failing write.

use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use super::tar_reader::Member;
use super::COPY_BUFFER;
use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::store::{self, TMP_DIR};

/// The components of a member path, refusing anything that could leave the layout: absolute paths,
/// `..`, and empty or `.` components (a leading `./` is accepted, as `tar -C dir .` writes it).
pub(super) fn safe_components(path: &str) -> std::result::Result<Vec<&str>, &'static str> {
    if path.starts_with('/') {
        return Err("absolute paths are not allowed");
    }
    let mut rest = path;
    while let Some(r) = rest.strip_prefix("./") {
        rest = r;
    }
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.is_empty() || rest == "." {
        return Ok(Vec::new());
    }
    let parts: Vec<&str> = rest.split('/').collect();
    for p in &parts {
        match *p {
            ".." => return Err("\"..\" is not allowed in a path"),
            "" | "." => return Err("not a normalized path"),
            p if p.contains('\\') => return Err("backslashes are not allowed in a path"),
            _ => {}
        }
    }
    Ok(parts)
}

/// Reads a small member whole, refusing one over `limit`.
pub(super) fn read_small(
    content: &mut dyn Read,
    member: &Member,
    limit: u64,
    shown: &str,
) -> Result<Vec<u8>> {
    if member.size > limit {
        return Err(Error::TooLarge {
            what: format!("archive member {shown:?}"),
            size: member.size,
            limit,
        });
    }
    let mut bytes = Vec::with_capacity(member.size as usize);
    content
        .take(limit)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::ArchiveRead {
            member: Some(shown.to_string()),
            source: e,
        })?;
    Ok(bytes)
}

/// A member's content in a temporary file under the layout's `.ocilayout/tmp`, removed on drop. gc
/// clears that directory only under the exclusive writer lock, which an import keeps it from taking.
pub(super) struct Spooled {
    pub(super) path: PathBuf,
}

impl Spooled {
    pub(super) fn write(layout: &Layout, content: &mut dyn Read, shown: &str) -> Result<Spooled> {
        let dir = store::ensure_dir(layout.root(), TMP_DIR)?;
        let (mut file, path) = store::create_temp(&dir, |n| {
            format!("import-index-{}-{n}.json", std::process::id())
        })?;
        let spooled = Spooled { path };
        copy(content, &mut file, shown, &spooled.path)?;
        Ok(spooled)
    }
}

impl Drop for Spooled {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

/// Copies a member's content, telling a broken archive apart from a failing write.
pub(super) fn copy(
    reader: &mut dyn Read,
    writer: &mut dyn io::Write,
    shown: &str,
    dest: &Path,
) -> Result<u64> {
    let mut buf = vec![0u8; COPY_BUFFER];
    let mut total = 0;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(Error::ArchiveRead {
                    member: Some(shown.to_string()),
                    source: e,
                });
            }
        };
        writer
            .write_all(&buf[..n])
            .map_err(|e| Error::io(dest, e))?;
        total += n as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_paths_are_checked() {
        let ok = [
            ("oci-layout", vec!["oci-layout"]),
            ("./index.json", vec!["index.json"]),
            ("blobs/sha256/", vec!["blobs", "sha256"]),
            ("./", vec![]),
        ];
        for (path, want) in ok {
            assert_eq!(safe_components(path).unwrap(), want, "{path}");
        }
        let bad = [
            "/etc/passwd",
            "../x",
            "blobs/../../x",
            "blobs/sha256/..",
            "blobs//sha256",
            "a/./b",
            "..\\x",
        ];
        for path in bad {
            assert!(safe_components(path).is_err(), "{path}");
        }
    }
}
