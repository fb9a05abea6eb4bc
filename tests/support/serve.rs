//! `ocilayout serve` for the tests: started on a free loopback port (read back from its `--json`
//! startup line) and stopped with SIGTERM when the guard drops; and a raw HTTP/1.1 client that shows
//! exactly what the server sent, a connection cut short included.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::bin;

/// A running `ocilayout serve`.
pub struct Serve {
    /// `127.0.0.1:PORT`.
    pub addr: String,
    pub child: Child,
}

impl Serve {
    /// Starts `ocilayout serve DIR --addr 127.0.0.1:0 --json EXTRA...` and waits for its startup line.
    pub fn start(dir: &Path, extra: &[&str]) -> Serve {
        Serve::start_with_env(dir, extra, &[])
    }

    /// Like [`Serve::start`], with extra environment variables.
    pub fn start_with_env(dir: &Path, extra: &[&str], env: &[(&str, &Path)]) -> Serve {
        let mut child = Command::new(bin())
            .envs(env.iter().map(|(k, v)| (*k, *v)))
            .arg("serve")
            .arg(dir)
            .args(["--addr", "127.0.0.1:0", "--json"])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn ocilayout serve");
        let mut line = String::new();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        out.read_line(&mut line).unwrap();
        let v: serde_json::Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("startup line {line:?}: {e}"));
        assert_eq!(v["event"], "listening", "{line}");
        let addr = v["addr"].as_str().unwrap().to_string();
        // Keep reading so that -v request lines never fill the pipe.
        std::thread::spawn(move || {
            let mut sink = Vec::new();
            let _ = out.read_to_end(&mut sink);
        });
        Serve { addr, child }
    }

    /// `http://127.0.0.1:PORT` + path.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Descriptors the server has open now.
    pub fn fds(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.child.id()))
            .map(|d| d.count())
            .unwrap_or(0)
    }

    /// A memory figure of the server from `/proc/PID/status`, in kB: `VmRSS` now, `VmHWM` the peak.
    pub fn memory_kb(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or_else(|| panic!("no {field} in /proc status"))
    }

    /// Sends SIGTERM and waits; returns the exit code and how long the stop took.
    pub fn stop(&mut self) -> (Option<i32>, Duration) {
        let t = Instant::now();
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let status = self.child.wait().unwrap();
        (status.code(), t.elapsed())
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// One HTTP exchange as the client saw it.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    /// Header names lowercased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Whether the body had every byte `Content-Length` promised.
    pub complete: bool,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&self.body)))
    }

    /// The spec error code of an error body.
    pub fn code(&self) -> String {
        self.json()["errors"][0]["code"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

/// Sends one request on a new connection (`Connection: close`) and reads the whole answer.
pub fn request(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Reply {
    request_slowly(addr, method, path, headers, body, |_| {})
}

/// Like [`request`], calling `each` with the body bytes read so far after every read, so a test can
/// act while the transfer is in progress.
pub fn request_slowly(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    mut each: impl FnMut(usize),
) -> Reply {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if !body.is_empty() || matches!(method, "PUT" | "POST" | "PATCH") {
        req.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut r = BufReader::new(s);
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    if line.is_empty() {
        // The server closed the connection without an answer.
        return Reply {
            status: 0,
            headers: Vec::new(),
            body: Vec::new(),
            complete: false,
        };
    }
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("status line {line:?}"));
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        r.read_line(&mut h).unwrap();
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':').unwrap();
        headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
    }
    let length: Option<usize> = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .map(|(_, v)| v.parse().unwrap());
    let mut body = Vec::new();
    let mut buf = [0u8; 64 << 10];
    if method != "HEAD" && !matches!(status, 204 | 304) {
        loop {
            match r.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    body.extend_from_slice(&buf[..n]);
                    each(body.len());
                    if length.is_some_and(|l| body.len() >= l) {
                        break;
                    }
                }
            }
        }
    }
    let complete = method == "HEAD" || length.is_none_or(|l| body.len() == l);
    Reply {
        status,
        headers,
        body,
        complete,
    }
}

/// `GET path` with extra headers.
pub fn get(addr: &str, path: &str, headers: &[(&str, &str)]) -> Reply {
    request(addr, "GET", path, headers, b"")
}
