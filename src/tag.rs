//! `tag` and `untag`: give a resolved image more names in one atomic rewrite of `index.json`, or
//! remove the entries names resolve to. How a name is written, and that a name labels one entry,
//! is the naming module's rule ([`crate::names`]).

use oci_spec::image::Digest;

use crate::error::{Error, Result};
use crate::layout::{Entry, Layout};
use crate::names::Namer;
use crate::reference::Reference;
use crate::resolve::{self, Found};

pub use crate::names::{apply_names, named_entry, Moved, NameOptions};

/// What `tag` did.
#[derive(Clone, Debug, serde::Serialize)]
pub struct TagReport {
    /// The digest the source resolved to, which every name now labels.
    pub digest: Digest,
    /// The names given, canonical.
    pub names: Vec<String>,
    /// Names that labelled another digest before.
    pub moved: Vec<Moved>,
}

/// Resolves `source` and gives it every name in `targets` (in canonical form), in one atomic
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
                return Err(Error::BadTag {
                    tag: t.to_string(),
                    reason: format!(
                        "it has the shape of a digest, which resolve and untag read as one; give \
                         the full name (docker.io/library/{}) or another tag",
                        crate::error::one_line(t)
                    ),
                });
            }
            let r = Reference::parse(t)?;
            if r.digest().is_some() {
                return Err(Error::TagWithDigest {
                    name: t.to_string(),
                });
            }
            Ok(r)
        })
        .collect::<Result<Vec<_>>>()?;
    layout.update_index(|doc| {
        // The source entry with its JSON: a new entry made from it keeps every field but the names.
        let describe = |i: usize| Ok(doc.entries()[i].descriptor().clone());
        let target = match resolve::find_in(layout, doc.entries(), source, describe)? {
            Found::Entry(i) => doc.entries()[i].clone(),
            Found::Blob(d) => Entry::new(*d),
        };
        let d = target.descriptor();
        if !layout.blobs().has(d.digest(), d.size())? {
            return Err(Error::BlobMissing {
                digest: d.digest().clone(),
                layout: layout.root().to_path_buf(),
            });
        }
        let mut namer = Namer::new(doc);
        let moved = names
            .iter()
            .flat_map(|n| namer.name(&target, n, opts))
            .collect();
        Ok(TagReport {
            digest: d.digest().clone(),
            names: names.iter().map(|n| n.to_string()).collect(),
            moved,
        })
    })
}

/// One removed entry.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Untagged {
    /// The entry's name as `ls` shows it (canonical name, bare tag, or digest when unnamed).
    pub name: String,
    /// The digest the entry pointed at.
    pub digest: Digest,
}

/// Removes the entries each of `refs` resolves to (in resolution order; a digest removes every entry with
/// it). All or nothing: an unknown or ambiguous ref leaves `index.json` untouched.
pub fn untag(layout: &Layout, refs: &[&str]) -> Result<Vec<Untagged>> {
    layout.update_index(|doc| {
        let mut doomed = std::collections::BTreeSet::new();
        for r in refs {
            let hits = resolve::find_entries(doc.entries(), r)?;
            // Unknown or ambiguous: the same error resolve gives, listing every candidate.
            let describe = |i: usize| Ok(doc.entries()[i].descriptor().clone());
            resolve::choose(layout, doc.entries(), &hits, r, describe)?;
            doomed.extend(hits);
        }
        let mut removed = Vec::new();
        let mut i = 0;
        doc.retain(|e| {
            let keep = !doomed.contains(&i);
            if !keep {
                removed.push(Untagged {
                    name: resolve::display_name(e),
                    digest: e.digest().clone(),
                });
            }
            i += 1;
            keep
        });
        Ok(removed)
    })
}
