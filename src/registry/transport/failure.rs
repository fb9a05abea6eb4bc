//! Why a request produced no response, and whether another attempt can help: a broken connection
//! or a timeout can recover; a refused connection, a certificate or a plain-HTTP answer to HTTPS
//! cannot. Messages name `--timeout`, `--cacert` or `--plain-http` when one of them is the fix.

use ureq::http;

use super::{redact, Transport};
use crate::error::Error;

/// Why a request did not produce a response.
pub(crate) enum Failure {
    /// The connection broke or timed out: worth another attempt.
    Connection(Error),
    /// An HTTPS request was answered in plain HTTP.
    PlainAnswer(Error),
    /// Anything else: retrying cannot help.
    Fatal(Error),
}

impl Failure {
    pub(crate) fn into_error(self) -> Error {
        match self {
            Failure::Connection(e) | Failure::PlainAnswer(e) | Failure::Fatal(e) => e,
        }
    }
}

impl Transport {
    /// ` (through the proxy HOST:PORT)` when requests to `url` go through a proxy, for messages:
    /// a refused connection is then the proxy's doing. The proxy's credentials are never shown.
    fn through_proxy(&self, url: &str) -> String {
        let Some(proxy) = self.agent.config().proxy() else {
            return String::new();
        };
        match url.parse::<http::Uri>() {
            Ok(uri) if !proxy.is_no_proxy(&uri) => {
                format!(" (through the proxy {}:{})", proxy.host(), proxy.port())
            }
            _ => String::new(),
        }
    }

    /// Turns a failed request into an error worth retrying or not.
    pub(super) fn classify(&self, url: &str, e: ureq::Error) -> Failure {
        let note = self.through_proxy(url);
        let message = match &e {
            ureq::Error::Io(io) => self.io_message(io),
            ureq::Error::Timeout(kind) => self.timeout_message(&kind.to_string()),
            other => other.to_string(),
        };
        let error = |message: String| Error::Http {
            url: redact(url),
            message,
        };
        if message.contains("InvalidContentType") {
            return Failure::PlainAnswer(error(format!(
                "the server answered an HTTPS request in plain HTTP; if the registry speaks \
                 plain HTTP, pass --plain-http{note}"
            )));
        }
        if let Some(tls) = super::super::tls::handshake_error(&e) {
            // Trying again cannot make a certificate trusted.
            return Failure::Fatal(error(format!(
                "TLS: {message} ({}){note}",
                super::super::tls::hint(tls)
            )));
        }
        let err = error(format!("{message}{note}"));
        match e {
            // Nothing listens there: another attempt a moment later cannot change that.
            ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
                Failure::Fatal(err)
            }
            ureq::Error::Io(_) | ureq::Error::Timeout(_) | ureq::Error::Protocol(_) => {
                Failure::Connection(err)
            }
            ureq::Error::ConnectionFailed => Failure::Connection(err),
            _ => Failure::Fatal(err),
        }
    }

    /// An I/O error for a message; a timeout (ureq's, carried inside a body read) says which
    /// flag sets it.
    pub(super) fn io_message(&self, e: &std::io::Error) -> String {
        let text = e.to_string();
        if let Some(kind) = text.strip_prefix("timeout: ") {
            return self.timeout_message(kind);
        }
        match e.kind() {
            std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => {
                self.timeout_message("read")
            }
            _ => text,
        }
    }

    fn timeout_message(&self, what: &str) -> String {
        format!(
            "timed out ({what}) after {} s (--timeout)",
            self.config.timeout.as_secs_f64()
        )
    }
}
