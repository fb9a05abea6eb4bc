//! Writing names into `index.json` (SPEC §2): an entry carries the canonical full name in
//! `io.containerd.image.name` and the tag alone in `org.opencontainers.image.ref.name`; a canonical
//! name labels at most one entry, so tagging an existing name moves it. Untagging removes entries.

use oci_spec::image::{Descriptor, ImageIndex};

use crate::error::{Error, Result};
use crate::layout::{edit_manifests, Layout};
use crate::reference::Reference;
use crate::resolve::{self, CONTAINERD_NAME, REF_NAME};

/// How names are written.
#[derive(Clone, Debug, Default)]
pub struct NameOptions {
    /// Write the full canonical name into `ref.name` too, for tools that want it there.
    pub full_ref_name: bool,
}

/// A name that now points at another digest.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Moved {
    pub name: String,
    pub from: String,
    pub to: String,
}

/// Points each of `names` at `target` within `index`: an entry that carries one of the names under any
/// convention is replaced, and reported as moved when its digest was another. Non-naming annotations
/// and the platform of `target` are kept. Call it inside [`Layout::update_index`].
pub fn apply_names(
    index: &mut ImageIndex,
    target: &Descriptor,
    names: &[Reference],
    opts: &NameOptions,
) -> Vec<Moved> {
    let mut moved = Vec::new();
    for name in names {
        let canonical = name.to_string();
        let mut already = false;
        edit_manifests(index, |entries| {
            entries.retain(|e| {
                if resolve::entry_name(e).as_ref() != Some(name) {
                    return true;
                }
                if e.digest() == target.digest() && !already && has_our_annotations(e, name, opts) {
                    already = true;
                    return true;
                }
                if e.digest() != target.digest() {
                    moved.push(Moved {
                        name: canonical.clone(),
                        from: e.digest().to_string(),
                        to: target.digest().to_string(),
                    });
                }
                false
            });
            if !already {
                entries.push(named_entry(target, name, opts));
            }
        });
    }
    moved
}

fn has_our_annotations(e: &Descriptor, name: &Reference, opts: &NameOptions) -> bool {
    let want = named_entry(e, name, opts);
    e.annotations() == want.annotations()
}

/// `target` as an index entry named `name`.
pub fn named_entry(target: &Descriptor, name: &Reference, opts: &NameOptions) -> Descriptor {
    let mut entry = target.clone();
    let mut annotations = target.annotations().clone().unwrap_or_default();
    annotations.remove(CONTAINERD_NAME);
    annotations.remove(REF_NAME);
    annotations.insert(CONTAINERD_NAME.to_string(), name.to_string());
    let ref_name = if opts.full_ref_name {
        Some(name.to_string())
    } else {
        name.tag().map(str::to_string)
    };
    if let Some(r) = ref_name {
        annotations.insert(REF_NAME.to_string(), r);
    }
    entry.set_annotations(Some(annotations));
    entry
}

/// What `tag` did.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct TagReport {
    pub digest: String,
    pub names: Vec<String>,
    pub moved: Vec<Moved>,
}

/// Resolves `source` and gives it every name in `targets` (SPEC §2 canonical form), in one atomic
/// rewrite of `index.json` under the index lock. The source's blob must be present with its size.
pub fn tag(
    layout: &Layout,
    source: &str,
    targets: &[&str],
    opts: &NameOptions,
) -> Result<TagReport> {
    let names = targets
        .iter()
        .map(|t| {
            let r = Reference::parse(t)?;
            if r.digest().is_some() {
                return Err(Error::Invalid(format!(
                    "cannot tag with a digest: {t:?} (give a name with a tag)"
                )));
            }
            Ok(r)
        })
        .collect::<Result<Vec<_>>>()?;
    layout.update_index(|index| {
        let target = resolve::resolve_in(layout, index, source)?;
        if !layout.blobs().has(target.digest(), target.size())? {
            return Err(Error::BlobMissing {
                digest: target.digest().to_string(),
                layout: layout.root().to_path_buf(),
            });
        }
        let moved = apply_names(index, &target, &names, opts);
        Ok(TagReport {
            digest: target.digest().to_string(),
            names: names.iter().map(|n| n.to_string()).collect(),
            moved,
        })
    })
}

/// One removed entry.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Untagged {
    pub name: String,
    pub digest: String,
}

/// Removes the entries each of `refs` resolves to (SPEC §2 order; a digest removes every entry with
/// it). All or nothing: an unknown or ambiguous ref leaves `index.json` untouched.
pub fn untag(layout: &Layout, refs: &[&str]) -> Result<Vec<Untagged>> {
    layout.update_index(|index| {
        let mut doomed = std::collections::BTreeSet::new();
        for r in refs {
            let hits = resolve::find_entries(index.manifests(), r)?;
            // Unknown or ambiguous: the same error resolve gives, listing every candidate.
            resolve::choose(layout, index.manifests(), &hits, r)?;
            doomed.extend(hits);
        }
        let mut removed = Vec::new();
        let mut i = 0;
        edit_manifests(index, |entries| {
            entries.retain(|e| {
                let keep = !doomed.contains(&i);
                if !keep {
                    removed.push(Untagged {
                        name: resolve::display_name(e),
                        digest: e.digest().to_string(),
                    });
                }
                i += 1;
                keep
            })
        });
        Ok(removed)
    })
}
