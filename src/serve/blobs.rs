//! Serving blobs: streamed from the store, and never served whole unless the bytes hash to the digest.
//!
//! A whole-blob GET hashes as it streams and holds back the last chunk until the digest is checked;
//! on a mismatch the connection is aborted, so the client, promised `Content-Length` bytes, sees a
//! failed transfer and never a complete wrong blob (a blob up to 1 MiB is checked before the answer
//! starts, so its damage is a plain 404). A range cannot be checked on its own, so a `Range` request
//! is answered only for a blob verified whole, from this file version (device, inode, size, mtime,
//! ctime), by an earlier GET or by hashing it once before the range is sent.
//!
//! `HEAD` answers 200 only for a blob verified whole, hashed now if need be: a pushing client that
//! asks whether the server has a blob skips its upload on a 200, so a damaged blob of the right size
//! must answer 404. However many requests need the same file version verified, it is hashed once
//! (see `verify`), and the hash stops when no request waits for it.
//!
//! Reading and hashing run on the blocking pool a chunk at a time; between chunks a response waits
//! for its client without holding a thread, and a client that stops reading is cut after the send
//! timeout (see `limits`).
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

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use bytes::Bytes;
use hyper::{Response, StatusCode};
use oci_spec::image::Digest;
use tokio::sync::mpsc;

use super::catalog::FileKey;
use super::http::{self, ApiError, Body, ByteRange, Code, RangeRequest};
use super::verify::{Unverified, Verifier};
use super::{blocking, State};
use crate::digest::{Algorithm, Hasher};
use crate::error::Error;
use crate::store::BlobStore;

/// Bytes read per chunk.
const CHUNK: usize = 128 << 10;
/// Chunks buffered between the reading and the connection.
const QUEUE: usize = 1;
/// Blobs up to this size are read and checked whole before the headers go out, so that damage is a
/// plain 404 rather than a cut connection.
const CHECKED_FIRST: u64 = 1 << 20;

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

/// A blob the layout holds in a form that is not served (a link, not a regular file): the client
/// hears that much, the server's log hears where.
fn refused(d: &Digest, e: Error) -> ApiError {
    ApiError {
        detail: Some(crate::error::one_line(&e.to_string())),
        ..ApiError::new(
            StatusCode::NOT_FOUND,
            Code::BlobUnknown,
            format!("blob {d} is refused: the layout does not hold it as a regular file"),
        )
    }
}

fn internal(e: Error) -> ApiError {
    ApiError::internal(e)
}

fn corrupt(d: &Digest) -> ApiError {
    // 404, not 500: a mirror client (containerd's hosts.toml) then falls back to the next host.
    ApiError::new(
        StatusCode::NOT_FOUND,
        Code::BlobUnknown,
        format!("blob {d} is damaged in the layout: its content does not match its digest"),
    )
}

/// Answers `GET` or `HEAD` of a blob, with `Range` support.
pub(crate) async fn serve(
    state: &Arc<State>,
    d: &Digest,
    head: bool,
    range: Option<&str>,
) -> Result<Response<Body>, ApiError> {
    let store = state.layout.blobs().clone();
    let want = d.clone();
    let blob = blocking(move || open(&store, &want)).await??;
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
    let verifier = &state.verifier;
    let small_whole = !head && part.is_none() && blob.size <= CHECKED_FIRST;
    match verifier.get(d, &blob.key) {
        Some(false) => return Err(corrupt(d)),
        Some(true) => {}
        // A range cannot be checked on its own, and a HEAD is a promise about the whole blob.
        None if head || part.is_some() => {
            let ok = verifier
                .check(d, &blob.file, blob.key)
                .await
                .map_err(|e| match e {
                    Unverified::Read(e) => internal(Error::io("blob", e)),
                    Unverified::Stopped => internal(Error::Internal {
                        what: "a blob hash that stopped",
                    }),
                })?;
            if !ok {
                return Err(corrupt(d));
            }
        }
        None => {}
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
    if small_whole {
        let want = d.clone();
        let v = verifier.clone();
        let bytes = blocking(move || -> Result<Vec<u8>, ApiError> {
            let mut bytes = vec![0; blob.size as usize];
            let n =
                read_full(&blob.file, &mut bytes, 0).map_err(|e| internal(Error::io("blob", e)))?;
            v.count(n as u64);
            let ok =
                n as u64 == blob.size && crate::digest::verify_bytes(&want, &bytes, "blob").is_ok();
            v.put(&want, blob.key, ok);
            if !ok {
                return Err(corrupt(&want));
            }
            Ok(bytes)
        })
        .await??;
        *r.body_mut() = Body::Full(Some(Bytes::from(bytes)));
        return Ok(r);
    }
    let (tx, rx) = mpsc::channel(QUEUE);
    // A file version hashed whole before is not hashed again: it is streamed like a range of all of
    // it, which checks at the end that the file is still that version.
    let known_good = verifier.get(d, &blob.key) == Some(true);
    let part = part.or(known_good.then_some(ByteRange {
        start: 0,
        end: blob.size - 1,
    }));
    tokio::spawn(stream(blob, part, d.clone(), verifier.clone(), tx));
    *r.body_mut() = Body::Stream(rx);
    Ok(r)
}

/// Ends a stream with an error: hyper then cuts the connection, so a client promised `Content-Length`
/// bytes sees a failed transfer.
async fn fail(tx: &mpsc::Sender<io::Result<Bytes>>, msg: String) {
    let _ = tx.send(Err(io::Error::other(msg))).await;
}

/// Reads into `buf` from `at` until it is full or the file ends; returns the bytes read.
fn read_full(file: &File, buf: &mut [u8], at: u64) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read_at(&mut buf[n..], at + n as u64) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Streams a blob: a range of a blob verified whole (`part`; the file must still be that version at
/// the end), or the whole blob hashed as it goes, its last chunk held back until the digest matches.
/// Each chunk is read (and hashed) on the blocking pool; waiting for the client holds no thread.
async fn stream(
    blob: Open,
    part: Option<ByteRange>,
    d: Digest,
    verifier: Arc<Verifier>,
    tx: mpsc::Sender<io::Result<Bytes>>,
) {
    let (start, end) = part.map_or((0, blob.size - 1), |p| (p.start, p.end));
    let mut hasher = match (part, Algorithm::of(&d)) {
        (Some(_), _) => None,
        (None, Ok(alg)) => Some(Hasher::new(alg)),
        (None, Err(_)) => return fail(&tx, format!("{d}: unsupported algorithm")).await,
    };
    let file = Arc::new(blob.file);
    let mut at = start;
    let mut held: Option<Bytes> = None;
    while at <= end {
        let want = CHUNK.min((end + 1 - at) as usize);
        let f = file.clone();
        let read = blocking(move || {
            let mut buf = vec![0; want];
            let n = read_full(&f, &mut buf, at)?;
            buf.truncate(n);
            if let Some(h) = hasher.as_mut() {
                h.update(&buf);
            }
            Ok::<_, io::Error>((buf, hasher))
        })
        .await;
        let buf = match read {
            Ok(Ok((buf, h))) if buf.len() == want => {
                hasher = h;
                buf
            }
            _ => {
                return fail(
                    &tx,
                    format!("{d}: the blob ended early or could not be read"),
                )
                .await
            }
        };
        if hasher.is_some() {
            verifier.count(buf.len() as u64);
        }
        at += buf.len() as u64;
        if let Some(prev) = held.replace(Bytes::from(buf)) {
            if tx.send(Ok(prev)).await.is_err() {
                return; // The client went away.
            }
        }
    }
    match hasher {
        Some(h) => {
            let ok = h.finish() == d;
            verifier.put(&d, blob.key, ok);
            if !ok {
                return fail(&tx, format!("{d}: content does not match its digest")).await;
            }
        }
        None => {
            let f = file.clone();
            let now = blocking(move || f.metadata().ok().map(|m| FileKey::of(&m)))
                .await
                .ok()
                .flatten();
            if now != Some(blob.key) {
                return fail(&tx, format!("{d}: the blob changed while it was read")).await;
            }
        }
    }
    if let Some(last) = held {
        let _ = tx.send(Ok(last)).await;
    }
}
