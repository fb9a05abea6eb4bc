//! Small blobs read whole into memory (an image config for `inspect`), capped and verified against
//! their digest before a byte is returned.

use oci_spec::image::Descriptor;
use ureq::http::Method;

use super::manifests::read_limited;
use super::transport::status_error;
use super::Repository;
use crate::error::{Error, Result};

impl Repository<'_> {
    /// `GET` a blob of at most `limit` bytes whole: its bytes, checked against the descriptor's
    /// digest and size.
    pub fn read_blob(&self, desc: &Descriptor, limit: u64) -> Result<Vec<u8>> {
        let d = desc.digest();
        crate::digest::validate(d)?;
        if desc.size() > limit {
            return Err(Error::TooLarge {
                what: d.to_string(),
                size: desc.size(),
                limit,
            });
        }
        let url = self.url(&format!("blobs/{d}"));
        let resp = self
            .transport()
            .send(&self.request(Method::GET, url.clone()))?;
        if !resp.status().is_success() {
            return Err(status_error(&url, resp));
        }
        let bytes = read_limited(&url, resp, limit)?;
        crate::digest::verify_bytes(d, &bytes, &url)?;
        Ok(bytes)
    }
}
