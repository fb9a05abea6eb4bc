//! A registry that misbehaves on purpose: a tiny std::net HTTP/1.1 server on `127.0.0.1:0` serving one
//! image (`bad/img:1`: a config and a 1 MiB layer) with one chosen fault: 429 with `Retry-After`, 503,
//! a connection reset mid-body, `Range` ignored or answered with the wrong `Content-Range`, truncated
//! bodies, wrong bytes, a wrong `Docker-Content-Digest`, an oversized manifest. Pushes to `bad/img` are
//! accepted (upload sessions, monolithic and chunked, and manifest `PUT`s, all discarded), so faults in
//! upload answers can be served too.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use crate::support::registry::{noise, sha256};

/// The one thing that goes wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    None,
    /// The first N requests get `429` with `Retry-After: 1`.
    RateLimited(u32),
    /// The first N requests get `503`.
    Unavailable(u32),
    /// The first layer download breaks half-way; `Range` is honoured afterwards.
    ResetMidBody,
    /// The first layer download breaks half-way; `Range` requests get the whole body with `200`.
    IgnoreRange,
    /// The first layer download breaks half-way; `Range` requests get a `206` starting at 0.
    WrongContentRange,
    /// Every layer download breaks half-way.
    AlwaysTruncated,
    /// The layer is served with a wrong `Docker-Content-Digest`.
    WrongBlobDigestHeader,
    /// The layer is served with a `Docker-Content-Digest` that is not a digest at all.
    MalformedBlobDigestHeader,
    /// The layer is served with one byte changed.
    CorruptLayer,
    /// The manifest is served by tag with a wrong `Docker-Content-Digest`.
    WrongManifestDigestHeader,
    /// The tag serves a manifest over 4 MiB.
    HugeManifest,
    /// The tag serves a Docker schema 1 manifest.
    Schema1,
    /// Every `/v2/` request needs `Authorization` (a Basic challenge otherwise), and the layer is
    /// redirected to `localhost:PORT/storage/...`: another host, which must not get the credentials.
    RedirectWithAuth,
    /// The layer is sent after a pause of 1.5 s (the rest is quick).
    SlowLayer,
    /// Manifest `GET`s and `HEAD`s (by tag or digest) answer with this `Docker-Content-Digest`.
    ManifestDigestHeaderIs(&'static str),
    /// The tag serves these bytes as its manifest (with its true digest in `Docker-Content-Digest`).
    ManifestBody(&'static [u8]),
    /// Upload sessions start (and `PATCH`es answer) with this `Location`.
    UploadLocationIs(&'static str),
    /// A finished blob upload answers with this `Docker-Content-Digest`.
    UploadDigestHeaderIs(&'static str),
}

/// One request the server saw: method, path, `Range` header.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub range: Option<String>,
    pub authorization: Option<String>,
}

/// The running server; it lives as long as the test process (the listener thread is detached).
pub struct BadServer {
    pub addr: String,
    pub layer: String,
    pub manifest: String,
    log: Arc<Mutex<Vec<Seen>>>,
}

impl BadServer {
    /// `127.0.0.1:PORT/bad/img:1`.
    pub fn image(&self) -> String {
        format!("{}/bad/img:1", self.addr)
    }

    /// Every request so far.
    pub fn log(&self) -> Vec<Seen> {
        self.log.lock().unwrap().clone()
    }
}

struct Content {
    fault: Fault,
    config: Vec<u8>,
    config_d: String,
    layer: Vec<u8>,
    layer_d: String,
    manifest: Vec<u8>,
    manifest_d: String,
    count: AtomicU32,
    layer_gets: AtomicU32,
}

pub fn start(fault: Fault) -> BadServer {
    let layer = noise(7, 1 << 20);
    let layer_d = sha256(&layer);
    let config =
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#
            .to_vec();
    let config_d = sha256(&config);
    let mut manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config_d}","size":{}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{layer_d}","size":{}}}]"#,
        config.len(),
        layer.len()
    );
    if fault == Fault::HugeManifest {
        manifest.push_str(&format!(
            r#","annotations":{{"pad":"{}"}}"#,
            "x".repeat(5 << 20)
        ));
    }
    let manifest = match fault {
        Fault::ManifestBody(body) => body.to_vec(),
        _ => {
            manifest.push('}');
            manifest.into_bytes()
        }
    };
    let manifest_d = sha256(&manifest);
    let content = Arc::new(Content {
        fault,
        config,
        config_d,
        layer,
        layer_d: layer_d.clone(),
        manifest,
        manifest_d: manifest_d.clone(),
        count: AtomicU32::new(0),
        layer_gets: AtomicU32::new(0),
    });
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let log = Arc::new(Mutex::new(Vec::new()));
    let thread_log = log.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let content = content.clone();
            let log = thread_log.clone();
            std::thread::spawn(move || serve(stream, &content, &log));
        }
    });
    BadServer {
        addr,
        layer: layer_d,
        manifest: manifest_d,
        log,
    }
}

fn serve(stream: TcpStream, c: &Content, log: &Mutex<Vec<Seen>>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut out = stream;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or("").to_string();
        let path = parts.next().unwrap_or("").to_string();
        let mut range = None;
        let mut authorization = None;
        let mut length = 0usize;
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                if k.eq_ignore_ascii_case("range") {
                    range = Some(v.trim().to_string());
                }
                if k.eq_ignore_ascii_case("authorization") {
                    authorization = Some(v.trim().to_string());
                }
                if k.eq_ignore_ascii_case("content-length") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
        }
        // Request bodies (uploads, manifest PUTs) are read and discarded.
        if std::io::copy(&mut (&mut reader).take(length as u64), &mut std::io::sink()).ok()
            != Some(length as u64)
        {
            return;
        }
        log.lock().unwrap().push(Seen {
            method: method.clone(),
            path: path.clone(),
            range: range.clone(),
            authorization: authorization.clone(),
        });
        if c.fault == Fault::RedirectWithAuth && path.starts_with("/v2/") && authorization.is_none()
        {
            let challenge = [("WWW-Authenticate", "Basic realm=\"bad\"")];
            if !send(
                &mut out,
                "401 Unauthorized",
                &challenge,
                b"",
                method != "HEAD",
            ) {
                return;
            }
            continue;
        }
        if !respond(&mut out, c, &method, &path, range.as_deref()) {
            let _ = out.shutdown(Shutdown::Both);
            return;
        }
    }
}

/// Writes one response; `false` means the connection was cut on purpose.
fn respond(
    out: &mut TcpStream,
    c: &Content,
    method: &str,
    path: &str,
    range: Option<&str>,
) -> bool {
    let n = c.count.fetch_add(1, Ordering::SeqCst);
    match c.fault {
        Fault::RateLimited(k) if n < k => {
            return send(
                out,
                "429 Too Many Requests",
                &[("Retry-After", "1")],
                b"",
                true,
            )
        }
        Fault::Unavailable(k) if n < k => {
            return send(out, "503 Service Unavailable", &[], b"", true)
        }
        _ => {}
    }
    let head = method == "HEAD";
    let manifest_path = "/v2/bad/img/manifests/";
    let blob_path = "/v2/bad/img/blobs/";
    if path == "/v2/" {
        return send(out, "200 OK", &[], b"{}", !head);
    }
    if c.fault == Fault::Schema1 && path.starts_with(manifest_path) {
        let body = br#"{"schemaVersion":1,"name":"bad/img","tag":"1","fsLayers":[],"history":[]}"#;
        let ct = [(
            "Content-Type",
            "application/vnd.docker.distribution.manifest.v1+prettyjws",
        )];
        return send(out, "200 OK", &ct, body, !head);
    }
    if let Some(digest) = path.strip_prefix("/storage/") {
        if digest == c.layer_d {
            return send(out, "200 OK", &[], &c.layer, !head);
        }
        return send(out, "404 Not Found", &[], b"", !head);
    }
    if let Some(reply) = upload(out, c, method, path) {
        return reply;
    }
    if let Some(reference) = path.strip_prefix(manifest_path) {
        let lying = matches!(
            c.fault,
            Fault::WrongManifestDigestHeader | Fault::ManifestDigestHeaderIs(_)
        );
        if reference != "1" && reference != c.manifest_d && !lying {
            return send(out, "404 Not Found", &[], b"", !head);
        }
        let claimed = match c.fault {
            Fault::ManifestDigestHeaderIs(claimed) => claimed.to_string(),
            Fault::WrongManifestDigestHeader => sha256(b"something else"),
            _ => c.manifest_d.clone(),
        };
        return send(
            out,
            "200 OK",
            &[
                ("Content-Type", "application/vnd.oci.image.manifest.v1+json"),
                ("Docker-Content-Digest", &claimed),
            ],
            &c.manifest,
            !head,
        );
    }
    let Some(digest) = path.strip_prefix(blob_path) else {
        return send(out, "404 Not Found", &[], b"", !head);
    };
    if digest == c.config_d {
        return send(
            out,
            "200 OK",
            &[("Docker-Content-Digest", &c.config_d)],
            &c.config,
            !head,
        );
    }
    if digest != c.layer_d {
        return send(out, "404 Not Found", &[], b"", !head);
    }
    let mut layer = c.layer.clone();
    if c.fault == Fault::CorruptLayer {
        layer[1000] ^= 0xff;
    }
    let claimed = match c.fault {
        Fault::WrongBlobDigestHeader => sha256(b"wrong"),
        Fault::MalformedBlobDigestHeader => "sha256:wrong".to_string(),
        _ => c.layer_d.clone(),
    };
    if head {
        return send(
            out,
            "200 OK",
            &[("Docker-Content-Digest", &claimed)],
            &layer,
            false,
        );
    }
    if c.fault == Fault::RedirectWithAuth {
        let port = out.local_addr().unwrap().port();
        let location = format!("http://localhost:{port}/storage/{}", c.layer_d);
        return send(
            out,
            "307 Temporary Redirect",
            &[("Location", &location)],
            b"",
            true,
        );
    }
    if c.fault == Fault::SlowLayer {
        std::thread::sleep(std::time::Duration::from_millis(1500));
    }
    let first = c.layer_gets.fetch_add(1, Ordering::SeqCst) == 0;
    let breaks = match c.fault {
        Fault::AlwaysTruncated => true,
        Fault::ResetMidBody | Fault::IgnoreRange | Fault::WrongContentRange => first,
        _ => false,
    };
    let start = range
        .and_then(|r| r.strip_prefix("bytes="))
        .and_then(|r| r.trim_end_matches('-').parse::<usize>().ok());
    let (status, body, content_range) = match (start, c.fault) {
        (Some(s), Fault::ResetMidBody | Fault::AlwaysTruncated) if s < layer.len() => (
            "206 Partial Content",
            &layer[s..],
            Some(format!("bytes {s}-{}/{}", layer.len() - 1, layer.len())),
        ),
        (Some(_), Fault::WrongContentRange) => (
            "206 Partial Content",
            &layer[..],
            Some(format!("bytes 0-{}/{}", layer.len() - 1, layer.len())),
        ),
        _ => ("200 OK", &layer[..], None),
    };
    let mut headers = vec![("Docker-Content-Digest", claimed.as_str())];
    if let Some(cr) = &content_range {
        headers.push(("Content-Range", cr.as_str()));
    }
    if breaks {
        // Full Content-Length, half the bytes, then the connection goes away.
        let _ = write_head(out, status, &headers, body.len());
        let _ = out.write_all(&body[..body.len() / 2]);
        let _ = out.flush();
        return false;
    }
    send(out, status, &headers, body, true)
}

/// Answers the requests of a push: `POST` starts an upload session, `PATCH` takes a chunk, `PUT` ends
/// the session or stores a manifest (nothing is kept). `None` for any other request.
fn upload(out: &mut TcpStream, c: &Content, method: &str, path: &str) -> Option<bool> {
    let uploads = "/v2/bad/img/blobs/uploads/";
    let n = c.count.load(Ordering::SeqCst);
    let session = match c.fault {
        Fault::UploadLocationIs(location) => location.to_string(),
        _ => format!("{uploads}session-{n}"),
    };
    let location = [("Location", session.as_str())];
    match method {
        "POST" if path.starts_with(uploads) => {
            Some(send(out, "202 Accepted", &location, b"", true))
        }
        "PATCH" if path.starts_with(uploads) => {
            Some(send(out, "202 Accepted", &location, b"", true))
        }
        "PUT" if path.starts_with(uploads) => {
            let query = path.split_once('?').map_or("", |(_, q)| q);
            let asked = query
                .split('&')
                .find_map(|kv| kv.strip_prefix("digest="))
                .unwrap_or("")
                .replace("%3A", ":");
            let claimed = match c.fault {
                Fault::UploadDigestHeaderIs(claimed) => claimed.to_string(),
                _ => asked,
            };
            let headers = [("Docker-Content-Digest", claimed.as_str())];
            Some(send(out, "201 Created", &headers, b"", true))
        }
        "PUT" if path.starts_with("/v2/bad/img/manifests/") => {
            Some(send(out, "201 Created", &[], b"", true))
        }
        _ => None,
    }
}

fn write_head(
    out: &mut TcpStream,
    status: &str,
    headers: &[(&str, &str)],
    len: usize,
) -> std::io::Result<()> {
    let mut head = format!("HTTP/1.1 {status}\r\nContent-Length: {len}\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    out.write_all(head.as_bytes())
}

fn send(
    out: &mut TcpStream,
    status: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    with_body: bool,
) -> bool {
    if write_head(out, status, headers, body.len()).is_err() {
        return false;
    }
    if with_body && out.write_all(body).is_err() {
        return false;
    }
    out.flush().is_ok()
}
