//! A token server for the registry's `auth: token` mode, on `127.0.0.1:0`: it checks Basic
//! credentials (`GET`) or a refresh token (`POST grant_type=refresh_token`) and answers with a JWT
//! signed RS256 by a key whose certificate the registry trusts (`x5c` in the header). What it
//! issued is logged; it can be told to refuse (at once, or once it has issued some tokens), to
//! issue tokens the registry soon rejects while claiming they last an hour, or to grant less than
//! asked (only `pull`) for its first tokens.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;

use crate::support::tls::Signer;

pub const USER: &str = "joe";
pub const PASSWORD: &str = "s3cret-pw";
pub const REFRESH_TOKEN: &str = "refresh-7e1f0c";
pub const SERVICE: &str = "ocilayout-test";
pub const ISSUER: &str = "ocilayout-test-issuer";

/// The registry accepts a token up to 60 s past its `exp`.
const REGISTRY_LEEWAY: i64 = 60;

/// One token handed out.
#[derive(Clone, Debug)]
pub struct Issued {
    /// `basic` or `refresh`.
    pub grant: String,
    pub scopes: Vec<String>,
    /// What the token grants, as scopes: `scopes`, or less when the server is stingy.
    pub granted: Vec<String>,
    pub token: String,
}

/// How the server behaves, changeable while it runs.
pub struct Behaviour {
    /// Refuse every request with 401.
    pub refuse: bool,
    /// Refuse every request with 401 once this many tokens were issued.
    pub refuse_after: Option<usize>,
    /// The first this many tokens grant only `pull`, whatever they asked for.
    pub pull_only: usize,
    /// Seconds the registry accepts a token for, counted from its issue: at most this, and more
    /// than this less one (`exp` is in whole seconds).
    pub lifetime: i64,
    /// The `expires_in` claimed to the client.
    pub expires_in: u64,
    pub issued: Vec<Issued>,
}

pub struct TokenServer {
    /// `http://127.0.0.1:PORT/token`.
    pub realm: String,
    pub state: Arc<Mutex<Behaviour>>,
}

impl TokenServer {
    pub fn start(signer: Signer) -> TokenServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let realm = format!("http://{}/token", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(Behaviour {
            refuse: false,
            refuse_after: None,
            pull_only: 0,
            lifetime: 300,
            expires_in: 300,
            issued: Vec::new(),
        }));
        let shared = state.clone();
        let signer = Arc::new(signer);
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let (state, signer) = (shared.clone(), signer.clone());
                std::thread::spawn(move || serve(conn, &state, &signer));
            }
        });
        TokenServer { realm, state }
    }

    /// The registry configuration's `auth:` section for this server.
    pub fn registry_auth(&self, signer_cert: &std::path::Path) -> String {
        format!(
            "auth:\n  token:\n    realm: {}\n    service: {SERVICE}\n    issuer: {ISSUER}\n    \
             rootcertbundle: {}\n",
            self.realm,
            signer_cert.display()
        )
    }

    pub fn issued(&self) -> Vec<Issued> {
        self.state.lock().unwrap().issued.clone()
    }
}

fn serve(conn: TcpStream, state: &Mutex<Behaviour>, signer: &Signer) {
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let target = parts.next().unwrap_or("").to_string();
    let mut authorization = None;
    let mut length = 0usize;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
            break;
        }
        let (name, value) = h.split_once(':').unwrap_or((&h, ""));
        match name.trim().to_ascii_lowercase().as_str() {
            "authorization" => authorization = Some(value.trim().to_string()),
            "content-length" => length = value.trim().parse().unwrap_or(0),
            _ => {}
        }
    }
    let mut body = vec![0u8; length];
    let _ = reader.read_exact(&mut body);
    let query = target.split_once('?').map_or("", |(_, q)| q).to_string();

    let (grant, scopes): (Option<&str>, Vec<String>) = if method == "POST" {
        let form = parse_form(&String::from_utf8_lossy(&body));
        let ok = get(&form, "grant_type") == Some("refresh_token")
            && get(&form, "refresh_token") == Some(REFRESH_TOKEN)
            && get(&form, "service") == Some(SERVICE);
        let scopes = get(&form, "scope")
            .unwrap_or("")
            .split_whitespace()
            .map(str::to_string)
            .collect();
        (ok.then_some("refresh"), scopes)
    } else {
        let form = parse_form(&query);
        let expected = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"))
        );
        let ok = authorization.as_deref() == Some(expected.as_str())
            && get(&form, "service") == Some(SERVICE);
        let scopes = form
            .iter()
            .filter(|(k, _)| k == "scope")
            .map(|(_, v)| v.clone())
            .collect();
        (ok.then_some("basic"), scopes)
    };
    let mut st = state.lock().unwrap();
    let exhausted = st.refuse_after.is_some_and(|n| st.issued.len() >= n);
    let (status, json) = match grant {
        Some(grant) if !st.refuse && !exhausted => {
            let granted: Vec<String> = if st.issued.len() < st.pull_only {
                scopes.iter().map(|s| pull_only(s)).collect()
            } else {
                scopes.clone()
            };
            let token = jwt(signer, &granted, st.lifetime);
            st.issued.push(Issued {
                grant: grant.to_string(),
                scopes,
                granted,
                token: token.clone(),
            });
            (
                "200 OK",
                serde_json::json!({"token": token, "access_token": token, "expires_in": st.expires_in})
                    .to_string(),
            )
        }
        _ => (
            "401 Unauthorized",
            r#"{"errors":[{"code":"UNAUTHORIZED","message":"access denied"}]}"#.to_string(),
        ),
    };
    drop(st);
    let mut conn = conn;
    let _ = write!(
        conn,
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{json}",
        json.len()
    );
}

/// `repository:a:pull,push` → `repository:a:pull`.
fn pull_only(scope: &str) -> String {
    match scope.rsplit_once(':') {
        Some((resource, actions)) if actions.split(',').any(|a| a == "pull") => {
            format!("{resource}:pull")
        }
        Some((resource, _)) => format!("{resource}:"),
        None => scope.to_string(),
    }
}

fn get<'a>(form: &'a [(String, String)], key: &str) -> Option<&'a str> {
    form.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

fn parse_form(s: &str) -> Vec<(String, String)> {
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
                out.push(u8::from_str_radix(hex, 16).unwrap());
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap()
}

/// A JWT granting `scopes` (`repository:NAME:ACTIONS`), accepted by the registry for `lifetime`
/// seconds.
fn jwt(signer: &Signer, scopes: &[String], lifetime: i64) -> String {
    let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let access: Vec<serde_json::Value> = scopes
        .iter()
        .filter_map(|s| {
            let (kind, rest) = s.split_once(':')?;
            let (name, actions) = rest.rsplit_once(':')?;
            Some(serde_json::json!({
                "type": kind,
                "name": name,
                "actions": actions.split(',').collect::<Vec<_>>(),
            }))
        })
        .collect();
    static SERIAL: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let jti = SERIAL.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let header = serde_json::json!({
        "typ": "JWT",
        "alg": "RS256",
        "x5c": [base64::engine::general_purpose::STANDARD.encode(&signer.cert_der)],
    });
    let claims = serde_json::json!({
        "iss": ISSUER,
        "sub": USER,
        "aud": SERVICE,
        "exp": now + lifetime - REGISTRY_LEEWAY,
        "nbf": now - 10,
        "iat": now,
        "jti": format!("token-{jti}"),
        "access": access,
    });
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let signature = signer.sign(input.as_bytes());
    format!("{input}.{}", b64(&signature))
}
