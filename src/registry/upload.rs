//! Blob uploads: cross-repository mount when the blob is known to be in another repository of the same
//! registry, otherwise a session (`POST`) finished by one `PUT` for small blobs or by `PATCH` chunks
//! and a closing `PUT` for large ones. Each `Location` may be absolute or relative. A chunk that
//! fails (a broken connection, a `401` that renewed the token, a `429`/`5xx`) is resumed where the
//! registry says the session stands; a session that cannot go on is started again, up to the
//! configured attempts.
//!
//! Every byte sent is hashed as it is read from its source: the last byte goes out only once the
//! whole blob has hashed to its digest, so a corrupt local blob never completes an upload.

use std::io::{self, Read};

use oci_spec::image::{Descriptor, Digest};
use ureq::http::{Method, StatusCode};

use super::transport::{self, header, resolve_location, status_error, Request};
use super::Repository;
use crate::digest::{Algorithm, Hasher};
use crate::error::{quoted, Error, Result};

/// Where the bytes of a blob come from: a function that opens them from the start.
pub type Open<'a> = dyn Fn() -> Result<Box<dyn Read + Send>> + Sync + 'a;

/// How a blob got into the repository.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pushed {
    /// The registry mounted it from another repository.
    Mounted,
    /// Its bytes were uploaded.
    Uploaded,
}

impl Repository<'_> {
    /// Puts blob `desc` into the repository, trying a mount from `mount_from` (another repository on
    /// this registry) first. `origin` says where `open` reads from (a path), for the message when
    /// those bytes do not hash to the digest: the upload then fails before its last byte is sent.
    /// `progress` hears the bytes sent so far.
    pub fn push_blob(
        &self,
        desc: &Descriptor,
        open: &Open,
        origin: &str,
        mount_from: Option<&str>,
        progress: &mut dyn FnMut(u64),
    ) -> Result<Pushed> {
        let max = self.transport().config().max_attempts.max(1);
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.try_push(desc, open, origin, mount_from, progress) {
                Ok(p) => return Ok(p),
                Err(e) if attempt < max && retryable(&e) => {
                    progress(0);
                    std::thread::sleep(self.transport().backoff(attempt, None));
                }
                Err(e) => return Err(e),
            }
        }
    }

    fn try_push(
        &self,
        desc: &Descriptor,
        open: &Open,
        origin: &str,
        mount_from: Option<&str>,
        progress: &mut dyn FnMut(u64),
    ) -> Result<Pushed> {
        let d = desc.digest();
        let mut url = self.url("blobs/uploads/");
        let mut scope = self.scope.clone();
        if let Some(from) = mount_from.filter(|f| *f != self.name) {
            url.push_str(&format!("?mount={}&from={from}", encode(d.as_ref())));
            // The mount needs pull access to the source repository as well.
            scope.mount_from = Some(from.to_string());
        }
        let resp = self
            .transport()
            .send(&Request::new(Method::POST, url.clone(), &scope))?;
        let location = match resp.status() {
            StatusCode::CREATED => return Ok(Pushed::Mounted),
            StatusCode::ACCEPTED => location(&url, &resp)?,
            _ => return Err(status_error(&url, resp)),
        };
        let size = desc.size();
        let chunk = self.transport().config().chunk_size.max(1);
        let mut reader = LocalBytes::new(open()?, d, size, origin, progress)?;
        let finish = if size <= chunk {
            let url = with_digest(&location, d);
            let req = self
                .request(Method::PUT, url.clone())
                .header("content-type", "application/octet-stream");
            let sent = self.transport().send_stream(&req, &mut reader, size);
            (url, reader.checked(sent)?)
        } else {
            let location = self.patch_chunks(&location, size, chunk, open, &mut reader)?;
            let url = with_digest(&location, d);
            let req = self.request(Method::PUT, url.clone());
            (url.clone(), self.transport().send(&req)?)
        };
        let (url, resp) = finish;
        if resp.status() != StatusCode::CREATED && !resp.status().is_success() {
            return Err(status_error(&url, resp));
        }
        check_stored(&url, &resp, d)?;
        if !reader.verified {
            // The registry took the digest without every byte: not something to trust.
            return Err(Error::SizeMismatch {
                digest: d.clone(),
                expected: size,
                found: reader.count,
            });
        }
        Ok(Pushed::Uploaded)
    }

    /// Sends the blob in `PATCH` chunks of `chunk` bytes into the session at `location`; returns
    /// where the session is then. A chunk that does not arrive (a broken connection, a `429`/`5xx`,
    /// or a `401` that renewed the token) is not a reason to start over: the registry is asked how
    /// much it holds (`GET` on the session) and the upload goes on from there, reopening the blob at
    /// that offset. Only when it cannot tell does the chunk's error go back up, which starts a new
    /// session.
    fn patch_chunks(
        &self,
        location: &str,
        size: u64,
        chunk: u64,
        open: &Open,
        reader: &mut LocalBytes,
    ) -> Result<String> {
        let max = self.transport().config().max_attempts.max(1);
        let mut location = location.to_string();
        let mut start = 0;
        let mut failures = 0;
        while start < size {
            let len = chunk.min(size - start);
            let req = self
                .request(Method::PATCH, location.clone())
                .header("content-type", "application/octet-stream")
                .header("content-range", format!("{start}-{}", start + len - 1));
            let mut part = (&mut *reader).take(len);
            let sent = self.transport().send_stream(&req, &mut part, len);
            let sent = reader.checked(sent).and_then(|resp| match resp.status() {
                StatusCode::ACCEPTED => self::location(&location, &resp),
                _ => Err(status_error(&location, resp)),
            });
            match sent {
                Ok(next) => {
                    location = next;
                    start += len;
                    failures = 0;
                }
                Err(e) if retryable(&e) && failures + 1 < max => {
                    failures += 1;
                    std::thread::sleep(self.transport().backoff(failures, None));
                    let Some((held, next)) = self.upload_status(&location, size) else {
                        return Err(e);
                    };
                    reader.restart_at(open, held)?;
                    location = next;
                    start = held;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(location)
    }

    /// How many bytes the upload session at `location` holds, and its next `Location`; `None` when
    /// the registry does not say (the session is gone, or the answer makes no sense for `size`).
    fn upload_status(&self, location: &str, size: u64) -> Option<(u64, String)> {
        let resp = self
            .transport()
            .send(&self.request(Method::GET, location.to_string()))
            .ok()?;
        if resp.status() != StatusCode::NO_CONTENT {
            return None;
        }
        let held = match header(resp.headers(), "range") {
            None => 0,
            Some(range) => {
                let (first, last) = range.trim().split_once('-')?;
                let (first, last) = (first.parse::<u64>().ok()?, last.parse::<u64>().ok()?);
                // `0-0` is what distribution says of an empty session.
                match (first, last) {
                    (0, 0) => 0,
                    (0, last) => last + 1,
                    _ => return None,
                }
            }
        };
        let next = match header(resp.headers(), "location") {
            Some(l) => resolve_location(location, l),
            None => location.to_string(),
        };
        (held <= size).then_some((held, next))
    }
}

/// Errors worth starting the upload again for: broken connections and 429/5xx answers.
fn retryable(e: &Error) -> bool {
    match e {
        Error::Http { .. } => true,
        Error::Registry { status, .. } => StatusCode::from_u16(*status)
            .map(transport::retryable)
            .unwrap_or(false),
        _ => false,
    }
}

/// The upload URL from a `Location` header, resolved against the request URL: an `http` or `https`
/// URL, or the upload is refused here rather than sent somewhere unexpected.
fn location(url: &str, resp: &transport::Response) -> Result<String> {
    let refused = |message: String| Error::Registry {
        url: transport::redact(url),
        status: resp.status().as_u16(),
        message,
    };
    let given = header(resp.headers(), "location")
        .ok_or_else(|| refused("the registry sent no upload Location".into()))?;
    let resolved = resolve_location(url, given);
    let valid = resolved
        .parse::<ureq::http::Uri>()
        .is_ok_and(|u| matches!(u.scheme_str(), Some("http" | "https")) && u.host().is_some());
    if !valid {
        return Err(refused(format!(
            "the upload Location {} is not an http(s) URL",
            quoted(given)
        )));
    }
    Ok(resolved)
}

/// Checks the `Docker-Content-Digest` a finished upload is answered with, when there is one: the
/// registry names what it stored, and anything but the digest pushed (or a digest of another
/// algorithm) means the upload went wrong.
fn check_stored(url: &str, resp: &transport::Response, d: &Digest) -> Result<()> {
    let Some(stored) = header(resp.headers(), "docker-content-digest") else {
        return Ok(());
    };
    let algorithm = |s: &str| s.split_once(':').map(|(a, _)| a.to_string());
    let other_algorithm = algorithm(stored) != algorithm(d.as_ref());
    if stored == d.as_ref() || (other_algorithm && crate::digest::check(stored).is_ok()) {
        return Ok(());
    }
    Err(Error::Registry {
        url: transport::redact(url),
        status: resp.status().as_u16(),
        message: format!(
            "the upload of {d} was answered with Docker-Content-Digest {}",
            quoted(stored)
        ),
    })
}

/// An upload URL with `digest=<digest>` added to its query.
fn with_digest(location: &str, d: &Digest) -> String {
    let sep = if location.contains('?') { '&' } else { '?' };
    format!("{location}{sep}digest={}", encode(d.as_ref()))
}

/// Percent-encodes the one character of a digest that needs it in a query.
fn encode(s: &str) -> String {
    s.replace(':', "%3A")
}

/// A blob's bytes as read from its source for an upload: counted, reported, and hashed on the way.
/// The read that would hand out the last byte first checks the digest of the whole blob (and that
/// nothing follows it); on a mismatch that read fails instead, so the body of the request that would
/// complete the upload is never whole and the registry stores nothing.
struct LocalBytes<'p> {
    inner: Box<dyn Read + Send>,
    hasher: Hasher,
    algorithm: Algorithm,
    digest: Digest,
    size: u64,
    origin: String,
    count: u64,
    /// Whether all `size` bytes were read and hashed to `digest`.
    verified: bool,
    /// Why the bytes were refused, kept for the caller: the HTTP layer sees only an I/O error.
    refused: Option<Error>,
    progress: &'p mut dyn FnMut(u64),
}

impl<'p> LocalBytes<'p> {
    fn new(
        inner: Box<dyn Read + Send>,
        digest: &Digest,
        size: u64,
        origin: &str,
        progress: &'p mut dyn FnMut(u64),
    ) -> Result<Self> {
        let algorithm = Algorithm::of(digest)?;
        let mut bytes = LocalBytes {
            inner,
            hasher: Hasher::new(algorithm),
            algorithm,
            digest: digest.clone(),
            size,
            origin: origin.to_string(),
            count: 0,
            verified: false,
            refused: None,
            progress,
        };
        if size == 0 {
            // No read hands out a last byte: check the empty blob now.
            if let Err(e) = bytes.verify_end() {
                return Err(match bytes.refused.take() {
                    Some(refused) => refused,
                    None => Error::io(origin.to_string(), e),
                });
            }
        }
        Ok(bytes)
    }

    /// The outcome of a request that streamed from this reader: the refusal of the local bytes
    /// when there was one (whatever the transport made of the aborted body), else `sent`.
    fn checked<T>(&mut self, sent: Result<T>) -> Result<T> {
        match self.refused.take() {
            Some(e) => Err(e),
            None => sent,
        }
    }

    /// Reopens the blob and reads (and hashes) it up to `offset`, so the next byte read is the one
    /// at `offset` and the digest still covers every byte from the first.
    fn restart_at(&mut self, open: &Open, offset: u64) -> Result<()> {
        self.inner = open()?;
        self.hasher = Hasher::new(self.algorithm);
        self.count = 0;
        self.verified = false;
        let skipped = io::copy(&mut (&mut *self).take(offset), &mut io::sink());
        if let Some(e) = self.refused.take() {
            return Err(e);
        }
        let skipped = skipped.map_err(|e| Error::io(self.origin.clone(), e))?;
        if skipped != offset {
            return Err(self.refuse(format!(
                "it ends after {skipped} bytes, before offset {offset}"
            )));
        }
        (self.progress)(offset);
        Ok(())
    }

    /// The error for local bytes that are not the blob (kept for [`checked`](Self::checked)).
    fn refuse(&mut self, why: String) -> Error {
        let refused = || Error::CorruptUpload {
            digest: self.digest.clone(),
            origin: self.origin.clone(),
            reason: why.clone(),
        };
        self.refused = Some(refused());
        refused()
    }

    fn refused_io(&mut self, why: String) -> io::Error {
        io::Error::other(self.refuse(why).to_string())
    }

    /// Once all `size` bytes are read: they must hash to the digest, and nothing may follow them.
    fn verify_end(&mut self) -> io::Result<()> {
        let found = std::mem::replace(&mut self.hasher, Hasher::new(self.algorithm)).finish();
        if found != self.digest {
            return Err(self.refused_io(format!("its bytes hash to {found}")));
        }
        let mut more = [0u8; 1];
        if self.inner.read(&mut more)? != 0 {
            let why = format!("it is longer than its {} bytes", self.size);
            return Err(self.refused_io(why));
        }
        self.verified = true;
        Ok(())
    }
}

impl Read for LocalBytes<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.size - self.count;
        if left == 0 || buf.is_empty() {
            return Ok(0);
        }
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        if n == 0 {
            let why = format!("it ends after {} of {} bytes", self.count, self.size);
            return Err(self.refused_io(why));
        }
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        if self.count == self.size {
            self.verify_end()?;
        }
        (self.progress)(self.count);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_goes_into_the_query() {
        let d: Digest = crate::digest::EMPTY_JSON.parse().unwrap();
        assert_eq!(
            with_digest("http://h/v2/a/blobs/uploads/u?_state=x", &d),
            format!(
                "http://h/v2/a/blobs/uploads/u?_state=x&digest=sha256%3A{}",
                d.digest()
            )
        );
        assert!(with_digest("http://h/u", &d).starts_with("http://h/u?digest="));
    }

    /// The local bytes are handed out only while they can still be the blob: a blob that hashes
    /// wrong, ends early or runs long fails on the read that would complete it, and says so.
    #[test]
    fn local_bytes_refuse_the_read_that_would_complete_a_corrupt_blob() {
        let good = b"hello, blob".to_vec();
        let d = crate::digest::sha256(&good);
        let mut flipped = good.clone();
        flipped[3] ^= 1;
        let mut longer = good.clone();
        longer.push(b'!');
        let cases: [(&str, Vec<u8>, Option<&str>); 4] = [
            ("intact", good.clone(), None),
            ("flipped", flipped, Some("hash to sha256:")),
            (
                "short",
                good[..5].to_vec(),
                Some("ends after 5 of 11 bytes"),
            ),
            ("long", longer, Some("longer than its 11 bytes")),
        ];
        for (what, bytes, refused) in cases {
            let mut progress = |_| {};
            let mut r =
                LocalBytes::new(Box::new(io::Cursor::new(bytes)), &d, 11, "P", &mut progress)
                    .unwrap();
            let mut out = Vec::new();
            let read = r.read_to_end(&mut out);
            let sent: Result<()> = r.checked(Ok(()));
            match refused {
                None => {
                    assert_eq!((read.unwrap(), r.verified, out), (11, true, good.clone()));
                    assert!(sent.is_ok());
                }
                Some(why) => {
                    assert!(read.is_err(), "{what}");
                    assert!(out.len() < 11, "{what}: the last byte went out");
                    let e = sent.unwrap_err().to_string();
                    assert!(
                        e.contains(why) && e.contains(d.as_ref()) && e.contains(" P "),
                        "{what}: {e}"
                    );
                }
            }
        }
        let empty = crate::digest::sha256(b"");
        let mut progress = |_| {};
        let src = Box::new(io::Cursor::new(Vec::new()));
        assert!(LocalBytes::new(src, &empty, 0, "P", &mut progress).is_ok_and(|r| r.verified));
        let src = Box::new(io::Cursor::new(b"x".to_vec()));
        assert!(LocalBytes::new(src, &empty, 0, "P", &mut progress).is_err());
    }
}
