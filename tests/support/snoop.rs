//! Misbehaving servers for the transport-trust tests, std only, a thread per connection: a
//! scriptable HTTP/1.1 server ([`Snoop`]) that logs every request (with its `Authorization`) and
//! answers what a handler says, slowly if asked; a relay ([`SniffRelay`]) standing in front of a TLS
//! registry that passes TLS through and logs any plain-HTTP request sent to the same port (what a
//! client that downgrades https to http would send in clear text); and a SOCKS5 relay
//! ([`Socks5`]) that records the destinations it was asked for.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One request a server saw.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub authorization: Option<String>,
}

/// What to answer.
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Send the body one byte per this delay.
    pub drip: Option<Duration>,
    /// Wait this long before answering at all.
    pub delay: Option<Duration>,
}

impl Reply {
    pub fn new(status: u16) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            drip: None,
            delay: None,
        }
    }

    pub fn header(mut self, k: &str, v: &str) -> Reply {
        self.headers.push((k.to_string(), v.to_string()));
        self
    }

    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Reply {
        self.body = body.into();
        self
    }

    /// `401` with a Basic challenge.
    pub fn basic_challenge() -> Reply {
        Reply::new(401).header("WWW-Authenticate", "Basic realm=\"snoop\"")
    }
}

type Handler = dyn Fn(&Seen) -> Reply + Send + Sync;

/// A running [`Snoop`]; it lives as long as the test process.
pub struct Snoop {
    /// `127.0.0.1:PORT`.
    pub addr: String,
    log: Arc<Mutex<Vec<Seen>>>,
}

impl Snoop {
    pub fn start(handler: impl Fn(&Seen) -> Reply + Send + Sync + 'static) -> Snoop {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let log = Arc::new(Mutex::new(Vec::new()));
        let (thread_log, handler): (_, Arc<Handler>) = (log.clone(), Arc::new(handler));
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (log, handler) = (thread_log.clone(), handler.clone());
                std::thread::spawn(move || serve(stream, &log, &*handler));
            }
        });
        Snoop { addr, log }
    }

    pub fn log(&self) -> Vec<Seen> {
        self.log.lock().unwrap().clone()
    }

    /// The `Authorization` values any request carried.
    pub fn authorizations(&self) -> Vec<String> {
        self.log()
            .into_iter()
            .filter_map(|s| s.authorization)
            .collect()
    }
}

/// Reads a request head: the request line and headers; `None` at end of stream.
fn read_head(reader: &mut impl BufRead) -> Option<(Seen, usize)> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let path = parts.next().unwrap_or("").to_string();
    let (mut authorization, mut length) = (None, 0usize);
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).ok()? == 0 {
            return None;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            if k.eq_ignore_ascii_case("authorization") {
                authorization = Some(v.trim().to_string());
            }
            if k.eq_ignore_ascii_case("content-length") {
                length = v.trim().parse().unwrap_or(0);
            }
        }
    }
    Some((
        Seen {
            method,
            path,
            authorization,
        },
        length,
    ))
}

fn serve(stream: TcpStream, log: &Mutex<Vec<Seen>>, handler: &Handler) {
    // The head and the body are separate writes: without this, each answer on a kept-alive
    // connection waits out the client's delayed ACK (about 40 ms).
    let _ = stream.set_nodelay(true);
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut out = stream;
    while let Some((seen, length)) = read_head(&mut reader) {
        if std::io::copy(&mut (&mut reader).take(length as u64), &mut std::io::sink()).ok()
            != Some(length as u64)
        {
            return;
        }
        log.lock().unwrap().push(seen.clone());
        let reply = handler(&seen);
        if let Some(d) = reply.delay {
            std::thread::sleep(d);
        }
        let mut head = format!("HTTP/1.1 {} Snoop\r\n", reply.status);
        for (k, v) in &reply.headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        if !reply
            .headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        {
            head.push_str(&format!("Content-Length: {}\r\n", reply.body.len()));
        }
        head.push_str("\r\n");
        if out.write_all(head.as_bytes()).is_err() {
            return;
        }
        if seen.method == "HEAD" {
            continue;
        }
        match reply.drip {
            None => {
                if out.write_all(&reply.body).is_err() {
                    return;
                }
            }
            Some(every) => {
                for b in &reply.body {
                    std::thread::sleep(every);
                    if out.write_all(&[*b]).is_err() {
                        return;
                    }
                }
            }
        }
    }
}

/// A relay in front of a TLS server: TLS connections pass through untouched; a connection that
/// starts in plain HTTP is logged (with its `Authorization`) and answered `400`.
pub struct SniffRelay {
    /// `127.0.0.1:PORT`.
    pub addr: String,
    plain: Arc<Mutex<Vec<Seen>>>,
    upstream: Arc<Mutex<String>>,
}

impl SniffRelay {
    /// A relay whose upstream is set later ([`SniffRelay::to`]), so the upstream's configuration
    /// can name the relay.
    pub fn start() -> SniffRelay {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let plain = Arc::new(Mutex::new(Vec::new()));
        let upstream = Arc::new(Mutex::new(String::new()));
        let (log, up) = (plain.clone(), upstream.clone());
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let (log, up) = (log.clone(), up.lock().unwrap().clone());
                std::thread::spawn(move || sniff(client, &up, &log));
            }
        });
        SniffRelay {
            addr,
            plain,
            upstream,
        }
    }

    /// Sets the TLS server connections are passed to.
    pub fn to(&self, upstream: &str) {
        *self.upstream.lock().unwrap() = upstream.to_string();
    }

    /// The plain-HTTP requests that arrived.
    pub fn plain(&self) -> Vec<Seen> {
        self.plain.lock().unwrap().clone()
    }
}

fn sniff(client: TcpStream, upstream: &str, log: &Mutex<Vec<Seen>>) {
    let mut first = [0u8; 1];
    if client.peek(&mut first).unwrap_or(0) == 0 {
        return;
    }
    if first[0] == 0x16 {
        // A TLS handshake record: pass it through.
        let Ok(server) = TcpStream::connect(upstream) else {
            return;
        };
        pipe(client, server);
        return;
    }
    let mut reader = BufReader::new(client.try_clone().unwrap());
    let mut out = client;
    while let Some((seen, _)) = read_head(&mut reader) {
        log.lock().unwrap().push(seen);
        let _ = out.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
    }
}

/// Copies bytes both ways until either side closes.
fn pipe(a: TcpStream, b: TcpStream) {
    let (mut a2, mut b2) = (a.try_clone().unwrap(), b.try_clone().unwrap());
    let t = std::thread::spawn(move || {
        let mut a = a;
        let mut b = b;
        let _ = std::io::copy(&mut a, &mut b);
        let _ = b.shutdown(Shutdown::Write);
    });
    let _ = std::io::copy(&mut b2, &mut a2);
    let _ = a2.shutdown(Shutdown::Write);
    let _ = t.join();
}

/// A SOCKS5 relay (no authentication; CONNECT by IPv4 address or domain name) that records the
/// `host:port` each connection asked for.
pub struct Socks5 {
    /// `127.0.0.1:PORT`.
    pub addr: String,
    asked: Arc<Mutex<Vec<String>>>,
}

impl Socks5 {
    pub fn start() -> Socks5 {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let asked = Arc::new(Mutex::new(Vec::new()));
        let log = asked.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let log = log.clone();
                std::thread::spawn(move || {
                    let _ = socks5(client, &log);
                });
            }
        });
        Socks5 { addr, asked }
    }

    pub fn asked(&self) -> Vec<String> {
        self.asked.lock().unwrap().clone()
    }
}

fn socks5(mut client: TcpStream, log: &Mutex<Vec<String>>) -> std::io::Result<()> {
    let mut head = [0u8; 2];
    client.read_exact(&mut head)?;
    let mut methods = vec![0u8; usize::from(head[1])];
    client.read_exact(&mut methods)?;
    // Version 5, no authentication.
    client.write_all(&[5, 0])?;
    let mut req = [0u8; 4];
    client.read_exact(&mut req)?;
    let host = match req[3] {
        1 => {
            let mut ip = [0u8; 4];
            client.read_exact(&mut ip)?;
            format!("{}.{}.{}.{}", ip[0], ip[1], ip[2], ip[3])
        }
        3 => {
            let mut len = [0u8; 1];
            client.read_exact(&mut len)?;
            let mut name = vec![0u8; usize::from(len[0])];
            client.read_exact(&mut name)?;
            String::from_utf8_lossy(&name).into_owned()
        }
        _ => {
            client.write_all(&[5, 8, 0, 1, 0, 0, 0, 0, 0, 0])?;
            return Ok(());
        }
    };
    let mut port = [0u8; 2];
    client.read_exact(&mut port)?;
    let target = format!("{host}:{}", u16::from_be_bytes(port));
    log.lock().unwrap().push(target.clone());
    let Ok(server) = TcpStream::connect(&target) else {
        client.write_all(&[5, 5, 0, 1, 0, 0, 0, 0, 0, 0])?;
        return Ok(());
    };
    client.write_all(&[5, 0, 0, 1, 127, 0, 0, 1, 0, 0])?;
    pipe(client, server);
    Ok(())
}
