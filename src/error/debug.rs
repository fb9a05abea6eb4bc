//! How an [`Error`] shows in `{:?}`: its message and its variant's name, so that the common
//! `fn main() -> ocilayout::Result<()>` (whose error Rust prints with `Debug`) prints a sentence a
//! person can read rather than a struct.

use std::fmt;

use super::Error;

impl fmt::Debug for Error {
    /// `"app:nope" not found in ./layout (NotFound)`: the message, then the variant, whose fields
    /// the caller can match on.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self} ({})", self.variant())
    }
}

impl Error {
    /// The name of the variant, as written in the source (`NotFound`, `DigestMismatch`).
    pub(crate) fn variant(&self) -> &'static str {
        match self {
            Error::InvalidDigest { .. } => "InvalidDigest",
            Error::InvalidReference { .. } => "InvalidReference",
            Error::Io { .. } => "Io",
            Error::NotALayout { .. } => "NotALayout",
            Error::Unsafe { .. } => "Unsafe",
            Error::NotAFile { .. } => "NotAFile",
            Error::Malformed { .. } => "Malformed",
            Error::DigestMismatch { .. } => "DigestMismatch",
            Error::SizeMismatch { .. } => "SizeMismatch",
            Error::BlobMissing { .. } => "BlobMissing",
            Error::NotFound { .. } => "NotFound",
            Error::Ambiguous { .. } => "Ambiguous",
            Error::NoPlatform { .. } => "NoPlatform",
            Error::WrongPlatform { .. } => "WrongPlatform",
            Error::TooLarge { .. } => "TooLarge",
            Error::Registry { .. } => "Registry",
            Error::Http { .. } => "Http",
            Error::Auth { .. } => "Auth",
            Error::NoCredentials { .. } => "NoCredentials",
            Error::ArchiveMember { .. } => "ArchiveMember",
            Error::NotTar { .. } => "NotTar",
            Error::ArchiveRead { .. } => "ArchiveRead",
            Error::ArchiveNotALayout { .. } => "ArchiveNotALayout",
            Error::ArchiveRefused { .. } => "ArchiveRefused",
            Error::Damaged { .. } => "Damaged",
            Error::CorruptUpload { .. } => "CorruptUpload",
            Error::TooDeep { .. } => "TooDeep",
            Error::NotALayoutUrl { .. } => "NotALayoutUrl",
            Error::InvalidPlatform { .. } => "InvalidPlatform",
            Error::BadTag { .. } => "BadTag",
            Error::TagWithDigest { .. } => "TagWithDigest",
            Error::DestinationTaken { .. } => "DestinationTaken",
            Error::DestinationDigest { .. } => "DestinationDigest",
            Error::FailedBefore { .. } => "FailedBefore",
            Error::CredentialHelper { .. } => "CredentialHelper",
            Error::TlsSetup { .. } => "TlsSetup",
            Error::BadTarget { .. } => "BadTarget",
            Error::Conflict { .. } => "Conflict",
            Error::BadFile { .. } => "BadFile",
            Error::BadEndpoint { .. } => "BadEndpoint",
            Error::ServerStart { .. } => "ServerStart",
            Error::Schema1 { .. } => "Schema1",
            Error::Internal { .. } => "Internal",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    /// What `fn main() -> Result<()>` prints for a library error: the message and the variant on
    /// one line, never the struct with its fields.
    #[test]
    fn debug_is_the_message_and_the_variant() {
        let cases = [
            (
                Error::NotFound {
                    input: "app:nope".into(),
                    layout: PathBuf::from("./layout"),
                },
                "\"app:nope\" not found in ./layout (NotFound)",
            ),
            (
                Error::io("/x/index.json", std::io::ErrorKind::NotFound.into()),
                "/x/index.json: entity not found (Io)",
            ),
            (
                Error::Internal { what: "the hasher" },
                "the hasher stopped unexpectedly (Internal)",
            ),
        ];
        for (e, want) in cases {
            let shown = format!("{e:?}");
            assert_eq!(shown, want);
            assert!(!shown.contains('{') && !shown.contains('\n'), "{shown}");
            // `{:#?}` too: a `main` that returns it, or a test's `unwrap`, prints one line.
            assert_eq!(format!("{e:#?}"), want);
        }
    }
}
