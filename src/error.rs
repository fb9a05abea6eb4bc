//! The library's error type: one enum with structured variants, so callers can tell what went wrong
//! and where without parsing messages.

use std::io;
use std::path::PathBuf;

/// Everything that can go wrong in the library.
///
/// Messages are one line, say what and where, and never contain credentials.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A digest string that is not `sha256:<64 hex>` or `sha512:<128 hex>`.
    #[error("invalid digest {}: {reason}", quoted(digest))]
    InvalidDigest { digest: String, reason: String },

    /// A name that does not follow the reference grammar.
    #[error("invalid reference {}: {reason}", quoted(input))]
    InvalidReference { input: String, reason: String },

    /// An I/O error on a path.
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },

    /// A directory that is not an OCI image layout.
    #[error("{}: not an OCI image layout: {reason}", path.display())]
    NotALayout { path: PathBuf, reason: String },

    /// Something in the layout's own state (`.ocilayout/`, its `tmp/`, lock files, `blobs/<alg>/`,
    /// the file about to be replaced) that is not what we made: a symbolic link, or not a directory
    /// or regular file. Refused rather than followed, so nothing outside the layout is touched.
    #[error("{}: {reason}; refusing to follow or replace it", path.display())]
    Unsafe { path: PathBuf, reason: String },

    /// JSON that does not parse as what it should be. The reason may quote the document, so control
    /// characters in it are shown escaped.
    #[error("{}: {}", one_line(what), one_line(reason))]
    Malformed { what: String, reason: String },

    /// Content whose hash is not the digest it was named by. `location` says where the content was
    /// read: a path in the layout, a registry URL, an archive member.
    #[error(
        "{}: digest mismatch: expected {expected}, found {found}",
        one_line(location)
    )]
    DigestMismatch {
        expected: String,
        found: String,
        location: String,
    },

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
    #[error("{} not found in {}", quoted(input), layout.display())]
    NotFound { input: String, layout: PathBuf },

    /// What the user typed matches entries with different digests.
    #[error("{} is ambiguous in {}; candidates: {}", quoted(input), layout.display(), one_line(&candidates.join(", ")))]
    Ambiguous {
        input: String,
        layout: PathBuf,
        candidates: Vec<String>,
    },

    /// An image index has no manifest for the requested platform; `available` lists the platforms
    /// it has (`os/arch[/variant]`, in index order).
    #[error("{digest} has no manifest for platform {platform}; it has {}", one_line(&if available.is_empty() { "no platforms".to_string() } else { available.join(", ") }))]
    NoPlatform {
        digest: String,
        platform: String,
        available: Vec<String>,
    },

    /// A single-platform image asked for with another platform.
    #[error("{digest} is an image for {}, not {platform}", one_line(found))]
    WrongPlatform {
        digest: String,
        platform: String,
        found: String,
    },

    /// A manifest, index or other document over its size limit.
    #[error("{what} is {size} bytes, over the limit of {limit} bytes")]
    TooLarge { what: String, size: u64, limit: u64 },

    /// A registry answered with a status the operation cannot go on from. What the server said is
    /// shown on one line and cut short, whatever it sent.
    #[error("{}: {status} {}", one_line(url), one_line(message))]
    Registry {
        url: String,
        status: u16,
        message: String,
    },

    /// A connection to a registry failed, after every retry.
    #[error("{}: {}", one_line(url), one_line(message))]
    Http { url: String, message: String },

    /// A registry refused to authenticate us, or a token could not be had. The reason names the user
    /// and where the credentials came from, never a secret.
    #[error("authentication to {registry} failed: {}", one_line(reason))]
    Auth { registry: String, reason: String },

    /// A registry wants credentials and none of the sources has any for it.
    #[error("no credentials found for {registry} (looked in: {looked_in})")]
    NoCredentials { registry: String, looked_in: String },

    /// An archive member that is refused: an unsafe path or type, or content that is not its name.
    #[error("archive member {} refused: {reason}", quoted(member))]
    ArchiveMember { member: String, reason: String },

    /// An archive that is not a valid tar stream: `at` says where in it, when known.
    #[error("archive refused: not a valid tar stream: {}{}", one_line(reason), at.as_deref().map(|a| format!(" ({})", one_line(a))).unwrap_or_default())]
    NotTar { reason: String, at: Option<String> },

    /// Reading the archive failed, in `member` when given.
    #[error("archive refused: cannot read {}: {source}", member.as_deref().map_or_else(|| "the archive".to_string(), quoted))]
    ArchiveRead {
        member: Option<String>,
        #[source]
        source: io::Error,
    },

    /// An archive that is neither an OCI image layout nor a docker-archive (no `oci-layout` member, an unknown version, no
    /// `index.json`).
    #[error(
        "archive refused: not an OCI image layout or a docker-archive: {}",
        one_line(reason)
    )]
    ArchiveNotALayout { reason: String },

    /// An archive whose content is refused as a whole: not an OCI layout, or its images' closure is
    /// incomplete (`digest`, when given, is the blob that is missing or wrong).
    #[error("archive refused: {}", one_line(reason))]
    ArchiveRefused {
        reason: String,
        digest: Option<String>,
    },

    /// An operation refused because a blob it needs from the layout is missing or corrupt.
    #[error("{operation} {}: {what} {digest} is {problem}; run `ocilayout fsck`", layout.display())]
    Damaged {
        /// What was refused: `refusing to gc`, `cannot export from`, `cannot push from`.
        operation: &'static str,
        layout: PathBuf,
        /// `blob` or `reachable manifest`.
        what: &'static str,
        digest: String,
        problem: String,
    },

    /// A local blob that is not what its digest names, found while uploading it: nothing of it is
    /// committed at the registry.
    #[error(
        "not uploading {digest}: the local blob {origin} is corrupt: {}",
        one_line(reason)
    )]
    CorruptUpload {
        digest: String,
        origin: String,
        reason: String,
    },

    /// Image indexes or manifests nested deeper than we descend, from `root`.
    #[error("{root}: {what} nested too deeply")]
    TooDeep { root: String, what: &'static str },

    /// A URL that is not `oci-layout://PATH[...]`.
    #[error("{} is not an oci-layout:// URL", quoted(url))]
    NotALayoutUrl { url: String },

    /// A platform that is not `os/arch[/variant]`.
    #[error("invalid platform {}: expected os/arch[/variant]", quoted(input))]
    InvalidPlatform { input: String },

    /// A tag refused as a new name: `reason` says why and what to give instead.
    #[error("cannot tag with {}: {reason}", quoted(tag))]
    BadTag { tag: String, reason: String },

    /// A name with a digest given as a new tag.
    #[error("cannot tag with a digest: {} (give a name with a tag)", quoted(name))]
    TagWithDigest { name: String },

    /// A Docker schema 1 manifest, which we do not read.
    #[error("{} is a Docker schema 1 manifest, which is not supported; convert it to schema 2 or OCI first", one_line(what))]
    Schema1 { what: String },

    /// Two images that would be pushed to one destination.
    #[error(
        "{dest} is already the destination of {other} ({digest}); not overwriting it with {new}"
    )]
    DestinationTaken {
        dest: String,
        other: String,
        digest: String,
        new: String,
    },

    /// A destination reference whose digest is not the image's.
    #[error("{dest} names {named}, but the image is {image}")]
    DestinationDigest {
        dest: String,
        named: String,
        image: String,
    },

    /// A blob that failed for an earlier image of the same operation, reported again for this one.
    #[error("{}", one_line(reason))]
    FailedBefore { digest: String, reason: String },

    /// A credential helper (`docker-credential-NAME`) that could not give credentials. What it
    /// printed is never part of the reason.
    #[error("credential helper {program} failed for {host}: {}", one_line(reason))]
    CredentialHelper {
        program: String,
        host: String,
        reason: String,
    },

    /// The TLS configuration could not be built.
    #[error("TLS setup: {}", one_line(reason))]
    TlsSetup { reason: String },

    /// An archive target that cannot be written: a directory, a dangling link, not a file name.
    #[error("{}: {reason}", path.display())]
    BadTarget { path: PathBuf, reason: &'static str },

    /// Options that cannot be used together.
    #[error("{first} {reason}; it cannot be combined with {second}")]
    Conflict {
        first: &'static str,
        second: &'static str,
        reason: &'static str,
    },

    /// A file given to configure us (an htpasswd file, a TLS certificate or key) that cannot be
    /// used: `line` is the 1-based line, when the problem is on one.
    #[error("{}{}: {}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default(), one_line(reason))]
    BadFile {
        path: PathBuf,
        line: Option<usize>,
        reason: String,
    },

    /// A copy source or destination that names nothing usable.
    #[error("{}: {reason}", quoted(input))]
    BadEndpoint { input: String, reason: String },

    /// The server could not start: listening on `addr`, or setting up its runtime or signals.
    #[error("cannot {what}{}: {source}", addr.as_deref().map(|a| format!(" on {a}")).unwrap_or_default())]
    ServerStart {
        what: &'static str,
        addr: Option<String>,
        #[source]
        source: io::Error,
    },

    /// A worker thread of ours stopped before its work was done (a bug, not bad input).
    #[error("{what} stopped unexpectedly")]
    Internal { what: &'static str },
}

/// What a user or a document gave, as a message shows it: quoted, and cut short when long, so that
/// a hostile input of megabytes still makes an error of one line.
pub(crate) fn quoted(input: &str) -> String {
    const SHOWN: usize = 100;
    match input.char_indices().nth(SHOWN) {
        None => format!("{input:?}"),
        Some((end, _)) => format!("{:?}... ({} bytes)", &input[..end], input.len()),
    }
}

/// A message made fit for one line of a report, whatever text from a hostile document it carries
/// (a parser quotes what it could not read): control characters escaped, and when long, its middle
/// cut out, so that both what went wrong (the start) and where (the end: "at line 1 column 9") stay.
pub fn one_line(message: &str) -> String {
    const HEAD: usize = 300;
    const TAIL: usize = 300;
    let escaped = escape_controls(message);
    let chars = escaped.chars().count();
    if chars <= HEAD + TAIL + 40 {
        return escaped.into_owned();
    }
    let at = |n: usize| {
        escaped
            .char_indices()
            .nth(n)
            .map_or(escaped.len(), |(i, _)| i)
    };
    let (head, tail) = (at(HEAD), at(chars - TAIL));
    format!(
        "{} [... {} bytes ...] {}",
        &escaped[..head],
        tail - head,
        &escaped[tail..]
    )
}

/// Text from a name, a path or a document made safe for one line of a terminal or a report: control
/// characters (newline, tab, ESC, the C1 range) and the invisible bidirectional overrides that can
/// reorder what a terminal shows are written as Rust escapes (`\n`, `\u{1b}`); everything else is
/// kept. The one rule for every line the program prints, errors and results alike.
pub fn escape_controls(text: &str) -> std::borrow::Cow<'_, str> {
    let unsafe_char = |ch: char| {
        ch.is_control()
            || matches!(ch, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    };
    if !text.chars().any(unsafe_char) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut escaped = String::with_capacity(text.len() + 8);
    for ch in text.chars() {
        if unsafe_char(ch) {
            escaped.extend(ch.escape_default());
        } else {
            escaped.push(ch);
        }
    }
    std::borrow::Cow::Owned(escaped)
}

/// The library's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The same error with a [`Error::DigestMismatch`] located at `location` (a caller that knows
    /// where the bytes came from, a URL or an archive member, says so instead of the temporary
    /// file they went through); any other error unchanged.
    pub fn located(self, location: impl std::fmt::Display) -> Self {
        match self {
            Error::DigestMismatch {
                expected, found, ..
            } => Error::DigestMismatch {
                expected,
                found,
                location: location.to_string(),
            },
            other => other,
        }
    }

    /// Wraps an I/O error with the path it happened on.
    pub fn io(path: impl Into<PathBuf>, source: io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_inputs_are_cut_short_in_messages() {
        let e = Error::InvalidDigest {
            digest: format!("sha256:{}", "a".repeat(1 << 20)),
            reason: "too long".into(),
        };
        let shown = e.to_string();
        assert!(shown.len() < 200, "{shown}");
        assert!(shown.contains("(1048583 bytes)"), "{shown}");
        // Multi-byte characters are cut at a character boundary.
        assert!(quoted(&"é".repeat(300)).ends_with("(600 bytes)"));
        assert_eq!(quoted("sha256:x\n"), "\"sha256:x\\n\"");
        assert_eq!(one_line("a\nb\0c"), "a\\nb\\u{0}c");
        let long = format!(
            "invalid type: string {:?}, expected u32 at line 1 column 9",
            "x".repeat(5000)
        );
        let shown = one_line(&long);
        assert!(shown.len() < 700, "{shown}");
        assert!(shown.starts_with("invalid type: string \"xxx"), "{shown}");
        assert!(
            shown.ends_with("xxx\", expected u32 at line 1 column 9"),
            "{shown}"
        );
        assert!(shown.contains(" [... 4456 bytes ...] "), "{shown}");
    }

    #[test]
    fn what_a_registry_says_stays_on_one_short_line() {
        let e = Error::Registry {
            url: "https://r/v2/a/manifests/x".into(),
            status: 400,
            message: format!("MANIFEST_INVALID\nforged line{}", "y".repeat(1 << 20)),
        };
        let shown = e.to_string();
        assert!(!shown.contains('\n') && shown.len() < 700, "{shown}");
        assert!(shown.starts_with("https://r/v2/a/manifests/x: 400 MANIFEST_INVALID\\nforged"));
        let e = Error::Http {
            url: "https://r/v2/".into(),
            message: "reset\r\nby peer".into(),
        };
        assert_eq!(e.to_string(), "https://r/v2/: reset\\r\\nby peer");
    }
}
