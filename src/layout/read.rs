//! Typed reads of a layout's JSON blobs: a descriptor's blob as a manifest, an index, a config or
//! any deserializable type, checked against the descriptor (size and digest) before it is parsed.

use oci_spec::image::{Descriptor, ImageConfiguration, ImageIndex, ImageManifest};
use serde::de::DeserializeOwned;

use super::Layout;
use crate::digest;
use crate::error::{Error, Result};
use crate::graph::LOCAL_MANIFEST_LIMIT;
use crate::kind::DocumentKind;

impl Layout {
    /// Reads the blob `desc` points at and parses it as JSON into `T`. The blob must have the
    /// descriptor's size and hash to its digest; it is read whole, so it may be at most 64 MiB
    /// (every manifest, index and config is far smaller).
    pub fn read_json_blob<T: DeserializeOwned>(&self, desc: &Descriptor) -> Result<T> {
        let bytes = self.read_blob_for(desc)?;
        serde_json::from_slice(&bytes).map_err(|e| Error::Malformed {
            what: format!("blob {}", desc.digest()),
            reason: e.to_string(),
        })
    }

    /// Reads the image manifest `desc` points at (OCI, or Docker schema 2, which has the same
    /// fields), verified against `desc`. A document that says it is an index or an artifact is
    /// refused with the kind it is.
    pub fn read_manifest(&self, desc: &Descriptor) -> Result<ImageManifest> {
        self.read_kind(
            desc,
            &[DocumentKind::OciManifest, DocumentKind::DockerManifest],
        )
    }

    /// Reads the image index (or Docker manifest list) `desc` points at, verified against `desc`.
    /// Not `index.json`: see [`Layout::read_index`] for that.
    pub fn read_image_index(&self, desc: &Descriptor) -> Result<ImageIndex> {
        self.read_kind(desc, &[DocumentKind::OciIndex, DocumentKind::DockerList])
    }

    /// Reads the image configuration `desc` points at (a manifest's `config`), verified against
    /// `desc`.
    pub fn read_config(&self, desc: &Descriptor) -> Result<ImageConfiguration> {
        self.read_json_blob(desc)
    }

    /// The blob's bytes, checked against `desc`: the digest is validated before it touches the file
    /// system, the size is compared before anything is read, the content is hashed.
    fn read_blob_for(&self, desc: &Descriptor) -> Result<Vec<u8>> {
        let d = desc.digest();
        digest::validate(d)?;
        let Some(size) = self.blobs().size(d)? else {
            return Err(Error::BlobMissing {
                digest: d.clone(),
                layout: self.root().to_path_buf(),
            });
        };
        if size != desc.size() {
            return Err(Error::SizeMismatch {
                digest: d.clone(),
                expected: desc.size(),
                found: size,
            });
        }
        self.blobs().read_verified(d, LOCAL_MANIFEST_LIMIT)
    }

    /// Reads `desc` as a `T` when both the descriptor's media type (if it names a document kind)
    /// and the document itself say it is one of `kinds`.
    fn read_kind<T: DeserializeOwned>(
        &self,
        desc: &Descriptor,
        kinds: &[DocumentKind],
    ) -> Result<T> {
        let bytes = self.read_blob_for(desc)?;
        let wrong = |kind: DocumentKind, by: &str| Error::Malformed {
            what: format!("blob {}", desc.digest()),
            reason: format!("{by} says it is an {kind}, not an {}", kinds[0]),
        };
        if let Some(k) = DocumentKind::from_media_type(desc.media_type().as_ref()) {
            if !kinds.contains(&k) {
                return Err(wrong(k, "its descriptor"));
            }
        }
        if let Some(k) = DocumentKind::detect(&bytes) {
            if !kinds.contains(&k) {
                return Err(wrong(k, "the document"));
            }
        }
        serde_json::from_slice(&bytes).map_err(|e| Error::Malformed {
            what: format!("blob {}", desc.digest()),
            reason: format!("not an {}: {e}", kinds[0]),
        })
    }
}
