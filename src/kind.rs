//! What kind of document a manifest-like blob is: OCI manifest or index, Docker manifest or list,
//! artifact; decided from its media type, or from its shape when the media type says nothing.

use std::fmt;

use crate::graph::{DOCKER_LIST, DOCKER_MANIFEST, OCI_ARTIFACT, OCI_INDEX, OCI_MANIFEST};

/// The kinds of document that refer to other blobs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DocumentKind {
    /// An OCI image manifest (`application/vnd.oci.image.manifest.v1+json`).
    OciManifest,
    /// An OCI image index (`application/vnd.oci.image.index.v1+json`).
    OciIndex,
    /// A Docker image manifest, schema 2.
    DockerManifest,
    /// A Docker manifest list, schema 2.
    DockerList,
    /// An OCI artifact manifest (`application/vnd.oci.artifact.manifest.v1+json`, from the
    /// image-spec 1.1 release candidates), whose children are its `blobs`.
    Artifact,
}

impl DocumentKind {
    /// The kind a media type names; `None` for anything else (a layer, a config, schema 1).
    pub fn from_media_type(media_type: &str) -> Option<DocumentKind> {
        Some(match media_type {
            OCI_MANIFEST => DocumentKind::OciManifest,
            OCI_INDEX => DocumentKind::OciIndex,
            DOCKER_MANIFEST => DocumentKind::DockerManifest,
            DOCKER_LIST => DocumentKind::DockerList,
            OCI_ARTIFACT => DocumentKind::Artifact,
            _ => return None,
        })
    }

    /// The kind of a JSON document: its own `mediaType` field when that names a kind, else its
    /// shape (`manifests` makes an OCI index, `config` with `layers` an OCI manifest, `blobs` an
    /// artifact); `None` when neither says (not JSON, or another document).
    pub fn detect(bytes: &[u8]) -> Option<DocumentKind> {
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Shape {
            media_type: Option<String>,
            manifests: Option<serde::de::IgnoredAny>,
            config: Option<serde::de::IgnoredAny>,
            layers: Option<serde::de::IgnoredAny>,
            blobs: Option<serde::de::IgnoredAny>,
        }
        let shape: Shape = serde_json::from_slice(bytes).ok()?;
        if let Some(kind) = shape.media_type.as_deref().and_then(Self::from_media_type) {
            return Some(kind);
        }
        if shape.manifests.is_some() {
            Some(DocumentKind::OciIndex)
        } else if shape.config.is_some() && shape.layers.is_some() {
            Some(DocumentKind::OciManifest)
        } else if shape.blobs.is_some() {
            Some(DocumentKind::Artifact)
        } else {
            None
        }
    }

    /// The media type of this kind.
    pub fn media_type(self) -> &'static str {
        match self {
            DocumentKind::OciManifest => OCI_MANIFEST,
            DocumentKind::OciIndex => OCI_INDEX,
            DocumentKind::DockerManifest => DOCKER_MANIFEST,
            DocumentKind::DockerList => DOCKER_LIST,
            DocumentKind::Artifact => OCI_ARTIFACT,
        }
    }

    /// Whether documents of this kind list manifests (OCI index, Docker list).
    pub fn is_index(self) -> bool {
        matches!(self, DocumentKind::OciIndex | DocumentKind::DockerList)
    }

    /// Whether documents of this kind describe one image or artifact (config and layers, or blobs).
    pub fn is_manifest(self) -> bool {
        !self.is_index()
    }
}

impl fmt::Display for DocumentKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DocumentKind::OciManifest => "OCI image manifest",
            DocumentKind::OciIndex => "OCI image index",
            DocumentKind::DockerManifest => "Docker image manifest",
            DocumentKind::DockerList => "Docker manifest list",
            DocumentKind::Artifact => "OCI artifact manifest",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_types_and_shapes() {
        let cases: &[(&str, Option<DocumentKind>)] = &[
            (
                r#"{"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}"#,
                Some(DocumentKind::OciIndex),
            ),
            (
                r#"{"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json","manifests":[]}"#,
                Some(DocumentKind::DockerList),
            ),
            (
                r#"{"mediaType":"application/vnd.docker.distribution.manifest.v2+json"}"#,
                Some(DocumentKind::DockerManifest),
            ),
            (
                r#"{"mediaType":"application/vnd.oci.artifact.manifest.v1+json"}"#,
                Some(DocumentKind::Artifact),
            ),
            (
                r#"{"schemaVersion":2,"manifests":[]}"#,
                Some(DocumentKind::OciIndex),
            ),
            (
                r#"{"schemaVersion":2,"config":{},"layers":[]}"#,
                Some(DocumentKind::OciManifest),
            ),
            (r#"{"blobs":[]}"#, Some(DocumentKind::Artifact)),
            (r#"{"architecture":"amd64","os":"linux"}"#, None),
            ("not json", None),
        ];
        for (doc, want) in cases {
            assert_eq!(DocumentKind::detect(doc.as_bytes()), *want, "{doc}");
            if let Some(k) = want {
                assert_eq!(DocumentKind::from_media_type(k.media_type()), Some(*k));
            }
        }
        assert!(DocumentKind::DockerList.is_index());
        assert!(DocumentKind::Artifact.is_manifest());
    }
}
