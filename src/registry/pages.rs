//! Paginated lists (the tags list, the referrers API): `Link: <...>; rel="next"` followed one page at
//! a time, so a caller can hand each page on before the next arrives. Whatever a server sends, a
//! list ends: a page is at most [`MANIFEST_LIMIT`] bytes, a `Link` back to a page already read (to
//! itself or an earlier one) ends the list, and a list runs to at most [`MAX_PAGES`] pages, or to
//! [`KEPT_LIMIT`] bytes in all when the caller keeps it whole.

use std::collections::HashSet;

use ureq::http::Method;

use super::manifests::read_limited;
use super::transport::{header, redact, resolve_location, status_error, Response};
use super::Repository;
use crate::error::{Error, Result};
use crate::graph::MANIFEST_LIMIT;

/// The most pages one list is followed for.
pub const MAX_PAGES: usize = 10_000;

/// The most bytes of pages a list that is kept whole in memory (the referrers of a subject) may add
/// up to; a streamed list (tags) is bounded by [`MAX_PAGES`] alone.
pub const KEPT_LIMIT: u64 = 64 << 20;

/// One page: where it came from and its body.
pub(crate) struct Page {
    /// The page's URL (for messages).
    pub url: String,
    /// The body, at most [`MANIFEST_LIMIT`] bytes.
    pub body: Vec<u8>,
}

/// The pages of one list, fetched as they are asked for.
pub(crate) struct Pages {
    next: Option<String>,
    seen: HashSet<String>,
    /// Bytes of pages read so far, and the limit on them if the list is kept whole.
    bytes: u64,
    budget: Option<u64>,
}

impl Pages {
    /// The list whose first page is at `url`, streamed by the caller.
    pub(crate) fn new(url: String) -> Self {
        Pages {
            next: Some(url),
            seen: HashSet::new(),
            bytes: 0,
            budget: None,
        }
    }

    /// A list kept whole in memory (so at most [`KEPT_LIMIT`] bytes in all) whose first page the
    /// caller has fetched itself (`url`, answered `first`): that page, and the rest to follow.
    pub(crate) fn kept_after(
        repo: &Repository<'_>,
        url: &str,
        first: Response,
    ) -> Result<(Page, Self)> {
        let mut pages = Pages {
            next: None,
            seen: HashSet::new(),
            bytes: 0,
            budget: Some(KEPT_LIMIT),
        };
        let page = pages.read(repo, url.to_string(), first)?;
        Ok((page, pages))
    }

    /// The next page, or `None` at the end of the list.
    pub(crate) fn next_page(&mut self, repo: &Repository<'_>) -> Result<Option<Page>> {
        let Some(url) = self.next.take() else {
            return Ok(None);
        };
        if self.seen.len() >= MAX_PAGES {
            return Err(Error::Malformed {
                what: redact(&url),
                reason: format!("the list goes on past {MAX_PAGES} pages"),
            });
        }
        let resp = repo
            .transport()
            .send(&repo.request(Method::GET, url.clone()))?;
        if !resp.status().is_success() {
            return Err(status_error(&url, resp));
        }
        self.read(repo, url, resp).map(Some)
    }

    /// Reads the page at `url` from `resp` and notes where the list goes on.
    fn read(&mut self, repo: &Repository<'_>, url: String, resp: Response) -> Result<Page> {
        let link = header(resp.headers(), "link")
            .and_then(next_link)
            .map(|l| resolve_location(&url, &l));
        let limit = match self.budget {
            Some(b) => MANIFEST_LIMIT.min(b.saturating_sub(self.bytes)),
            None => MANIFEST_LIMIT,
        };
        let body = read_limited(&url, resp, limit).map_err(|e| match (e, self.budget) {
            (Error::TooLarge { what, size, .. }, Some(budget)) if limit < MANIFEST_LIMIT => {
                Error::TooLarge {
                    what: format!("{what} (with the pages before it)"),
                    size: self.bytes.saturating_add(size),
                    limit: budget,
                }
            }
            (e, _) => e,
        })?;
        self.bytes += body.len() as u64;
        self.seen.insert(url.clone());
        self.next = match link {
            Some(l) if self.seen.contains(&l) => {
                repo.transport().note(&format!(
                    "{} links back to {}, a page already read: the list ends there",
                    redact(&url),
                    redact(&l)
                ));
                None
            }
            other => other,
        };
        Ok(Page { url, body })
    }
}

/// The target of `Link: <...>; rel="next"`.
pub(crate) fn next_link(link: &str) -> Option<String> {
    link.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        params.contains("rel=\"next\"").then(|| {
            target
                .trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_string()
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_headers_paginate() {
        assert_eq!(
            next_link(r#"</v2/a/tags/list?n=2&last=b>; rel="next""#).as_deref(),
            Some("/v2/a/tags/list?n=2&last=b")
        );
        assert_eq!(
            next_link(r#"</p>; rel="prev", </n>; rel="next""#).as_deref(),
            Some("/n")
        );
        assert_eq!(next_link(r#"</x>; rel="prev""#), None);
    }
}
