//! Archives (docs/archives.md): a whole layout, or the closure of chosen entries, as one tar stream (optionally
//! gzip-compressed), and the verified, all-or-nothing import of such a stream into a layout.
//!
//! Members are `oci-layout`, `index.json`, optionally `manifest.json` (for `docker load`), and
//! `blobs/<alg>/<hex>`. Export is deterministic: fixed member order, mtime 0, owner 0:0, fixed modes.

mod closure;
mod docker;
mod export;
mod import;
mod members;
mod merge;
mod tar_reader;
mod target;

use oci_spec::image::Descriptor;

pub use export::{export, export_to_path, select_entries};
pub use import::{import, ARCHIVE_INDEX_LIMIT};
pub use target::remove_temp_files_on_signal;

use crate::layout::Layout;
pub use crate::names::Moved;

/// Bytes moved through one buffer while streaming blobs.
const COPY_BUFFER: usize = 1 << 20;

/// How an exported archive is compressed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Compression {
    /// A plain tar stream.
    #[default]
    None,
    /// A gzip-compressed tar stream (`.tar.gz`, `.tgz`).
    Gzip,
}

impl Compression {
    /// The compression an archive's file name asks for: gzip for `.tar.gz` and `.tgz`.
    pub fn for_path(path: &std::path::Path) -> Compression {
        let name = path.to_string_lossy();
        if name.ends_with(".tar.gz") || name.ends_with(".tgz") {
            Compression::Gzip
        } else {
            Compression::None
        }
    }
}

/// What to export and how.
#[derive(Clone, Debug, Default)]
pub struct ExportOptions {
    /// The index entries to export; `None` exports the layout's whole `index.json` as it is.
    pub entries: Option<Vec<Descriptor>>,
    /// A layout the receiving side already holds: blobs present in it are left out of the archive.
    pub base: Option<Layout>,
    /// Also write the `manifest.json` that `docker load` reads.
    pub docker_manifest: bool,
    /// Compression of the tar stream.
    pub compression: Compression,
}

/// What an export wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExportReport {
    /// Entries in the archive's `index.json`.
    pub images: usize,
    /// Blobs written into the archive.
    pub blobs_written: usize,
    /// Blobs of the closure left out because the base layout has them.
    pub blobs_skipped: usize,
    /// Blob bytes written (before compression).
    pub bytes: u64,
}

/// Options for an import.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct ImportOptions {
    /// Store, under each entry's name, only the manifest for this platform of an image index (as
    /// `pull --platform` does); only that manifest's closure need be in the archive.
    pub platform: Option<crate::platform::Platform>,
    /// How names are written: those taken from a docker-archive's `RepoTags`, and, with
    /// `full_ref_name`, the `ref.name` of an OCI archive's entries that carry a full name (every
    /// other annotation of theirs is kept as the archive has it).
    pub names: crate::names::NameOptions,
}

/// What an import did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// Entries of the archive's `index.json` merged into the layout.
    pub images: usize,
    /// Blobs the import added to the store and kept. With a platform, only those the kept entries
    /// reach: the other platforms' blobs are stored while the archive streams and removed again.
    pub blobs_written: usize,
    /// Blobs of the archive the store already held (their content was still verified); with a
    /// platform, only those the kept entries reach.
    pub blobs_skipped: usize,
    /// Bytes of the blobs counted in `blobs_written`.
    pub bytes: u64,
    /// Archive members that are not part of an OCI layout (for example `manifest.json`), not stored.
    pub ignored: usize,
    /// Names that now label a different digest than before.
    pub moved: Vec<Moved>,
}
