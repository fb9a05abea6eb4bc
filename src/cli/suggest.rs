//! Hints for a name that is not found: the entries whose full name is what was typed with a registry
//! host in front (`myorg/app:1.0` typed, `127.0.0.1:5000/myorg/app:1.0` stored), which the resolution
//! rules rightly do not match (without a host the name means docker.io).

use ocilayout::layout::Layout;
use ocilayout::reference::Reference;
use ocilayout::resolve;

/// The full names of the entries that `input` names but for the registry host in front, sorted and
/// without repeats. Empty when the input is not a name or the layout cannot be read: a hint is never
/// an error of its own.
pub fn similar_names(layout: &Layout, input: &str) -> Vec<String> {
    let Ok(wanted) = Reference::parse(input) else {
        return Vec::new();
    };
    // Without a host the path may have gained `library/`; the name as typed is matched too.
    let typed = input.split(['@']).next().unwrap_or(input);
    let typed_path = match typed.rsplit_once(':') {
        Some((path, tag)) if !tag.contains('/') => path,
        _ => typed,
    };
    let Ok(index) = layout.read_index() else {
        return Vec::new();
    };
    let mut out: Vec<String> = index
        .manifests()
        .iter()
        .filter_map(resolve::entry_name)
        .filter(|n| {
            n.domain() != wanted.domain()
                && (n.path() == wanted.path() || n.path() == typed_path)
                && n.tag() == wanted.tag()
                && (wanted.digest().is_none() || n.digest() == wanted.digest())
        })
        .map(|n| n.to_string())
        .collect();
    out.sort();
    out.dedup();
    out
}

/// The names a layout's entries carry, as `ls` shows them, sorted and without repeats: what to offer
/// when a name is not found and nothing is similar to it. Empty when the layout cannot be read.
pub fn names_in(layout: &Layout) -> Vec<String> {
    let Ok(index) = layout.read_index() else {
        return Vec::new();
    };
    let mut out: Vec<String> = index
        .manifests()
        .iter()
        .filter(|d| {
            let n = resolve::entry_names(*d);
            n.name.is_some() || n.tag.is_some()
        })
        .map(resolve::display_name)
        .collect();
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ocilayout::tag::{self, NameOptions};

    /// A name typed without its registry host is offered the entries that have one; other names
    /// and other tags are not.
    #[test]
    fn a_name_without_its_host_gets_the_full_names() {
        let tmp = tempfile::tempdir().unwrap();
        let layout = Layout::init(tmp.path()).unwrap();
        let d = layout.blobs().put_bytes(b"{}").unwrap();
        let mut index = ocilayout::layout::empty_index();
        let desc = oci_spec::image::Descriptor::new(
            oci_spec::image::MediaType::ImageManifest,
            2,
            d.clone(),
        );
        index.set_manifests(vec![desc]);
        layout.lock_index().unwrap().write_index(&index).unwrap();
        let names = [
            "127.0.0.1:5000/myorg/app:1.0",
            "quay.io/myorg/app:1.0",
            "quay.io/myorg/app:2.0",
            "ghcr.io/library/busybox:1",
        ];
        let opts = NameOptions::default();
        tag::tag(&layout, d.as_ref(), &names, &opts).unwrap();
        let cases: [(&str, &[&str]); 5] = [
            (
                "myorg/app:1.0",
                &["127.0.0.1:5000/myorg/app:1.0", "quay.io/myorg/app:1.0"],
            ),
            ("myorg/app:3.0", &[]),
            ("busybox:1", &["ghcr.io/library/busybox:1"]),
            ("other/app:1.0", &[]),
            ("not a name", &[]),
        ];
        for (input, want) in cases {
            assert_eq!(similar_names(&layout, input), want, "{input}");
        }
    }
}
