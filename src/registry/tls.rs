//! TLS trust for registry connections: the system roots (Mozilla's when the system has none) plus
//! every certificate in the `--cacert` files. A `--cacert` certificate that is itself the server's
//! certificate (what `openssl req -x509 -newkey ...` makes: self-signed, and its own CA) is trusted
//! as that server's certificate: accepted when the server presents exactly it (byte for byte) and it
//! names the host, while the handshake signatures are still checked. Everything else goes to the
//! ordinary webpki verification.

use std::path::PathBuf;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, ClientConnection, DigitallySignedStruct, SignatureScheme, StreamOwned};
use ureq::unversioned::resolver::DefaultResolver;
use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, DefaultConnector, LazyBuffers, NextTimeout, Transport,
    TransportAdapter,
};
use ureq::Agent;

use crate::error::{Error, Result};

/// What the client trusts: the root certificates, and those of them given with `--cacert`.
pub(crate) struct Trust {
    /// The system's roots and every `--cacert` certificate.
    pub roots: Vec<CertificateDer<'static>>,
    /// The `--cacert` certificates alone: a server presenting one of these is trusted.
    pub given: Vec<CertificateDer<'static>>,
}

/// The system's root certificates (or Mozilla's, when the system has none) and every certificate in
/// the PEM files `extra`; a file that holds none is an error.
pub(crate) fn trust(extra: &[PathBuf]) -> Result<Trust> {
    let mut roots: Vec<CertificateDer<'static>> = rustls_native_certs::load_native_certs()
        .certs
        .into_iter()
        .collect();
    if roots.is_empty() {
        roots = webpki_root_certs::TLS_SERVER_ROOT_CERTS
            .iter()
            .map(|c| c.clone().into_owned())
            .collect();
    }
    let mut given = Vec::new();
    for path in extra {
        let pem = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let before = given.len();
        for item in ureq::tls::parse_pem(&pem) {
            let item = item.map_err(|e| Error::Malformed {
                what: path.display().to_string(),
                reason: format!("not a PEM file: {e}"),
            })?;
            if let ureq::tls::PemItem::Certificate(c) = item {
                given.push(CertificateDer::from(c.der().to_vec()));
            }
        }
        if given.len() == before {
            return Err(Error::Malformed {
                what: path.display().to_string(),
                reason: "no PEM certificate in it".into(),
            });
        }
    }
    roots.extend(given.iter().cloned());
    Ok(Trust { roots, given })
}

impl Trust {
    /// The roots, as ureq takes them.
    pub(crate) fn root_certs(&self) -> ureq::tls::RootCerts {
        let certs: Vec<ureq::tls::Certificate<'static>> = self
            .roots
            .iter()
            .map(|c| ureq::tls::Certificate::from_der(c.as_ref()).to_owned())
            .collect();
        ureq::tls::RootCerts::new_with_certs(&certs)
    }
}

/// The agent for `config`: ureq's own connector when no certificate was given with `--cacert`
/// (or verification is off), otherwise one whose TLS also accepts a given server certificate.
pub(crate) fn agent(config: ureq::config::Config, trust: Option<&Trust>) -> Result<Agent> {
    let Some(trust) = trust.filter(|t| !t.given.is_empty()) else {
        return Ok(config.new_agent());
    };
    let tls = client_config(trust)?;
    let connector = GivenCertConnector {
        inner: DefaultConnector::default(),
        tls: Arc::new(tls),
    };
    Ok(Agent::with_parts(
        config,
        connector,
        DefaultResolver::default(),
    ))
}

/// A rustls configuration verifying servers with [`GivenOrWebPki`].
fn client_config(trust: &Trust) -> Result<ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut store = rustls::RootCertStore::empty();
    // A system root rustls cannot parse is left out, as ureq does.
    let (_added, _ignored) = store.add_parsable_certificates(trust.roots.iter().cloned());
    let failed = |e: &dyn std::fmt::Display| Error::TlsSetup {
        reason: e.to_string(),
    };
    let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(store), provider.clone())
        .build()
        .map_err(|e| failed(&e))?;
    let verifier = GivenOrWebPki {
        given: trust.given.clone(),
        webpki,
    };
    Ok(ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| failed(&e))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth())
}

/// Accepts a server certificate that is byte for byte one given with `--cacert` and names the host;
/// anything else is up to webpki. Handshake signatures are always verified.
#[derive(Debug)]
struct GivenOrWebPki {
    given: Vec<CertificateDer<'static>>,
    webpki: Arc<WebPkiServerVerifier>,
}

impl ServerCertVerifier for GivenOrWebPki {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        if self.given.iter().any(|g| g.as_ref() == end_entity.as_ref()) {
            let parsed = rustls::server::ParsedCertificate::try_from(end_entity)?;
            rustls::client::verify_server_name(&parsed, server_name)?;
            return Ok(ServerCertVerified::assertion());
        }
        self.webpki
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}

/// ureq's connector (proxies, SOCKS, TCP) for the connection, with our TLS on top: the chain is
/// asked for the same host and port over `http`, so it tunnels and connects as usual but leaves
/// the TLS to us.
struct GivenCertConnector {
    inner: DefaultConnector,
    tls: Arc<ClientConfig>,
}

impl std::fmt::Debug for GivenCertConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("GivenCertConnector")
    }
}

impl Connector<()> for GivenCertConnector {
    type Out = Box<dyn Transport>;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<()>,
    ) -> std::result::Result<Option<Self::Out>, ureq::Error> {
        if !details.needs_tls() {
            return self.inner.connect(details, chained);
        }
        let authority = details
            .uri
            .authority()
            .ok_or(ureq::Error::Tls("an https URL without a host"))?;
        let host = authority.host();
        let port = authority.port_u16().unwrap_or(443);
        let plain: ureq::http::Uri = format!("http://{host}:{port}/")
            .parse()
            .map_err(|_| ureq::Error::Tls("an https URL whose host cannot be used"))?;
        let plain_details = ConnectionDetails {
            uri: &plain,
            addrs: details.addrs.clone(),
            config: details.config,
            request_level: details.request_level,
            resolver: details.resolver,
            now: details.now,
            timeout: details.timeout,
            current_time: details.current_time.clone(),
            run_connector: details.run_connector.clone(),
            register_shutdown: details.register_shutdown.clone(),
        };
        let Some(transport) = self.inner.connect(&plain_details, chained)? else {
            return Ok(None);
        };
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let name = ServerName::try_from(bare)
            .map_err(|_| ureq::Error::Tls("the host is not a valid TLS server name"))?
            .to_owned();
        let mut conn = ClientConnection::new(self.tls.clone(), name)?;
        let mut sock = TransportAdapter::new(transport, details.current_time.clone());
        sock.set_timeout(details.timeout);
        conn.complete_io(&mut sock)?;
        let buffers = LazyBuffers::new(
            details.config.input_buffer_size(),
            details.config.output_buffer_size(),
        );
        Ok(Some(Box::new(TlsTransport {
            buffers,
            stream: StreamOwned { conn, sock },
        })))
    }
}

/// A TLS connection as a ureq transport.
struct TlsTransport {
    buffers: LazyBuffers,
    stream: StreamOwned<ClientConnection, TransportAdapter>,
}

impl std::fmt::Debug for TlsTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TlsTransport")
    }
}

impl Transport for TlsTransport {
    fn buffers(&mut self) -> &mut dyn Buffers {
        &mut self.buffers
    }

    fn transmit_output(
        &mut self,
        amount: usize,
        timeout: NextTimeout,
    ) -> std::result::Result<(), ureq::Error> {
        use std::io::Write;
        self.stream.get_mut().set_timeout(timeout);
        let output = &self.buffers.output()[..amount];
        self.stream.write_all(output)?;
        Ok(())
    }

    fn await_input(&mut self, timeout: NextTimeout) -> std::result::Result<bool, ureq::Error> {
        use std::io::Read;
        self.stream.get_mut().set_timeout(timeout);
        let input = self.buffers.input_append_buf();
        let amount = self.stream.read(input)?;
        self.buffers.input_appended(amount);
        Ok(amount > 0)
    }

    fn is_open(&mut self) -> bool {
        self.stream.get_mut().get_mut().is_open()
    }

    fn is_tls(&self) -> bool {
        true
    }
}

/// The TLS failure inside a failed request, found by its type: rustls's error, whether ureq gives
/// it as is or inside the I/O error of a handshake.
pub(crate) fn handshake_error(e: &ureq::Error) -> Option<&rustls::Error> {
    match e {
        ureq::Error::Rustls(tls) => Some(tls),
        ureq::Error::Io(io) => io.get_ref()?.downcast_ref::<rustls::Error>(),
        _ => None,
    }
}

/// The remedy for a TLS failure, chosen by its kind; only the refusals a certificate can cure
/// suggest `--cacert`.
pub(crate) fn hint(e: &rustls::Error) -> &'static str {
    use rustls::CertificateError as C;
    let rustls::Error::InvalidCertificate(refusal) = e else {
        return DEFAULT_HINT;
    };
    match refusal {
        // webpki's reason arrives as an opaque `Other`; its name is all there is to go by.
        C::Other(other) if format!("{other:?}").contains("CaUsedAsEndEntity") => {
            "the registry's certificate is self-signed, its own CA: pass that certificate itself \
             with --cacert FILE to trust it for this registry"
        }
        C::UnknownIssuer => {
            "to trust the registry's certificate, pass the CA that issued it (or the certificate \
             itself) with --cacert FILE"
        }
        C::NotValidForName | C::NotValidForNameContext { .. } => {
            "the certificate is not for this host name: use the name or address it was issued for"
        }
        C::Expired | C::ExpiredContext { .. } | C::NotValidYet | C::NotValidYetContext { .. } => {
            "the certificate is outside its validity period: check the registry's certificate and \
             this machine's clock"
        }
        _ => DEFAULT_HINT,
    }
}

const DEFAULT_HINT: &str = "check the registry's certificate, or pass its CA with --cacert FILE";

#[cfg(test)]
mod tests {
    use super::*;

    /// Each refusal gets the remedy that fits it; only those that a certificate can cure
    /// suggest --cacert.
    #[test]
    fn hints_fit_the_refusal() {
        use rustls::{CertificateError as C, Error as E, OtherError};
        #[derive(Debug)]
        struct CaUsedAsEndEntity;
        impl std::fmt::Display for CaUsedAsEndEntity {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("CaUsedAsEndEntity")
            }
        }
        impl std::error::Error for CaUsedAsEndEntity {}
        let self_signed = C::Other(OtherError(Arc::new(CaUsedAsEndEntity)));
        let cases = [
            (E::InvalidCertificate(self_signed), "itself", true),
            (E::InvalidCertificate(C::UnknownIssuer), "issued it", true),
            (
                E::InvalidCertificate(C::NotValidForName),
                "host name",
                false,
            ),
            (E::InvalidCertificate(C::Expired), "validity", false),
            (E::InvalidCertificate(C::NotValidYet), "validity", false),
            (E::InvalidCertificate(C::BadSignature), "--cacert", true),
            (E::HandshakeNotComplete, "--cacert", true),
        ];
        for (error, needle, cacert) in cases {
            let h = hint(&error);
            assert!(h.contains(needle), "{error}: {h}");
            assert_eq!(h.contains("--cacert"), cacert, "{error}: {h}");
        }
        // Found by type wherever ureq carries it, and not from the words of another failure.
        let io = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            E::InvalidCertificate(C::UnknownIssuer),
        );
        assert!(handshake_error(&ureq::Error::Io(io)).is_some());
        let io = std::io::Error::other("certificate store unreachable");
        assert!(handshake_error(&ureq::Error::Io(io)).is_none());
    }
}
