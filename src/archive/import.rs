//! Import: an archive streamed into a layout, trusting nothing it reads. Every blob is hashed as it
//! streams into the blob store and named only if it hashes to its member name; unsafe members are
//! refused; the closure of every entry must be complete before `index.json` changes. A refused import
//! leaves the target exactly as it was. This module is the session (stream, store, finish); member
//! path safety and member I/O live in `members`, the merge into `index.json` in `merge`.

use std::fs;
use std::io::{self, BufReader, Read};
use std::path::Path;
use std::sync::mpsc;

use flate2::read::MultiGzDecoder;
use oci_spec::image::Digest;

use super::closure;
use super::docker::{self, Members};
use super::members::{copy, read_small, safe_components, Spooled};
use super::merge::{apply_name_options, merge};
use super::tar_reader::{Kind, Member, TarReader};
use super::{ImportOptions, ImportReport, COPY_BUFFER};
use crate::digest::{self, Algorithm, HashingReader};
use crate::error::{Error, Result};
use crate::graph;
use crate::layout::{IndexDocument, Layout};
use crate::names::NameOptions;
use crate::platform::Platform;
use crate::store::VerifiedBlob;

/// Verified blobs waiting to be persisted while the next ones stream in.
const PERSIST_QUEUE: usize = 4;

/// The `oci-layout` member is refused above this size.
const OCI_LAYOUT_LIMIT: u64 = 4096;

/// An archive's `index.json` is refused above this size, at its member header, before a byte of it
/// is inflated: a few megabytes of gzip can inflate to gigabytes, and merging an index costs memory
/// in proportion to its size (about 7 times it, plus about 5 times the layout's own index.json).
/// 64 MiB is about 300,000 entries, far beyond any real bundle (80,000 entries are about 16 MiB); a
/// layout's own `index.json` is not capped.
pub const ARCHIVE_INDEX_LIMIT: u64 = 64 << 20;

/// Imports the archive read from `source` into the layout at `dir`, creating it when needed, and
/// merges the archive's entries into its `index.json` (an entry whose name is already taken replaces
/// that entry; the move is reported). On any error, blobs this import added are removed again, and a
/// directory it created is removed.
pub fn import(source: impl Read, dir: &Path, opts: &ImportOptions) -> Result<ImportReport> {
    // Refuses a directory that is not a layout, unless it is empty or our own interrupted init.
    let (layout, created) = Layout::init_tracked(dir)?;
    let alg_dirs_before: Vec<bool> = [Algorithm::Sha256, Algorithm::Sha512]
        .iter()
        .map(|a| dir.join("blobs").join(a.as_str()).is_dir())
        .collect();
    let mut session = Session {
        layout: &layout,
        created: Vec::new(),
        report: ImportReport::default(),
        oci_layout: None,
        index: None,
        persist: None,
        platform: opts.platform.clone(),
        names: opts.names.clone(),
        docker: Members::default(),
        candidates: Vec::new(),
        stored: Vec::new(),
    };
    let result = {
        // Held for the whole import: gc must not sweep blobs that the index does not name yet.
        let guard = layout.lock_writers();
        guard.and_then(|_guard| {
            session.read_stream(source)?;
            session.finish()
        })
    };
    match result {
        Ok(()) => {
            if opts.platform.is_some() {
                // The other platforms' blobs the archive held: no entry names them.
                remove_unreferenced(&layout, &session.created);
            } else {
                // Members outside the layout, stored in case a docker-archive manifest named them.
                remove_unreferenced(&layout, &session.candidates);
            }
            Ok(session.report)
        }
        Err(e) => {
            remove_unreferenced(&layout, &session.created);
            for (alg, existed) in [Algorithm::Sha256, Algorithm::Sha512]
                .iter()
                .zip(alg_dirs_before)
            {
                if !existed {
                    let _ = fs::remove_dir(dir.join("blobs").join(alg.as_str()));
                }
            }
            // Only when this import created the layout and nothing has been named in it since.
            created.undo(&layout);
            Err(e)
        }
    }
}

/// Removes the blobs a refused import added, except any that an entry reaches by now: another writer
/// (a concurrent import or pull) may have stored the same blob and named it. Waiting for the exclusive
/// writer lock means no writer is between storing and naming; when the index cannot be read, nothing
/// is removed (leftovers are gc's to collect, never a loss).
fn remove_unreferenced(layout: &Layout, created: &[Digest]) {
    if created.is_empty() {
        return;
    }
    let Ok(_writers) = layout.lock_writers_exclusive() else {
        return;
    };
    let Ok(_index) = layout.lock_index() else {
        return;
    };
    let Ok(graph) = layout
        .read_index()
        .and_then(|index| graph::walk(layout.blobs(), index.manifests()))
    else {
        return;
    };
    for d in created.iter().filter(|d| !graph.contains(d)) {
        let _ = layout.blobs().remove(d);
    }
}

/// One import in progress.
struct Session<'a> {
    layout: &'a Layout,
    /// Blobs this import added to the store (not there before): removed again on refusal.
    created: Vec<Digest>,
    report: ImportReport,
    oci_layout: Option<Vec<u8>>,
    /// The archive's `index.json`, spooled to a temporary file: like the layout's own, it is not
    /// capped (docs/store.md), and it is not held in memory while the blobs stream.
    index: Option<Spooled>,
    /// Hands verified blobs to the thread that persists them (set while the stream is read).
    persist: Option<mpsc::SyncSender<VerifiedBlob>>,
    /// Store only this platform's manifest of each image index.
    platform: Option<Platform>,
    /// How names are written: a docker-archive's `RepoTags`, and an OCI archive's full names.
    names: NameOptions,
    /// Members outside the OCI layout (docker-archive files and links).
    docker: Members,
    /// Blobs this import added for members outside the OCI layout: removed unless an entry uses them.
    candidates: Vec<Digest>,
    /// Every blob member of an OCI archive, its size, and whether this import wrote it: with a
    /// platform, the report counts only those the kept entries reach.
    stored: Vec<(Digest, u64, bool)>,
}

impl Session<'_> {
    /// Reads every member, storing blobs as they stream by and keeping the two small documents.
    fn read_stream(&mut self, source: impl Read) -> Result<()> {
        let mut source = BufReader::with_capacity(COPY_BUFFER, source);
        let mut magic = [0u8; 2];
        let mut filled = 0;
        while filled < 2 {
            match source.read(&mut magic[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    return Err(Error::ArchiveRead {
                        member: None,
                        source: e,
                    })
                }
            }
        }
        let stream = (&magic[..filled]).chain(source);
        let stream: Box<dyn Read> = if magic[..filled] == [0x1f, 0x8b] {
            Box::new(BufReader::with_capacity(
                COPY_BUFFER,
                MultiGzDecoder::new(stream),
            ))
        } else {
            Box::new(stream)
        };
        let mut tar = TarReader::new(stream);
        // Durability off the reading path: while blob N is fsynced and renamed on this thread, blob
        // N+1 streams in. Every blob is persisted before `finish` writes the index that names it.
        std::thread::scope(|scope| {
            let (tx, rx) = mpsc::sync_channel::<VerifiedBlob>(PERSIST_QUEUE);
            let persister = scope.spawn(move || -> Result<()> {
                for blob in rx {
                    blob.persist()?;
                }
                Ok(())
            });
            self.persist = Some(tx);
            let read = (|| {
                while let Some(member) = tar.next_member()? {
                    self.member(&member, &mut tar)?;
                }
                Ok(())
            })();
            self.persist = None;
            let persisted = persister.join().unwrap_or(Err(Error::Internal {
                what: "the blob persister",
            }));
            // The persister's error is the cause when reading stopped because it did.
            persisted.and(read)
        })
    }

    fn member(&mut self, member: &Member, content: &mut dyn Read) -> Result<()> {
        let shown = String::from_utf8_lossy(&member.path).into_owned();
        let refuse = |reason: &str| Error::ArchiveMember {
            member: shown.clone(),
            reason: reason.to_string(),
        };
        let path = std::str::from_utf8(&member.path).map_err(|_| refuse("not UTF-8"))?;
        let parts = safe_components(path).map_err(&refuse)?;
        // The layout's own members are never links; elsewhere (docker-archive layer directories) a
        // link names another member and is resolved within the archive, never on the file system.
        let layout_member = matches!(
            parts.first(),
            Some(&"blobs" | &"oci-layout" | &"index.json")
        );
        match member.kind {
            Kind::Regular => {}
            Kind::Directory => return Ok(()),
            Kind::Symlink | Kind::HardLink if !layout_member && !parts.is_empty() => {
                let target = std::str::from_utf8(&member.link).map_err(|_| refuse("not UTF-8"))?;
                return self
                    .docker
                    .link(&parts, target, member.kind == Kind::Symlink)
                    .map_err(|r| refuse(&r));
            }
            Kind::Symlink => return Err(refuse("symbolic links are not allowed")),
            Kind::HardLink => return Err(refuse("hard links are not allowed")),
            Kind::Device => return Err(refuse("device files are not allowed")),
            Kind::Fifo => return Err(refuse("FIFOs are not allowed")),
            Kind::Other(flag) => {
                return Err(refuse(&format!(
                    "unsupported member type {:?}",
                    char::from(flag)
                )))
            }
        }
        match parts.as_slice() {
            ["oci-layout"] => {
                let bytes = read_small(content, member, OCI_LAYOUT_LIMIT, &shown)?;
                if self.oci_layout.replace(bytes).is_some() {
                    return Err(refuse("appears twice"));
                }
            }
            ["index.json"] => {
                if self.index.is_some() {
                    return Err(refuse("appears twice"));
                }
                if member.size > ARCHIVE_INDEX_LIMIT {
                    return Err(Error::TooLarge {
                        what: "index.json in the archive".into(),
                        size: member.size,
                        limit: ARCHIVE_INDEX_LIMIT,
                    });
                }
                self.index = Some(Spooled::write(self.layout, content, &shown)?);
            }
            ["blobs", alg, hex] => {
                let d = digest::parse(&format!("{alg}:{hex}"))
                    .map_err(|e| refuse(&format!("not a blob name: {e}")))?;
                self.blob(&d, member.size, content, &shown)?;
            }
            // A file under blobs/ that is no blob: a malformed digest (`blobs/sha256/abc/def`).
            ["blobs", ..] => return Err(refuse("not a blob name: expected blobs/ALGORITHM/HEX")),
            ["manifest.json"] => {
                let bytes = read_small(content, member, docker::DOCUMENT_LIMIT, &shown)?;
                if self.docker.manifest.replace(bytes).is_some() {
                    return Err(refuse("appears twice"));
                }
                self.report.ignored += 1;
            }
            _ => {
                self.report.ignored += 1;
                let d = self.candidate(member.size, content, &shown)?;
                self.docker
                    .file(parts.join("/"), d, member.size)
                    .map_err(|r| refuse(&r))?;
            }
        }
        Ok(())
    }

    /// Stores a member outside the OCI layout under its sha256: a docker-archive's `manifest.json`,
    /// which may come last, can name it as a config or a layer.
    fn candidate(&mut self, size: u64, content: &mut dyn Read, shown: &str) -> Result<Digest> {
        let store = self.layout.blobs();
        let mut writer = store.writer(Algorithm::Sha256)?;
        let tmp = writer.temp_path().to_path_buf();
        copy(content, &mut writer, shown, &tmp)?;
        let verified = writer.verify(None, Some(size))?;
        let d = verified.digest().clone();
        if store.has(&d, size)? {
            return Ok(d);
        }
        let existed = store.size(&d)?.is_some();
        self.persist
            .as_ref()
            .expect("members are read inside read_stream")
            .send(verified)
            .map_err(|_| Error::Internal {
                what: "the blob persister",
            })?;
        if !existed {
            self.created.push(d.clone());
            self.candidates.push(d.clone());
        }
        Ok(d)
    }

    /// Streams one blob member into the store, named only if its content hashes to `d`. A blob the
    /// store already holds is still read and checked, but not written again.
    fn blob(&mut self, d: &Digest, size: u64, content: &mut dyn Read, shown: &str) -> Result<()> {
        let store = self.layout.blobs();
        let mismatch = |found: &dyn std::fmt::Display| Error::ArchiveMember {
            member: shown.to_string(),
            reason: format!("content hashes to {found}, not to its name"),
        };
        if store.has(d, size)? {
            let mut hashing = HashingReader::new(content, Algorithm::of(d)?);
            copy(&mut hashing, &mut io::sink(), shown, Path::new("-"))?;
            let (found, _) = hashing.finish();
            if &found != d {
                return Err(mismatch(&found));
            }
            self.report.blobs_skipped += 1;
            self.stored.push((d.clone(), size, false));
            return Ok(());
        }
        let existed = store.size(d)?.is_some();
        let mut writer = store.writer(Algorithm::of(d)?)?;
        let tmp = writer.temp_path().to_path_buf();
        copy(content, &mut writer, shown, &tmp)?;
        let verified = match writer.verify(Some(d), Some(size)) {
            Ok(v) => v,
            Err(Error::DigestMismatch { found, .. }) => return Err(mismatch(&found)),
            Err(e) => return Err(e),
        };
        self.persist
            .as_ref()
            .expect("blobs are read inside read_stream")
            .send(verified)
            .map_err(|_| Error::Internal {
                what: "the blob persister",
            })?;
        if !existed {
            self.created.push(d.clone());
        }
        self.report.blobs_written += 1;
        self.report.bytes += size;
        self.stored.push((d.clone(), size, true));
        Ok(())
    }

    /// After the stream: the archive must be a layout whose entries' closures are complete; then the
    /// entries are merged into `index.json` under the index lock.
    fn finish(&mut self) -> Result<()> {
        if self.oci_layout.is_none() && self.index.is_none() && self.docker.manifest.is_some() {
            return self.finish_docker();
        }
        let not_layout = |what: &str| Error::ArchiveNotALayout {
            reason: what.to_string(),
        };
        let marker = self
            .oci_layout
            .as_deref()
            .ok_or_else(|| not_layout("no oci-layout member"))?;
        let version = serde_json::from_slice::<serde_json::Value>(marker)
            .ok()
            .and_then(|v| v.get("imageLayoutVersion")?.as_str().map(str::to_string))
            .ok_or_else(|| not_layout("oci-layout has no imageLayoutVersion"))?;
        if !version.starts_with("1.") {
            return Err(not_layout(&format!(
                "unsupported imageLayoutVersion {version:?}"
            )));
        }
        let spooled = self
            .index
            .as_ref()
            .ok_or_else(|| not_layout("no index.json member"))?;
        let bytes = fs::read(&spooled.path).map_err(|e| Error::io(&spooled.path, e))?;
        let mut archived = IndexDocument::parse(bytes, Path::new("index.json in the archive"))?;
        let mut entries = archived.take_entries();
        if let Some(p) = &self.platform {
            entries = closure::select_platform(self.layout, entries, p)?;
        }
        let graph = closure::check(self.layout, &entries)?;
        if self.platform.is_some() {
            // The other platforms' blobs go again once the entries are named: not reported as kept.
            self.count_kept(&graph);
        }
        apply_name_options(&mut entries, &self.names);
        self.report.images = entries.len();
        self.report.moved = self.layout.update_index(|doc| Ok(merge(doc, entries)))?;
        Ok(())
    }
}

impl Session<'_> {
    /// Counts, of the blobs the archive held, only those the kept entries reach (`graph`): written
    /// by this import, or already in the store.
    fn count_kept(&mut self, graph: &graph::Graph) {
        let mut seen = std::collections::HashSet::new();
        let kept: Vec<(u64, bool)> = self
            .stored
            .iter()
            .filter(|(d, _, _)| graph.contains(d) && seen.insert(d))
            .map(|(_, size, wrote)| (*size, *wrote))
            .collect();
        self.count(kept);
    }

    /// Sets the report's counts from the blobs it reports, each with its size and whether this
    /// import wrote it (otherwise the store already held it).
    fn count(&mut self, blobs: impl IntoIterator<Item = (u64, bool)>) {
        let (mut written, mut skipped, mut bytes) = (0, 0, 0);
        for (size, wrote) in blobs {
            if wrote {
                written += 1;
                bytes += size;
            } else {
                skipped += 1;
            }
        }
        self.report.blobs_written = written;
        self.report.blobs_skipped = skipped;
        self.report.bytes = bytes;
    }

    /// After the stream of a docker-archive: one OCI image manifest per image of `manifest.json`,
    /// named after its `RepoTags`, merged into `index.json` like an OCI archive's entries.
    fn finish_docker(&mut self) -> Result<()> {
        let converted = docker::convert(
            self.layout,
            &self.docker,
            self.platform.as_ref(),
            &self.names,
            &mut self.created,
        )?;
        closure::check(self.layout, &converted.entries)?;
        let created: std::collections::HashSet<&Digest> = self.created.iter().collect();
        let used: Vec<(u64, bool)> = converted
            .used
            .iter()
            .map(|(d, size)| (*size, created.contains(d)))
            .collect();
        self.count(used);
        self.report.ignored = converted.unused;
        self.report.images = converted.entries.len();
        self.report.moved = self
            .layout
            .update_index(|doc| Ok(merge(doc, converted.entries)))?;
        Ok(())
    }
}
