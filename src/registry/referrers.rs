//! Referrers (signatures, SBOMs, attestations): `GET /v2/<name>/referrers/<digest>`, or on registries
//! without that API the index under the fallback tag `sha256-<hex>`, which a push then keeps up to
//! date itself.

use oci_spec::image::{Descriptor, DescriptorBuilder, Digest, ImageIndex, MediaType};
use serde::Deserialize;
use ureq::http::{Method, StatusCode};

use super::pages::Pages;
use super::transport::status_error;
use super::Repository;
use crate::error::{Error, Result};
use crate::graph;

/// The fallback tag for the referrers of `subject`: `<alg>-<hex>`.
pub(crate) fn fallback_tag(subject: &Digest) -> String {
    format!("{}-{}", subject.algorithm(), subject.digest())
}

/// What a manifest says about itself as a referrer: its subject and artifact type.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReferrerFields {
    subject: Option<Descriptor>,
    artifact_type: Option<String>,
    config: Option<Descriptor>,
    annotations: Option<std::collections::HashMap<String, String>>,
}

/// The subject a manifest refers to, if it has one.
pub(crate) fn subject_of(bytes: &[u8]) -> Option<Digest> {
    let fields: ReferrerFields = serde_json::from_slice(bytes).ok()?;
    let d = fields.subject?.digest().clone();
    crate::digest::validate(&d).ok().map(|_| d)
}

/// The descriptor a referrers index lists for a referrer manifest: media type, digest, size,
/// artifact type (the manifest's, else its config's media type) and annotations.
pub(crate) fn referrer_descriptor(media_type: &str, digest: &Digest, bytes: &[u8]) -> Descriptor {
    let mut b = DescriptorBuilder::default()
        .media_type(MediaType::from(media_type))
        .digest(digest.clone())
        .size(bytes.len() as u64);
    if let Ok(f) = serde_json::from_slice::<ReferrerFields>(bytes) {
        let artifact_type = f
            .artifact_type
            .or_else(|| f.config.map(|c| c.media_type().to_string()));
        if let Some(t) = artifact_type {
            b = b.artifact_type(MediaType::from(t.as_str()));
        }
        if let Some(a) = f.annotations {
            b = b.annotations(a);
        }
    }
    b.build().expect("a referrer descriptor is complete")
}

impl Repository<'_> {
    /// The referrers of `subject`, from the referrers API (every page of it, within the bounds of
    /// `pages`) or else the fallback tag.
    pub fn referrers(&self, subject: &Digest) -> Result<Vec<Descriptor>> {
        let url = self.url(&format!("referrers/{subject}"));
        let resp = self
            .transport()
            .send(&self.request(Method::GET, url.clone()))?;
        let mut out = Vec::new();
        let mut keep = |index: &ImageIndex| -> Result<()> {
            for d in index.manifests() {
                crate::digest::validate(d.digest())?;
                out.push(d.clone());
            }
            Ok(())
        };
        match resp.status() {
            s if s.is_success() => {
                let (first, mut pages) = Pages::kept_after(self, &url, resp)?;
                let mut page = Some(first);
                while let Some(p) = page {
                    keep(&parse_index(&p.url, &p.body)?)?;
                    page = pages.next_page(self)?;
                }
            }
            StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED | StatusCode::BAD_REQUEST => {
                if let Some(i) = self.fallback_index(subject)? {
                    keep(&i)?;
                }
            }
            _ => return Err(status_error(&url, resp)),
        }
        Ok(out)
    }

    /// The index under the fallback tag, if there is one.
    fn fallback_index(&self, subject: &Digest) -> Result<Option<ImageIndex>> {
        let tag = fallback_tag(subject);
        if self.head_manifest(&tag)?.is_none() {
            return Ok(None);
        }
        let m = self.get_manifest(&tag)?;
        if !graph::is_index(&m.media_type) {
            return Ok(None);
        }
        parse_index(&tag, &m.bytes).map(Some)
    }

    /// Makes referrers just pushed findable on a registry without the referrers API: adds their
    /// descriptors to the index under the fallback tag (creating it), those not listed yet, with
    /// one read and at most one write of that index however many there are.
    pub fn add_fallback_referrers(&self, subject: &Digest, referrers: &[Descriptor]) -> Result<()> {
        let tag = fallback_tag(subject);
        let mut index = self
            .fallback_index(subject)?
            .unwrap_or_else(crate::layout::empty_index);
        let mut listed: std::collections::HashSet<Digest> = index
            .manifests()
            .iter()
            .map(|d| d.digest().clone())
            .collect();
        let mut manifests = index.manifests().clone();
        for r in referrers {
            if listed.insert(r.digest().clone()) {
                manifests.push(r.clone());
            }
        }
        if manifests.len() == index.manifests().len() {
            return Ok(());
        }
        index.set_manifests(manifests);
        let bytes = serde_json::to_vec(&index).map_err(|e| Error::Malformed {
            what: tag.clone(),
            reason: e.to_string(),
        })?;
        self.put_manifest(&tag, graph::OCI_INDEX, &bytes)
            .map(|_| ())
    }

    /// [`add_fallback_referrers`](Self::add_fallback_referrers) for one referrer.
    pub fn add_fallback_referrer(&self, subject: &Digest, referrer: Descriptor) -> Result<()> {
        self.add_fallback_referrers(subject, &[referrer])
    }
}

fn parse_index(what: &str, bytes: &[u8]) -> Result<ImageIndex> {
    serde_json::from_slice(bytes).map_err(|e| Error::Malformed {
        what: super::transport::redact(what),
        reason: format!("not a referrers index: {e}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn referrer_fields() {
        let subject = crate::digest::sha256(b"s");
        let doc = format!(
            r#"{{"schemaVersion":2,"mediaType":"{}","config":{{"mediaType":"application/vnd.example.sig","digest":"{}","size":2}},"layers":[],"subject":{{"mediaType":"{}","digest":"{subject}","size":1}},"annotations":{{"a":"b"}}}}"#,
            graph::OCI_MANIFEST,
            crate::digest::EMPTY_JSON,
            graph::OCI_MANIFEST
        );
        assert_eq!(subject_of(doc.as_bytes()), Some(subject.clone()));
        let d = referrer_descriptor(graph::OCI_MANIFEST, &subject, doc.as_bytes());
        assert_eq!(
            d.artifact_type().as_ref().map(|m| m.to_string()).as_deref(),
            Some("application/vnd.example.sig")
        );
        assert_eq!(
            fallback_tag(&subject),
            format!("sha256-{}", subject.digest())
        );
        assert_eq!(subject_of(b"{}"), None);
    }
}
