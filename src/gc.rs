//! Garbage collection: remove every blob that no root of `index.json` reaches, and the referrer
//! entries whose subject has gone. Runs under the exclusive writer lock and the index lock, so no
//! concurrent writer's blobs and no concurrent tag are lost; clears the temporary files of crashed
//! writers.

use std::collections::HashSet;

use oci_spec::image::{Descriptor, Digest, ImageIndex};

use crate::error::{Error, Result};
use crate::graph::{self, Graph, Operation};
use crate::layout::{IndexLock, Layout, LockGuard};
use crate::referrer::{self, Referrer};
use crate::sweep::Blobs;

/// How to collect.
#[derive(Clone, Debug, Default)]
pub struct GcOptions {
    /// Report what would be removed without removing anything.
    pub dry_run: bool,
}

/// An `index.json` entry removed because it refers to a subject that no longer is reachable.
#[derive(Clone, Debug)]
pub struct RemovedEntry {
    /// The entry as it was in `index.json`.
    pub descriptor: Descriptor,
    /// Which subject it referred to, and by which convention.
    pub referrer: Referrer,
}

/// What a collection removed (or, in a dry run, would remove).
#[derive(Clone, Debug, Default)]
pub struct GcReport {
    /// Blobs removed, with their sizes, in digest order.
    pub removed: Vec<(Digest, u64)>,
    /// Sum of the removed blobs' sizes.
    pub freed_bytes: u64,
    /// Blobs kept.
    pub kept: usize,
    /// Referrer entries removed from `index.json`, in index order.
    pub removed_entries: Vec<RemovedEntry>,
    /// Temporary files of crashed writers removed (always 0 in a dry run).
    pub temp_files: usize,
    /// Whether nothing was removed because this was a dry run.
    pub dry_run: bool,
    /// Whether the collection ran without the layout's locks: a dry run of a layout whose lock
    /// files do not exist and cannot be created (read-only, no permission, or no room). Its report
    /// may be out of date if another process changes the layout meanwhile.
    pub unlocked: bool,
}

/// Collects the layout's garbage. Refuses, changing nothing, when a reachable manifest or index is
/// missing or cannot be read: what it refers to is unknown, so nothing could be swept safely.
///
/// Roots are every named entry and every unnamed entry that is not a referrer; a referrer entry
/// (see [`referrer::referrer`]) is a root while its subject is reachable from the other roots or
/// from a referrer kept before it, and is otherwise dropped from `index.json`.
pub fn gc(layout: &Layout, opts: &GcOptions) -> Result<GcReport> {
    let locks = lock(layout, opts)?;
    let index = layout.read_index()?;
    let Marked { graph, dropped, .. } = mark(layout, index.manifests())?;
    graph.require(Operation::Gc, layout.root())?;
    let mut report = GcReport {
        dry_run: opts.dry_run,
        unlocked: locks.guards.is_none(),
        ..GcReport::default()
    };
    // One read of each blob directory, with the file types it records; only what goes is sized.
    let blobs = Blobs::open(layout.root())?;
    let (kept, gone): (Vec<Digest>, Vec<Digest>) =
        blobs.list()?.into_iter().partition(|d| graph.contains(d));
    report.kept = kept.len();
    report.removed = blobs.sizes(gone)?;
    // Blobs that became lock files count as removed; they are no longer in the store to sweep.
    report.removed.extend(locks.made_room.iter().cloned());
    report
        .removed
        .sort_by(|a, b| a.0.as_ref().cmp(b.0.as_ref()));
    report.freed_bytes = report.removed.iter().map(|(_, n)| n).sum();
    report.removed_entries = dropped
        .iter()
        .map(|(i, r)| RemovedEntry {
            descriptor: index.manifests()[*i].clone(),
            referrer: r.clone(),
        })
        .collect();
    let Some((_, index_lock)) = locks.guards.as_ref().filter(|_| !opts.dry_run) else {
        // A dry run (the only run that may hold no locks) removes nothing.
        return Ok(report);
    };
    sweep(layout, &blobs, index_lock, index, &dropped, &report.removed)?;
    report.temp_files = layout.blobs().clear_temp_files()?;
    empty_lock_files(layout);
    drop(locks);
    Ok(report)
}

/// Removes the blobs `removed` and the entries `dropped`. What no entry reaches goes first: that
/// frees room for the rewrite of `index.json` (a full file system may have none). Then the index, so
/// that it never names a blob that is gone even if the sweep is interrupted; then what only the
/// dropped entries reached. Each step's removals are spread over the cores, and each step ends
/// before the next begins.
fn sweep(
    layout: &Layout,
    blobs: &Blobs,
    index_lock: &IndexLock<'_>,
    index: ImageIndex,
    dropped: &[(usize, Referrer)],
    removed: &[(Digest, u64)],
) -> Result<()> {
    let reached_by_any = if dropped.is_empty() {
        None
    } else {
        Some(graph::walk(layout.blobs(), index.manifests())?)
    };
    let (first, last): (Vec<&Digest>, Vec<&Digest>) = removed
        .iter()
        .map(|(d, _)| d)
        .partition(|d| reached_by_any.as_ref().is_none_or(|g| !g.contains(d)));
    blobs.remove(&first)?;
    if !dropped.is_empty() {
        let gone: HashSet<usize> = dropped.iter().map(|(i, _)| *i).collect();
        // Through the document, so that every other entry and every field of other tools is
        // written back as it was. It is the same file `index` was read from: the index lock is held.
        let mut doc = index_lock.read_document()?;
        let mut position = 0;
        doc.retain(|_| {
            position += 1;
            !gone.contains(&(position - 1))
        });
        index_lock.write(&doc)?;
    }
    blobs.remove(&last)?;
    Ok(())
}

/// What marking from the roots of `index.json` found.
pub(crate) struct Marked {
    /// Every blob that stays: the closure of the roots and of the referrers kept.
    pub(crate) graph: Graph,
    /// The referrer entries (by position, with their subject) kept because their subject is
    /// reachable, in the order they were found to be.
    pub(crate) kept: Vec<(usize, Referrer)>,
    /// The referrer entries (by position, with their subject) that go because their subject is not
    /// reachable.
    pub(crate) dropped: Vec<(usize, Referrer)>,
}

/// Marks from the roots of `entries`: the graph of what stays, the referrer entries that stay with
/// their subject and those that go because their subject is not reachable.
pub(crate) fn mark(layout: &Layout, entries: &[Descriptor]) -> Result<Marked> {
    let store = layout.blobs();
    let mut roots: Vec<&Descriptor> = Vec::new();
    let mut pending: Vec<(usize, Referrer)> = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        match referrer::referrer(store, e) {
            Some(r) => pending.push((i, r)),
            None => roots.push(e),
        }
    }
    let mut graph = graph::walk(store, roots.iter().copied())?;
    let mut kept = Vec::new();
    // A referrer of a kept referrer (a signature of an SBOM) is kept too: repeat until no subject
    // becomes reachable.
    loop {
        let (alive, gone): (Vec<_>, Vec<_>) = pending
            .into_iter()
            .partition(|(_, r)| graph.contains(&r.subject));
        pending = gone;
        if alive.is_empty() {
            return Ok(Marked {
                graph,
                kept,
                dropped: pending,
            });
        }
        roots.extend(alive.iter().map(|(i, _)| &entries[*i]));
        kept.extend(alive);
        graph = graph::walk(store, roots.iter().copied())?;
    }
}

/// Takes the exclusive writer lock and the index lock.
///
/// A dry run of a layout where they cannot be taken because the lock files cannot be created
/// (read-only, no permission, or no room) runs without them: it changes nothing, so it cannot harm a
/// writer, and its report is a prediction anyway.
///
/// A real run on a file system with no free inodes gets its lock files from garbage instead (see
/// [`make_room_for_locks`]): gc is what frees room, so it must not need room to start.
pub(crate) fn lock<'a>(layout: &'a Layout, opts: &GcOptions) -> Result<Locked<'a>> {
    let take = || {
        layout
            .lock_writers_exclusive()
            .and_then(|w| layout.lock_index().map(|i| (w, i)))
    };
    match take() {
        Ok(locks) => Ok(Locked {
            guards: Some(locks),
            made_room: Vec::new(),
        }),
        Err(Error::Io { source, .. }) if opts.dry_run && cannot_create(&source) => Ok(Locked {
            guards: None,
            made_room: Vec::new(),
        }),
        Err(Error::Io { source, .. }) if no_room(&source) => {
            let made_room = make_room_for_locks(layout)?;
            Ok(Locked {
                guards: Some(take()?),
                made_room,
            })
        }
        Err(e) => Err(e),
    }
}

/// The locks gc holds, and the garbage blobs it removed to make room for them.
pub(crate) struct Locked<'a> {
    /// The writer and index locks; `None` for a dry run that could not take them.
    pub(crate) guards: Option<(LockGuard, IndexLock<'a>)>,
    /// Blobs whose names went to make room for the lock files, with their sizes.
    pub(crate) made_room: Vec<(Digest, u64)>,
}

/// Whether an I/O error means a file cannot be created in the layout.
fn cannot_create(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(e.kind(), PermissionDenied | ReadOnlyFilesystem) || no_room(e)
}

/// Whether an I/O error means the file system has no room (blocks or inodes) or the quota is spent.
fn no_room(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(e.kind(), StorageFull | QuotaExceeded)
}

/// The lock files of a layout, under `.ocilayout/` (as `Layout::lock_writers_exclusive` and
/// `Layout::lock_index` name them).
const LOCK_FILES: [&str; 2] = ["writers.lock", "index.lock"];

/// Creates the layout's lock state on a file system with no free inodes, from blobs that nothing
/// reaches: each missing lock file becomes another name of a garbage blob (see [`give_name`]; the
/// sweep removes the blob's own name, and [`empty_lock_files`] then gives back its space).
/// When the `.ocilayout` directory itself is missing, one garbage blob is removed to make room for
/// it; at that moment no process of ours holds a lock or can take one (that needs the directory), so
/// no writer is between storing a blob and naming it. Everything is marked again under the locks
/// before anything else is removed.
fn make_room_for_locks(layout: &Layout) -> Result<Vec<(Digest, u64)>> {
    use std::fs;
    use std::io::ErrorKind;
    let root = layout.root();
    let index = layout.read_index()?;
    let reached = graph::walk(layout.blobs(), index.manifests())?;
    let mut gone = Vec::new();
    if reached.shortfall(Operation::Gc).is_some() {
        // What is garbage is unknown; the normal path will say why.
        return Ok(gone);
    }
    let mut garbage: Vec<Digest> = layout
        .blobs()
        .digests()?
        .into_iter()
        .filter(|d| !reached.contains(d))
        .collect();
    garbage.sort_by(|a, b| a.as_ref().cmp(b.as_ref()));
    let mut garbage = garbage.into_iter();
    let state = root.join(crate::store::STATE_DIR);
    let io = |path: &std::path::Path, e| Error::io(path, e);
    if fs::symlink_metadata(&state).is_err() {
        let Some(g) = garbage.next() else {
            return Ok(gone);
        };
        // Checked again just before: once the directory exists, others may hold locks.
        if fs::symlink_metadata(&state).is_err() {
            let size = layout.blobs().size(&g)?.unwrap_or(0);
            layout.blobs().remove(&g)?;
            gone.push((g, size));
        }
        match fs::create_dir(&state) {
            Err(e) if e.kind() != ErrorKind::AlreadyExists => return Err(io(&state, e)),
            _ => {}
        }
    }
    for name in LOCK_FILES {
        let lock = state.join(name);
        if fs::symlink_metadata(&lock).is_ok() {
            continue;
        }
        let Some(g) = garbage.next() else {
            return Ok(gone);
        };
        let size = layout.blobs().size(&g)?.unwrap_or(0);
        match give_name(&layout.blobs().path(&g)?, &lock) {
            Ok(true) => gone.push((g, size)),
            Ok(false) => {}
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
            Err(e) => return Err(io(&lock, e)),
        }
    }
    Ok(gone)
}

/// Gives the garbage blob at `blob` the name `to` as well, never replacing a file there: a hard link,
/// which needs no inode on most file systems; where it does (tmpfs counts links against its inodes),
/// a rename, which moves the blob's name (it is garbage) and was checked just before not to replace
/// anything: with no free inode, nobody else can create `to` in between.
/// Returns whether the blob's own name is gone (renamed).
fn give_name(blob: &std::path::Path, to: &std::path::Path) -> std::io::Result<bool> {
    match std::fs::hard_link(blob, to) {
        Ok(()) => Ok(false),
        Err(e) if no_room(&e) => {
            if std::fs::symlink_metadata(to).is_ok() {
                return Err(std::io::ErrorKind::AlreadyExists.into());
            }
            std::fs::rename(blob, to).map(|()| true)
        }
        Err(e) => Err(e),
    }
}

/// Gives back the space of lock files that were made from garbage blobs: a lock file that is no
/// longer also a blob (one link) and holds bytes is emptied. Called under both locks.
fn empty_lock_files(layout: &Layout) {
    use std::os::unix::fs::MetadataExt;
    let state = layout.root().join(crate::store::STATE_DIR);
    for name in LOCK_FILES {
        let path = state.join(name);
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if meta.is_file() && meta.nlink() == 1 && meta.len() > 0 {
            if let Ok(f) = std::fs::OpenOptions::new().write(true).open(&path) {
                let _ = f.set_len(0);
            }
        }
    }
}
