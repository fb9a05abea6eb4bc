//! Bearer tokens (the distribution token spec and its OAuth2 form): asking a challenge's realm for a
//! token covering some scopes, and how long the answer stays good.
//!
//! With a user name and password (or nothing) the token is a `GET realm?service=..&scope=..` with
//! Basic credentials; with an identity token it is a `POST` of `grant_type=refresh_token`.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Deserialize;

use crate::registry::exchange::{Call, Exchange, Method, Redacted};
use crate::registry::origin::redact;
use crate::registry::status::distribution_message;

/// Seconds a token lives when the server does not say (the token spec's default).
const DEFAULT_LIFETIME: u64 = 60;

/// The longest lifetime believed: a server may say anything, and a token is cheap to renew.
const MAX_LIFETIME: u64 = 24 * 3600;

/// A token and the instant after which it is no longer offered (a little before it expires).
#[derive(Clone)]
pub(crate) struct Token {
    pub value: String,
    pub fresh_until: Instant,
}

impl Token {
    pub(crate) fn is_fresh(&self) -> bool {
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
    expires_in: Option<serde_json::Value>,
    issued_at: Option<serde_json::Value>,
}

/// Asks `realm` for a token for `scopes` (`repository:a/b:pull`, ...), through the client's one
/// transport.
pub(crate) fn fetch(
    http: &dyn Exchange,
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
    let call = match grant {
        Grant::Refresh { token } => {
            params.extend([
                ("grant_type", "refresh_token"),
                ("refresh_token", token),
                ("client_id", "ocilayout"),
            ]);
            if !scopes.is_empty() {
                params.push(("scope", &joined));
            }
            Call {
                method: Method::Post,
                url: realm.to_string(),
                headers: vec![(
                    "content-type".into(),
                    "application/x-www-form-urlencoded".into(),
                )],
                body: form(&params).into_bytes(),
                authorization: None,
            }
        }
        Grant::Anonymous | Grant::Basic { .. } => {
            if let Grant::Basic { username, .. } = grant {
                params.push(("account", username));
            }
            for s in scopes {
                params.push(("scope", s));
            }
            let sep = if realm.contains('?') { '&' } else { '?' };
            Call {
                method: Method::Get,
                url: format!("{realm}{sep}{}", form(&params)),
                headers: Vec::new(),
                body: Vec::new(),
                authorization: match grant {
                    Grant::Basic { username, password } => {
                        Some(Redacted(super::basic(username, password)))
                    }
                    _ => None,
                },
            }
        }
    };
    let answer = http
        .exchange(&call)
        .map_err(|e| Failure::Other(e.to_string()))?;
    let status = answer.status;
    if !(200..300).contains(&status) {
        let reason = distribution_message(&answer.body).unwrap_or_else(|| {
            ureq::http::StatusCode::from_u16(status)
                .ok()
                .and_then(|s| s.canonical_reason())
                .unwrap_or("")
                .to_string()
        });
        let said = format!("{status} {reason}").trim_end().to_string();
        return Err(if status == 401 || status == 403 {
            Failure::Refused(said)
        } else {
            Failure::Other(format!("{}: {said}", redact(realm)))
        });
    }
    parse_answer(&answer.body, SystemTime::now())
}

/// Reads a token server's answer: the token (`token` or `access_token`) and how long it stays
/// fresh. Whatever the numbers say, nothing overflows: lifetimes are clamped to a day.
pub(crate) fn parse_answer(body: &[u8], now: SystemTime) -> Result<Token, Failure> {
    let answer: Answer = serde_json::from_slice(body)
        .map_err(|_| Failure::Other("the token answer is not JSON".into()))?;
    let value = answer
        .token
        .or(answer.access_token)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| Failure::Other("the token answer has no token".into()))?;
    // A number of seconds, however large, negative or fractional; anything else counts as absent.
    let expires_in = answer
        .expires_in
        .as_ref()
        .and_then(serde_json::Value::as_f64)
        .filter(|s| s.is_finite() && *s >= 1.0)
        .map(|s| s.min(MAX_LIFETIME as f64) as u64);
    let issued_at = answer.issued_at.as_ref().and_then(|v| v.as_str());
    Ok(Token {
        value,
        fresh_until: fresh_until(expires_in, issued_at, now),
    })
}

/// When to stop offering a token: `issued_at + expires_in` (now, when `issued_at` is missing, in
/// the future or unreadable), less a margin of a fifth of the lifetime, at most 10 seconds.
fn fresh_until(expires_in: Option<u64>, issued_at: Option<&str>, now: SystemTime) -> Instant {
    let seconds = expires_in
        .filter(|s| *s > 0)
        .unwrap_or(DEFAULT_LIFETIME)
        .min(MAX_LIFETIME);
    let lifetime = Duration::from_secs(seconds);
    let age = issued_at
        .and_then(unix_seconds)
        .and_then(|issued| UNIX_EPOCH.checked_add(Duration::from_secs(issued)))
        .and_then(|issued| now.duration_since(issued).ok())
        .unwrap_or_default();
    let margin = (lifetime / 5).min(Duration::from_secs(10));
    let left = lifetime.saturating_sub(age).saturating_sub(margin);
    let start = Instant::now();
    // Cannot overflow with a lifetime of at most a day; if it did, the token is simply not kept.
    start.checked_add(left).unwrap_or(start)
}

/// Seconds since the epoch of an RFC 3339 time (`2024-05-01T12:00:00.5+02:00`), if it is one.
fn unix_seconds(s: &str) -> Option<u64> {
    let num = |a: usize, b: usize| s.get(a..b)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    let (h, mi, sec) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
    if s.get(4..5)? != "-" || !matches!(s.get(10..11)?, "T" | "t" | " ") {
        return None;
    }
    let mut rest = s.get(19..)?;
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
        let at = SystemTime::now();
        let until = fresh_until(Some(300), None, at);
        assert!(until > now + Duration::from_secs(285) && until <= now + Duration::from_secs(291));
        let until = fresh_until(None, None, at);
        assert!(until > now + Duration::from_secs(45) && until <= now + Duration::from_secs(51));
        let until = fresh_until(Some(2), None, at);
        assert!(until <= now + Duration::from_millis(1700));
        // Issued long ago: already stale.
        assert!(fresh_until(Some(60), Some("2001-01-01T00:00:00Z"), at) <= Instant::now());
    }

    /// Servers may claim any lifetime: huge, negative, fractional, not a number. None of it may
    /// overflow (`expires_in` of 2^63-1 used to panic in `Instant + Duration`).
    #[test]
    fn lifetimes_are_clamped() {
        let now = SystemTime::now();
        let day = Instant::now() + Duration::from_secs(MAX_LIFETIME);
        for (expires_in, at_most) in [
            ("9223372036854775807", day),
            ("18446744073709551615", day),
            ("1e300", day),
            ("-5", Instant::now() + Duration::from_secs(DEFAULT_LIFETIME)),
            (
                "\"300\"",
                Instant::now() + Duration::from_secs(DEFAULT_LIFETIME),
            ),
            (
                "0.5",
                Instant::now() + Duration::from_secs(DEFAULT_LIFETIME),
            ),
            (
                "null",
                Instant::now() + Duration::from_secs(DEFAULT_LIFETIME),
            ),
        ] {
            let body = format!(r#"{{"token":"t","expires_in":{expires_in}}}"#);
            let Ok(token) = parse_answer(body.as_bytes(), now) else {
                panic!("{expires_in}: refused");
            };
            assert!(token.fresh_until <= at_most, "{expires_in}");
        }
        for issued_at in [
            "9999-12-31T23:59:59Z",
            "0000-01-01T00:00:00Z",
            "2024-02-30T99:99:99+99:99",
            "é",
        ] {
            let body = format!(r#"{{"token":"t","expires_in":300,"issued_at":"{issued_at}"}}"#);
            assert!(parse_answer(body.as_bytes(), now).is_ok(), "{issued_at}");
        }
        assert!(parse_answer(b"{}", now).is_err());
        assert!(parse_answer(b"not json", now).is_err());
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
