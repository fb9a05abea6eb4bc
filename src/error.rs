//! The library's error type: one enum with structured variants, so callers can tell what went wrong
//! and where without parsing messages.

use std::borrow::Cow;
use std::io;
use std::path::PathBuf;

/// Everything that can go wrong in the library.
///
/// Messages are one line, say what and where, and never contain credentials.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A digest string that is not `sha256:<64 hex>` or `sha512:<128 hex>`.
    #[error("invalid digest {digest:?}: {reason}")]
    InvalidDigest { digest: String, reason: String },

    /// A name that does not follow the reference grammar.
    #[error("invalid reference {input:?}: {reason}")]
    InvalidReference { input: String, reason: String },

    /// An I/O error on a path.
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },

    /// A directory that is not an OCI image layout.
    #[error("{}: not an OCI image layout: {reason}", path.display())]
    NotALayout { path: PathBuf, reason: String },

    /// JSON that does not parse as what it should be. The reason may quote the document, so control
    /// characters in it are shown escaped.
    #[error("{}: {}", one_line(what), one_line(reason))]
    Malformed { what: String, reason: String },

    /// Content whose hash is not the digest it was named by.
    #[error("digest mismatch: expected {expected}, found {found}")]
    DigestMismatch { expected: String, found: String },

    /// Content whose length is not the size its descriptor gives.
    #[error("size mismatch for {digest}: expected {expected} bytes, found {found}")]
    SizeMismatch {
        digest: String,
        expected: u64,
        found: u64,
    },

    /// A blob a descriptor points at is not in the layout.
    #[error("blob {digest} is missing from {}", layout.display())]
    BlobMissing { digest: String, layout: PathBuf },

    /// Nothing in the layout matches what the user typed.
    #[error("{input:?} not found in {}", layout.display())]
    NotFound { input: String, layout: PathBuf },

    /// What the user typed matches entries with different digests.
    #[error("{input:?} is ambiguous in {}; candidates: {}", layout.display(), one_line(&candidates.join(", ")))]
    Ambiguous {
        input: String,
        layout: PathBuf,
        candidates: Vec<String>,
    },

    /// An image index has no manifest for the requested platform.
    #[error("{digest} has no manifest for platform {platform}")]
    NoPlatform { digest: String, platform: String },

    /// A manifest, index or other document over its size limit.
    #[error("{what} is {size} bytes, over the limit of {limit} bytes")]
    TooLarge { what: String, size: u64, limit: u64 },

    /// A registry answered with a status the operation cannot go on from.
    #[error("{url}: {status} {message}")]
    Registry {
        url: String,
        status: u16,
        message: String,
    },

    /// A connection to a registry failed, after every retry.
    #[error("{url}: {message}")]
    Http { url: String, message: String },

    /// A registry refused to authenticate us, or a token could not be had. The reason names the user
    /// and where the credentials came from, never a secret.
    #[error("authentication to {registry} failed: {reason}")]
    Auth { registry: String, reason: String },

    /// A registry wants credentials and none of the sources has any for it.
    #[error("no credentials found for {registry} (looked in: {looked_in})")]
    NoCredentials { registry: String, looked_in: String },

    /// An archive member that is refused: an unsafe path or type, or content that is not its name.
    #[error("archive member {member:?} refused: {reason}")]
    ArchiveMember { member: String, reason: String },

    /// An archive refused as a whole (not an OCI layout, an incomplete closure, a manifest over limit).
    #[error("archive refused: {0}")]
    ArchiveRefused(String),

    /// An operation refused because the layout is damaged.
    #[error("{0}")]
    Damaged(String),

    /// A request the caller made that cannot be carried out as asked.
    #[error("{0}")]
    Invalid(String),
}

/// The library's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Wraps an I/O error with the path it happened on.
    pub fn io(path: impl Into<PathBuf>, source: io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

/// Text that may come from a document (a parser's message quoting it, a name from `index.json`) with
/// its control characters escaped, so that an error stays one line whatever the document held.
fn one_line(text: &str) -> Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Attaches a path to I/O results: `fs::read(&p).at(&p)?`.
pub(crate) trait IoContext<T> {
    fn at(self, path: impl Into<PathBuf>) -> Result<T>;
}

impl<T> IoContext<T> for io::Result<T> {
    fn at(self, path: impl Into<PathBuf>) -> Result<T> {
        self.map_err(|source| Error::io(path, source))
    }
}
