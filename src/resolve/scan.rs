//! The borrowed scan of `index.json` that resolution runs on large indexes: each entry is read as its
//! digest and its two name annotations, borrowed from the document bytes, every other field skipped.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::names::{IndexEntry, CONTAINERD_NAME, REF_NAME};

/// An index entry as resolution reads it: borrowed from the `index.json` bytes; other fields skipped.
#[derive(Deserialize)]
pub(super) struct LeanEntry<'a> {
    #[serde(borrow)]
    pub(super) digest: Cow<'a, str>,
    #[serde(borrow, default)]
    annotations: Option<LeanAnnotations<'a>>,
}

/// The two name annotations, borrowed. Read as the map they are, as the full parse reads them: a key
/// given twice means its last value (not an error), and every value must be a string.
#[derive(Default)]
struct LeanAnnotations<'a> {
    name: Option<Cow<'a, str>>,
    ref_name: Option<Cow<'a, str>>,
}

/// A string borrowed from the document when it holds no escapes.
#[derive(Deserialize)]
#[serde(transparent)]
struct Text<'a>(#[serde(borrow)] Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for LeanAnnotations<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct Entries<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for Entries<'a> {
            type Value = LeanAnnotations<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a map of strings to strings")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<Self::Value, A::Error> {
                let mut out = LeanAnnotations::default();
                while let Some(Text(key)) = map.next_key()? {
                    let Text(value) = map.next_value()?;
                    match key.as_ref() {
                        CONTAINERD_NAME => out.name = Some(value),
                        REF_NAME => out.ref_name = Some(value),
                        _ => {}
                    }
                }
                Ok(out)
            }
        }
        d.deserialize_map(Entries(std::marker::PhantomData))
    }
}

impl IndexEntry for LeanEntry<'_> {
    fn digest_str(&self) -> &str {
        &self.digest
    }
    fn annotation(&self, key: &str) -> Option<&str> {
        let a = self.annotations.as_ref()?;
        match key {
            CONTAINERD_NAME => a.name.as_deref(),
            REF_NAME => a.ref_name.as_deref(),
            _ => None,
        }
    }
}

#[derive(Deserialize)]
pub(super) struct RawIndex<'a> {
    #[serde(borrow)]
    pub(super) manifests: Vec<&'a RawValue>,
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::digest;
    use crate::graph;
    use crate::layout::Layout;
    use crate::resolve::resolve_in;

    /// `resolve` reads index.json borrowed, `resolve_in` from parsed descriptors: they must agree on
    /// every answer and every error.
    #[test]
    fn fast_and_full_paths_agree() {
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
        let inputs = [
            "v1",
            "latest",
            "1",
            "1.0",
            "3.16",
            "dev",
            "alpine:3.16",
            "docker.io/library/alpine:3.16",
            "alpine-like",
            "multi:1",
            "mystery",
            "nope",
            "Bad:Name",
            "sha256:d72195534bcc2ebf9df34eec4f3c3adec4ae0b09d22bb40644397823c06fe290",
            "sha256:daaa8dd99642fbb59637d0d850de2dfe66273e2b77e1f4d63f5a8de44b5921c4",
            "alpine@sha256:d72195534bcc2ebf9df34eec4f3c3adec4ae0b09d22bb40644397823c06fe290",
            "sha256:../../x",
        ];
        for f in [
            "umoci",
            "skopeo",
            "containerd",
            "multiarch",
            "docker",
            "artifact",
        ] {
            let layout = Layout::open(fixtures.join(f)).unwrap();
            let index = layout.read_index().unwrap();
            for input in inputs {
                let fast = layout.resolve(input, None).map_err(|e| e.to_string());
                let full = resolve_in(&layout, &index, input).map_err(|e| e.to_string());
                assert_eq!(fast, full, "{f} {input}");
            }
        }
    }

    /// Found by the `index_json` fuzz target: the fast scan refused a name annotation given twice
    /// ("duplicate field") where the full parse takes the last value, and took any value for the
    /// other annotations where the full parse wants strings. Both now read annotations alike.
    #[test]
    fn fast_scan_reads_annotations_as_the_full_parse_does() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::init(dir.path()).unwrap();
        let entry = |annotations: &str| {
            format!(
                r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"{}","size":2,"digest":"{}","annotations":{{{annotations}}}}}]}}"#,
                graph::OCI_MANIFEST,
                digest::EMPTY_JSON
            )
        };
        let twice = entry(
            r#""org.opencontainers.image.ref.name":"a","org.opencontainers.image.ref.name":"b""#,
        );
        let not_a_string = entry(r#""x":1,"org.opencontainers.image.ref.name":"v1""#);
        let escaped = entry(r#""io.containerd.image.name":"docker.io/library/\u0061lpine:1""#);
        for (text, input, found) in [
            (&twice, "b", true),
            (&twice, "a", false),
            (&not_a_string, "v1", false),
            (&escaped, "alpine:1", true),
        ] {
            std::fs::write(dir.path().join("index.json"), text).unwrap();
            let fast = layout.resolve(input, None).map_err(|e| e.to_string());
            let full = layout
                .read_index()
                .and_then(|index| resolve_in(&layout, &index, input))
                .map_err(|e| e.to_string());
            // The same descriptor, or both an error (whose wording may differ).
            assert_eq!(fast.as_ref().ok(), full.as_ref().ok(), "{text} {input}");
            assert_eq!(
                fast.is_ok(),
                full.is_ok(),
                "{text} {input}: {fast:?} {full:?}"
            );
            assert_eq!(fast.is_ok(), found, "{text} {input}: {fast:?}");
        }
    }
}
