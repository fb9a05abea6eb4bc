//! Bearer tokens (the distribution token spec and its OAuth2 form): asking a challenge's realm for a
//! token covering some scopes, and how long the answer stays good.
//!
//! With a user name and password (or nothing) the token is a `GET realm?service=..&scope=..` with
//! Basic credentials; with an identity token it is a `POST` of `grant_type=refresh_token`.

use std::io::Read;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Deserialize;
use ureq::http::{self, Method};
use ureq::Agent;

use crate::registry::transport::{distribution_message, redact};

/// Seconds a token lives when the server does not say (the token spec's default).
const DEFAULT_LIFETIME: u64 = 60;

/// A token and the instant after which it is no longer offered (a little before it expires).
#[derive(Clone)]
pub(crate) struct Token {
    pub value: String,
    pub fresh_until: Instant,
}

impl Token {
    pub fn is_fresh(&self) -> bool {
        Instant::now() < self.fresh_until
    }
}

/// What the token request presents.
pub(crate) enum Grant<'a> {
    Anonymous,
    Basic {
        username: &'a str,
        password: &'a str,
    },
    Refresh {
        token: &'a str,
    },
}

/// Why no token came back.
pub(crate) enum Failure {
    /// The token server answered 401 or 403: the credentials (or their absence) were refused.
    Refused(String),
    /// Anything else: a connection error, another status, an answer without a token.
    Other(String),
}

#[derive(Deserialize)]
struct Answer {
    token: Option<String>,
    access_token: Option<String>,
    expires_in: Option<u64>,
    issued_at: Option<String>,
}

/// Asks `realm` for a token for `scopes` (`repository:a/b:pull`, ...).
pub(crate) fn fetch(
    agent: &Agent,
    realm: &str,
    service: Option<&str>,
    scopes: &[String],
    grant: &Grant,
) -> Result<Token, Failure> {
    let mut params: Vec<(&str, &str)> = Vec::new();
    if let Some(s) = service {
        params.push(("service", s));
    }
    let joined = scopes.join(" ");
    let request = match grant {
        Grant::Refresh { token } => {
            params.extend([
                ("grant_type", "refresh_token"),
                ("refresh_token", token),
                ("client_id", "ocilayout"),
            ]);
            if !scopes.is_empty() {
                params.push(("scope", &joined));
            }
            http::Request::builder()
                .method(Method::POST)
                .uri(realm)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(form(&params).into_bytes())
        }
        Grant::Anonymous | Grant::Basic { .. } => {
            if let Grant::Basic { username, .. } = grant {
                params.push(("account", username));
            }
            for s in scopes {
                params.push(("scope", s));
            }
            let sep = if realm.contains('?') { '&' } else { '?' };
            let mut b = http::Request::builder()
                .method(Method::GET)
                .uri(format!("{realm}{sep}{}", form(&params)));
            if let Grant::Basic { username, password } = grant {
                b = b.header("authorization", super::basic(username, password));
            }
            b.body(Vec::new())
        }
    }
    .map_err(|e| Failure::Other(e.to_string()))?;

    let resp = agent
        .run(request)
        .map_err(|e| Failure::Other(e.to_string()))?;
    let status = resp.status();
    let mut body = Vec::new();
    resp.into_body()
        .into_reader()
        .take(1 << 20)
        .read_to_end(&mut body)
        .map_err(|e| Failure::Other(e.to_string()))?;
    if !status.is_success() {
        let reason = distribution_message(&body)
            .unwrap_or_else(|| status.canonical_reason().unwrap_or("").to_string());
        let said = format!("{} {reason}", status.as_u16())
            .trim_end()
            .to_string();
        return Err(
            if status == http::StatusCode::UNAUTHORIZED || status == http::StatusCode::FORBIDDEN {
                Failure::Refused(said)
            } else {
                Failure::Other(format!("{}: {said}", redact(realm)))
            },
        );
    }
    let answer: Answer = serde_json::from_slice(&body)
        .map_err(|_| Failure::Other("the token answer is not JSON".into()))?;
    let value = answer
        .token
        .or(answer.access_token)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| Failure::Other("the token answer has no token".into()))?;
    Ok(Token {
        value,
        fresh_until: fresh_until(answer.expires_in, answer.issued_at.as_deref()),
    })
}

/// When to stop offering a token: `issued_at + expires_in` (now, when `issued_at` is missing, in
/// the future or unreadable), less a margin of a fifth of the lifetime, at most 10 seconds.
fn fresh_until(expires_in: Option<u64>, issued_at: Option<&str>) -> Instant {
    let lifetime = Duration::from_secs(expires_in.filter(|s| *s > 0).unwrap_or(DEFAULT_LIFETIME));
    let now = SystemTime::now();
    let age = issued_at
        .and_then(unix_seconds)
        .and_then(|issued| {
            let issued = UNIX_EPOCH + Duration::from_secs(issued);
            now.duration_since(issued).ok()
        })
        .unwrap_or_default();
    let margin = (lifetime / 5).min(Duration::from_secs(10));
    let left = lifetime.saturating_sub(age).saturating_sub(margin);
    Instant::now() + left
}

/// Seconds since the epoch of an RFC 3339 time (`2024-05-01T12:00:00.5+02:00`), if it is one.
fn unix_seconds(s: &str) -> Option<u64> {
    let num = |a: usize, b: usize| s.get(a..b)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    let (h, mi, sec) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
    if s.get(4..5)? != "-" || !matches!(s.get(10..11)?, "T" | "t" | " ") {
        return None;
    }
    let mut rest = &s[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        rest = frac.trim_start_matches(|c: char| c.is_ascii_digit());
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.get(..1)? {
                "+" => 1,
                "-" => -1,
                _ => return None,
            };
            let oh = rest.get(1..3)?.parse::<i64>().ok()?;
            let om = rest.get(4..6)?.parse::<i64>().ok()?;
            sign * (oh * 3600 + om * 60)
        }
    };
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u64::try_from(days * 86_400 + h * 3600 + mi * 60 + sec - offset).ok()
}

/// `application/x-www-form-urlencoded` (also a URL query): unreserved characters kept, the rest
/// percent-encoded, spaces too.
fn form(params: &[(&str, &str)]) -> String {
    params
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_times_parse() {
        let cases = [
            ("1970-01-01T00:00:00Z", Some(0)),
            ("2024-02-29T12:34:56Z", Some(1_709_210_096)),
            ("2024-02-29T12:34:56.123456789Z", Some(1_709_210_096)),
            ("2024-02-29T14:34:56+02:00", Some(1_709_210_096)),
            ("2024-02-29T10:34:56-02:00", Some(1_709_210_096)),
            ("2024-02-29", None),
            ("yesterday", None),
        ];
        for (s, want) in cases {
            assert_eq!(unix_seconds(s), want, "{s}");
        }
    }

    #[test]
    fn lifetimes_keep_a_margin() {
        let now = Instant::now();
        let until = fresh_until(Some(300), None);
        assert!(until > now + Duration::from_secs(285) && until <= now + Duration::from_secs(291));
        let until = fresh_until(None, None);
        assert!(until > now + Duration::from_secs(45) && until <= now + Duration::from_secs(51));
        let until = fresh_until(Some(2), None);
        assert!(until <= now + Duration::from_millis(1700));
        // Issued long ago: already stale.
        assert!(fresh_until(Some(60), Some("2001-01-01T00:00:00Z")) <= Instant::now());
    }

    #[test]
    fn forms_encode() {
        assert_eq!(
            form(&[
                ("scope", "repository:a/b:pull,push repository:c:pull"),
                ("service", "x y")
            ]),
            "scope=repository%3Aa%2Fb%3Apull%2Cpush%20repository%3Ac%3Apull&service=x%20y"
        );
    }
}
