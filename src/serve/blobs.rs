//! Serving blobs: streamed from the store, and never served whole unless the bytes hash to the digest.
//!
//! A whole-blob GET hashes as it streams and holds back the last chunk until the digest is checked;
//! on a mismatch the connection is aborted, so the client, promised `Content-Length` bytes, sees a
//! failed transfer and never a complete wrong blob (a blob up to 1 MiB is checked before the answer
//! starts, so its damage is a plain 404). A range cannot be checked on its own, so a `Range` request
//! is answered only for a blob verified whole, from this file version (device, inode, size, mtime,
//! ctime), by an earlier GET or by hashing it once before the range is sent.
//!
//! A file version verified once is not hashed again on later GETs (that is what keeps serve as fast
//! as docker-registry, which hashes nothing, in `bench/serve.sh`): every write to the file, a rename
//! over it, a truncation, changes its identity and so means hashing again. Damage that changes bytes
//! without touching the file's metadata (bit rot under the file system) is not caught after the
//! first verification; `fsck` is what finds it.
//!
//! Everything a response sends comes from one open file descriptor, taken before the headers: if `gc`
//! removes the blob meanwhile, Linux keeps the unlinked file's bytes readable through that descriptor,
//! so the response completes with the right bytes (gc only ever unlinks; it never truncates or writes
//! a blob in place). A rewrite in place by some other program changes the file's ctime, which is
//! checked again before the last chunk of a range goes out.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use hyper::{Response, StatusCode};
use oci_spec::image::Digest;
use tokio::sync::mpsc;

use super::catalog::FileKey;
use super::http::{self, ApiError, Body, ByteRange, Code, RangeRequest};
use crate::digest::{Algorithm, Hasher};
use crate::error::Error;
use crate::store::BlobStore;

/// Bytes read per chunk.
const CHUNK: usize = 256 << 10;
/// Chunks buffered between the reading thread and the connection.
const QUEUE: usize = 4;
/// Blobs up to this size are read and checked whole before the headers go out, so that damage is a
/// plain 404 rather than a cut connection.
const CHECKED_FIRST: u64 = 1 << 20;
/// File versions remembered as verified (or found corrupt); the memory is cleared when full.
const REMEMBERED: usize = 100_000;

/// What the server has learnt about blob files by hashing them.
#[derive(Default)]
pub(crate) struct Verified {
    known: Mutex<HashMap<Digest, (FileKey, bool)>>,
}

impl Verified {
    fn get(&self, d: &Digest, key: &FileKey) -> Option<bool> {
        let known = self.known.lock().unwrap_or_else(|e| e.into_inner());
        known.get(d).filter(|(k, _)| k == key).map(|(_, ok)| *ok)
    }

    fn put(&self, d: &Digest, key: FileKey, ok: bool) {
        let mut known = self.known.lock().unwrap_or_else(|e| e.into_inner());
        if known.len() >= REMEMBERED {
            known.clear();
        }
        known.insert(d.clone(), (key, ok));
    }
}

/// An open blob: the descriptor everything is read from, and what it was when opened.
struct Open {
    file: File,
    key: FileKey,
    size: u64,
}

/// Opens a blob without following a symbolic link anywhere under the layout (`blobs/`, `blobs/<alg>/`
/// or the blob itself): a layout handed to us could otherwise make the server stream any file the
/// server can read, most of it before the digest check fails at the end.
fn open(store: &BlobStore, d: &Digest) -> Result<Open, ApiError> {
    let unknown = || {
        ApiError::new(
            StatusCode::NOT_FOUND,
            Code::BlobUnknown,
            format!("blob {d}"),
        )
    };
    let path = store.path(d).map_err(internal)?;
    let file = match store.open_no_follow(d) {
        Ok(f) => f,
        Err(Error::BlobMissing { .. }) => return Err(unknown()),
        Err(e @ (Error::Unsafe { .. } | Error::NotAFile { .. })) => return Err(refused(d, e)),
        Err(e) => return Err(internal(e)),
    };
    let meta = file.metadata().map_err(|e| internal(Error::io(&path, e)))?;
    Ok(Open {
        key: FileKey::of(&meta),
        size: meta.len(),
        file,
    })
}

fn refused(d: &Digest, e: Error) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        Code::BlobUnknown,
        format!("blob {d} refused: {e}"),
    )
}

fn internal(e: Error) -> ApiError {
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        Code::Unsupported,
        e.to_string(),
    )
}

fn corrupt(d: &Digest) -> ApiError {
    // 404, not 500: a mirror client (containerd's hosts.toml) then falls back to the next host.
    ApiError::new(
        StatusCode::NOT_FOUND,
        Code::BlobUnknown,
        format!("blob {d} is damaged in the layout: its content does not match its digest"),
    )
}

/// Answers `GET` or `HEAD` of a blob, with `Range` support. Blocking: call it off the async threads.
pub(crate) fn serve(
    store: &BlobStore,
    verified: &Arc<Verified>,
    d: &Digest,
    head: bool,
    range: Option<&str>,
) -> Result<Response<Body>, ApiError> {
    let mut blob = open(store, d)?;
    let part = match http::parse_range(range, blob.size) {
        RangeRequest::Unsatisfiable if !head => {
            let mut r = ApiError::new(
                StatusCode::RANGE_NOT_SATISFIABLE,
                Code::SizeInvalid,
                format!(
                    "range {} outside blob of {} bytes",
                    range.unwrap_or(""),
                    blob.size
                ),
            )
            .response();
            http::set(&mut r, "Content-Range", &format!("bytes */{}", blob.size));
            return Ok(r);
        }
        RangeRequest::Part(p) if !head => Some(p),
        _ => None,
    };
    if verified.get(d, &blob.key) == Some(false) {
        return Err(corrupt(d));
    }
    if part.is_some() && verified.get(d, &blob.key) != Some(true) {
        {
            let ok = hash_whole(&mut blob.file, d).map_err(|e| internal(Error::io("blob", e)))?;
            verified.put(d, blob.key, ok);
            if !ok {
                return Err(corrupt(d));
            }
        }
    }
    let mut r = http::status(if part.is_some() {
        StatusCode::PARTIAL_CONTENT
    } else {
        StatusCode::OK
    });
    let len = part.map_or(blob.size, |p| p.end - p.start + 1);
    http::set(&mut r, "Content-Type", "application/octet-stream");
    http::set(&mut r, "Content-Length", &len.to_string());
    http::set(&mut r, "Docker-Content-Digest", d.as_ref());
    http::set(&mut r, "Accept-Ranges", "bytes");
    if let Some(p) = part {
        http::set(
            &mut r,
            "Content-Range",
            &format!("bytes {}-{}/{}", p.start, p.end, blob.size),
        );
    }
    if head || len == 0 {
        return Ok(r);
    }
    if part.is_none() && blob.size <= CHECKED_FIRST {
        let mut bytes = Vec::with_capacity(blob.size as usize);
        (&mut blob.file)
            .take(blob.size + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| internal(Error::io("blob", e)))?;
        let ok = bytes.len() as u64 == blob.size
            && crate::digest::verify_bytes(d, &bytes, "blob").is_ok();
        verified.put(d, blob.key, ok);
        if !ok {
            return Err(corrupt(d));
        }
        *r.body_mut() = Body::Full(Some(Bytes::from(bytes)));
        return Ok(r);
    }
    let (tx, rx) = mpsc::channel(QUEUE);
    // A file version hashed whole before is not hashed again: it is streamed like a range of all of
    // it, which checks at the end that the file is still that version.
    let known_good = verified.get(d, &blob.key) == Some(true);
    let part = part.or(known_good.then_some(ByteRange {
        start: 0,
        end: blob.size - 1,
    }));
    let d = d.clone();
    let verified = verified.clone();
    std::thread::Builder::new()
        .name("blob".into())
        .spawn(move || match part {
            None => stream_whole(blob, &d, &verified, tx),
            Some(p) => stream_range(blob, p, tx),
        })
        .map_err(|e| internal(Error::io("thread", e)))?;
    *r.body_mut() = Body::Stream(rx);
    Ok(r)
}

/// Hashes a whole file from its start and says whether it matches `d`.
fn hash_whole(file: &mut File, d: &Digest) -> io::Result<bool> {
    file.seek(SeekFrom::Start(0))?;
    let alg = Algorithm::of(d).map_err(io::Error::other)?;
    let mut h = Hasher::new(alg);
    let mut buf = vec![0; CHUNK];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(&h.finish() == d)
}

/// Streams a whole blob, hashing it; the last chunk goes out only once the digest and size match.
fn stream_whole(
    mut blob: Open,
    d: &Digest,
    verified: &Verified,
    tx: mpsc::Sender<io::Result<Bytes>>,
) {
    let fail = |tx: &mpsc::Sender<io::Result<Bytes>>, msg: String| {
        let _ = tx.blocking_send(Err(io::Error::other(msg)));
    };
    let Ok(alg) = Algorithm::of(d) else {
        return fail(&tx, format!("{d}: unsupported algorithm"));
    };
    let mut h = Hasher::new(alg);
    let mut held: Option<Bytes> = None;
    let mut total: u64 = 0;
    loop {
        let mut buf = vec![0; CHUNK];
        let n = match blob.file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => return fail(&tx, format!("{d}: {e}")),
        };
        buf.truncate(n);
        h.update(&buf);
        total += n as u64;
        if total > blob.size {
            break;
        }
        if let Some(prev) = held.replace(Bytes::from(buf)) {
            if tx.blocking_send(Ok(prev)).is_err() {
                return; // The client went away.
            }
        }
    }
    let ok = total == blob.size && &h.finish() == d;
    verified.put(d, blob.key, ok);
    if !ok {
        return fail(&tx, format!("{d}: content does not match its digest"));
    }
    if let Some(last) = held {
        let _ = tx.blocking_send(Ok(last));
    }
}

/// Streams one range of a blob verified whole; the file must still be that version at the end.
fn stream_range(mut blob: Open, p: ByteRange, tx: mpsc::Sender<io::Result<Bytes>>) {
    let fail = |tx: &mpsc::Sender<io::Result<Bytes>>, msg: &str| {
        let _ = tx.blocking_send(Err(io::Error::other(msg.to_string())));
    };
    if blob.file.seek(SeekFrom::Start(p.start)).is_err() {
        return fail(&tx, "seek failed");
    }
    let mut left = p.end - p.start + 1;
    let mut held: Option<Bytes> = None;
    while left > 0 {
        let mut buf = vec![0; CHUNK.min(left as usize)];
        let n = match blob.file.read(&mut buf) {
            Ok(0) | Err(_) => return fail(&tx, "blob ended early"),
            Ok(n) => n,
        };
        buf.truncate(n);
        left -= n as u64;
        if let Some(prev) = held.replace(Bytes::from(buf)) {
            if tx.blocking_send(Ok(prev)).is_err() {
                return;
            }
        }
    }
    let same = blob.file.metadata().ok().map(|m| FileKey::of(&m)) == Some(blob.key);
    if !same {
        return fail(&tx, "blob changed while it was read");
    }
    if let Some(last) = held {
        let _ = tx.blocking_send(Ok(last));
    }
}
