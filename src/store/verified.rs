//! Reading a blob as a stream that checks itself: [`VerifiedReader`] hashes and counts every byte on
//! the way to the caller and fails, rather than ends, when the content is not what its descriptor
//! says.

use std::fmt;
use std::fs::File;
use std::io::{self, Read};

use oci_spec::image::{Descriptor, Digest};

use super::BlobStore;
use crate::digest::{self, Algorithm, Hasher};
use crate::error::{Error, Result};

impl BlobStore {
    /// Opens the blob a descriptor points at as a [`VerifiedReader`]: the bytes stream as they are
    /// read, and the read that would end the stream fails instead when the content does not hash to
    /// the descriptor's digest or does not have its size.
    ///
    /// ```
    /// use std::io::Read;
    ///
    /// let layout = ocilayout::Layout::open("fixtures/containerd")?;
    /// let manifest = layout.resolve("alpine:3.16", None)?;
    /// let mut bytes = Vec::new();
    /// layout.blobs().open_verified(&manifest)?.read_to_end(&mut bytes)?;
    /// assert_eq!(bytes.len() as u64, manifest.size());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn open_verified(&self, descriptor: &Descriptor) -> Result<VerifiedReader> {
        let d = descriptor.digest();
        let path = self.path(d)?;
        let file = self.open(d)?;
        VerifiedReader::new(file, d.clone(), descriptor.size(), path.display())
    }
}

/// A reader that hashes and counts what passes through it and checks both against a digest and a
/// size. It never hands out a byte past the size, and the read that reaches the size checks the
/// digest before returning its bytes, so a caller that reads exactly `size` bytes (`read_exact`)
/// is protected as well as one that reads to the end.
///
/// A mismatch is an [`io::Error`] of kind [`io::ErrorKind::InvalidData`] whose inner error is the
/// library's [`Error`] ([`Error::DigestMismatch`] or [`Error::SizeMismatch`]); every read after it
/// fails the same way:
///
/// ```
/// # use std::io::Read;
/// # let store_path = tempfile::tempdir()?;
/// # let layout = ocilayout::Layout::init(store_path.path())?;
/// # let mut descriptor = ocilayout::oci_spec::image::Descriptor::new(
/// #     ocilayout::oci_spec::image::MediaType::ImageLayerGzip, 3,
/// #     layout.blobs().put_bytes(b"abc")?);
/// descriptor.set_size(4); // a descriptor that does not match the blob
/// let err = layout.blobs().open_verified(&descriptor)?.read_to_end(&mut Vec::new()).unwrap_err();
/// let typed = err.get_ref().and_then(|e| e.downcast_ref::<ocilayout::Error>());
/// assert!(matches!(typed, Some(ocilayout::Error::SizeMismatch { .. })));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct VerifiedReader<R = File> {
    inner: R,
    hasher: Option<Hasher>,
    expected: Digest,
    size: u64,
    read: u64,
    location: String,
    state: State,
}

/// Where a [`VerifiedReader`] is in its stream.
enum State {
    /// Fewer than `size` bytes handed out so far.
    Reading,
    /// Exactly `size` bytes, and they hash to the digest: the stream has ended.
    Verified,
    /// The content is not what was expected; every read returns this again.
    Failed(Mismatch),
}

/// What did not match, kept so that each later read can fail with the same typed error.
#[derive(Clone)]
enum Mismatch {
    Digest(Digest),
    Size(u64),
}

impl<R: Read> VerifiedReader<R> {
    /// Reads `inner`, which must hold exactly `size` bytes that hash to `expected`; `location` (a
    /// path, a URL) names it in the error. Refused when the digest's algorithm is not supported.
    pub fn new(inner: R, expected: Digest, size: u64, location: impl fmt::Display) -> Result<Self> {
        digest::validate(&expected)?;
        Ok(VerifiedReader {
            inner,
            hasher: Some(Hasher::new(Algorithm::of(&expected)?)),
            expected,
            size,
            read: 0,
            location: location.to_string(),
            state: State::Reading,
        })
    }

    /// The digest the content must have.
    pub fn digest(&self) -> &Digest {
        &self.expected
    }

    /// Bytes handed out so far.
    pub fn count(&self) -> u64 {
        self.read
    }

    /// The typed error of a mismatch.
    fn error(&self, m: &Mismatch) -> Error {
        match m {
            Mismatch::Digest(found) => Error::DigestMismatch {
                expected: self.expected.clone(),
                found: found.clone(),
                location: self.location.clone(),
            },
            Mismatch::Size(found) => Error::SizeMismatch {
                digest: self.expected.clone(),
                expected: self.size,
                found: *found,
            },
        }
    }

    fn fail(&mut self, m: Mismatch) -> io::Error {
        let e = io::Error::new(io::ErrorKind::InvalidData, self.error(&m));
        self.state = State::Failed(m);
        e
    }

    /// All `size` bytes are in: nothing may follow them, and they must hash to the digest.
    fn verify_end(&mut self) -> io::Result<()> {
        let mut probe = [0u8; 1];
        let extra = loop {
            match self.inner.read(&mut probe) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => break other?,
            }
        };
        if extra > 0 {
            return Err(self.fail(Mismatch::Size(self.size + extra as u64)));
        }
        let found = match self.hasher.take() {
            Some(h) => h.finish(),
            // Taken only here, and this runs once: the state is no longer `Reading` afterwards.
            None => return Ok(()),
        };
        if found != self.expected {
            return Err(self.fail(Mismatch::Digest(found)));
        }
        self.state = State::Verified;
        Ok(())
    }
}

impl<R: Read> Read for VerifiedReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match &self.state {
            State::Verified => return Ok(0),
            State::Failed(m) => {
                let m = m.clone();
                return Err(io::Error::new(io::ErrorKind::InvalidData, self.error(&m)));
            }
            State::Reading => {}
        }
        if self.read == self.size {
            // An empty blob, or a caller that asked for nothing before.
            self.verify_end()?;
            return Ok(0);
        }
        if buf.is_empty() {
            return Ok(0);
        }
        let room = usize::try_from(self.size - self.read).unwrap_or(usize::MAX);
        let want = buf.len().min(room);
        let n = self.inner.read(&mut buf[..want])?;
        if n == 0 {
            return Err(self.fail(Mismatch::Size(self.read)));
        }
        if let Some(h) = self.hasher.as_mut() {
            h.update(&buf[..n]);
        }
        self.read += n as u64;
        if self.read == self.size {
            // The last bytes are handed out only once the whole content is proven.
            self.verify_end()?;
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::image::MediaType;
    use std::fs;

    fn store() -> (tempfile::TempDir, BlobStore) {
        let dir = tempfile::tempdir().unwrap();
        let s = BlobStore::new(dir.path());
        (dir, s)
    }

    fn read_all(s: &BlobStore, d: &Descriptor) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        s.open_verified(d).unwrap().read_to_end(&mut out)?;
        Ok(out)
    }

    fn typed(e: &io::Error) -> &Error {
        assert_eq!(e.kind(), io::ErrorKind::InvalidData, "{e}");
        e.get_ref()
            .and_then(|e| e.downcast_ref::<Error>())
            .expect("the library's error inside")
    }

    /// A good blob reads whole; the same bytes changed in place, cut short, grown, or described
    /// with another size fail at the end, each with its typed error, and keep failing.
    #[test]
    fn a_blob_reads_fully_only_when_digest_and_size_match() {
        let (_dir, s) = store();
        let content: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let d = s.put_bytes(&content).unwrap();
        let desc = Descriptor::new(MediaType::ImageLayer, content.len() as u64, d.clone());
        assert_eq!(read_all(&s, &desc).unwrap(), content);

        let path = s.path(&d).unwrap();
        let mut corrupt = content.clone();
        corrupt[99_999] ^= 1;
        let mut longer = content.clone();
        longer.push(0);
        let cases: [(&str, Vec<u8>); 4] = [
            ("same size, one bit flipped at the end", corrupt),
            ("truncated", content[..50_000].to_vec()),
            ("empty", Vec::new()),
            ("one byte too many", longer),
        ];
        for (what, bytes) in cases {
            fs::write(&path, &bytes).unwrap();
            let mut r = s.open_verified(&desc).unwrap();
            let mut got = Vec::new();
            let err = r.read_to_end(&mut got).unwrap_err();
            match (what, typed(&err)) {
                (
                    "same size, one bit flipped at the end",
                    Error::DigestMismatch {
                        expected, location, ..
                    },
                ) => {
                    assert_eq!(expected, &d);
                    assert!(location.contains(d.digest()), "{location}");
                }
                (
                    "truncated",
                    Error::SizeMismatch {
                        found: 50_000,
                        expected: 100_000,
                        ..
                    },
                )
                | ("empty", Error::SizeMismatch { found: 0, .. })
                | ("one byte too many", Error::SizeMismatch { found: 100_001, .. }) => {}
                (what, other) => panic!("{what}: {other}"),
            }
            // Never a byte past the size, never the last chunk of content that does not verify.
            assert!(got.len() < content.len(), "{what}: {} bytes", got.len());
            // A failed reader stays failed.
            assert!(r.read(&mut [0u8; 16]).is_err(), "{what}");
            // `read_exact` of exactly the size is protected too.
            let mut exact = vec![0u8; content.len()];
            assert!(
                s.open_verified(&desc)
                    .unwrap()
                    .read_exact(&mut exact)
                    .is_err(),
                "{what}"
            );
        }

        // The descriptor's size is what counts, not the file's.
        fs::write(&path, &content).unwrap();
        let mut short = desc.clone();
        short.set_size(99_999);
        let err = read_all(&s, &short).unwrap_err();
        assert!(
            matches!(typed(&err), Error::SizeMismatch { found: 100_000, .. }),
            "{err}"
        );
    }

    #[test]
    fn an_empty_blob_and_a_missing_one() {
        let (_dir, s) = store();
        let d = s.put_bytes(b"").unwrap();
        let desc = Descriptor::new(MediaType::ImageLayer, 0, d.clone());
        assert_eq!(read_all(&s, &desc).unwrap(), b"");
        s.remove(&d).unwrap();
        assert!(matches!(
            s.open_verified(&desc).err(),
            Some(Error::BlobMissing { .. })
        ));
    }
}
