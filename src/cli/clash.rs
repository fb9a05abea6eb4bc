//! Entries that tools reading `org.opencontainers.image.ref.name` alone cannot tell apart: names are
//! written containerd-style (the full name in `io.containerd.image.name`, the tag alone in ref.name),
//! so `ghcr.io/a/app:1.0` and `quay.io/b/tool:1.0` both carry ref.name `1.0`, and skopeo, umoci and
//! podman, which look at ref.name only, see one tag for two images (skopeo takes the first).

use std::collections::BTreeMap;

use ocilayout::oci_spec::image::ImageIndex;

use ocilayout::reference;
use ocilayout::resolve::{self, IndexEntry, REF_NAME};

/// One bare ref.name that labels entries with different digests.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Clash {
    /// The shared ref.name (a bare tag).
    pub ref_name: String,
    /// The entries' full names (or digests), sorted.
    pub names: Vec<String>,
}

/// Every bare ref.name of `index` that labels entries with more than one digest, sorted by ref.name.
/// Entries with one digest under several names are no clash: whichever a tool takes, the image is
/// the same.
pub fn clashes(index: &ImageIndex) -> Vec<Clash> {
    let mut by_tag: BTreeMap<&str, Vec<(&str, String)>> = BTreeMap::new();
    for e in index.manifests() {
        let Some(r) = e.annotation(REF_NAME) else {
            continue;
        };
        if reference::is_valid_tag(r) {
            by_tag
                .entry(r)
                .or_default()
                .push((e.digest_str(), resolve::display_name(e)));
        }
    }
    by_tag
        .into_iter()
        .filter(|(_, es)| es.iter().any(|(d, _)| *d != es[0].0))
        .map(|(tag, es)| {
            let mut names: Vec<String> = es.into_iter().map(|(_, n)| n).collect();
            names.sort();
            names.dedup();
            Clash {
                ref_name: tag.to_string(),
                names,
            }
        })
        .collect()
}

/// The clashes of `after` that `before` did not have (the same ref.name now shared by other names
/// counts as new).
pub fn new_clashes(before: &[Clash], after: &[Clash]) -> Vec<Clash> {
    after
        .iter()
        .filter(|c| !before.contains(c))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ocilayout::oci_spec::image::{Descriptor, MediaType};
    use std::collections::HashMap;

    fn entry(digest_byte: u8, containerd: Option<&str>, ref_name: &str) -> Descriptor {
        let d = ocilayout::digest::sha256(&[digest_byte]);
        let mut e = Descriptor::new(MediaType::ImageManifest, 1, d);
        let mut a = HashMap::from([(REF_NAME.to_string(), ref_name.to_string())]);
        if let Some(n) = containerd {
            a.insert(resolve::CONTAINERD_NAME.to_string(), n.to_string());
        }
        e.set_annotations(Some(a));
        e
    }

    /// A table: which indexes have a clash.
    #[test]
    fn bare_ref_names_on_different_digests_clash() {
        let mut index = ocilayout::layout::empty_index();
        index.set_manifests(vec![
            entry(1, Some("ghcr.io/a/app:1.0"), "1.0"),
            entry(2, Some("quay.io/b/tool:1.0"), "1.0"),
            entry(1, Some("docker.io/library/x:2"), "2"),
            entry(1, Some("docker.io/library/y:2"), "2"),
            entry(3, None, "docker.io/library/z:1.0"),
        ]);
        assert_eq!(
            clashes(&index),
            [Clash {
                ref_name: "1.0".into(),
                names: vec!["ghcr.io/a/app:1.0".into(), "quay.io/b/tool:1.0".into()],
            }]
        );
        assert!(new_clashes(&clashes(&index), &clashes(&index)).is_empty());
        assert_eq!(new_clashes(&[], &clashes(&index)).len(), 1);
    }
}
