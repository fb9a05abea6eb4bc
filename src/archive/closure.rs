//! What an import may name: every archive entry's closure must be complete in the store (the rule
//! is `graph`'s, [`crate::graph::Graph::require`]; this module adds the advice for partial indexes).
//! With a platform, each entry is first narrowed to that platform's manifest, as `pull --platform`
//! does; an image index whose archive holds only some platforms (as `ctr images export` and
//! `nerdctl save` write by default) is refused with the platforms present and the way through.

use oci_spec::image::Descriptor;

use crate::error::{Error, Result};
use crate::graph::{self, Need, Operation, Problem, Shortfall};
use crate::layout::{Entry, Layout};
use crate::platform::Platform;
use crate::resolve::{self, IndexEntry, CONTAINERD_NAME, REF_NAME};

/// Narrows every entry to the manifest for `platform` (through image indexes, nested ones too); the
/// new entry carries the index entry's names. An entry that is already that manifest, or an
/// artifact, is kept as it is; a manifest for another platform is an error.
pub(super) fn select_platform(
    layout: &Layout,
    entries: Vec<Entry>,
    platform: &Platform,
) -> Result<Vec<Entry>> {
    entries
        .into_iter()
        .map(|entry| {
            let d = entry.descriptor().clone();
            let chosen = crate::platform::descend_to_platform(d.clone(), platform, |x| {
                layout
                    .blobs()
                    .read_verified(x.digest(), graph::MANIFEST_LIMIT)
            })?;
            if chosen.digest() == d.digest() {
                return Ok(entry);
            }
            let mut annotations = chosen.annotations().clone().unwrap_or_default();
            for key in [CONTAINERD_NAME, REF_NAME] {
                annotations.remove(key);
                if let Some(v) = entry.annotation(key) {
                    annotations.insert(key.to_string(), v.to_string());
                }
            }
            let mut named = chosen;
            named.set_annotations((!annotations.is_empty()).then_some(annotations));
            Ok(Entry::new(named))
        })
        .collect()
}

/// Refuses unless every blob reachable from `entries` is now in the store, sound, and every manifest
/// is within the size limit for manifests from an archive (the rule is [`Operation::Import`]'s).
/// Returns the closure's graph.
pub(super) fn check(layout: &Layout, entries: &[Entry]) -> Result<graph::Graph> {
    // One root per distinct reading (digest, media type, size): the walk holds a copy of each root,
    // and 80,000 entries of one image are one root, not 80,000.
    let mut seen = std::collections::HashSet::new();
    let roots = entries
        .iter()
        .map(Entry::descriptor)
        .filter(|d| seen.insert((d.digest().as_ref(), d.media_type().to_string(), d.size())));
    let graph = graph::walk(layout.blobs(), roots)?;
    let Some(shortfall) = graph.shortfall(Operation::Import) else {
        return Ok(graph);
    };
    // A missing blob of an image index whose other platforms are complete: say the way through.
    if let Shortfall::Damaged {
        node,
        problem: Problem::Missing,
    } = shortfall
    {
        if let Some(partial) = partial_index(layout, entries) {
            return Err(Error::ArchiveRefused {
                reason: partial,
                digest: Some(node.descriptor.digest().clone()),
            });
        }
    }
    Err(shortfall.refusal(Operation::Import, layout.root()))
}

/// When an image index entry has complete platforms and incomplete ones: what to tell the user.
fn partial_index(layout: &Layout, entries: &[Entry]) -> Option<String> {
    for entry in entries {
        let d = entry.descriptor();
        if !graph::is_index(d.media_type().as_ref()) {
            continue;
        }
        let Ok(bytes) = layout
            .blobs()
            .read_verified(d.digest(), graph::MANIFEST_LIMIT)
        else {
            continue;
        };
        let Ok(parsed) = graph::parse_children(&bytes) else {
            continue;
        };
        let (mut present, mut missing) = (Vec::new(), Vec::new());
        for child in &parsed.children {
            let Some(p) = child.platform() else { continue };
            let shown = Platform::of(p).to_string();
            if complete(layout, child) {
                present.push(shown);
            } else {
                missing.push(shown);
            }
        }
        // Only when some platform is complete is there a way through.
        let Some(first) = present.first() else {
            continue;
        };
        if missing.is_empty() {
            continue;
        }
        return Some(format!(
            "{} has the blobs of only some platforms of its image index (present: {}; missing: \
             {}), as `ctr images export` and `nerdctl save` write by default; import --platform \
             {first} stores that platform's image under the name, or export again with every \
             platform (ctr images export --all-platforms)",
            resolve::display_name(entry),
            present.join(", "),
            missing.join(", ")
        ));
    }
    None
}

/// Whether everything `d` reaches is in the store and sound.
fn complete(layout: &Layout, d: &Descriptor) -> bool {
    graph::walk(layout.blobs(), [d]).is_ok_and(|g| g.first_damaged(Need::Complete).is_none())
}
