//! docker-archive import: the `manifest.json` (`Config`, `RepoTags`, `Layers`) that `docker save`,
//! `podman save --format docker-archive` and skopeo's `docker-archive:` write, turned into one OCI
//! image manifest per image, named after its `RepoTags`. Config and layer bytes are stored exactly
//! as the archive holds them, so the image ID (the config digest) and the layers' diff_ids do not
//! change. Links between members are resolved inside the archive, never on the file system.

use std::collections::{HashMap, HashSet};
use std::io::Read;

use oci_spec::image::{
    Arch, Descriptor, DescriptorBuilder, Digest, MediaType, Os, PlatformBuilder,
};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::layout::{Entry, Layout};
use crate::names::{self, NameOptions};
use crate::platform::Platform;
use crate::reference::Reference;

/// The manifest written for each image: an OCI image manifest, as `skopeo copy docker-archive:...
/// oci:...` writes it. A Docker schema2 manifest would fit the source as well, but skopeo and umoci
/// do not see schema2 entries of an OCI layout, so the layout would be ours alone. The config bytes
/// are a Docker image config, which the OCI config type describes (it is a superset).
const MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const CONFIG: &str = "application/vnd.oci.image.config.v1+json";
const LAYER_TAR: &str = "application/vnd.oci.image.layer.v1.tar";
const LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

/// `manifest.json` and image configs above this size are refused.
pub(super) const DOCUMENT_LIMIT: u64 = 4 << 20;

/// Links followed at most to reach a file (more is a loop, or hostile).
const LINK_HOPS: usize = 32;

/// The members of an archive that are not part of an OCI layout: each regular file stored as a
/// candidate blob under its sha256, each link as the member path it names.
#[derive(Default)]
pub(super) struct Members {
    files: HashMap<String, (Digest, u64)>,
    links: HashMap<String, String>,
    /// The archive's `manifest.json`, when it has one.
    pub manifest: Option<Vec<u8>>,
}

/// One image of `manifest.json`.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Image {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    #[serde(default)]
    layers: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ImageManifest<'a> {
    schema_version: u32,
    media_type: &'a str,
    config: Blob<'a>,
    layers: Vec<Blob<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Blob<'a> {
    media_type: &'a str,
    size: u64,
    digest: String,
}

/// What [`convert`] made.
pub(super) struct Converted {
    /// Index entries, one per name (an image without names gets one unnamed entry).
    pub entries: Vec<Entry>,
    /// Every blob the entries reach (configs, layers, manifests), with its size.
    pub used: HashMap<Digest, u64>,
    /// Archive members that no image uses.
    pub unused: usize,
}

impl Members {
    /// Records a regular member stored as the blob `d`.
    pub(crate) fn file(
        &mut self,
        path: String,
        d: Digest,
        size: u64,
    ) -> std::result::Result<(), String> {
        if self.links.contains_key(&path) || self.files.insert(path, (d, size)).is_some() {
            return Err("appears twice".into());
        }
        Ok(())
    }

    /// Records a link member at `parts` naming `target`: relative to the link's directory for a
    /// symbolic link, to the archive's root for a hard link. A target that leaves the archive is
    /// refused.
    pub(crate) fn link(
        &mut self,
        parts: &[&str],
        target: &str,
        symbolic: bool,
    ) -> std::result::Result<(), String> {
        let what = if symbolic {
            "symbolic link"
        } else {
            "hard link"
        };
        let base = if symbolic {
            &parts[..parts.len().saturating_sub(1)]
        } else {
            &[][..]
        };
        let resolved = within(base, target)
            .ok_or_else(|| format!("{what} to {target:?} points outside the archive"))?;
        let path = parts.join("/");
        if self.files.contains_key(&path) || self.links.insert(path, resolved).is_some() {
            return Err("appears twice".into());
        }
        Ok(())
    }

    /// The blob a member path names, following links within the archive.
    fn resolve(&self, path: &str) -> Result<(Digest, u64)> {
        let refuse = |reason: String| Error::ArchiveMember {
            member: path.to_string(),
            reason,
        };
        let mut here =
            within(&[], path).ok_or_else(|| refuse("points outside the archive".into()))?;
        for _ in 0..LINK_HOPS {
            if let Some(found) = self.files.get(&here) {
                return Ok(found.clone());
            }
            match self.links.get(&here) {
                Some(next) => here = next.clone(),
                None => {
                    return Err(refuse(
                        "named in manifest.json but not in the archive".into(),
                    ))
                }
            }
        }
        Err(refuse(format!("more than {LINK_HOPS} links to follow")))
    }

    /// Regular members recorded.
    fn count(&self) -> usize {
        self.files.len()
    }
}

/// `target` taken from the directory `base`, normalized; `None` when it is absolute or climbs out
/// of the archive's root.
fn within(base: &[&str], target: &str) -> Option<String> {
    if target.starts_with('/') || target.is_empty() || target.contains('\\') {
        return None;
    }
    let mut out: Vec<&str> = base.to_vec();
    for part in target.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                out.pop()?;
            }
            p => out.push(p),
        }
    }
    (!out.is_empty()).then(|| out.join("/"))
}

/// Converts every image of the archive's `manifest.json`: writes its image manifest into the
/// store (the digests of manifests this call added go to `created`) and returns the index entries.
/// With `platform`, only the images whose config states that platform are kept.
pub(super) fn convert(
    layout: &Layout,
    members: &Members,
    platform: Option<&Platform>,
    names: &NameOptions,
    created: &mut Vec<Digest>,
) -> Result<Converted> {
    let manifest = members.manifest.as_deref().unwrap_or_default();
    let images: Vec<Image> =
        serde_json::from_slice(manifest).map_err(|e| Error::ArchiveRefused {
            reason: format!("manifest.json is not a docker-archive manifest: {e}"),
            digest: None,
        })?;
    if images.is_empty() {
        return Err(Error::ArchiveNotALayout {
            reason: "no oci-layout member, and manifest.json lists no image".into(),
        });
    }
    let mut out = Converted {
        entries: Vec::new(),
        used: HashMap::new(),
        unused: 0,
    };
    let mut paths_used = HashSet::new();
    for image in &images {
        let (config, config_size) = members.resolve(&image.config)?;
        let bytes = layout.blobs().read_verified(&config, DOCUMENT_LIMIT)?;
        let parsed: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|e| Error::ArchiveMember {
                member: image.config.clone(),
                reason: format!("not an image config: {e}"),
            })?;
        let stated = config_platform(&parsed);
        if let (Some(want), Some(have)) = (platform, &stated) {
            if !want.matches(have) {
                continue;
            }
        }
        let diff_ids = diff_ids(&parsed, &image.config)?;
        if diff_ids.len() != image.layers.len() {
            return Err(Error::ArchiveMember {
                member: image.config.clone(),
                reason: format!(
                    "lists {} diff_ids for the {} layers of manifest.json",
                    diff_ids.len(),
                    image.layers.len()
                ),
            });
        }
        paths_used.insert(image.config.clone());
        out.used.insert(config.clone(), config_size);
        let mut layers = Vec::new();
        for (path, diff_id) in image.layers.iter().zip(&diff_ids) {
            let (d, size) = members.resolve(path)?;
            let media_type = layer_media_type(layout, &d)?;
            if media_type == LAYER_TAR && d.to_string() != *diff_id {
                return Err(Error::ArchiveMember {
                    member: path.to_string(),
                    reason: format!("hashes to {d}, but the config's diff_id is {diff_id}"),
                });
            }
            paths_used.insert(path.clone());
            out.used.insert(d.clone(), size);
            layers.push(Blob {
                media_type,
                size,
                digest: d.to_string(),
            });
        }
        let doc = ImageManifest {
            schema_version: 2,
            media_type: MANIFEST,
            config: Blob {
                media_type: CONFIG,
                size: config_size,
                digest: config.to_string(),
            },
            layers,
        };
        // Plain data with string keys: serializing it cannot fail.
        let bytes = serde_json::to_vec(&doc).expect("an image manifest serializes");
        let store = layout.blobs();
        let existed = store.size(&crate::digest::sha256(&bytes))?.is_some();
        let d = store.put_bytes(&bytes)?;
        if !existed {
            created.push(d.clone());
        }
        out.used.insert(d.clone(), bytes.len() as u64);
        let mut target = DescriptorBuilder::default()
            .media_type(MediaType::from(MANIFEST))
            .digest(d.clone())
            .size(bytes.len() as u64)
            .build()
            .map_err(|e| Error::Malformed {
                what: format!("the manifest made for {d}"),
                reason: e.to_string(),
            })?;
        target.set_platform(stated);
        out.entries.extend(entries_for(&target, image, names)?);
    }
    if out.entries.is_empty() {
        let want = platform.map(ToString::to_string).unwrap_or_default();
        return Err(Error::ArchiveRefused {
            reason: format!("no image of the archive is for platform {want}"),
            digest: None,
        });
    }
    out.unused = members.count().saturating_sub(paths_used.len());
    Ok(out)
}

/// The index entries for one image: one per `RepoTags` name, or one unnamed entry without names.
fn entries_for(target: &Descriptor, image: &Image, opts: &NameOptions) -> Result<Vec<Entry>> {
    let tags = image.repo_tags.as_deref().unwrap_or_default();
    if tags.is_empty() {
        return Ok(vec![Entry::new(target.clone())]);
    }
    tags.iter()
        .map(|tag| {
            let name = Reference::parse(tag).map_err(|e| Error::ArchiveMember {
                member: "manifest.json".into(),
                reason: format!("RepoTags {tag:?}: {e}"),
            })?;
            Ok(Entry::new(names::named_entry(target, &name, opts)))
        })
        .collect()
}

/// The config's `rootfs.diff_ids`.
fn diff_ids(config: &serde_json::Value, member: &str) -> Result<Vec<String>> {
    config
        .pointer("/rootfs/diff_ids")
        .and_then(|v| v.as_array())
        .and_then(|ids| {
            ids.iter()
                .map(|id| id.as_str().map(str::to_string))
                .collect()
        })
        .ok_or_else(|| Error::ArchiveMember {
            member: member.to_string(),
            reason: "the config has no rootfs.diff_ids".into(),
        })
}

/// The platform a config states (`os`, `architecture`, `variant`), when it states one.
fn config_platform(config: &serde_json::Value) -> Option<oci_spec::image::Platform> {
    let field = |k: &str| {
        config
            .get(k)
            .and_then(|v| v.as_str())
            .filter(|s| !s.is_empty())
    };
    let mut b = PlatformBuilder::default()
        .os(Os::from(field("os")?))
        .architecture(Arch::from(field("architecture")?));
    if let Some(v) = field("variant") {
        b = b.variant(v.to_string());
    }
    b.build().ok()
}

/// A layer's media type by its first bytes: gzip-compressed, or a plain tar (what docker-archive
/// layers are).
fn layer_media_type(layout: &Layout, d: &Digest) -> Result<&'static str> {
    let mut file = layout.blobs().open(d)?;
    let mut magic = [0u8; 2];
    let mut filled = 0;
    while filled < magic.len() {
        match file.read(&mut magic[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::io(&layout.blobs().path(d)?, e)),
        }
    }
    Ok(if magic[..filled] == [0x1f, 0x8b] {
        LAYER_GZIP
    } else {
        LAYER_TAR
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_targets_stay_inside_the_archive() {
        let cases = [
            (&["a", "layer.tar"][..], "../b.tar", Some("b.tar")),
            (
                &["a", "layer.tar"][..],
                "../blobs/sha256/x",
                Some("blobs/sha256/x"),
            ),
            (&["a", "layer.tar"][..], "./c/../d", Some("a/d")),
            (&["a", "layer.tar"][..], "../../etc/passwd", None),
            (&["layer.tar"][..], "/etc/passwd", None),
            (&["layer.tar"][..], "..", None),
            (&["layer.tar"][..], "", None),
        ];
        for (parts, target, want) in cases {
            let base = &parts[..parts.len() - 1];
            assert_eq!(
                within(base, target).as_deref(),
                want,
                "{parts:?} -> {target}"
            );
        }
    }

    #[test]
    fn links_resolve_to_files_and_loops_are_refused() {
        let d = crate::digest::sha256(b"x");
        let mut m = Members::default();
        m.file("x.tar".into(), d.clone(), 1).unwrap();
        m.link(&["a", "layer.tar"], "../x.tar", true).unwrap();
        m.link(&["b", "layer.tar"], "a/layer.tar", false).unwrap();
        m.link(&["loop1"], "loop2", true).unwrap();
        m.link(&["loop2"], "loop1", true).unwrap();
        assert_eq!(m.resolve("b/layer.tar").unwrap(), (d, 1));
        assert!(m
            .resolve("loop1")
            .unwrap_err()
            .to_string()
            .contains("links"));
        assert!(m.resolve("missing").is_err());
        assert!(
            m.link(&["x.tar"], "a", true).is_err(),
            "a second member x.tar"
        );
        assert!(m.resolve("../x.tar").is_err());
    }
}
