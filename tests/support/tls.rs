//! Certificates for the auth tests, made with the openssl CLI: a CA and a server certificate it signs
//! (for 127.0.0.1 and localhost), and a self-signed key pair that signs registry tokens.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// PEM files in a temporary directory.
pub struct Pki {
    pub dir: tempfile::TempDir,
    /// The CA certificate the registry's certificate chains to.
    pub ca: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    /// Another CA, unrelated to the registry, to put in bundles beside `ca`.
    pub other_ca: PathBuf,
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A self-signed CA certificate and its key: `NAME.pem`, `NAME.key`.
fn make_ca(dir: &Path, name: &str) {
    std::fs::write(
        dir.join(format!("{name}.cnf")),
        format!(
            "[req]\ndistinguished_name=dn\nx509_extensions=ext\nprompt=no\n[dn]\nCN={name}\n\
             [ext]\nbasicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n\
             subjectKeyIdentifier=hash\n"
        ),
    )
    .unwrap();
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-config",
            &format!("{name}.cnf"),
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.pem"),
        ],
    );
}

impl Pki {
    /// Makes the CA, the server certificate and the unrelated CA.
    pub fn new() -> Pki {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        make_ca(d, "ca");
        make_ca(d, "other-ca");
        openssl(
            d,
            &[
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-subj",
                "/CN=localhost",
                "-keyout",
                "server.key",
                "-out",
                "server.csr",
            ],
        );
        std::fs::write(
            d.join("server.ext"),
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n\
             keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
        )
        .unwrap();
        openssl(
            d,
            &[
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "2",
                "-extfile",
                "server.ext",
                "-out",
                "server.pem",
            ],
        );
        Pki {
            ca: d.join("ca.pem"),
            server_cert: d.join("server.pem"),
            server_key: d.join("server.key"),
            other_ca: d.join("other-ca.pem"),
            dir,
        }
    }

    /// A PEM file holding the unrelated CA and then the registry's CA.
    pub fn bundle(&self) -> PathBuf {
        let path = self.dir.path().join("bundle.pem");
        let mut pem = std::fs::read(&self.other_ca).unwrap();
        pem.extend(std::fs::read(&self.ca).unwrap());
        std::fs::write(&path, pem).unwrap();
        path
    }
}

/// A token signing key and its self-signed certificate (the registry's `rootcertbundle`).
pub struct Signer {
    pub key: PathBuf,
    pub cert: PathBuf,
    /// The certificate in DER, for the token header's `x5c`.
    pub cert_der: Vec<u8>,
}

impl Signer {
    pub fn new(dir: &Path) -> Signer {
        make_ca(dir, "token-signer");
        openssl(
            dir,
            &[
                "x509",
                "-in",
                "token-signer.pem",
                "-outform",
                "DER",
                "-out",
                "token-signer.der",
            ],
        );
        Signer {
            key: dir.join("token-signer.key"),
            cert: dir.join("token-signer.pem"),
            cert_der: std::fs::read(dir.join("token-signer.der")).unwrap(),
        }
    }

    /// RS256 signature of `input` (PKCS#1 v1.5 over SHA-256).
    pub fn sign(&self, input: &[u8]) -> Vec<u8> {
        use std::io::Write;
        use std::process::Stdio;
        let mut child = Command::new("openssl")
            .args(["dgst", "-sha256", "-sign"])
            .arg(&self.key)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run openssl dgst");
        child.stdin.take().unwrap().write_all(input).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }
}

/// A certificate made the common way, `openssl req -x509 -newkey ... -addext subjectAltName=...`:
/// self-signed and its own CA (`CA:TRUE`), for the names in `san` (`IP:127.0.0.1,DNS:localhost`).
/// Written as `NAME.pem` and `NAME.key` in `dir`; returns (certificate, key).
pub fn self_signed(dir: &Path, name: &str, san: &str) -> (PathBuf, PathBuf) {
    let (cert, key) = (format!("{name}.pem"), format!("{name}.key"));
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-addext",
            &format!("subjectAltName={san}"),
            "-keyout",
            &key,
            "-out",
            &cert,
        ],
    );
    (dir.join(cert), dir.join(key))
}
