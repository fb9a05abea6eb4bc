//! `oci-layout://` URLs, as buildkit takes them: parsing one into a layout directory and a
//! reference, and resolving it.

use std::path::{Path, PathBuf};

use oci_spec::image::Descriptor;

use super::resolve;
use crate::digest;
use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::platform::Platform;

/// A parsed `oci-layout://` URL: the layout directory and the reference inside it (`None` when the
/// URL names only the layout).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayoutUrl {
    /// The layout directory: the longest prefix of the path that holds an `oci-layout` file.
    pub layout: PathBuf,
    /// What follows it: a name, `:tag` or `@digest` as the user wrote it; `None` for none.
    pub reference: Option<String>,
}

/// Parses `oci-layout://PATH[:TAG|@DIGEST]` or `oci-layout://PATH/NAME[:TAG][@DIGEST]`. The layout is
/// the longest prefix of PATH that is a directory holding an `oci-layout` file; the rest is the name,
/// so a `:` inside the directory part is no problem.
pub fn parse_layout_url(url: &str) -> Result<LayoutUrl> {
    let rest = url
        .strip_prefix("oci-layout://")
        .ok_or_else(|| Error::NotALayoutUrl {
            url: url.to_string(),
        })?;
    let (path_part, digest_part) = match rest.rfind('@') {
        Some(i) if digest::looks_like_digest(&rest[i + 1..]) => (&rest[..i], Some(&rest[i + 1..])),
        _ => (rest, None),
    };
    if let Some(d) = digest_part {
        digest::parse(d)?;
    }
    // Candidate ends of the layout directory: the whole string, then every '/' or ':' from the right.
    let mut ends: Vec<usize> = vec![path_part.len()];
    ends.extend(
        path_part
            .char_indices()
            .rev()
            .filter(|(_, c)| *c == '/' || *c == ':')
            .map(|(i, _)| i),
    );
    for end in ends {
        let dir = &path_part[..end];
        if dir.is_empty() || !Path::new(dir).join("oci-layout").is_file() {
            continue;
        }
        // What follows the directory: "", ":TAG" or "/NAME[:TAG]"; a digest wins over both.
        let name = &path_part[end..];
        let reference = match digest_part {
            Some(d) => Some(d.to_string()),
            None if name.is_empty() => None,
            None => Some(name[1..].to_string()),
        };
        return Ok(LayoutUrl {
            layout: PathBuf::from(dir),
            reference,
        });
    }
    Err(Error::NotALayout {
        path: PathBuf::from(path_part),
        reason: "no prefix of the path is a directory with an oci-layout file".into(),
    })
}

/// Resolves an `oci-layout://` URL. A URL that names only the layout resolves its single entry, or
/// `latest` when it has several.
pub fn resolve_url(url: &str, platform: Option<&Platform>) -> Result<(Layout, Descriptor)> {
    let parsed = parse_layout_url(url)?;
    let layout = Layout::open(&parsed.layout)?;
    let input = match parsed.reference {
        Some(r) => r,
        None => {
            let index = layout.read_index()?;
            match index.manifests().as_slice() {
                [only] => only.digest().to_string(),
                _ => "latest".to_string(),
            }
        }
    };
    let d = resolve(&layout, &input, platform)?;
    Ok((layout, d))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_urls_take_the_longest_layout_prefix() {
        let tmp = tempfile::tempdir().unwrap();
        let store = tmp.path().join("st:ore");
        Layout::init(&store).unwrap();
        Layout::init(store.join("nested")).unwrap();
        let base = store.display().to_string();
        let d = "sha256:d72195534bcc2ebf9df34eec4f3c3adec4ae0b09d22bb40644397823c06fe290";
        let cases: Vec<(String, PathBuf, Option<String>)> = vec![
            (base.clone(), store.clone(), None),
            (format!("{base}:3.16"), store.clone(), Some("3.16".into())),
            (format!("{base}@{d}"), store.clone(), Some(d.into())),
            (
                format!("{base}/alpine:3.16"),
                store.clone(),
                Some("alpine:3.16".into()),
            ),
            (
                format!("{base}/alpine:3.16@{d}"),
                store.clone(),
                Some(d.into()),
            ),
            (
                format!("{base}/library/alpine"),
                store.clone(),
                Some("library/alpine".into()),
            ),
            (
                format!("{base}/nested/x:1"),
                store.join("nested"),
                Some("x:1".into()),
            ),
            (format!("{base}/nested"), store.join("nested"), None),
        ];
        for (rest, layout, reference) in cases {
            let url = format!("oci-layout://{rest}");
            assert_eq!(
                parse_layout_url(&url).unwrap(),
                LayoutUrl { layout, reference },
                "{url}"
            );
        }
        for bad in [
            "oci-layout:///nonexistent/x:1".to_string(),
            format!("oci-layout://{base}@sha256:../../x"),
            format!("{base}:1"),
        ] {
            assert!(parse_layout_url(&bad).is_err(), "{bad}");
        }
    }
}
