//! Proxies for the auth tests, std only, threads per connection: a [`Forwarder`] that stands in
//! front of a registry, logs every request it passes on and can break one transfer on purpose; and
//! an HTTP CONNECT proxy ([`ConnectProxy`], what `HTTPS_PROXY` points at) that records the tunnels
//! asked of it and the `Proxy-Authorization` they came with.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One request a forwarder passed on (in the order they went on).
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub range: Option<String>,
    pub content_range: Option<String>,
    pub authorization: Option<String>,
    pub proxy_authorization: Option<String>,
    /// `Content-Length`.
    pub length: u64,
}

/// What a forwarder does to the `GET` requests whose path contains `path`.
#[derive(Clone, Debug)]
pub enum Fault {
    None,
    /// The first one answered `200` has its response cut (both directions closed) after `after`
    /// bytes, headers included; the next one waits `hold` before it is passed on.
    Cut {
        path: String,
        after: u64,
        hold: Duration,
    },
    /// The first one waits `hold` before it is passed on.
    Hold {
        path: String,
        hold: Duration,
    },
    /// Not a fault, a slow network: every request with a body waits this long before it goes on.
    SlowBodies(Duration),
}

/// Where a forwarder's fault stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// Waiting for the request.
    Armed,
    /// The response being cut is under way.
    Cutting,
    /// Cut; the next request will be held.
    Cut,
    /// Everything done.
    Done,
}

struct Shared {
    upstream: String,
    fault: Fault,
    log: Mutex<Vec<Seen>>,
    stage: Mutex<Stage>,
}

impl Shared {
    /// For a request about to go on: how long to hold it, and after how many bytes to cut its
    /// response.
    fn decide(&self, seen: &Seen) -> (Option<Duration>, Option<u64>) {
        let mut stage = self.stage.lock().unwrap();
        let matches = |path: &str| seen.method == "GET" && seen.path.contains(path);
        match &self.fault {
            Fault::Cut { path, after, hold } if matches(path) => match *stage {
                Stage::Armed => {
                    *stage = Stage::Cutting;
                    (None, Some(*after))
                }
                Stage::Cut => {
                    *stage = Stage::Done;
                    (Some(*hold), None)
                }
                _ => (None, None),
            },
            Fault::Hold { path, hold } if matches(path) && *stage == Stage::Armed => {
                *stage = Stage::Done;
                (Some(*hold), None)
            }
            Fault::SlowBodies(pace) if seen.length > 0 => (Some(*pace), None),
            _ => (None, None),
        }
    }
}

/// A TCP forwarder on `127.0.0.1:0` in front of `upstream`: clients talk to it as if it were the
/// registry. It reads request heads (and passes `Content-Length` bodies through untouched) so it
/// can log them and apply its [`Fault`]; responses stream back as they come.
pub struct Forwarder {
    /// `127.0.0.1:PORT`.
    pub addr: String,
    shared: Arc<Shared>,
}

impl Forwarder {
    pub fn start(upstream: &str, fault: Fault) -> Forwarder {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let shared = Arc::new(Shared {
            upstream: upstream.to_string(),
            fault,
            log: Mutex::default(),
            stage: Mutex::new(Stage::Armed),
        });
        let accepting = shared.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let shared = accepting.clone();
                std::thread::spawn(move || forward(conn, &shared));
            }
        });
        Forwarder { addr, shared }
    }

    /// `127.0.0.1:PORT/<path>`.
    pub fn at(&self, path: &str) -> String {
        format!("{}/{path}", self.addr)
    }

    /// Every request passed on so far.
    pub fn log(&self) -> Vec<Seen> {
        self.shared.log.lock().unwrap().clone()
    }

    pub fn stage(&self) -> Stage {
        *self.shared.stage.lock().unwrap()
    }
}

fn forward(client: TcpStream, shared: &Arc<Shared>) {
    let Ok(upstream) = TcpStream::connect(&shared.upstream) else {
        return;
    };
    // Set by the request side before a request whose response is to be cut goes on.
    let cut_after: Arc<Mutex<Option<u64>>> = Arc::default();
    let (c2, u2, cut2, shared2) = (
        client.try_clone().unwrap(),
        upstream.try_clone().unwrap(),
        cut_after.clone(),
        shared.clone(),
    );
    let responses = std::thread::spawn(move || pass_responses(u2, c2, &cut2, &shared2));
    pass_requests(client, upstream, &cut_after, shared);
    let _ = responses.join();
}

fn pass_requests(
    client: TcpStream,
    mut upstream: TcpStream,
    cut_after: &Mutex<Option<u64>>,
    shared: &Shared,
) {
    let mut reader = BufReader::new(client);
    while let Some((head, seen)) = read_head(&mut reader) {
        let length = seen.length;
        let (hold, cut) = shared.decide(&seen);
        if let Some(d) = hold {
            std::thread::sleep(d);
        }
        if cut.is_some() {
            *cut_after.lock().unwrap() = cut;
        }
        shared.log.lock().unwrap().push(seen);
        if upstream.write_all(&head).is_err() {
            break;
        }
        let copied = std::io::copy(&mut (&mut reader).take(length), &mut upstream);
        if copied.map_or(true, |n| n < length) {
            break;
        }
    }
    let _ = upstream.shutdown(Shutdown::Write);
}

fn pass_responses(
    mut upstream: TcpStream,
    mut client: TcpStream,
    cut_after: &Mutex<Option<u64>>,
    shared: &Shared,
) {
    let mut buf = vec![0u8; 64 << 10];
    let mut counted = 0u64;
    loop {
        let n = match upstream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let mut armed = cut_after.lock().unwrap();
        if counted == 0 && armed.is_some() && !buf[..n].starts_with(b"HTTP/1.1 200") {
            // Not the body to cut (a 401, say): wait for the request that gets it.
            *armed = None;
            *shared.stage.lock().unwrap() = Stage::Armed;
        }
        if let Some(after) = *armed {
            if counted + n as u64 >= after {
                let keep = (after - counted) as usize;
                let _ = client.write_all(&buf[..keep]);
                let _ = client.shutdown(Shutdown::Both);
                let _ = upstream.shutdown(Shutdown::Both);
                *shared.stage.lock().unwrap() = Stage::Cut;
                return;
            }
            counted += n as u64;
        }
        drop(armed);
        if client.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = client.shutdown(Shutdown::Write);
}

/// Reads one request head: its raw bytes and what it says. `None` at the end of the connection.
fn read_head(reader: &mut impl BufRead) -> Option<(Vec<u8>, Seen)> {
    let mut head = Vec::new();
    let mut first = String::new();
    if reader.read_line(&mut first).ok()? == 0 {
        return None;
    }
    head.extend_from_slice(first.as_bytes());
    let mut parts = first.split_whitespace();
    let mut seen = Seen {
        method: parts.next().unwrap_or("").to_string(),
        path: parts.next().unwrap_or("").to_string(),
        range: None,
        content_range: None,
        authorization: None,
        proxy_authorization: None,
        length: 0,
    };
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        head.extend_from_slice(line.as_bytes());
        if line.trim().is_empty() {
            break;
        }
        let (name, value) = line.split_once(':').unwrap_or((&line, ""));
        let value = value.trim().to_string();
        match name.trim().to_ascii_lowercase().as_str() {
            "range" => seen.range = Some(value),
            "content-range" => seen.content_range = Some(value),
            "authorization" => seen.authorization = Some(value),
            "proxy-authorization" => seen.proxy_authorization = Some(value),
            "content-length" => seen.length = value.parse().unwrap_or(0),
            _ => {}
        }
    }
    Some((head, seen))
}

/// One tunnel asked of a [`ConnectProxy`].
#[derive(Clone, Debug)]
pub struct Connect {
    /// `host:port` of the `CONNECT`.
    pub target: String,
    pub proxy_authorization: Option<String>,
}

/// An HTTP proxy on `127.0.0.1:0` that only does `CONNECT`: it opens the tunnel, or, when
/// refusing, answers `403`. Every `CONNECT` is recorded either way.
pub struct ConnectProxy {
    /// `127.0.0.1:PORT`.
    pub addr: String,
    seen: Arc<Mutex<Vec<Connect>>>,
}

impl ConnectProxy {
    pub fn start(refuse: bool) -> ConnectProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let seen: Arc<Mutex<Vec<Connect>>> = Arc::default();
        let log = seen.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let log = log.clone();
                std::thread::spawn(move || tunnel(conn, refuse, &log));
            }
        });
        ConnectProxy { addr, seen }
    }

    /// Every `CONNECT` so far.
    pub fn seen(&self) -> Vec<Connect> {
        self.seen.lock().unwrap().clone()
    }
}

/// A loopback address nothing listens on (bound, then let go).
pub fn closed_port() -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().to_string()
}

fn tunnel(client: TcpStream, refuse: bool, log: &Mutex<Vec<Connect>>) {
    let _ = client.set_read_timeout(Some(Duration::from_secs(30)));
    let mut reader = BufReader::new(client.try_clone().unwrap());
    let Some((_, seen)) = read_head(&mut reader) else {
        return;
    };
    let _ = client.set_read_timeout(None);
    let mut client = client;
    let answer = |c: &mut TcpStream, status: &str| {
        let _ = write!(
            c,
            "HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
    };
    if seen.method != "CONNECT" {
        answer(&mut client, "405 Method Not Allowed");
        return;
    }
    log.lock().unwrap().push(Connect {
        target: seen.path.clone(),
        proxy_authorization: seen.proxy_authorization.clone(),
    });
    if refuse {
        answer(&mut client, "403 Forbidden");
        return;
    }
    let Ok(mut upstream) = TcpStream::connect(&seen.path) else {
        answer(&mut client, "502 Bad Gateway");
        return;
    };
    let _ = client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n");
    // Bytes the client sent after the head (none, normally: TLS waits for the 200).
    let early = reader.buffer().to_vec();
    let _ = upstream.write_all(&early);
    let (mut c2, mut u2) = (client.try_clone().unwrap(), upstream.try_clone().unwrap());
    let back = std::thread::spawn(move || {
        let _ = std::io::copy(&mut u2, &mut c2);
        let _ = c2.shutdown(Shutdown::Write);
    });
    let _ = std::io::copy(&mut client, &mut upstream);
    let _ = upstream.shutdown(Shutdown::Write);
    let _ = back.join();
}
