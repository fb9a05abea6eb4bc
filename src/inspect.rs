//! `inspect`: what a manifest or index holds, read from a layout or a registry through one
//! [`Source`]: for an index its platforms, for a manifest its config (platform, created, entrypoint,
//! cmd, labels), layers and total size, and for both their annotations and referrers.

use std::collections::BTreeMap;

use oci_spec::image::{Descriptor, Digest};
use serde::Serialize;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::graph::{self, LOCAL_MANIFEST_LIMIT, MANIFEST_LIMIT};
use crate::layout::Layout;
use crate::platform::Platform;
use crate::referrer;
use crate::registry::Repository;

/// Where documents come from: every read returns bytes verified against the descriptor's digest.
pub trait Source {
    /// A manifest, an index or a config, whole.
    fn read(&self, d: &Descriptor) -> Result<Vec<u8>>;
    /// The referrers of a manifest (signatures, SBOMs, attestations).
    fn referrers(&self, subject: &Digest) -> Result<Vec<Descriptor>>;
}

/// A layout as a [`Source`]: its referrers are the `index.json` entries that refer to the subject.
pub struct LayoutSource<'a>(pub &'a Layout);

impl Source for LayoutSource<'_> {
    fn read(&self, d: &Descriptor) -> Result<Vec<u8>> {
        self.0
            .blobs()
            .read_verified(d.digest(), LOCAL_MANIFEST_LIMIT)
    }

    fn referrers(&self, subject: &Digest) -> Result<Vec<Descriptor>> {
        let index = self.0.read_index()?;
        let store = self.0.blobs();
        Ok(index
            .manifests()
            .iter()
            .filter(|e| referrer::referrer(store, e).is_some_and(|r| &r.subject == subject))
            .map(|e| {
                let mut e = e.clone();
                if e.artifact_type().is_none() {
                    if let Some(t) = referrer::about(store, &e).artifact_type {
                        e.set_artifact_type(Some(t.as_str().into()));
                    }
                }
                e
            })
            .collect())
    }
}

/// A registry repository as a [`Source`]: manifests by digest, configs as blobs, referrers from the
/// referrers API (or its tag fallback).
pub struct RegistrySource<'a>(pub &'a Repository<'a>);

impl Source for RegistrySource<'_> {
    fn read(&self, d: &Descriptor) -> Result<Vec<u8>> {
        if graph::is_manifest_like(d.media_type().as_ref()) {
            let m = self.0.get_manifest(d.digest().as_ref())?;
            Ok(m.bytes)
        } else {
            self.0.read_blob(d, MANIFEST_LIMIT)
        }
    }

    fn referrers(&self, subject: &Digest) -> Result<Vec<Descriptor>> {
        self.0.referrers(subject)
    }
}

/// One child of an index.
#[derive(Clone, Debug, Serialize)]
pub struct Child {
    /// The child's digest.
    pub digest: Digest,
    /// Its media type.
    #[serde(rename = "mediaType")]
    pub media_type: String,
    /// Its size in bytes.
    pub size: u64,
    /// `os/arch[/variant]` when the index says.
    pub platform: Option<String>,
}

/// A blob a manifest refers to (a layer, or an artifact's blob).
#[derive(Clone, Debug, Serialize)]
pub struct Blob {
    /// The blob's digest.
    pub digest: Digest,
    /// Its media type.
    #[serde(rename = "mediaType")]
    pub media_type: String,
    /// Its size in bytes.
    pub size: u64,
}

/// An image manifest's config: the descriptor and what the config says.
#[derive(Clone, Debug, Serialize)]
pub struct Config {
    /// The config's digest.
    pub digest: Digest,
    /// Its media type.
    #[serde(rename = "mediaType")]
    pub media_type: String,
    /// Its size in bytes.
    pub size: u64,
    /// The operating system.
    pub os: Option<String>,
    /// The CPU architecture.
    pub architecture: Option<String>,
    /// The architecture variant.
    pub variant: Option<String>,
    /// When the image was created (RFC 3339, as stored).
    pub created: Option<String>,
    /// The entrypoint.
    pub entrypoint: Option<Vec<String>>,
    /// The default command.
    pub cmd: Option<Vec<String>>,
    /// The labels.
    pub labels: BTreeMap<String, String>,
}

/// A referrer of the inspected manifest.
#[derive(Clone, Debug, Serialize)]
pub struct Referrer {
    /// The referrer's digest.
    pub digest: Digest,
    /// Its media type.
    #[serde(rename = "mediaType")]
    pub media_type: String,
    /// What kind of artifact it is (a signature, an SBOM).
    #[serde(rename = "artifactType")]
    pub artifact_type: Option<String>,
}

/// What a manifest or index holds.
#[derive(Clone, Debug, Serialize)]
pub struct Inspection {
    /// The document's digest.
    pub digest: Digest,
    /// Its media type.
    #[serde(rename = "mediaType")]
    pub media_type: String,
    /// Its size in bytes.
    pub size: u64,
    /// The document's annotations.
    pub annotations: BTreeMap<String, String>,
    /// The document's `artifactType`.
    #[serde(rename = "artifactType", skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// The digest of the manifest this one refers to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<Digest>,
    /// For an index: its children.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manifests: Option<Vec<Child>>,
    /// For an image manifest: its config.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config: Option<Config>,
    /// For a manifest: its layers (an artifact manifest's `blobs`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layers: Option<Vec<Blob>>,
    /// For a manifest: the manifest, config and layer sizes added up.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
    /// The document's referrers.
    pub referrers: Vec<Referrer>,
    /// The exact bytes of the document.
    #[serde(skip)]
    pub raw: Vec<u8>,
    /// The exact bytes of the config, for an image manifest.
    #[serde(skip)]
    pub raw_config: Option<Vec<u8>>,
}

/// Descends from `d` to the manifest for `platform`, reading through `source` (the same rule as
/// [`crate::platform::select_platform`] applies in a layout).
pub fn select_platform(
    source: &dyn Source,
    d: Descriptor,
    platform: &Platform,
) -> Result<Descriptor> {
    crate::platform::descend_to_platform(d, platform, |x| source.read(x))
}

/// Reads and describes the document `d` names.
pub fn inspect(source: &dyn Source, d: &Descriptor) -> Result<Inspection> {
    let raw = source.read(d)?;
    let malformed = |reason: String| Error::Malformed {
        what: d.digest().to_string(),
        reason,
    };
    let doc: Value =
        serde_json::from_slice(&raw).map_err(|e| malformed(format!("not JSON: {e}")))?;
    let field = |name: &str| doc.get(name).and_then(Value::as_str).map(str::to_string);
    let descriptor = |v: &Value, what: &str| -> Result<Descriptor> {
        let desc: Descriptor =
            serde_json::from_value(v.clone()).map_err(|e| malformed(format!("{what}: {e}")))?;
        crate::digest::validate(desc.digest()).map_err(|e| malformed(format!("{what}: {e}")))?;
        Ok(desc)
    };
    let list = |name: &str| -> Result<Option<Vec<Descriptor>>> {
        match doc.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, v)| descriptor(v, &format!("{name}[{i}]")))
                .collect::<Result<Vec<_>>>()
                .map(Some),
            Some(_) => Err(malformed(format!("{name} is not an array"))),
        }
    };
    let media_type = field("mediaType").unwrap_or_else(|| d.media_type().to_string());
    let mut out = Inspection {
        digest: d.digest().clone(),
        media_type,
        size: raw.len() as u64,
        annotations: strings(doc.get("annotations")),
        artifact_type: field("artifactType"),
        subject: match doc.get("subject") {
            Some(s) => Some(descriptor(s, "subject")?.digest().clone()),
            None => None,
        },
        manifests: None,
        config: None,
        layers: None,
        total: None,
        referrers: Vec::new(),
        raw: Vec::new(),
        raw_config: None,
    };
    if let Some(children) = list("manifests")? {
        out.manifests = Some(
            children
                .iter()
                .map(|c| Child {
                    digest: c.digest().clone(),
                    media_type: c.media_type().to_string(),
                    size: c.size(),
                    platform: c.platform().as_ref().map(|p| Platform::of(p).to_string()),
                })
                .collect(),
        );
    } else {
        let layers = match list("layers")? {
            Some(l) => l,
            None => list("blobs")?.unwrap_or_default(),
        };
        let mut total = out.size;
        if let Some(c) = doc.get("config") {
            let c = descriptor(c, "config")?;
            total = total.saturating_add(c.size());
            let (config, bytes) = read_config(source, &c)?;
            out.config = Some(config);
            out.raw_config = bytes;
        }
        for l in &layers {
            total = total.saturating_add(l.size());
        }
        out.layers = Some(
            layers
                .iter()
                .map(|l| Blob {
                    digest: l.digest().clone(),
                    media_type: l.media_type().to_string(),
                    size: l.size(),
                })
                .collect(),
        );
        out.total = Some(total);
    }
    out.referrers = source
        .referrers(d.digest())?
        .into_iter()
        .map(|r| Referrer {
            digest: r.digest().clone(),
            media_type: r.media_type().to_string(),
            artifact_type: r.artifact_type().as_ref().map(|t| t.to_string()),
        })
        .collect();
    out.raw = raw;
    Ok(out)
}

/// Reads a config and what it says; a config that is not an image config (an artifact's) is
/// described by its descriptor alone, and not read.
fn read_config(source: &dyn Source, c: &Descriptor) -> Result<(Config, Option<Vec<u8>>)> {
    let mut config = Config {
        digest: c.digest().clone(),
        media_type: c.media_type().to_string(),
        size: c.size(),
        os: None,
        architecture: None,
        variant: None,
        created: None,
        entrypoint: None,
        cmd: None,
        labels: BTreeMap::new(),
    };
    const IMAGE_CONFIGS: [&str; 2] = [
        "application/vnd.oci.image.config.v1+json",
        "application/vnd.docker.container.image.v1+json",
    ];
    if !IMAGE_CONFIGS.contains(&config.media_type.as_str()) {
        // An artifact's config (often the empty `{}`) is still returned as bytes for --config.
        return Ok((config, source.read(c).ok()));
    }
    let bytes = source.read(c)?;
    let doc: Value = serde_json::from_slice(&bytes).map_err(|e| Error::Malformed {
        what: c.digest().to_string(),
        reason: format!("not an image config: {e}"),
    })?;
    let s = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_string);
    let strs = |v: Option<&Value>| {
        v.and_then(Value::as_array).map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
    };
    let run = doc.get("config");
    config.os = s(doc.get("os"));
    config.architecture = s(doc.get("architecture"));
    config.variant = s(doc.get("variant"));
    config.created = s(doc.get("created"));
    config.entrypoint = strs(run.and_then(|r| r.get("Entrypoint")));
    config.cmd = strs(run.and_then(|r| r.get("Cmd")));
    config.labels = strings(run.and_then(|r| r.get("Labels")));
    Ok((config, Some(bytes)))
}

/// The string values of a JSON object (annotations, labels); anything else is skipped.
fn strings(v: Option<&Value>) -> BTreeMap<String, String> {
    v.and_then(Value::as_object)
        .map(|o| {
            o.iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
                .collect()
        })
        .unwrap_or_default()
}
