//! Export: the closure of a layout's entries streamed into a deterministic tar, each blob verified
//! against its digest on the way out so that corruption is never shipped.

use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use oci_spec::image::{Descriptor, Digest};
use serde::Deserialize;
use tar::{Builder, EntryType, Header};

use super::{Compression, ExportOptions, ExportReport, COPY_BUFFER};
use crate::digest::{Algorithm, Hasher};
use crate::error::{Error, Result};
use crate::graph::{self, Operation};
use crate::layout::{self, Layout, OCI_LAYOUT_CONTENT};
use crate::resolve;
use crate::store::BlobStore;

/// Streams an archive of `layout` (or of the entries `opts` chooses) into `out`. Nothing is written
/// when the closure is incomplete or damaged; a blob whose content turns out not to match its digest
/// while it streams fails the export with the archive left unterminated, so no reader accepts it.
pub fn export(layout: &Layout, out: impl Write, opts: &ExportOptions) -> Result<ExportReport> {
    export_labelled(layout, out, Path::new("-"), opts)
}

/// The index entries that what the user typed names, for [`ExportOptions::entries`]: every entry the
/// deciding step of docs/names.md matches (they share one digest, or the input is ambiguous), or, for a
/// digest no entry carries, the manifest blob itself.
pub fn select_entries(layout: &Layout, inputs: &[&str]) -> Result<Vec<Descriptor>> {
    let index = layout.read_index()?;
    let mut entries = Vec::new();
    for input in inputs {
        let hits = resolve::find_entries(index.manifests(), input)?;
        let one_digest = hits
            .windows(2)
            .all(|w| index.manifests()[w[0]].digest() == index.manifests()[w[1]].digest());
        if hits.is_empty() || !one_digest {
            // Not found, ambiguous (both errors), or a manifest blob named by digest.
            entries.push(resolve::resolve_in(layout, &index, input)?);
        } else {
            entries.extend(hits.iter().map(|&i| index.manifests()[i].clone()));
        }
    }
    Ok(entries)
}

/// Exports into `path`. A regular file (or a new one) is written under a temporary name beside it
/// and renamed into place only when complete, keeping the mode of the file it replaces, so a failed
/// export leaves no partial archive behind; a FIFO, a device or `/dev/fd/N` is written in place.
pub fn export_to_path(layout: &Layout, path: &Path, opts: &ExportOptions) -> Result<ExportReport> {
    super::target::write_to(path, |out| export_labelled(layout, out, path, opts))
}

fn export_labelled(
    layout: &Layout,
    out: impl Write,
    label: &Path,
    opts: &ExportOptions,
) -> Result<ExportReport> {
    if opts.docker_manifest && opts.base.is_some() {
        return Err(Error::Conflict {
            first: "--docker-manifest",
            second: "--base",
            reason: "needs every layer in the archive",
        });
    }
    // Keeps gc from sweeping blobs while they are read. Best effort: a read-only layout can still be
    // exported, it just cannot be protected against a concurrent gc. A symbolic link where our lock
    // file or state directory should be is refused, not ignored.
    let _guard = match layout.lock_writers() {
        Ok(guard) => Some(guard),
        Err(e @ Error::Unsafe { .. }) => return Err(e),
        Err(_) => None,
    };
    let (index_bytes, entries) = index_document(layout, opts.entries.as_deref())?;
    let store = layout.blobs();
    let graph = graph::walk(store, &entries)?;
    // Every blob sound, and no manifest over what import (and registries) accept: an archive that
    // cannot be read back is refused here, not found out on the other side of an air gap.
    graph.require(Operation::Export, layout.root())?;
    let docker_manifest = if opts.docker_manifest {
        Some(docker_manifest(store, &entries)?)
    } else {
        None
    };

    let mut report = ExportReport {
        images: entries.len(),
        ..ExportReport::default()
    };
    let mut blobs: Vec<(String, &Descriptor)> = Vec::new();
    for node in &graph.nodes {
        let d = &node.descriptor;
        if let Some(base) = &opts.base {
            if base.blobs().has(d.digest(), d.size())? {
                report.blobs_skipped += 1;
                continue;
            }
        }
        blobs.push((member_path(d.digest()), d));
    }
    blobs.sort_by(|a, b| a.0.cmp(&b.0));

    let write_err = |e: io::Error| Error::io(label, e);
    let members = Members {
        index: &index_bytes,
        docker_manifest: docker_manifest.as_deref(),
        blobs: &blobs,
        store,
    };
    match opts.compression {
        Compression::None => {
            let mut tar = Builder::new(out);
            members.write(&mut tar, label, &mut report)?;
            tar.into_inner()
                .map_err(write_err)?
                .flush()
                .map_err(write_err)?;
        }
        Compression::Gzip => {
            let gz = flate2::GzBuilder::new()
                .mtime(0)
                .write(out, flate2::Compression::default());
            let mut tar = Builder::new(gz);
            members.write(&mut tar, label, &mut report)?;
            let gz = tar.into_inner().map_err(write_err)?;
            gz.finish().map_err(write_err)?.flush().map_err(write_err)?;
        }
    }
    Ok(report)
}

/// The archive's `index.json` bytes and its entries: the layout's own document untouched when every
/// entry is exported, otherwise a fresh index of the chosen entries with keys in sorted order.
fn index_document(
    layout: &Layout,
    chosen: Option<&[Descriptor]>,
) -> Result<(Vec<u8>, Vec<Descriptor>)> {
    let Some(chosen) = chosen else {
        let path = layout.root().join("index.json");
        let bytes = crate::file::read(&path, crate::file::Links::Follow)?;
        let index = layout::parse_index(&bytes, &path)?;
        return Ok((bytes, index.manifests().clone()));
    };
    let mut entries: Vec<Descriptor> = Vec::new();
    for d in chosen {
        crate::digest::validate(d.digest())?;
        if !entries.contains(d) {
            entries.push(d.clone());
        }
    }
    let mut index = layout::empty_index();
    index.set_manifests(entries.clone());
    // Through serde_json::Value, whose maps are sorted, so that annotations serialize in one order.
    let value = serde_json::to_value(&index).map_err(|e| Error::Malformed {
        what: "index.json".into(),
        reason: e.to_string(),
    })?;
    let mut bytes = serde_json::to_vec(&value).expect("a JSON value serializes");
    bytes.push(b'\n');
    Ok((bytes, entries))
}

/// The member name of a blob: `blobs/<alg>/<hex>`.
fn member_path(d: &Digest) -> String {
    format!("blobs/{}/{}", d.algorithm().as_ref(), d.digest())
}

/// Everything that goes into the tar, in the order it is written.
struct Members<'a> {
    index: &'a [u8],
    docker_manifest: Option<&'a [u8]>,
    blobs: &'a [(String, &'a Descriptor)],
    store: &'a BlobStore,
}

impl Members<'_> {
    fn write<W: Write>(
        &self,
        tar: &mut Builder<W>,
        label: &Path,
        report: &mut ExportReport,
    ) -> Result<()> {
        let write_err = |e: io::Error| Error::io(label, e);
        let file = |tar: &mut Builder<W>, name: &str, bytes: &[u8]| {
            let mut h = header(EntryType::Regular, bytes.len() as u64);
            tar.append_data(&mut h, name, bytes).map_err(write_err)
        };
        file(tar, "oci-layout", OCI_LAYOUT_CONTENT.as_bytes())?;
        file(tar, "index.json", self.index)?;
        if let Some(m) = self.docker_manifest {
            file(tar, "manifest.json", m)?;
        }
        let dir = |tar: &mut Builder<W>, name: &str| {
            let mut h = header(EntryType::Directory, 0);
            tar.append_data(&mut h, name, io::empty())
                .map_err(write_err)
        };
        dir(tar, "blobs/")?;
        let mut current_alg = "";
        for (path, d) in self.blobs {
            let alg = d.digest().algorithm().as_ref();
            if alg != current_alg {
                dir(tar, &format!("blobs/{alg}/"))?;
                current_alg = alg;
            }
            let mut reader = VerifyingReader::open(self.store, d)?;
            let mut h = header(EntryType::Regular, d.size());
            if let Err(e) = tar.append_data(&mut h, path, &mut reader) {
                return Err(reader.failure.take().unwrap_or_else(|| write_err(e)));
            }
            if let Some(failure) = reader.failure.take() {
                return Err(failure);
            }
            report.blobs_written += 1;
            report.bytes += d.size();
        }
        Ok(())
    }
}

/// A member header with fixed metadata: mtime 0, owner 0:0 with empty names, mode 0644 or 0755.
fn header(kind: EntryType, size: u64) -> Header {
    let mut h = Header::new_gnu();
    h.set_entry_type(kind);
    h.set_size(size);
    h.set_mode(if kind == EntryType::Directory {
        0o755
    } else {
        0o644
    });
    h.set_mtime(0);
    h.set_uid(0);
    h.set_gid(0);
    h
}

/// Reads exactly `size` bytes of a blob, hashing them; at the end, a short blob or one whose content
/// does not hash to its digest becomes a read error (and the typed error is kept in `failure`).
struct VerifyingReader {
    inner: BufReader<io::Take<File>>,
    hasher: Hasher,
    count: u64,
    descriptor: Descriptor,
    path: PathBuf,
    failure: Option<Error>,
}

impl VerifyingReader {
    fn open(store: &BlobStore, d: &Descriptor) -> Result<Self> {
        let file = store.open(d.digest())?;
        Ok(VerifyingReader {
            inner: BufReader::with_capacity(COPY_BUFFER, file.take(d.size())),
            hasher: Hasher::new(Algorithm::of(d.digest())?),
            count: 0,
            descriptor: d.clone(),
            path: store.path(d.digest())?,
            failure: None,
        })
    }

    fn check(&self) -> Option<Error> {
        let d = self.descriptor.digest();
        if self.count != self.descriptor.size() {
            return Some(Error::SizeMismatch {
                digest: d.clone(),
                expected: self.descriptor.size(),
                found: self.count,
            });
        }
        let found = self.hasher.clone().finish();
        (&found != d).then(|| Error::DigestMismatch {
            expected: d.clone(),
            found: found.clone(),
            location: self.path.display().to_string(),
        })
    }
}

impl Read for VerifyingReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = match self.inner.read(buf) {
            Ok(n) => n,
            Err(e) => {
                let kind = e.kind();
                self.failure = Some(Error::io(&self.path, e));
                return Err(io::Error::new(kind, "reading a blob failed"));
            }
        };
        if n == 0 && !buf.is_empty() {
            if let Some(failure) = self.check() {
                let message = failure.to_string();
                self.failure = Some(failure);
                return Err(io::Error::new(io::ErrorKind::InvalidData, message));
            }
        }
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}

/// The image manifest fields `manifest.json` needs.
#[derive(Deserialize)]
struct ImageManifest {
    config: Descriptor,
    layers: Vec<Descriptor>,
}

/// The `manifest.json` that `docker load` reads: one record per entry that is (or indexes) an image
/// manifest; through indexes (nested ones too), the linux/amd64 manifest, else the first.
fn docker_manifest(store: &BlobStore, entries: &[Descriptor]) -> Result<Vec<u8>> {
    let mut records = Vec::new();
    for entry in entries {
        let Some(manifest) = image_manifest_of(store, entry)? else {
            continue;
        };
        let bytes = store.read_verified(manifest.digest(), graph::LOCAL_MANIFEST_LIMIT)?;
        let parsed: ImageManifest =
            serde_json::from_slice(&bytes).map_err(|e| Error::Malformed {
                what: format!("manifest {}", manifest.digest()),
                reason: e.to_string(),
            })?;
        let tags: Vec<String> = resolve::entry_name(entry)
            .filter(|name| name.tag().is_some() && name.digest().is_none())
            .map(|name| name.to_string())
            .into_iter()
            .collect();
        records.push(serde_json::json!({
            "Config": member_path(parsed.config.digest()),
            "RepoTags": tags,
            "Layers": parsed.layers.iter().map(|l| member_path(l.digest())).collect::<Vec<_>>(),
        }));
    }
    let mut bytes = serde_json::to_vec(&records).expect("a JSON value serializes");
    bytes.push(b'\n');
    Ok(bytes)
}

/// The image manifest an entry stands for: itself, or through indexes the linux/amd64 manifest, else
/// the first image manifest, else the first nested index descended in turn.
fn image_manifest_of(store: &BlobStore, entry: &Descriptor) -> Result<Option<Descriptor>> {
    let mut current = entry.clone();
    // Bounded: each step goes one index deeper.
    for _ in 0..16 {
        let media_type = current.media_type().to_string();
        if is_image_manifest(&media_type) {
            return Ok(Some(current));
        }
        if !graph::is_index(&media_type) {
            return Ok(None);
        }
        let bytes = store.read_verified(current.digest(), graph::LOCAL_MANIFEST_LIMIT)?;
        let children = graph::parse_children(&bytes)?.children;
        let next = crate::platform::default_child(&children, |c| {
            is_image_manifest(c.media_type().as_ref())
        });
        match next {
            Some(c) => current = c.clone(),
            None => return Ok(None),
        }
    }
    Ok(None)
}

fn is_image_manifest(media_type: &str) -> bool {
    media_type == graph::OCI_MANIFEST || media_type == graph::DOCKER_MANIFEST
}
