//! Merging an archive's entries into the layout's `index.json`, by the one naming rule of `names`.

use super::Moved;
use crate::layout::{Entry, IndexDocument};
use crate::names::{self, NameOptions, Namer};

/// Writes the naming annotations of every entry that has a full name the way `opts` asks (with
/// `full_ref_name`, the full name into `ref.name` as well); every other annotation and field stays.
/// An entry named by a bare tag alone, or not at all, is left as it is.
pub(super) fn apply_name_options(entries: &mut [Entry], opts: &NameOptions) {
    if !opts.full_ref_name {
        return;
    }
    for entry in entries {
        if let Some(name) = names::entry_name(&*entry) {
            let annotations =
                names::naming_annotations(entry.descriptor().annotations().as_ref(), &name, opts);
            entry.set_annotations(Some(annotations));
        }
    }
}

/// Merges archive entries into an index by the one naming rule ([`Namer::assign`]): an entry whose
/// name is already taken replaces every entry with that name, and a name that now labels another
/// digest is reported; an unnamed entry is added unless an identical one is there. Entries keep the
/// JSON the archive gave them.
pub(super) fn merge(doc: &mut IndexDocument, incoming: Vec<Entry>) -> Vec<Moved> {
    let mut namer = Namer::new(doc);
    let mut moved = Vec::new();
    for entry in incoming {
        match names::entry_key(&entry) {
            Some(key) => moved.extend(namer.assign(key, entry)),
            None => {
                namer.add_unnamed(entry, names::same_descriptor);
            }
        }
    }
    moved
}
