//! Manifests and indexes: `GET`/`HEAD`/`PUT` by tag or digest, verified against the digest asked for
//! or the `Docker-Content-Digest` the registry gives; Docker schema 1 refused; the tags list with
//! `Link` pagination (one page at a time, `pages`).

use std::io::Read;

use oci_spec::image::{Descriptor, DescriptorBuilder, Digest, MediaType};
use ureq::http::{Method, StatusCode};

use super::pages::Pages;
use super::transport::{header, status_error, Response};
use super::Repository;
use crate::digest;
use crate::error::{Error, Result};
use crate::graph::{self, MANIFEST_LIMIT};

/// Every manifest media type we read, for the `Accept` header. Schema 1 is deliberately absent.
pub const ACCEPT: &str = "application/vnd.oci.image.index.v1+json, \
application/vnd.oci.image.manifest.v1+json, \
application/vnd.docker.distribution.manifest.list.v2+json, \
application/vnd.docker.distribution.manifest.v2+json, \
application/vnd.oci.artifact.manifest.v1+json";

/// A manifest or index as the registry served it: the exact bytes, verified against `digest`.
#[derive(Clone, Debug)]
pub struct Manifest {
    /// The document exactly as served.
    pub bytes: Vec<u8>,
    /// Its media type (the `Content-Type`, or the document's own `mediaType`).
    pub media_type: String,
    /// The digest of `bytes`.
    pub digest: Digest,
}

impl Manifest {
    /// The descriptor naming these bytes.
    pub fn descriptor(&self) -> Descriptor {
        descriptor(&self.media_type, &self.digest, self.bytes.len() as u64)
    }
}

/// A plain descriptor.
pub(crate) fn descriptor(media_type: &str, digest: &Digest, size: u64) -> Descriptor {
    DescriptorBuilder::default()
        .media_type(MediaType::from(media_type))
        .digest(digest.clone())
        .size(size)
        .build()
        .expect("media type, digest and size make a descriptor")
}

impl<'c> Repository<'c> {
    /// `HEAD` a manifest by tag or digest: its descriptor, or `None` when the registry does not have
    /// it. A registry that omits `Docker-Content-Digest` gets a `GET` instead.
    pub fn head_manifest(&self, reference: &str) -> Result<Option<Descriptor>> {
        let url = self.url(&format!("manifests/{reference}"));
        let req = self
            .request(Method::HEAD, url.clone())
            .header("accept", ACCEPT);
        let resp = self.transport().send(&req)?;
        match resp.status() {
            StatusCode::NOT_FOUND => return Ok(None),
            s if s.is_success() => {}
            _ => return Err(status_error(&url, resp)),
        }
        let h = resp.headers();
        let found = (
            header(h, "docker-content-digest").map(digest::parse),
            header(h, "content-length").and_then(|v| v.parse::<u64>().ok()),
            header(h, "content-type").filter(|t| known(t)),
        );
        // Asked by digest, the registry may still name the manifest in its own algorithm: the
        // digest asked for is the one to keep (the bytes are checked against it when fetched).
        let asked = digest::looks_like_digest(reference)
            .then(|| digest::parse(reference))
            .transpose()?;
        match found {
            (Some(Ok(d)), Some(size), Some(mt)) => {
                let d = match asked {
                    Some(a) if !digest::same_algorithm(a.as_ref(), d.as_ref()) => a,
                    _ => d,
                };
                Ok(Some(descriptor(mt, &d, size)))
            }
            _ => self.get_manifest(reference).map(|m| Some(m.descriptor())),
        }
    }

    /// `GET` a manifest or index by tag or digest, at most [`MANIFEST_LIMIT`] bytes. Fetched by digest,
    /// the bytes must hash to it; fetched by tag, to the `Docker-Content-Digest` when the registry
    /// sends one (the digest is always computed from the bytes, never taken on trust).
    pub fn get_manifest(&self, reference: &str) -> Result<Manifest> {
        let url = self.url(&format!("manifests/{reference}"));
        let req = self
            .request(Method::GET, url.clone())
            .header("accept", ACCEPT);
        let resp = self.transport().send(&req)?;
        if !resp.status().is_success() {
            return Err(status_error(&url, resp));
        }
        let claimed = header(resp.headers(), "docker-content-digest").map(str::to_string);
        let content_type = header(resp.headers(), "content-type").map(str::to_string);
        let bytes = read_limited(&url, resp, MANIFEST_LIMIT)?;
        let by_digest = digest::looks_like_digest(reference);
        let digest = if by_digest {
            let d = digest::parse(reference)?;
            digest::verify_bytes(&d, &bytes, super::transport::redact(&url))?;
            d
        } else {
            match claimed.as_deref().map(digest::parse) {
                Some(Ok(claimed)) => {
                    let found = digest::of_bytes_like(&claimed, &bytes)?;
                    if found != claimed {
                        return Err(Error::DigestMismatch {
                            expected: claimed.clone(),
                            found: found.clone(),
                            location: format!(
                                "{} (its Docker-Content-Digest)",
                                super::transport::redact(&url)
                            ),
                        });
                    }
                    // The layout names manifests by sha256 whatever the registry prefers.
                    digest::sha256(&bytes)
                }
                Some(Err(e)) => {
                    return Err(Error::Malformed {
                        what: format!("{}: Docker-Content-Digest", super::transport::redact(&url)),
                        reason: e.to_string(),
                    })
                }
                None => digest::sha256(&bytes),
            }
        };
        let media_type = media_type(content_type.as_deref(), &bytes);
        if graph::is_schema1(&media_type) {
            return Err(Error::Schema1 {
                what: format!("{}/{}:{reference}", self.registry, self.name),
            });
        }
        if !graph::is_manifest_like(&media_type) {
            return Err(Error::Malformed {
                what: super::transport::redact(&url),
                reason: format!("unsupported manifest media type {media_type:?}"),
            });
        }
        Ok(Manifest {
            bytes,
            media_type,
            digest,
        })
    }

    /// `PUT` a manifest under a tag or its digest, the bytes exactly as given. Returns whether the
    /// registry processed its `subject` (the `OCI-Subject` header of distribution-spec v1.1).
    pub fn put_manifest(&self, reference: &str, media_type: &str, bytes: &[u8]) -> Result<bool> {
        if bytes.len() as u64 > MANIFEST_LIMIT {
            return Err(Error::TooLarge {
                what: format!("manifest for {reference}"),
                size: bytes.len() as u64,
                limit: MANIFEST_LIMIT,
            });
        }
        let url = self.url(&format!("manifests/{reference}"));
        let req = self
            .request(Method::PUT, url.clone())
            .header("content-type", media_type)
            .body(bytes);
        let resp = self.transport().send(&req)?;
        if !resp.status().is_success() {
            return Err(status_error(&url, resp));
        }
        Ok(resp.headers().contains_key("oci-subject"))
    }

    /// Every tag of the repository, following `Link` pagination (see [`tag_pages`](Self::tag_pages)
    /// for a list too long to hold).
    pub fn tags(&self) -> Result<Vec<String>> {
        self.tags_paged(None)
    }

    /// Every tag of the repository, asking for pages of `page_size` (`?n=`) when given.
    pub fn tags_paged(&self, page_size: Option<usize>) -> Result<Vec<String>> {
        let mut out = Vec::new();
        for page in self.tag_pages(page_size) {
            out.extend(page?);
        }
        Ok(out)
    }

    /// The tags of the repository a page at a time, in the order the registry sends them, asking
    /// for pages of `page_size` (`?n=`) when given and following `Link: <...>; rel="next"`: memory
    /// holds one page, whatever the length of the list. The list ends at a `Link` back to a page
    /// already read; a repository the registry does not know is an error (`NAME_UNKNOWN`).
    pub fn tag_pages(&self, page_size: Option<usize>) -> TagPages<'_, 'c> {
        let mut url = self.url("tags/list");
        if let Some(n) = page_size {
            url.push_str(&format!("?n={n}"));
        }
        TagPages {
            repo: self,
            pages: Pages::new(url),
            done: false,
        }
    }
}

/// The pages of a tags list ([`Repository::tag_pages`]): each item is one page's tags, or the
/// error that ends the list.
pub struct TagPages<'r, 'c> {
    repo: &'r Repository<'c>,
    pages: Pages,
    done: bool,
}

impl Iterator for TagPages<'_, '_> {
    type Item = Result<Vec<String>>;

    fn next(&mut self) -> Option<Self::Item> {
        #[derive(serde::Deserialize)]
        struct List {
            tags: Option<Vec<String>>,
        }
        if self.done {
            return None;
        }
        let page = match self.pages.next_page(self.repo) {
            Ok(Some(page)) => page,
            Ok(None) => {
                self.done = true;
                return None;
            }
            Err(e) => {
                self.done = true;
                return Some(Err(e));
            }
        };
        let parsed = serde_json::from_slice::<List>(&page.body).map_err(|e| Error::Malformed {
            what: super::transport::redact(&page.url),
            reason: e.to_string(),
        });
        if parsed.is_err() {
            self.done = true;
        }
        Some(parsed.map(|l| l.tags.unwrap_or_default()))
    }
}

/// Whether a `Content-Type` is one of the manifest types we know.
fn known(media_type: &str) -> bool {
    graph::is_manifest_like(media_type) || graph::is_schema1(media_type)
}

/// The media type of a fetched manifest: the `Content-Type` when it is a manifest type, otherwise the
/// document's own `mediaType`, otherwise schema 1 when it says `schemaVersion: 1`.
fn media_type(content_type: Option<&str>, bytes: &[u8]) -> String {
    let content_type = content_type.map(|c| c.split(';').next().unwrap_or(c).trim());
    if let Some(ct) = content_type.filter(|c| known(c)) {
        return ct.to_string();
    }
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Head {
        schema_version: Option<u32>,
        media_type: Option<String>,
        manifests: Option<serde_json::Value>,
    }
    match serde_json::from_slice::<Head>(bytes) {
        Ok(Head {
            media_type: Some(m),
            ..
        }) => m,
        Ok(Head {
            schema_version: Some(1),
            ..
        }) => graph::DOCKER_SCHEMA1_SIGNED.to_string(),
        Ok(Head {
            manifests: Some(_), ..
        }) => graph::OCI_INDEX.to_string(),
        Ok(_) => graph::OCI_MANIFEST.to_string(),
        Err(_) => content_type.unwrap_or("").to_string(),
    }
}

/// Reads a whole response body of at most `limit` bytes.
pub(crate) fn read_limited(url: &str, resp: Response, limit: u64) -> Result<Vec<u8>> {
    let too_large = |size| Error::TooLarge {
        what: super::transport::redact(url),
        size,
        limit,
    };
    if let Some(len) = header(resp.headers(), "content-length").and_then(|v| v.parse().ok()) {
        if len > limit {
            return Err(too_large(len));
        }
    }
    let mut bytes = Vec::new();
    resp.into_body()
        .into_reader()
        .take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::Http {
            url: super::transport::redact(url),
            message: format!("reading the body: {e}"),
        })?;
    if bytes.len() as u64 > limit {
        return Err(too_large(bytes.len() as u64));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_types_come_from_header_or_document() {
        let cases: [(Option<&str>, &str, &str); 5] = [
            (Some(graph::DOCKER_MANIFEST), "{}", graph::DOCKER_MANIFEST),
            (Some("application/json"), r#"{"mediaType":"x/y"}"#, "x/y"),
            (
                None,
                r#"{"schemaVersion":1,"name":"a"}"#,
                graph::DOCKER_SCHEMA1_SIGNED,
            ),
            (
                None,
                r#"{"schemaVersion":2,"manifests":[]}"#,
                graph::OCI_INDEX,
            ),
            (
                Some("application/json; charset=utf-8"),
                r#"{"schemaVersion":2}"#,
                graph::OCI_MANIFEST,
            ),
        ];
        for (ct, body, want) in cases {
            assert_eq!(media_type(ct, body.as_bytes()), want, "{ct:?} {body}");
        }
    }
}
