//! The library's error type: one enum with structured variants, so callers can tell what went wrong
//! and where without parsing messages.

use std::io;
use std::path::PathBuf;

use oci_spec::image::{Descriptor, Digest};

mod debug;

/// Everything that can go wrong in the library.
///
/// Messages are one line, say what and where, and never contain credentials. `{:?}` shows the
/// message too, followed by the variant's name, so that a `main` returning this crate's
/// [`Result`] prints a sentence; match on the variant for its fields:
///
/// ```
/// // In a program: `fn main() -> ocilayout::Result<()>`; on an error Rust prints `Error: ` and this.
/// fn run() -> ocilayout::Result<()> {
///     let layout = ocilayout::Layout::open("fixtures/containerd")?;
///     layout.resolve("app:nope", None)?;
///     Ok(())
/// }
/// let err = run().unwrap_err();
/// assert_eq!(
///     format!("{err:?}"),
///     "\"app:nope\" not found in fixtures/containerd (NotFound)"
/// );
/// assert!(matches!(err, ocilayout::Error::NotFound { .. }));
/// ```
#[derive(thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A digest string that is not `sha256:<64 hex>` or `sha512:<128 hex>`.
    #[error("invalid digest {}: {reason}", quoted(digest))]
    InvalidDigest {
        /// The text as it was given; a string, since it did not parse as a digest.
        digest: String,
        /// What is wrong with it: the algorithm, the length, a character.
        reason: String,
    },

    /// A name that does not follow the reference grammar.
    #[error("invalid reference {}: {reason}", quoted(input))]
    InvalidReference {
        /// The name as it was given.
        input: String,
        /// Which rule of the grammar it breaks.
        reason: String,
    },

    /// An I/O error on a path.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory the operation was on.
        path: PathBuf,
        /// The error of the operating system.
        source: io::Error,
    },

    /// A directory that is not an OCI image layout.
    #[error("{}: not an OCI image layout: {reason}", path.display())]
    NotALayout {
        /// The directory.
        path: PathBuf,
        /// Why it is not one: no `oci-layout` file, an unknown version, files that are not ours.
        reason: String,
    },

    /// Something in the layout's own state (`.ocilayout/`, its `tmp/`, lock files, `blobs/<alg>/`,
    /// the file about to be replaced) that is not what we made: a symbolic link, or not a directory
    /// or regular file. Refused rather than followed, so nothing outside the layout is touched.
    #[error("{}: {reason}; refusing to follow or replace it", path.display())]
    Unsafe {
        /// The path that is not what it should be.
        path: PathBuf,
        /// What it is instead: `a symbolic link`, `not a directory`.
        reason: String,
    },

    /// A FIFO, a socket, a device (or a directory) where the layout should hold a regular file
    /// (`oci-layout`, `index.json`, a blob): refused before a byte of it is read, since reading it
    /// could block forever or reach a device.
    #[error("{}: {kind}, not a regular file; refusing to read it", path.display())]
    NotAFile {
        /// The file that is not a regular file.
        path: PathBuf,
        /// What it is instead.
        kind: FileKind,
    },

    /// JSON that does not parse as what it should be. The reason may quote the document, so control
    /// characters in it are shown escaped.
    #[error("{}: {}", one_line(what), one_line(reason))]
    Malformed {
        /// The document: a path, `blob <digest>`, a registry URL, an environment variable.
        what: String,
        /// What the parser or a check said, with the line and column when it has them.
        reason: String,
    },

    /// Content whose hash is not the digest it was named by. `location` says where the content was
    /// read: a path in the layout, a registry URL, an archive member.
    #[error(
        "{}: digest mismatch: expected {expected}, found {found}",
        one_line(location)
    )]
    DigestMismatch {
        /// The digest the content was named by.
        expected: Digest,
        /// The digest of the content as it was read (in the algorithm of `expected`, or the digest
        /// a registry claimed for it).
        found: Digest,
        /// Where the content was read: a path in the layout, a registry URL, an archive member.
        location: String,
    },

    /// Content whose length is not the size its descriptor gives.
    #[error("size mismatch for {digest}: expected {expected} bytes, found {found}")]
    SizeMismatch {
        /// The digest of the content.
        digest: Digest,
        /// The size its descriptor gives, in bytes.
        expected: u64,
        /// The size of the content, in bytes (as far as it was read when it is too long).
        found: u64,
    },

    /// A blob a descriptor points at is not in the layout.
    #[error("blob {digest} is missing from {}", layout.display())]
    BlobMissing {
        /// The digest of the missing blob.
        digest: Digest,
        /// The layout's directory.
        layout: PathBuf,
    },

    /// Nothing in the layout matches what the user typed.
    #[error("{} not found in {}", quoted(input), layout.display())]
    NotFound {
        /// What the user typed: a name, a tag or a digest.
        input: String,
        /// The layout's directory.
        layout: PathBuf,
    },

    /// What the user typed matches entries with different digests.
    #[error("{} is ambiguous in {}; candidates: {}", quoted(input), layout.display(), one_line(&candidates.iter().map(Candidate::to_string).collect::<Vec<_>>().join(", ")))]
    Ambiguous {
        /// What the user typed.
        input: String,
        /// The layout's directory.
        layout: PathBuf,
        /// Every entry that matches, with its name and descriptor, sorted by name and digest.
        candidates: Vec<Candidate>,
    },

    /// An image index has no manifest for the requested platform; `available` lists the platforms
    /// it has (`os/arch[/variant]`, in index order).
    #[error("{digest} has no manifest for platform {platform}; it has {}", one_line(&if available.is_empty() { "no platforms".to_string() } else { available.join(", ") }))]
    NoPlatform {
        /// The image index that was searched (the outermost one, when indexes are nested).
        digest: Digest,
        /// The platform asked for, as `os/arch[/variant]`.
        platform: String,
        /// The platforms the index has, as `os/arch[/variant]`, in index order.
        available: Vec<String>,
    },

    /// A single-platform image asked for with another platform.
    #[error("{digest} is an image for {}, not {platform}", one_line(found))]
    WrongPlatform {
        /// The image manifest.
        digest: Digest,
        /// The platform asked for, as `os/arch[/variant]`.
        platform: String,
        /// The platform the image is for (from its descriptor or its config), as
        /// `os/arch[/variant]`.
        found: String,
    },

    /// A manifest, index or other document over its size limit.
    #[error("{what} is {size} bytes, over the limit of {limit} bytes")]
    TooLarge {
        /// The document: its digest, URL or archive member.
        what: String,
        /// Its size, as its descriptor or the server gives it, or as far as it was read.
        size: u64,
        /// The limit, in bytes.
        limit: u64,
    },

    /// A registry answered with a status the operation cannot go on from. What the server said is
    /// shown on one line and cut short, whatever it sent.
    #[error("{}: {status} {}", one_line(url), one_line(message))]
    Registry {
        /// The URL of the request, without credentials.
        url: String,
        /// The HTTP status of the answer.
        status: u16,
        /// What the server said: the codes and messages of its error body, or the body's start.
        message: String,
    },

    /// A connection to a registry failed, after every retry.
    #[error("{}: {}", one_line(url), one_line(message))]
    Http {
        /// The URL of the request, without credentials.
        url: String,
        /// What failed: the connection, the TLS handshake, a timeout.
        message: String,
    },

    /// A registry refused to authenticate us, or a token could not be had. The reason names the user
    /// and where the credentials came from, never a secret.
    #[error("authentication to {registry} failed: {}", one_line(reason))]
    Auth {
        /// The registry's host (and port).
        registry: String,
        /// Why, naming the user and the source of the credentials, never a secret.
        reason: String,
    },

    /// A registry wants credentials and none of the sources has any for it.
    #[error("no credentials found for {registry} (looked in: {looked_in})")]
    NoCredentials {
        /// The registry's host (and port).
        registry: String,
        /// The sources that were searched, in order, comma-separated.
        looked_in: String,
    },

    /// An archive member that is refused: an unsafe path or type, or content that is not its name.
    #[error("archive member {} refused: {reason}", quoted(member))]
    ArchiveMember {
        /// The member's path as the archive gives it.
        member: String,
        /// Why it is refused.
        reason: String,
    },

    /// An archive that is not a valid tar stream: `at` says where in it, when known.
    #[error("archive refused: not a valid tar stream: {}{}", one_line(reason), at.as_deref().map(|a| format!(" ({})", one_line(a))).unwrap_or_default())]
    NotTar {
        /// What the tar reader said.
        reason: String,
        /// Where in the stream: the member or the offset, when known.
        at: Option<String>,
    },

    /// Reading the archive failed, in `member` when given.
    #[error("archive refused: cannot read {}: {source}", member.as_deref().map_or_else(|| "the archive".to_string(), quoted))]
    ArchiveRead {
        /// The member being read, when the failure is inside one.
        member: Option<String>,
        /// The error of the read (or of decompression).
        #[source]
        source: io::Error,
    },

    /// An archive that is neither an OCI image layout nor a docker-archive (no `oci-layout` member, an unknown version, no
    /// `index.json`).
    #[error(
        "archive refused: not an OCI image layout or a docker-archive: {}",
        one_line(reason)
    )]
    ArchiveNotALayout {
        /// What it lacks or has instead.
        reason: String,
    },

    /// An archive whose content is refused as a whole: not an OCI layout, or its images' closure is
    /// incomplete (`digest`, when given, is the blob that is missing or wrong).
    #[error("archive refused: {}", one_line(reason))]
    ArchiveRefused {
        /// Why, naming the blob or member at fault.
        reason: String,
        /// The blob that is missing or wrong, when one is.
        digest: Option<Digest>,
    },

    /// An operation refused because a blob it needs from the layout is missing or corrupt.
    #[error("{operation} {}: {what} {digest} is {problem}; run `ocilayout fsck`", layout.display())]
    Damaged {
        /// What was refused: `refusing to gc`, `cannot export from`, `cannot push from`.
        operation: &'static str,
        /// The layout's directory.
        layout: PathBuf,
        /// `blob`, `reachable manifest` or `remaining manifest`.
        what: &'static str,
        /// The blob that is missing or corrupt.
        digest: Digest,
        /// What is wrong with it: missing, corrupt (and what it hashes to), unreadable.
        problem: String,
    },

    /// A local blob that is not what its digest names, found while uploading it: nothing of it is
    /// committed at the registry.
    #[error(
        "not uploading {digest}: the local blob {origin} is corrupt: {}",
        one_line(reason)
    )]
    CorruptUpload {
        /// The digest the blob is named by.
        digest: Digest,
        /// Where the local blob was read: its path in the layout.
        origin: String,
        /// What is wrong with it: the digest or size it has instead.
        reason: String,
    },

    /// Image indexes or manifests nested deeper than we descend, from `root`.
    #[error("{root}: {what} nested too deeply")]
    TooDeep {
        /// The document the descent started from.
        root: Digest,
        /// What is nested: `image indexes`, `manifests`.
        what: &'static str,
    },

    /// A URL that is not `oci-layout://PATH[...]`.
    #[error("{} is not an oci-layout:// URL", quoted(url))]
    NotALayoutUrl {
        /// The URL as it was given.
        url: String,
    },

    /// A platform that is not `os/arch[/variant]`.
    #[error("invalid platform {}: expected os/arch[/variant]", quoted(input))]
    InvalidPlatform {
        /// The platform as it was given.
        input: String,
    },

    /// A tag refused as a new name: `reason` says why and what to give instead.
    #[error("cannot tag with {}: {reason}", quoted(tag))]
    BadTag {
        /// The tag as it was given.
        tag: String,
        /// Why it is refused, and what to give instead.
        reason: String,
    },

    /// A name with a digest given as a new tag.
    #[error("cannot tag with a digest: {} (give a name with a tag)", quoted(name))]
    TagWithDigest {
        /// The name as it was given.
        name: String,
    },

    /// A Docker schema 1 manifest, which we do not read.
    #[error("{} is a Docker schema 1 manifest, which is not supported; convert it to schema 2 or OCI first", one_line(what))]
    Schema1 {
        /// The manifest: its reference, URL or digest.
        what: String,
    },

    /// Two images that would be pushed to one destination.
    #[error(
        "{dest} is already the destination of {other} ({digest}); not overwriting it with {new}"
    )]
    DestinationTaken {
        /// The destination reference both map onto.
        dest: String,
        /// The name of the image that took the destination first.
        other: String,
        /// The digest of that image.
        digest: Digest,
        /// The digest of the image that would overwrite it.
        new: Digest,
    },

    /// A destination reference whose digest is not the image's.
    #[error("{dest} names {named}, but the image is {image}")]
    DestinationDigest {
        /// The destination reference.
        dest: String,
        /// The digest the destination reference names.
        named: Digest,
        /// The digest of the image being pushed.
        image: Digest,
    },

    /// A blob that failed for an earlier image of the same operation, reported again for this one.
    #[error("{}", one_line(reason))]
    FailedBefore {
        /// The blob that failed.
        digest: Digest,
        /// The message of the first failure.
        reason: String,
    },

    /// A credential helper (`docker-credential-NAME`) that could not give credentials. What it
    /// printed is never part of the reason.
    #[error("credential helper {program} failed for {host}: {}", one_line(reason))]
    CredentialHelper {
        /// The helper's program name: `docker-credential-NAME`.
        program: String,
        /// The registry host it was asked about.
        host: String,
        /// How it failed (its exit status, a timeout), never what it printed.
        reason: String,
    },

    /// The TLS configuration could not be built.
    #[error("TLS setup: {}", one_line(reason))]
    TlsSetup {
        /// Why: a certificate that does not load, no usable roots.
        reason: String,
    },

    /// An archive target that cannot be written: a directory, a dangling link, not a file name.
    #[error("{}: {reason}", path.display())]
    BadTarget {
        /// The target as it was given.
        path: PathBuf,
        /// What it is instead of a writable file.
        reason: &'static str,
    },

    /// Options that cannot be used together.
    #[error("{first} {reason}; it cannot be combined with {second}")]
    Conflict {
        /// The option that is refused.
        first: &'static str,
        /// The option it conflicts with.
        second: &'static str,
        /// What the first option does that makes the two incompatible.
        reason: &'static str,
    },

    /// A file given to configure us (an htpasswd file, a TLS certificate or key) that cannot be
    /// used: `line` is the 1-based line, when the problem is on one.
    #[error("{}{}: {}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default(), one_line(reason))]
    BadFile {
        /// The file.
        path: PathBuf,
        /// The 1-based line the problem is on, when it is on one.
        line: Option<usize>,
        /// What is wrong.
        reason: String,
    },

    /// A copy source or destination that names nothing usable.
    #[error("{}: {reason}", quoted(input))]
    BadEndpoint {
        /// The source or destination as it was given.
        input: String,
        /// Why it cannot be used.
        reason: String,
    },

    /// The server could not start: listening on `addr`, or setting up its runtime or signals.
    #[error("cannot {what}{}: {source}", addr.as_deref().map(|a| format!(" on {a}")).unwrap_or_default())]
    ServerStart {
        /// What failed: `listen`, `start the server runtime`, `watch signals`.
        what: &'static str,
        /// The address it was to listen on, when the failure is listening.
        addr: Option<String>,
        /// The error of the operating system.
        #[source]
        source: io::Error,
    },

    /// A worker thread of ours stopped before its work was done (a bug, not bad input).
    #[error("{what} stopped unexpectedly")]
    Internal {
        /// The worker that stopped.
        what: &'static str,
    },
}

/// What a path holds when it is not the regular file a layout should hold there
/// ([`Error::NotAFile`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FileKind {
    /// A named pipe: reading it waits for a writer.
    Fifo,
    /// A Unix domain socket.
    Socket,
    /// A character device (`/dev/null`, a terminal, a tape).
    CharDevice,
    /// A block device (a disk).
    BlockDevice,
    /// A directory.
    Directory,
    /// A symbolic link where links are refused.
    Symlink,
    /// Anything else the system may have.
    Other,
}

impl std::fmt::Display for FileKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FileKind::Fifo => "a FIFO",
            FileKind::Socket => "a socket",
            FileKind::CharDevice => "a character device",
            FileKind::BlockDevice => "a block device",
            FileKind::Directory => "a directory",
            FileKind::Symlink => "a symbolic link",
            FileKind::Other => "a special file",
        })
    }
}

/// One of the entries an ambiguous input matches: how the entry is named, and what it points at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    /// The entry's full name as `ls` shows it (its canonical name, else its bare tag, else its
    /// digest).
    pub name: String,
    /// The entry's descriptor, as `index.json` holds it.
    pub descriptor: Descriptor,
}

impl std::fmt::Display for Candidate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.name, self.descriptor.digest())
    }
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
// Public only so that the command line shows the causes it prints the same way; not an API to
// build on.
#[doc(hidden)]
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
    pub(crate) fn located(self, location: impl std::fmt::Display) -> Self {
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
