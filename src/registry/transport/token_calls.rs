//! Token requests through the transport: the [`Exchange`] the authentication seam is given, so a
//! token server's 503 or 307 is handled as the registry's would be.

use std::io::Read;

use ureq::http::Method;

use super::{redact, Request, Transport};
use crate::error::{Error, Result};
use crate::registry::auth::Scope;
use crate::registry::exchange::{self, Answer, Call, Exchange};

/// Token requests on behalf of one registry, through the transport: retried and redirected like
/// any request; credentials only to the realm's own origin, and never over plain HTTP when the
/// registry is reached over HTTPS.
pub(super) struct TokenCalls<'t> {
    pub transport: &'t Transport,
    pub registry: String,
    pub https: bool,
}

impl Exchange for TokenCalls<'_> {
    fn exchange(&self, call: &Call) -> Result<Answer> {
        if call.authorization.is_some() && self.https && !call.url.starts_with("https://") {
            return Err(Error::Auth {
                registry: self.registry.clone(),
                reason: format!(
                    "its token realm {} is plain HTTP while the registry is HTTPS: the \
                     credentials are not sent in clear text",
                    redact(&call.url)
                ),
            });
        }
        let scope = Scope::default();
        let method = match call.method {
            exchange::Method::Get => Method::GET,
            exchange::Method::Post => Method::POST,
        };
        let mut req = Request::new(method, call.url.clone(), &scope).body(&call.body);
        req.headers = call.headers.clone();
        req.fixed = call.authorization.as_ref().map(|a| a.0.clone());
        req.anonymous = req.fixed.is_none();
        let resp = self.transport.send(&req)?;
        let status = resp.status().as_u16();
        let mut body = Vec::new();
        resp.into_body()
            .into_reader()
            .take(1 << 20)
            .read_to_end(&mut body)
            .map_err(|e| Error::Http {
                url: redact(&call.url),
                message: format!("reading the answer: {e}"),
            })?;
        Ok(Answer { status, body })
    }
}
