//! `WWW-Authenticate` challenges (RFC 7235): the scheme and its parameters, as registries send them:
//! `Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull"`.

use std::collections::HashMap;

/// One challenge: the scheme (lowercased) and its parameters (names lowercased).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Challenge {
    /// The auth scheme, lowercase (`basic`, `bearer`).
    pub scheme: String,
    /// Its parameters (`realm`, `service`, `scope`), names lowercase.
    pub params: HashMap<String, String>,
}

impl Challenge {
    /// A parameter by (lowercase) name.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str)
    }
}

/// Parses every challenge in a `WWW-Authenticate` value. Unparseable tails are ignored, never fatal:
/// what was understood is returned.
pub fn parse(header: &str) -> Vec<Challenge> {
    let mut out: Vec<Challenge> = Vec::new();
    let mut rest = header.trim();
    while !rest.is_empty() {
        // A token: either a new scheme (followed by space or end) or a parameter name (followed by '=').
        let end = rest
            .find(|c: char| c == '=' || c == ',' || c.is_whitespace())
            .unwrap_or(rest.len());
        let token = &rest[..end];
        let after = rest[end..].trim_start();
        if token.is_empty() {
            // Skip one character, however many bytes it takes (a no-break space is two).
            let skip = rest.chars().next().map_or(1, char::len_utf8);
            rest = rest[skip..].trim_start();
            continue;
        }
        if let Some(value_part) = after.strip_prefix('=') {
            let (value, remainder) = parse_value(value_part.trim_start());
            if let Some(current) = out.last_mut() {
                current.params.insert(token.to_ascii_lowercase(), value);
            }
            rest = remainder.trim_start().trim_start_matches(',').trim_start();
        } else {
            out.push(Challenge {
                scheme: token.to_ascii_lowercase(),
                params: HashMap::new(),
            });
            rest = after.trim_start_matches(',').trim_start();
        }
    }
    out
}

/// A quoted string (with `\` escapes) or a token; returns the value and what follows it.
fn parse_value(s: &str) -> (String, &str) {
    if let Some(body) = s.strip_prefix('"') {
        let mut value = String::new();
        let mut chars = body.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => {
                    if let Some((_, next)) = chars.next() {
                        value.push(next);
                    }
                }
                '"' => return (value, &body[i + 1..]),
                c => value.push(c),
            }
        }
        (value, "")
    } else {
        let end = s.find([',', ' ', '\t']).unwrap_or(s.len());
        (s[..end].to_string(), &s[end..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (header, [(scheme, [(param, value)])])
    type Case<'a> = (&'a str, &'a [(&'a str, &'a [(&'a str, &'a str)])]);

    #[test]
    fn parses_registry_challenges() {
        let cases: &[Case] = &[
            (
                r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull""#,
                &[(
                    "bearer",
                    &[
                        ("realm", "https://auth.docker.io/token"),
                        ("service", "registry.docker.io"),
                        ("scope", "repository:library/alpine:pull"),
                    ],
                )],
            ),
            (
                r#"Basic realm="Registry Realm""#,
                &[("basic", &[("realm", "Registry Realm")])],
            ),
            ("Basic", &[("basic", &[])]),
            (
                r#"Bearer realm="https://a/t", error="insufficient_scope", scope="repository:x:pull,push""#,
                &[(
                    "bearer",
                    &[
                        ("realm", "https://a/t"),
                        ("error", "insufficient_scope"),
                        ("scope", "repository:x:pull,push"),
                    ],
                )],
            ),
            (
                r#"Basic realm="x", Bearer realm="https://t", service=reg"#,
                &[
                    ("basic", &[("realm", "x")]),
                    ("bearer", &[("realm", "https://t"), ("service", "reg")]),
                ],
            ),
            (
                r#"Bearer realm="a\"b""#,
                &[("bearer", &[("realm", "a\"b")])],
            ),
            ("", &[]),
            // Separators next to multi-byte characters.
            ("=\u{a0}Basic", &[("basic", &[])]),
            (",\u{2003}=\u{2003}", &[]),
        ];
        for (header, want) in cases {
            let got = parse(header);
            let want: Vec<Challenge> = want
                .iter()
                .map(|(scheme, params)| Challenge {
                    scheme: scheme.to_string(),
                    params: params
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                })
                .collect();
            assert_eq!(got, want, "{header}");
        }
    }
}
