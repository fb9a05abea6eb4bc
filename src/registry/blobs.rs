//! Blob downloads: `HEAD` to learn what exists, and `GET` streamed straight into the blob store,
//! hashed on the way and verified before the blob is named. A broken download resumes with `Range`;
//! a `200` or a `Content-Range` that does not continue where we stopped restarts it from zero.

use std::io::Read;

use oci_spec::image::{Descriptor, Digest};
use ureq::http::{Method, StatusCode};

use super::transport::{header, redact, status_error};
use super::Repository;
use crate::digest::{self, Algorithm};
use crate::error::{Error, Result};
use crate::store::{BlobStore, BlobWriter};

/// Bytes read from the network per `read` call.
const BUFFER: usize = 256 << 10;

impl Repository<'_> {
    /// `HEAD` a blob: its size, or `None` when the repository does not have it.
    pub fn head_blob(&self, d: &Digest) -> Result<Option<u64>> {
        let url = self.url(&format!("blobs/{d}"));
        let resp = self
            .transport()
            .send(&self.request(Method::HEAD, url.clone()))?;
        match resp.status() {
            StatusCode::NOT_FOUND => Ok(None),
            s if s.is_success() => Ok(header(resp.headers(), "content-length")
                .and_then(|v| v.parse().ok())
                .or(Some(0))),
            _ => Err(status_error(&url, resp)),
        }
    }

    /// Opens the blob `desc` names as a stream, for passing it on without storing it (a copy
    /// between registries). The bytes are not verified here: whoever consumes them hashes them (an
    /// upload fails before its last byte when they do not hash to the digest). At most `size` bytes
    /// are read.
    pub fn open_blob(&self, desc: &Descriptor) -> Result<Box<dyn Read + Send>> {
        let d = desc.digest();
        digest::validate(d)?;
        let url = self.url(&format!("blobs/{d}"));
        let resp = self
            .transport()
            .send(&self.request(Method::GET, url.clone()))?;
        if resp.status() != StatusCode::OK {
            return Err(status_error(&url, resp));
        }
        Ok(Box::new(resp.into_body().into_reader().take(desc.size())))
    }

    /// Downloads the blob `desc` names into `store`. Nothing is named unless the bytes hash to the
    /// digest and count exactly `size`; on failure the temporary file is gone. `progress` hears the
    /// number of bytes held so far (it goes back to zero when a download restarts).
    pub fn fetch_blob(
        &self,
        desc: &Descriptor,
        store: &BlobStore,
        progress: &mut dyn FnMut(u64),
    ) -> Result<u64> {
        let d = desc.digest();
        digest::validate(d)?;
        let size = desc.size();
        let url = self.url(&format!("blobs/{d}"));
        let algorithm = Algorithm::of(d)?;
        let mut writer = store.writer(algorithm)?;
        let mut buf = vec![0u8; BUFFER];
        let max_failures = self.transport().config().max_attempts.max(1);
        let mut failures = 0;
        let mut last_error = String::new();
        loop {
            if failures >= max_failures {
                return Err(Error::Http {
                    url: redact(&url),
                    message: format!(
                        "download of {d} failed after {failures} attempts: {last_error}"
                    ),
                });
            }
            let offset = writer.written();
            let mut req = self.request(Method::GET, url.clone());
            if offset > 0 {
                req = req.header("range", format!("bytes={offset}-"));
            }
            let resp = self.transport().send(&req)?;
            match resp.status() {
                StatusCode::OK if offset > 0 => {
                    // The server ignored the range: start again with what it sends.
                    writer = store.writer(algorithm)?;
                    progress(0);
                }
                StatusCode::OK => {}
                StatusCode::PARTIAL_CONTENT => {
                    let range = header(resp.headers(), "content-range").unwrap_or("");
                    if offset == 0 || !continues_at(range, offset, size) {
                        // Not the bytes we asked for: restart from zero.
                        writer = store.writer(algorithm)?;
                        progress(0);
                        failures += 1;
                        last_error = format!("unexpected Content-Range {range:?}");
                        continue;
                    }
                }
                _ => return Err(status_error(&url, resp)),
            }
            // The bytes are checked against the digest asked for as they stream; the registry's
            // own name for them says something only in the same algorithm (distribution answers
            // a sha512 request with its canonical sha256).
            if let Some(claimed) = header(resp.headers(), "docker-content-digest") {
                if digest::same_algorithm(claimed, d.as_ref()) && claimed != d.as_ref() {
                    let location = format!("{} (its Docker-Content-Digest)", redact(&url));
                    // A header that is not even a digest is said to be one, not passed off as
                    // the digest the content has.
                    return Err(match digest::parse(claimed) {
                        Ok(found) => Error::DigestMismatch {
                            expected: d.clone(),
                            found,
                            location,
                        },
                        Err(e) => Error::Malformed {
                            what: location,
                            reason: e.to_string(),
                        },
                    });
                }
            }
            let mut body = resp.into_body().into_reader();
            match copy(&mut body, &mut writer, &mut buf, size, progress) {
                Ok(()) => {}
                Err(e) => {
                    failures += 1;
                    last_error = e.to_string();
                    std::thread::sleep(self.transport().backoff(failures, None));
                    continue;
                }
            }
            if writer.written() < size {
                failures += 1;
                last_error = format!("body ended after {} of {size} bytes", writer.written());
                continue;
            }
            return writer
                .commit_verified(d, Some(size))
                .map_err(|e| e.located(redact(&url)));
        }
    }
}

/// Copies a body into the writer, reading at most one byte past `size` so an oversized body is caught
/// without being stored whole.
fn copy(
    body: &mut dyn Read,
    writer: &mut BlobWriter,
    buf: &mut [u8],
    size: u64,
    progress: &mut dyn FnMut(u64),
) -> std::io::Result<()> {
    use std::io::Write;
    loop {
        let room = (size + 1).saturating_sub(writer.written());
        if room == 0 {
            return Ok(());
        }
        let want = buf.len().min(usize::try_from(room).unwrap_or(usize::MAX));
        let n = match body.read(&mut buf[..want]) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        writer.write_all(&buf[..n])?;
        progress(writer.written());
    }
}

/// Whether `Content-Range: bytes START-END/TOTAL` starts at `offset` (and, when the total is known,
/// agrees with `size`).
fn continues_at(range: &str, offset: u64, size: u64) -> bool {
    let Some(spec) = range.trim().strip_prefix("bytes ") else {
        return false;
    };
    let (span, total) = spec.split_once('/').unwrap_or((spec, "*"));
    let start = span.split('-').next().and_then(|s| s.parse::<u64>().ok());
    let total_ok = total == "*" || total.parse::<u64>().ok() == Some(size);
    start == Some(offset) && total_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_range_must_continue() {
        let cases = [
            ("bytes 10-99/100", true),
            ("bytes 10-99/*", true),
            ("bytes 0-99/100", false),
            ("bytes 10-99/101", false),
            ("items 10-99/100", false),
            ("", false),
        ];
        for (range, want) in cases {
            assert_eq!(continues_at(range, 10, 100), want, "{range}");
        }
    }
}
