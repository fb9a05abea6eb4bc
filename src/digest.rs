//! Digests: validation before any path is built from one, and hashing readers and writers that compute
//! a digest while bytes stream through them.

use std::io::{self, Read, Write};

use oci_spec::image::{Digest, DigestAlgorithm};
use sha2::{Digest as _, Sha256, Sha512};

use crate::error::{Error, Result};

/// The digest of the empty JSON object `{}`.
pub const EMPTY_JSON: &str =
    "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";

/// Parses and validates a digest: `sha256:` with 64 lowercase hex digits or `sha512:` with 128.
/// Every other algorithm or form is refused, so a validated digest is always safe as a path component.
pub fn parse(s: &str) -> Result<Digest> {
    check(s)?;
    s.parse::<Digest>().map_err(|e| Error::InvalidDigest {
        digest: s.to_string(),
        reason: e.to_string(),
    })
}

/// Checks a digest string against the rules of [`parse`] without building a [`Digest`] (no
/// allocation unless it is invalid): for validating every entry of a large index.
pub fn check(s: &str) -> Result<()> {
    let invalid = |reason: &str| Error::InvalidDigest {
        digest: s.to_string(),
        reason: reason.to_string(),
    };
    let (algorithm, hex) = s
        .split_once(':')
        .ok_or_else(|| invalid("expected ALGORITHM:HEX"))?;
    let want = match algorithm {
        "sha256" => 64,
        "sha512" => 128,
        _ => return Err(invalid("only sha256 and sha512 are supported")),
    };
    if hex.len() != want {
        return Err(invalid(&format!(
            "{algorithm} needs {want} hex digits, found {}",
            hex.len()
        )));
    }
    if !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(invalid("the hex part must be lowercase 0-9a-f"));
    }
    Ok(())
}

/// Checks a digest that came in through a typed value (for example a descriptor read from JSON)
/// against the same rules as [`parse`].
pub fn validate(d: &Digest) -> Result<()> {
    check(d.as_ref())
}

/// Whether what a user typed is meant as a digest rather than a name or tag: `shaN:...`, or any
/// `word:` followed by 32 or more hex digits. It may still be invalid, which [`parse`] then reports.
pub fn looks_like_digest(s: &str) -> bool {
    let Some((alg, rest)) = s.split_once(':') else {
        return false;
    };
    // Any case: `SHA256:...` is a digest written wrongly, to be refused as one, not a name.
    // On bytes: the algorithm may hold multi-byte characters, and byte 3 need not be a boundary.
    let alg_bytes = alg.as_bytes();
    let sha_n = alg_bytes.len() > 3
        && alg_bytes[..3].eq_ignore_ascii_case(b"sha")
        && alg_bytes[3..].iter().all(|b| b.is_ascii_digit());
    let long_hex = alg.bytes().all(|b| b.is_ascii_alphanumeric())
        && !alg.is_empty()
        && rest.len() >= 32
        && rest.bytes().all(|b| b.is_ascii_hexdigit());
    sha_n || long_hex
}

/// The hash algorithms a layout can hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Algorithm {
    /// `sha256`: 64 lowercase hex digits.
    Sha256,
    /// `sha512`: 128 lowercase hex digits.
    Sha512,
}

impl Algorithm {
    /// The algorithm of a (validated) digest.
    pub fn of(d: &Digest) -> Result<Self> {
        match d.algorithm() {
            DigestAlgorithm::Sha256 => Ok(Algorithm::Sha256),
            DigestAlgorithm::Sha512 => Ok(Algorithm::Sha512),
            other => Err(Error::InvalidDigest {
                digest: d.to_string(),
                reason: format!("unsupported algorithm {other}"),
            }),
        }
    }

    /// The directory name under `blobs/`.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha512 => "sha512",
        }
    }
}

/// An incremental hash of either supported algorithm. The hash functions behind it are not part
/// of the API.
#[derive(Clone)]
pub struct Hasher(Inner);

#[derive(Clone)]
enum Inner {
    Sha256(Sha256),
    Sha512(Sha512),
}

impl Hasher {
    /// A hasher for `algorithm` that has hashed nothing yet.
    pub fn new(algorithm: Algorithm) -> Self {
        Hasher(match algorithm {
            Algorithm::Sha256 => Inner::Sha256(Sha256::new()),
            Algorithm::Sha512 => Inner::Sha512(Sha512::new()),
        })
    }

    /// Hashes `bytes` after what was hashed before.
    pub fn update(&mut self, bytes: &[u8]) {
        match &mut self.0 {
            Inner::Sha256(h) => h.update(bytes),
            Inner::Sha512(h) => h.update(bytes),
        }
    }

    /// The digest of everything hashed so far.
    pub fn finish(self) -> Digest {
        let s = match self.0 {
            Inner::Sha256(h) => format!("sha256:{:x}", h.finalize()),
            Inner::Sha512(h) => format!("sha512:{:x}", h.finalize()),
        };
        s.parse().expect("a computed digest is always valid")
    }
}

/// The sha256 digest of a byte slice.
pub fn sha256(bytes: &[u8]) -> Digest {
    let mut h = Hasher::new(Algorithm::Sha256);
    h.update(bytes);
    h.finish()
}

/// The digest of `bytes` in the algorithm of `like`.
pub(crate) fn of_bytes_like(like: &Digest, bytes: &[u8]) -> Result<Digest> {
    let mut h = Hasher::new(Algorithm::of(like)?);
    h.update(bytes);
    Ok(h.finish())
}

/// Checks that `bytes`, read from `location` (a path, a URL), hash to `expected`.
pub fn verify_bytes(
    expected: &Digest,
    bytes: &[u8],
    location: impl std::fmt::Display,
) -> Result<()> {
    let found = of_bytes_like(expected, bytes)?;
    if &found != expected {
        return Err(Error::DigestMismatch {
            expected: expected.clone(),
            found: found.clone(),
            location: location.to_string(),
        });
    }
    Ok(())
}

/// Whether `other`, a digest someone else gave for the bytes `d` names (a registry's
/// `Docker-Content-Digest`, perhaps in its own algorithm), names those same bytes: compared directly
/// when the algorithms agree, otherwise by hashing `bytes` (the content of `d`) with `other`'s.
pub(crate) fn same_content(d: &Digest, other: &Digest, bytes: &[u8]) -> Result<bool> {
    if d.algorithm() == other.algorithm() {
        return Ok(d == other);
    }
    Ok(&of_bytes_like(other, bytes)? == other)
}

/// Whether two digests use the same algorithm, so that comparing them says anything.
pub(crate) fn same_algorithm(a: &str, b: &str) -> bool {
    a.split_once(':').map(|(alg, _)| alg) == b.split_once(':').map(|(alg, _)| alg)
}

/// A reader that hashes and counts every byte read through it.
pub struct HashingReader<R> {
    inner: R,
    hasher: Hasher,
    count: u64,
}

impl<R: Read> HashingReader<R> {
    /// Reads from `inner`, hashing every byte read with `algorithm`.
    pub fn new(inner: R, algorithm: Algorithm) -> Self {
        HashingReader {
            inner,
            hasher: Hasher::new(algorithm),
            count: 0,
        }
    }

    /// Bytes read so far.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The digest and length of everything read.
    pub fn finish(self) -> (Digest, u64) {
        (self.hasher.finish(), self.count)
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}

/// A writer that hashes and counts every byte written through it.
pub struct HashingWriter<W> {
    inner: W,
    hasher: Hasher,
    count: u64,
}

impl<W: Write> HashingWriter<W> {
    /// Writes to `inner`, hashing every byte written with `algorithm`.
    pub fn new(inner: W, algorithm: Algorithm) -> Self {
        HashingWriter {
            inner,
            hasher: Hasher::new(algorithm),
            count: 0,
        }
    }

    /// Bytes written so far.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The inner writer, and the digest and length of everything written.
    pub fn finish(self) -> (W, Digest, u64) {
        (self.inner, self.hasher.finish(), self.count)
    }

    #[cfg(feature = "serve")]
    /// The inner writer, the hash state and the length so far, to carry on later with [`Self::resume`].
    pub(crate) fn into_parts(self) -> (W, Hasher, u64) {
        (self.inner, self.hasher, self.count)
    }

    #[cfg(feature = "serve")]
    /// Carries on writing to `inner` after `count` bytes that `hasher` has already hashed.
    pub(crate) fn resume(inner: W, hasher: Hasher, count: u64) -> Self {
        HashingWriter {
            inner,
            hasher,
            count,
        }
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn accepts_valid_digests() {
        assert_eq!(parse(GOOD).unwrap().to_string(), GOOD);
        let long = format!("sha512:{}", "a".repeat(128));
        assert_eq!(parse(&long).unwrap().to_string(), long);
    }

    #[test]
    fn refuses_invalid_digests() {
        let bad = [
            "sha256:../../x",
            "sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85",
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8555",
            "md5:d41d8cd98f00b204e9800998ecf8427e",
            "sha384:38b060a751ac96384cd9327eb1b1e36a21fdb71114be07434c0cc7bf63f6e1da274edebfe76f65fbd51ad2f14898b95b",
            "sha256",
            "",
            ":abc",
            "sha256:",
            "sha256:/etc/passwd",
        ];
        for b in bad {
            let err = parse(b).unwrap_err().to_string();
            assert!(err.starts_with("invalid digest"), "{b}: {err}");
        }
    }

    #[test]
    fn hashes_while_streaming() {
        let mut r = HashingReader::new(&b"hello"[..], Algorithm::Sha256);
        let mut out = Vec::new();
        r.read_to_end(&mut out).unwrap();
        let (d, n) = r.finish();
        assert_eq!(n, 5);
        assert_eq!(d, sha256(b"hello"));
        let mut w = HashingWriter::new(Vec::new(), Algorithm::Sha256);
        w.write_all(b"").unwrap();
        let (_, d, n) = w.finish();
        assert_eq!((d.to_string().as_str(), n), (GOOD, 0));
        assert!(verify_bytes(&sha256(b"x"), b"y", "test").is_err());
    }

    #[test]
    fn looks_like_digest_on_any_text() {
        assert!(looks_like_digest(&format!("sha256:{}", "a".repeat(64))));
        assert!(looks_like_digest("SHA256:abc"));
        assert!(looks_like_digest(&format!("blake3:{}", "0".repeat(32))));
        assert!(!looks_like_digest("alpine:3.16"));
        assert!(!looks_like_digest("alpine"));
        // Found by fuzzing: byte 3 of the algorithm inside a multi-byte character panicked.
        assert!(!looks_like_digest("ÞÞÞÞ=0sha258:x"));
        assert!(!looks_like_digest("shé1:abc"));
        assert!(!looks_like_digest("ÞÞ:abc"));
    }

    /// A registry's digest for our bytes is compared as a digest only in our algorithm; in
    /// another, the bytes are hashed with it.
    #[test]
    fn same_content_hashes_across_algorithms() {
        let bytes = b"manifest";
        let d256 = sha256(bytes);
        let d512 = of_bytes_like(
            &parse(&format!("sha512:{}", "0".repeat(128))).unwrap(),
            bytes,
        )
        .unwrap();
        let other256 = sha256(b"other");
        let cases = [
            (&d256, &d256, true),
            (&d256, &other256, false),
            (&d512, &d256, true),
            (&d256, &d512, true),
            (&d512, &other256, false),
        ];
        for (ours, theirs, want) in cases {
            assert_eq!(
                same_content(ours, theirs, bytes).unwrap(),
                want,
                "{ours} {theirs}"
            );
        }
        assert!(same_algorithm(d256.as_ref(), other256.as_ref()));
        assert!(!same_algorithm(d256.as_ref(), d512.as_ref()));
        assert!(!same_algorithm("nonsense", d256.as_ref()));
    }
}
