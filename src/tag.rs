//! Writing names into `index.json` (SPEC §2): an entry carries the canonical full name in
//! `io.containerd.image.name` and the tag alone in `org.opencontainers.image.ref.name`; a canonical
//! name labels at most one entry, so tagging an existing name moves it. Untagging removes entries.

use std::collections::HashMap;

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
    // Each entry's name is computed once, and each entry visited once for all the names: tagging
    // many names in a large index.json stays linear (it was a name parse per entry per name).
    let mut wanted: HashMap<String, usize> = HashMap::new();
    let mut unique: Vec<&Reference> = Vec::new();
    for name in names {
        wanted.entry(name.to_string()).or_insert_with(|| {
            unique.push(name);
            unique.len() - 1
        });
    }
    let mut kept = vec![false; unique.len()];
    let mut moved: Vec<Vec<Moved>> = vec![Vec::new(); unique.len()];
    edit_manifests(index, |entries| {
        entries.retain(|e| {
            let Some(name) = resolve::entry_name(e) else {
                return true;
            };
            let canonical = name.to_string();
            let Some(&slot) = wanted.get(&canonical) else {
                return true;
            };
            if e.digest() == target.digest() && !kept[slot] && has_our_annotations(e, &name, opts) {
                kept[slot] = true;
                return true;
            }
            if e.digest() != target.digest() {
                moved[slot].push(Moved {
                    name: canonical,
                    from: e.digest().to_string(),
                    to: target.digest().to_string(),
                });
            }
            false
        });
        for (name, kept) in unique.iter().zip(&kept) {
            if !kept {
                entries.push(named_entry(target, name, opts));
            }
        }
    });
    moved.into_iter().flatten().collect()
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
            // `sha256:<hex>`, `blake3:<hex>`, any `word:` and 32 or more hex digits: resolve and untag
            // read such an input as a digest first, so a name of that shape could never be used.
            if crate::digest::looks_like_digest(t) {
                return Err(Error::Invalid(format!(
                    "cannot tag with {}: it has the shape of a digest, which resolve and untag \
                     read as one; give the full name (docker.io/library/{}) or another tag",
                    crate::error::quoted(t),
                    crate::error::one_line(t)
                )));
            }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::empty_index;
    use oci_spec::image::MediaType;

    fn desc(hex: char) -> Descriptor {
        let d = crate::digest::parse(&format!("sha256:{}", hex.to_string().repeat(64))).unwrap();
        Descriptor::new(MediaType::ImageManifest, 10, d)
    }

    fn names(index: &ImageIndex) -> Vec<(String, String, Option<String>)> {
        index
            .manifests()
            .iter()
            .map(|e| {
                (
                    resolve::display_name(e),
                    e.digest().to_string()[7..8].to_string(),
                    resolve::IndexEntry::annotation(e, REF_NAME).map(str::to_string),
                )
            })
            .collect()
    }

    #[test]
    fn a_name_labels_one_entry_and_moves() {
        let mut index = empty_index();
        let opts = NameOptions::default();
        let alpine = Reference::parse("alpine:3.16").unwrap();
        let tool = Reference::parse("ghcr.io/acme/tool:1.0").unwrap();
        assert!(apply_names(
            &mut index,
            &desc('a'),
            &[alpine.clone(), tool.clone()],
            &opts
        )
        .is_empty());
        // Tagging again with the same name and digest changes nothing.
        assert!(
            apply_names(&mut index, &desc('a'), std::slice::from_ref(&alpine), &opts).is_empty()
        );
        assert_eq!(index.manifests().len(), 2);
        // The name moves to another digest and is reported.
        let moved = apply_names(&mut index, &desc('b'), std::slice::from_ref(&alpine), &opts);
        assert_eq!(
            moved,
            vec![Moved {
                name: "docker.io/library/alpine:3.16".into(),
                from: desc('a').digest().to_string(),
                to: desc('b').digest().to_string(),
            }]
        );
        assert_eq!(
            names(&index),
            vec![
                (
                    "ghcr.io/acme/tool:1.0".into(),
                    "a".into(),
                    Some("1.0".into())
                ),
                (
                    "docker.io/library/alpine:3.16".into(),
                    "b".into(),
                    Some("3.16".into())
                ),
            ]
        );
        // With the full-name option ref.name holds the whole name.
        let full = NameOptions {
            full_ref_name: true,
        };
        apply_names(&mut index, &desc('c'), &[tool], &full);
        assert_eq!(
            names(&index)[1],
            (
                "ghcr.io/acme/tool:1.0".into(),
                "c".into(),
                Some("ghcr.io/acme/tool:1.0".into())
            )
        );
    }

    #[test]
    fn a_name_written_by_another_tool_moves_too() {
        let mut index = empty_index();
        // skopeo-style: the full name in ref.name only.
        let mut skopeo = desc('a');
        skopeo.set_annotations(Some(
            [(
                REF_NAME.to_string(),
                "docker.io/library/alpine:3.16".to_string(),
            )]
            .into(),
        ));
        // umoci-style bare tag: a different thing, untouched.
        let mut umoci = desc('a');
        umoci.set_annotations(Some([(REF_NAME.to_string(), "3.16".to_string())].into()));
        index.set_manifests(vec![skopeo, umoci]);
        let moved = apply_names(
            &mut index,
            &desc('b'),
            &[Reference::parse("alpine:3.16").unwrap()],
            &NameOptions::default(),
        );
        assert_eq!(moved.len(), 1);
        assert_eq!(
            names(&index),
            vec![
                ("3.16".into(), "a".into(), Some("3.16".into())),
                (
                    "docker.io/library/alpine:3.16".into(),
                    "b".into(),
                    Some("3.16".into())
                ),
            ]
        );
    }
}
