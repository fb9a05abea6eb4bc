//! Copy one image between two places, each a layout (`oci-layout://PATH[/NAME][:TAG|@DIGEST]`) or a
//! registry reference (a `docker://` prefix is accepted). Layout to layout copies the image's closure
//! blob by blob, each re-hashed as it streams; registry to registry streams blobs through (mounting
//! them on one registry); a layout on one side and a registry on the other is a pull or a push. The
//! bytes are the source's own, so every digest is unchanged, and the destination is named by the
//! one naming rule.
//!
//! Blobs are copied, never hard-linked: a hard link shares the inode, so damage to the blob in one
//! layout (a crashed tool, an in-place edit) would be damage in both, and the copy is where a
//! corrupt source blob is caught instead of spread.

mod stream;

use std::path::{Path, PathBuf};

use oci_spec::image::{Descriptor, Digest};

use crate::error::{Error, Result};
use crate::graph::{self, Operation};
use crate::layout::Layout;
use crate::names::{self, Moved, NameOptions};
use crate::platform::Platform;
use crate::progress::Progress;
use crate::reference::{self, Reference};
use crate::registry::Client;
use crate::resolve;
use crate::sync::{self, PullOptions, PushOptions};

/// One side of a copy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// A layout directory (which need not exist yet as a destination) and what names the image in
    /// it: a name, a tag or a digest; `None` when only the layout is given.
    Layout {
        /// The layout directory.
        dir: PathBuf,
        /// The reference inside the layout.
        reference: Option<String>,
    },
    /// An image in a registry.
    Registry(Reference),
}

impl Endpoint {
    /// Parses `oci-layout://...` or a registry reference (`docker://` prefix accepted). For a layout
    /// that does not exist yet, the whole path is the directory and a trailing `:TAG` or `@DIGEST`
    /// after its last `/` is the reference.
    pub fn parse(s: &str) -> Result<Endpoint> {
        let Some(rest) = s.strip_prefix("oci-layout://") else {
            let r = s.strip_prefix("docker://").unwrap_or(s);
            return Ok(Endpoint::Registry(Reference::parse(r)?));
        };
        match resolve::parse_layout_url(s) {
            Ok(url) => Ok(Endpoint::Layout {
                dir: url.layout,
                reference: url.reference,
            }),
            Err(Error::NotALayout { .. }) => {
                let last = rest.rfind('/').map_or(0, |i| i + 1);
                let (dir, reference) = match rest[last..].find([':', '@']) {
                    Some(i) => (&rest[..last + i], Some(rest[last + i + 1..].to_string())),
                    None => (rest, None),
                };
                if dir.is_empty() {
                    return Err(Error::BadEndpoint {
                        input: s.to_string(),
                        reason: "names no directory".into(),
                    });
                }
                Ok(Endpoint::Layout {
                    dir: PathBuf::from(dir),
                    reference,
                })
            }
            Err(e) => Err(e),
        }
    }
}

/// How to copy.
#[derive(Clone, Debug, Default)]
pub struct CopyOptions {
    /// Copy only the manifest for this platform of an index.
    pub platform: Option<Platform>,
    /// How the destination name is written into a layout's `index.json`.
    pub names: NameOptions,
}

/// What a copy did.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct CopyReport {
    /// The digest of the copied manifest or index (the same on both sides).
    pub digest: Digest,
    /// The destination: its canonical name, or a layout directory with the name in it.
    pub destination: String,
    /// Blobs written to the destination.
    pub blobs_written: usize,
    /// Blobs the destination already held.
    pub blobs_skipped: usize,
    /// Bytes written.
    pub bytes: u64,
    /// Names in the destination layout that now label another digest.
    pub moved: Vec<Moved>,
}

impl CopyReport {
    /// The report of a copy of `digest` to `destination` that has transferred nothing yet.
    pub(crate) fn started(digest: Digest, destination: String) -> Self {
        CopyReport {
            digest,
            destination,
            blobs_written: 0,
            blobs_skipped: 0,
            bytes: 0,
            moved: Vec::new(),
        }
    }
}

/// Copies the image `src` names to `dst`. A registry on either side uses `client`.
pub fn copy(
    client: &Client,
    src: &Endpoint,
    dst: &Endpoint,
    opts: &CopyOptions,
    progress: &dyn Progress,
) -> Result<CopyReport> {
    match (src, dst) {
        (Endpoint::Layout { dir, reference }, _) => {
            let layout = Layout::open(dir)?;
            let (root, name) = layout_source(&layout, reference.as_deref(), opts)?;
            match dst {
                Endpoint::Layout { dir, reference } => {
                    let name = dest_name(reference.as_deref(), name.as_ref())?;
                    layout_to_layout(&layout, &root, dir, &name, opts)
                }
                Endpoint::Registry(dest) => {
                    let summary = sync::push(
                        client,
                        &layout,
                        &root,
                        dest,
                        &PushOptions::default(),
                        progress,
                    )?;
                    Ok(CopyReport {
                        digest: root.digest().clone(),
                        destination: dest.to_string(),
                        blobs_written: summary.transferred as usize,
                        blobs_skipped: summary.skipped as usize,
                        bytes: summary.bytes,
                        moved: Vec::new(),
                    })
                }
            }
        }
        (Endpoint::Registry(source), Endpoint::Layout { dir, reference }) => {
            let name = dest_name(reference.as_deref(), Some(source))?;
            registry_to_layout(client, source, dir, &name, opts, progress)
        }
        (Endpoint::Registry(source), Endpoint::Registry(dest)) => {
            stream::copy(client, source, dest, opts.platform.as_ref(), progress)
        }
    }
}

/// The image in a source layout (descended to the platform) and the name it has there, if any. A
/// layout given without a reference must hold exactly one image, or one tagged `latest`.
fn layout_source(
    layout: &Layout,
    reference: Option<&str>,
    opts: &CopyOptions,
) -> Result<(Descriptor, Option<Reference>)> {
    let input = match reference {
        Some(r) => r.to_string(),
        None => match layout.read_index()?.manifests().as_slice() {
            [only] => only.digest().to_string(),
            _ => "latest".to_string(),
        },
    };
    let entry = layout.resolve(&input, None)?;
    let name = resolve::entry_name(&entry).filter(|n| n.tag().is_some());
    let root = match &opts.platform {
        Some(p) => resolve::select_platform(layout, entry, p)?,
        None => entry,
    };
    Ok((root, name))
}

/// The name the destination layout gives the image: the one `reference` states, a bare tag on the
/// source's repository, or the source's own name.
fn dest_name(reference: Option<&str>, source: Option<&Reference>) -> Result<Reference> {
    let unnamed = || Error::BadEndpoint {
        input: reference.unwrap_or_default().to_string(),
        reason: "the source has no name: give the destination one (oci-layout://DIR/NAME:TAG)"
            .into(),
    };
    match reference {
        None => source.cloned().ok_or_else(unnamed),
        Some(r) if crate::digest::looks_like_digest(r) => Err(Error::BadEndpoint {
            input: r.to_string(),
            reason: "a copy names its destination by a name or a tag, not by a digest".into(),
        }),
        Some(tag)
            if reference::is_valid_tag(tag) && !tag.contains(['/', ':']) && source.is_some() =>
        {
            source.ok_or_else(unnamed)?.with_tag(tag)
        }
        Some(r) => Reference::parse(r),
    }
}

/// Copies the closure of `root` from `src` into the layout at `dir` (created when needed) and names
/// it `name` there.
fn layout_to_layout(
    src: &Layout,
    root: &Descriptor,
    dir: &Path,
    name: &Reference,
    opts: &CopyOptions,
) -> Result<CopyReport> {
    let (dst, created) = Layout::init_tracked(dir)?;
    let result = (|| {
        // gc must not sweep what this copy writes before the index names it.
        let _writers = dst.lock_writers()?;
        let graph = graph::walk(src.blobs(), std::slice::from_ref(root))?;
        graph.require(Operation::Copy, src.root())?;
        // The image's referrers (signatures, SBOMs) come along, each with its closure.
        let referrers = referrers_in(src, &graph)?;
        let referrer_graph = graph::walk(src.blobs(), &referrers)?;
        referrer_graph.require(Operation::Copy, src.root())?;
        let mut report = CopyReport::started(
            root.digest().clone(),
            format!("oci-layout://{}/{name}", dir.display()),
        );
        let mut done = std::collections::HashSet::new();
        for node in graph.nodes.iter().chain(&referrer_graph.nodes) {
            if !done.insert(node.descriptor.digest()) {
                continue;
            }
            let (d, size) = (node.descriptor.digest(), node.descriptor.size());
            if dst.blobs().has(d, size)? {
                report.blobs_skipped += 1;
                continue;
            }
            let path = src.blobs().path(d)?;
            let mut file = src.blobs().open(d)?;
            dst.blobs()
                .put_reader(&mut file, d, Some(size))
                .map_err(|e| match e {
                    Error::DigestMismatch { found, .. } => Error::Damaged {
                        operation: "cannot copy from",
                        layout: src.root().to_path_buf(),
                        what: "blob",
                        digest: d.clone(),
                        problem: format!("corrupt: it hashes to {found} ({})", path.display()),
                    },
                    e => e,
                })?;
            report.blobs_written += 1;
            report.bytes += size;
        }
        report.moved = dst.update_index(|doc| {
            let moved = names::apply_names(doc, root, std::slice::from_ref(name), &opts.names);
            crate::sync::add_unnamed(doc, &referrers);
            Ok(moved)
        })?;
        Ok(report)
    })();
    if result.is_err() {
        created.undo(&dst);
    }
    result
}

/// The entries of `src` that refer (by their manifest's `subject`) to a manifest of `graph` and are
/// not part of it: the signatures, SBOMs and other artifacts that go with the image. Only unnamed
/// entries are read; a named entry is an image of its own.
fn referrers_in(src: &Layout, graph: &graph::Graph) -> Result<Vec<Descriptor>> {
    let index = src.read_index()?;
    Ok(index
        .manifests()
        .iter()
        .filter(|e| graph::is_manifest_like(e.media_type().as_ref()))
        .filter(|e| !graph.contains(e.digest()))
        .filter(|e| {
            crate::referrer::referrer(src.blobs(), e).is_some_and(|r| {
                r.convention == crate::referrer::Convention::Subject && graph.contains(&r.subject)
            })
        })
        .cloned()
        .collect())
}

/// Pulls `source` into the layout at `dir` and names it `name` there (the pull itself names it
/// after the source; that name is taken off again when it was not there before and differs).
fn registry_to_layout(
    client: &Client,
    source: &Reference,
    dir: &Path,
    name: &Reference,
    opts: &CopyOptions,
    progress: &dyn Progress,
) -> Result<CopyReport> {
    let (layout, created) = Layout::init_tracked(dir)?;
    let had_source_name = layout.resolve(&source.to_string(), None).is_ok();
    let pull = PullOptions {
        platform: opts.platform.clone(),
        names: opts.names.clone(),
        referrers: true,
    };
    let report = match sync::pull(
        client,
        &layout,
        std::slice::from_ref(source),
        &pull,
        progress,
    ) {
        Ok(r) => r,
        Err(e) => {
            created.undo(&layout);
            return Err(e);
        }
    };
    if let Some((_, e)) = report.failures.into_iter().next() {
        created.undo(&layout);
        return Err(e);
    }
    let root = layout.resolve(&source.to_string(), None)?;
    let mut moved = Vec::new();
    if name != source {
        moved = layout.update_index(|doc| {
            Ok(names::apply_names(
                doc,
                &root,
                std::slice::from_ref(name),
                &opts.names,
            ))
        })?;
        if !had_source_name {
            crate::tag::untag(&layout, &[&source.to_string()])?;
        }
    }
    Ok(CopyReport {
        digest: root.digest().clone(),
        destination: format!("oci-layout://{}/{name}", dir.display()),
        blobs_written: report.summary.transferred as usize,
        blobs_skipped: report.summary.skipped as usize,
        bytes: report.summary.bytes,
        moved,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_parse() {
        let tmp = std::env::temp_dir().join(format!("ocilayout-ep-{}", std::process::id()));
        let new = tmp.join("new");
        let cases = [
            (
                format!("oci-layout://{}:1.0", new.display()),
                Endpoint::Layout {
                    dir: new.clone(),
                    reference: Some("1.0".into()),
                },
            ),
            (
                format!("oci-layout://{}", new.display()),
                Endpoint::Layout {
                    dir: new.clone(),
                    reference: None,
                },
            ),
            (
                "docker://alpine".into(),
                Endpoint::Registry(Reference::parse("docker.io/library/alpine:latest").unwrap()),
            ),
            (
                "localhost:5000/a/b:1".into(),
                Endpoint::Registry(Reference::parse("localhost:5000/a/b:1").unwrap()),
            ),
        ];
        for (input, want) in cases {
            assert_eq!(Endpoint::parse(&input).unwrap(), want, "{input}");
        }
    }

    #[test]
    fn destination_names() {
        let src = Reference::parse("example.com/app:1").unwrap();
        let cases = [
            (None, "example.com/app:1"),
            (Some("2"), "example.com/app:2"),
            (Some("other/x:3"), "docker.io/other/x:3"),
        ];
        for (given, want) in cases {
            assert_eq!(dest_name(given, Some(&src)).unwrap().to_string(), want);
        }
        assert!(dest_name(None, None).is_err());
        let d = "sha256:d72195534bcc2ebf9df34eec4f3c3adec4ae0b09d22bb40644397823c06fe290";
        assert!(dest_name(Some(d), Some(&src)).is_err());
    }
}
