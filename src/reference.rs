//! Image references: the docker/distribution grammar and its normalization (`ParseDockerRef`), parsed
//! by hand, without regular expressions, because it runs on every entry of large indexes.

use std::fmt;
use std::str::FromStr;

use oci_spec::image::Digest;

use crate::error::{Error, Result};

/// The domain of Docker Hub in canonical names.
const DEFAULT_DOMAIN: &str = "docker.io";
/// The legacy Docker Hub domain, normalized to [`DEFAULT_DOMAIN`].
const LEGACY_DEFAULT_DOMAIN: &str = "index.docker.io";
/// The host that serves the registry API for [`DEFAULT_DOMAIN`].
const DEFAULT_REGISTRY_HOST: &str = "registry-1.docker.io";
/// The namespace of official images on Docker Hub.
const OFFICIAL_REPO_PREFIX: &str = "library/";
/// The longest repository path (without the domain), as distribution measures it.
const PATH_MAX: usize = 255;
/// The longest tag.
const TAG_MAX: usize = 128;

/// A normalized image reference: `domain/path` with a tag, a digest, or (only when parsed with
/// [`Reference::parse_without_default_tag`]) neither. It never holds both a tag and a digest.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Reference {
    domain: String,
    path: String,
    tag: Option<String>,
    digest: Option<Digest>,
}

impl Reference {
    /// Parses and normalizes a reference the way `ParseDockerRef` does: Docker Hub names gain
    /// `docker.io/` and `library/`, a name without tag or digest gains `:latest`, and a name with
    /// both keeps only the digest.
    ///
    /// Fails with [`Error::InvalidReference`] on anything outside the grammar.
    pub fn parse(input: &str) -> Result<Reference> {
        parse_inner(input, true)
    }

    /// Like [`Reference::parse`], but a name without tag or digest stays without one, for callers
    /// that need to know no tag was given.
    pub fn parse_without_default_tag(input: &str) -> Result<Reference> {
        parse_inner(input, false)
    }

    /// The registry domain as it appears in the canonical name, such as `docker.io` or `host:5000`.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The repository path without the domain, such as `library/alpine`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The full repository name without tag or digest, such as `docker.io/library/alpine`.
    pub fn repository(&self) -> String {
        let mut s = String::with_capacity(self.domain.len() + 1 + self.path.len());
        s.push_str(&self.domain);
        s.push('/');
        s.push_str(&self.path);
        s
    }

    /// The tag, if the reference has one.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The digest, if the reference has one.
    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }

    /// The same repository with `tag` instead of any tag or digest.
    pub fn with_tag(&self, tag: &str) -> Result<Reference> {
        if !is_valid_tag(tag) {
            return Err(Error::InvalidReference {
                input: format!("{}:{tag}", self.repository()),
                reason: tag_reason(tag),
            });
        }
        Ok(Reference {
            domain: self.domain.clone(),
            path: self.path.clone(),
            tag: Some(tag.to_string()),
            digest: None,
        })
    }

    /// The same repository with digest `d` instead of any tag or digest. The digest is taken as
    /// given; validate it first (see [`crate::digest::validate`]) if it comes from outside.
    pub fn with_digest(&self, d: Digest) -> Reference {
        Reference {
            domain: self.domain.clone(),
            path: self.path.clone(),
            tag: None,
            digest: Some(d),
        }
    }

    /// Moves the reference to another registry, for `sync DIR host:5000/mirror`: the domain becomes
    /// `registry` (`host[:port]`) and the path is prefixed with `prefix` (which may be empty; slashes
    /// at its ends are ignored). The tag or digest is kept.
    ///
    /// For example `docker.io/library/alpine:3.16` rebased onto `("host:5000", "mirror")` is
    /// `host:5000/mirror/library/alpine:3.16`. The result is validated like a parsed name, and
    /// `registry` must read as a domain when the result is parsed again (contain `.` or `:`, or be
    /// `localhost`).
    pub fn rebase(&self, registry: &str, prefix: &str) -> Result<Reference> {
        let prefix = prefix.trim_matches('/');
        let path = if prefix.is_empty() {
            self.path.clone()
        } else {
            format!("{prefix}/{}", self.path)
        };
        let input = || {
            let mut s = format!("{registry}/{path}");
            if let Some(d) = &self.digest {
                s.push('@');
                s.push_str(d.as_ref());
            } else if let Some(t) = &self.tag {
                s.push(':');
                s.push_str(t);
            }
            s
        };
        if !reads_as_domain(registry) {
            return Err(Error::InvalidReference {
                input: input(),
                reason: format!(
                    "registry {registry:?} would read as a Docker Hub namespace; \
                     it needs a '.' or a ':port', or must be localhost"
                ),
            });
        }
        let mut r = build(registry, &path, self.tag.as_deref(), None, false).map_err(|reason| {
            Error::InvalidReference {
                input: input(),
                reason,
            }
        })?;
        if let Some(d) = &self.digest {
            r.digest = Some(d.clone());
            r.tag = None;
        }
        Ok(r)
    }

    /// The host that serves the registry API: `registry-1.docker.io` for `docker.io`, otherwise the
    /// domain itself.
    pub fn registry_host(&self) -> &str {
        if self.domain == DEFAULT_DOMAIN {
            DEFAULT_REGISTRY_HOST
        } else {
            &self.domain
        }
    }
}

impl fmt::Display for Reference {
    /// The canonical form: `domain/path:tag`, `domain/path@digest`, or `domain/path`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.domain, self.path)?;
        if let Some(d) = &self.digest {
            write!(f, "@{d}")
        } else if let Some(t) = &self.tag {
            write!(f, ":{t}")
        } else {
            Ok(())
        }
    }
}

impl FromStr for Reference {
    type Err = Error;

    fn from_str(s: &str) -> Result<Reference> {
        Reference::parse(s)
    }
}

/// Whether `s` is a valid tag: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
pub fn is_valid_tag(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= TAG_MAX
        && is_word(b[0])
        && b[1..].iter().all(|&c| is_word(c) || c == b'.' || c == b'-')
}

/// Whether an `org.opencontainers.image.ref.name` value is a full reference (it contains `/`, `:`
/// or `@` and parses) rather than a bare tag. A value that looks like a digest (`sha256:...`) is
/// not taken as a reference.
pub fn ref_name_as_reference(ref_name: &str) -> Option<Reference> {
    if !ref_name.bytes().any(|c| matches!(c, b'/' | b':' | b'@'))
        || crate::digest::looks_like_digest(ref_name)
    {
        return None;
    }
    Reference::parse(ref_name).ok()
}

fn parse_inner(input: &str, default_tag: bool) -> Result<Reference> {
    let invalid = |reason: String| Error::InvalidReference {
        input: input.to_string(),
        reason,
    };
    if input.is_empty() {
        return Err(invalid("empty reference".to_string()));
    }
    if input.len() == 64
        && input
            .bytes()
            .all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'))
    {
        return Err(invalid(
            "cannot specify 64-byte hexadecimal strings as a name".to_string(),
        ));
    }
    // Neither a domain nor a path holds '@', so the digest is cut off first: a '/' inside it must
    // not be taken for the end of a domain.
    let (name, digest) = match input.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (input, None),
    };
    // `rest` is `path[:tag]`; the path itself never holds ':'.
    let (domain, rest) = split_domain(name);
    let (path, tag) = match rest.split_once(':') {
        Some((p, t)) => (p, Some(t)),
        None => (rest, None),
    };
    build(domain, path, tag, digest, default_tag).map_err(invalid)
}

/// Splits off the domain as distribution's `splitDockerDomain` does: the first component is a
/// domain when it holds `.` or `:`, is `localhost`, or holds an uppercase letter (repository
/// paths are lowercase, so such a component can only be a host name).
fn split_domain(input: &str) -> (&str, &str) {
    match input.split_once('/') {
        Some((first, rest)) if reads_as_domain(first) => (first, rest),
        _ => (DEFAULT_DOMAIN, input),
    }
}

fn reads_as_domain(s: &str) -> bool {
    s == "localhost"
        || s.bytes()
            .any(|c| c == b'.' || c == b':' || c.is_ascii_uppercase())
}

/// Normalizes and validates the parts of a reference; the error is the reason only.
fn build(
    domain: &str,
    path: &str,
    tag: Option<&str>,
    digest: Option<&str>,
    default_tag: bool,
) -> std::result::Result<Reference, String> {
    validate_domain(domain)?;
    let domain = if domain == LEGACY_DEFAULT_DOMAIN {
        DEFAULT_DOMAIN
    } else {
        domain
    };
    if path.bytes().any(|c| c.is_ascii_uppercase()) {
        return Err(format!("repository name {path:?} must be lowercase"));
    }
    let path = if domain == DEFAULT_DOMAIN && !path.is_empty() && !path.contains('/') {
        let mut p = String::with_capacity(OFFICIAL_REPO_PREFIX.len() + path.len());
        p.push_str(OFFICIAL_REPO_PREFIX);
        p.push_str(path);
        p
    } else {
        path.to_string()
    };
    validate_path(&path)?;
    if let Some(t) = tag {
        if !is_valid_tag(t) {
            return Err(tag_reason(t));
        }
    }
    let digest = match digest {
        Some(d) => Some(crate::digest::parse(d).map_err(|e| e.to_string())?),
        None => None,
    };
    let tag = match (&digest, tag) {
        (Some(_), _) => None,
        (None, Some(t)) => Some(t.to_string()),
        (None, None) if default_tag => Some("latest".to_string()),
        (None, None) => None,
    };
    Ok(Reference {
        domain: domain.to_string(),
        path,
        tag,
        digest,
    })
}

fn tag_reason(tag: &str) -> String {
    if tag.is_empty() {
        "empty tag".to_string()
    } else if tag.len() > TAG_MAX {
        format!(
            "tag is {} characters, more than the limit of {TAG_MAX}",
            tag.len()
        )
    } else {
        format!("invalid tag {tag:?}: a tag is [A-Za-z0-9_][A-Za-z0-9_.-]*")
    }
}

/// `host[:port]`, where host is DNS labels joined by `.` or an IPv6 address in brackets.
fn validate_domain(domain: &str) -> std::result::Result<(), String> {
    let bad = |why: &str| Err(format!("invalid domain {domain:?}: {why}"));
    let b = domain.as_bytes();
    let port = if b.first() == Some(&b'[') {
        let Some(close) = domain.find(']') else {
            return bad("unclosed '['");
        };
        let inner = &b[1..close];
        if inner.is_empty() || !inner.iter().all(|&c| c.is_ascii_hexdigit() || c == b':') {
            return bad("an IPv6 address is hex digits and ':' in brackets");
        }
        match &domain[close + 1..] {
            "" => None,
            rest => match rest.strip_prefix(':') {
                Some(p) => Some(p),
                None => return bad("expected ':port' after ']'"),
            },
        }
    } else {
        let (host, port) = match domain.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (domain, None),
        };
        for label in host.split('.') {
            let l = label.as_bytes();
            let ok = !l.is_empty()
                && l[0].is_ascii_alphanumeric()
                && l[l.len() - 1].is_ascii_alphanumeric()
                && l.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'-');
            if !ok {
                return bad("host name labels are letters, digits and inner '-', joined by '.'");
            }
        }
        port
    };
    if let Some(p) = port {
        if p.is_empty() || !p.bytes().all(|c| c.is_ascii_digit()) {
            return bad("the port must be digits");
        }
    }
    Ok(())
}

/// Components `[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*` joined by `/`, at most 255 characters.
fn validate_path(path: &str) -> std::result::Result<(), String> {
    if path.is_empty() {
        return Err("repository name must have at least one component".to_string());
    }
    if path.len() > PATH_MAX {
        return Err(format!(
            "repository name must not be more than {PATH_MAX} characters, found {}",
            path.len()
        ));
    }
    for component in path.split('/') {
        if component.is_empty() {
            return Err(format!("empty path component in {path:?}"));
        }
        if !is_valid_component(component.as_bytes()) {
            return Err(format!(
                "invalid path component {component:?}: lowercase letters and digits, \
                 separated by one '.', one or two '_', or any number of '-'"
            ));
        }
    }
    Ok(())
}

fn is_valid_component(c: &[u8]) -> bool {
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    let mut i = 0;
    loop {
        // An alphanumeric run.
        let start = i;
        while i < c.len() && alnum(c[i]) {
            i += 1;
        }
        if i == start {
            return false;
        }
        if i == c.len() {
            return true;
        }
        // A separator, which must be followed by another run.
        match c[i] {
            b'.' => i += 1,
            b'_' => {
                i += 1;
                if c.get(i) == Some(&b'_') {
                    i += 1;
                }
            }
            b'-' => {
                while c.get(i) == Some(&b'-') {
                    i += 1;
                }
            }
            _ => return false,
        }
    }
}

fn is_word(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    fn dg() -> String {
        format!("sha256:{HEX}")
    }

    fn canon(input: &str) -> std::result::Result<String, String> {
        Reference::parse(input)
            .map(|r| r.to_string())
            .map_err(|e| match e {
                Error::InvalidReference { input: i, reason } => {
                    assert_eq!(i, input, "the error names the input");
                    reason
                }
                other => panic!("{input}: unexpected error kind {other:?}"),
            })
    }

    #[test]
    fn table() {
        let d = dg();
        let tag128 = "t".repeat(128);
        let tag129 = "t".repeat(129);
        // Path of exactly 255 characters once normalized, and one of 256.
        let user255 = format!("user/{}", "a".repeat(250));
        let user256 = format!("user/{}", "a".repeat(251));
        let lib255 = "a".repeat(255 - OFFICIAL_REPO_PREFIX.len());
        let lib256 = "a".repeat(256 - OFFICIAL_REPO_PREFIX.len());
        let sha512 = format!("sha512:{}", "a".repeat(128));

        type Want = std::result::Result<String, &'static str>;
        let ok = |s: &str| -> Want { Ok(s.to_string()) };
        let cases: Vec<(String, Want)> = vec![
            // Docker Hub normalization.
            ("alpine".into(), ok("docker.io/library/alpine:latest")),
            ("alpine:3.16".into(), ok("docker.io/library/alpine:3.16")),
            (
                "library/alpine:3.16".into(),
                ok("docker.io/library/alpine:3.16"),
            ),
            (
                "docker.io/library/alpine".into(),
                ok("docker.io/library/alpine:latest"),
            ),
            (
                "docker.io/alpine".into(),
                ok("docker.io/library/alpine:latest"),
            ),
            (
                "index.docker.io/library/alpine:3".into(),
                ok("docker.io/library/alpine:3"),
            ),
            (
                "index.docker.io/alpine".into(),
                ok("docker.io/library/alpine:latest"),
            ),
            ("user/repo".into(), ok("docker.io/user/repo:latest")),
            (
                "docker.io/user/repo:tag".into(),
                ok("docker.io/user/repo:tag"),
            ),
            ("a/b/c/d".into(), ok("docker.io/a/b/c/d:latest")),
            (
                "example.com".into(),
                ok("docker.io/library/example.com:latest"),
            ),
            ("localhost".into(), ok("docker.io/library/localhost:latest")),
            // Other domains.
            ("localhost/x".into(), ok("localhost/x:latest")),
            ("localhost:5000/x:1".into(), ok("localhost:5000/x:1")),
            ("Localhost:5000/x".into(), ok("Localhost:5000/x:latest")),
            ("Localhost:5000".into(), Err("lowercase")),
            (
                "localhost:5000".into(),
                ok("docker.io/library/localhost:5000"),
            ),
            ("example.com/a/b/c:v1".into(), ok("example.com/a/b/c:v1")),
            ("example.com/x".into(), ok("example.com/x:latest")),
            ("example.com:443/a".into(), ok("example.com:443/a:latest")),
            ("Example.COM/x".into(), ok("Example.COM/x:latest")),
            ("Foo/bar".into(), ok("Foo/bar:latest")),
            ("127.0.0.1:5000/x".into(), ok("127.0.0.1:5000/x:latest")),
            ("my-registry.io/x".into(), ok("my-registry.io/x:latest")),
            ("[::1]:5000/x:t".into(), ok("[::1]:5000/x:t")),
            ("[2001:db8::1]/x".into(), ok("[2001:db8::1]/x:latest")),
            ("[fe80::1%eth0]/x".into(), Err("IPv6")),
            ("[::1/x".into(), Err("unclosed")),
            ("[]/x".into(), Err("invalid path component")),
            ("[::1]x/y".into(), Err("':port'")),
            ("example.com:abc/x".into(), Err("port must be digits")),
            ("example.com:/x".into(), Err("port must be digits")),
            ("-example.com/x".into(), Err("invalid domain")),
            ("example-.com/x".into(), Err("invalid domain")),
            ("example..com/x".into(), Err("invalid domain")),
            ("exa_mple.com/x".into(), Err("invalid domain")),
            // Digests.
            (
                format!("alpine@{d}"),
                Ok(format!("docker.io/library/alpine@{d}")),
            ),
            (
                format!("alpine:3.16@{d}"),
                Ok(format!("docker.io/library/alpine@{d}")),
            ),
            (format!("host:5000/x:t@{d}"), Ok(format!("host:5000/x@{d}"))),
            (
                format!("alpine@{sha512}"),
                Ok(format!("docker.io/library/alpine@{sha512}")),
            ),
            (format!("@{d}"), Err("at least one component")),
            ("alpine@sha256:../../x".into(), Err("invalid digest")),
            (
                "alpine@md5:d41d8cd98f00b204e9800998ecf8427e".into(),
                Err("only sha256 and sha512"),
            ),
            (
                format!("alpine@sha256:{}", HEX.to_uppercase()),
                Err("invalid digest"),
            ),
            ("alpine@".into(), Err("invalid digest")),
            (format!("alpine@{d}@{d}"), Err("invalid digest")),
            // Path components.
            ("a__b".into(), ok("docker.io/library/a__b:latest")),
            ("a--b".into(), ok("docker.io/library/a--b:latest")),
            ("a-b.c_d".into(), ok("docker.io/library/a-b.c_d:latest")),
            ("a..b".into(), Err("invalid path component")),
            ("a___b".into(), Err("invalid path component")),
            ("a_-b".into(), Err("invalid path component")),
            ("a.-b".into(), Err("invalid path component")),
            ("-a".into(), Err("invalid path component")),
            ("a-".into(), Err("invalid path component")),
            ("_a".into(), Err("invalid path component")),
            ("a.".into(), Err("invalid path component")),
            ("a//b".into(), Err("empty path component")),
            ("a/b/".into(), Err("empty path component")),
            ("/a".into(), Err("empty path component")),
            ("example.com/".into(), Err("at least one component")),
            ("a b".into(), Err("invalid path component")),
            ("Alpine".into(), Err("must be lowercase")),
            ("user/Repo".into(), Err("must be lowercase")),
            ("example.com/Repo".into(), Err("must be lowercase")),
            ("".into(), Err("empty reference")),
            (HEX.into(), Err("64-byte hexadecimal")),
            (format!("{HEX}:t"), Ok(format!("docker.io/library/{HEX}:t"))),
            // Path length.
            (user255.clone(), Ok(format!("docker.io/{user255}:latest"))),
            (user256, Err("more than 255")),
            (
                lib255.clone(),
                Ok(format!("docker.io/library/{lib255}:latest")),
            ),
            (lib256, Err("more than 255")),
            // Tags.
            (":tag".into(), Err("at least one component")),
            ("alpine:".into(), Err("empty tag")),
            (
                format!("alpine:{tag128}"),
                Ok(format!("docker.io/library/alpine:{tag128}")),
            ),
            (
                format!("alpine:{tag129}"),
                Err("more than the limit of 128"),
            ),
            ("alpine:-x".into(), Err("invalid tag")),
            ("alpine:.x".into(), Err("invalid tag")),
            (
                "alpine:_x.Y-1".into(),
                ok("docker.io/library/alpine:_x.Y-1"),
            ),
            (
                "alpine:Latest".into(),
                ok("docker.io/library/alpine:Latest"),
            ),
            ("alpine:a:b".into(), Err("invalid tag")),
            ("a/b:c/d".into(), Err("invalid tag")),
            ("alpine:t@x".into(), Err("invalid digest")),
        ];
        assert!(cases.len() >= 45);
        for (input, want) in &cases {
            let got = canon(input);
            match (want, &got) {
                (Ok(w), Ok(g)) => assert_eq!(g, w, "input {input:?}"),
                (Err(w), Err(g)) => {
                    assert!(g.contains(w), "input {input:?}: reason {g:?} lacks {w:?}")
                }
                _ => panic!("input {input:?}: wanted {want:?}, got {got:?}"),
            }
            // Every canonical form parses back to itself.
            if let Ok(g) = got {
                let r = Reference::parse(&g).unwrap();
                assert_eq!(r.to_string(), g);
                assert_eq!(r, Reference::parse(input).unwrap());
                assert_eq!(g.parse::<Reference>().unwrap(), r);
            }
        }
    }

    #[test]
    fn accessors() {
        let r = Reference::parse("alpine:3.16").unwrap();
        assert_eq!(r.domain(), "docker.io");
        assert_eq!(r.path(), "library/alpine");
        assert_eq!(r.repository(), "docker.io/library/alpine");
        assert_eq!(r.tag(), Some("3.16"));
        assert_eq!(r.digest(), None);

        let r = Reference::parse(&format!("host:5000/a/b:t@{}", dg())).unwrap();
        assert_eq!(r.domain(), "host:5000");
        assert_eq!(r.path(), "a/b");
        assert_eq!(r.tag(), None);
        assert_eq!(r.digest().unwrap().to_string(), dg());
    }

    #[test]
    fn without_default_tag() {
        let r = Reference::parse_without_default_tag("alpine").unwrap();
        assert_eq!(r.tag(), None);
        assert_eq!(r.to_string(), "docker.io/library/alpine");
        assert_eq!(
            Reference::parse(&r.to_string()).unwrap().tag(),
            Some("latest")
        );
        let r = Reference::parse_without_default_tag("index.docker.io/x:1").unwrap();
        assert_eq!(r.to_string(), "docker.io/library/x:1");
        let r = Reference::parse_without_default_tag(&format!("x:1@{}", dg())).unwrap();
        assert_eq!((r.tag(), r.digest().is_some()), (None, true));
        assert!(Reference::parse_without_default_tag("Alpine").is_err());
    }

    #[test]
    fn with_tag_and_digest() {
        let d = crate::digest::parse(&dg()).unwrap();
        let r = Reference::parse("alpine:3.16").unwrap();
        let by_digest = r.with_digest(d.clone());
        assert_eq!(
            by_digest.to_string(),
            format!("docker.io/library/alpine@{}", dg())
        );
        assert_eq!(by_digest.tag(), None);
        let tagged = by_digest.with_tag("edge").unwrap();
        assert_eq!(tagged.to_string(), "docker.io/library/alpine:edge");
        assert_eq!(tagged.digest(), None);
        assert_eq!(tagged, Reference::parse("alpine:edge").unwrap());
        for bad in ["", "-x", "a:b", "a/b", &"t".repeat(129)] {
            match r.with_tag(bad) {
                Err(Error::InvalidReference { input, .. }) => {
                    assert_eq!(input, format!("docker.io/library/alpine:{bad}"))
                }
                other => panic!("{bad:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn rebase() {
        let r = Reference::parse("alpine:3.16").unwrap();
        let m = r.rebase("host:5000", "mirror").unwrap();
        assert_eq!(m.to_string(), "host:5000/mirror/library/alpine:3.16");
        assert_eq!(Reference::parse(&m.to_string()).unwrap(), m);
        assert_eq!(
            r.rebase("host:5000", "").unwrap().to_string(),
            "host:5000/library/alpine:3.16"
        );
        assert_eq!(
            r.rebase("reg.example.com", "/a/b/").unwrap().to_string(),
            "reg.example.com/a/b/library/alpine:3.16"
        );
        assert_eq!(
            r.rebase("localhost", "m").unwrap().to_string(),
            "localhost/m/library/alpine:3.16"
        );
        assert_eq!(
            r.rebase("[::1]:5000", "").unwrap().to_string(),
            "[::1]:5000/library/alpine:3.16"
        );
        // Onto Docker Hub: normalized like a parsed name.
        let x = Reference::parse("localhost:5000/x:1").unwrap();
        assert_eq!(
            x.rebase("index.docker.io", "").unwrap().to_string(),
            "docker.io/library/x:1"
        );
        assert_eq!(
            x.rebase("docker.io", "me").unwrap().to_string(),
            "docker.io/me/x:1"
        );
        // Digests are kept.
        let d = Reference::parse(&format!("alpine@{}", dg())).unwrap();
        assert_eq!(
            d.rebase("host:5000", "mirror").unwrap().to_string(),
            format!("host:5000/mirror/library/alpine@{}", dg())
        );
        // Without a default tag, none appears.
        let n = Reference::parse_without_default_tag("alpine").unwrap();
        assert_eq!(
            n.rebase("host:5000", "m").unwrap().to_string(),
            "host:5000/m/library/alpine"
        );
        // Invalid registries and prefixes.
        for (registry, prefix, why) in [
            ("myhost", "", "Docker Hub namespace"),
            ("", "", "Docker Hub namespace"),
            ("host:abc", "", "port must be digits"),
            ("host:5000/x", "", "invalid domain"),
            ("host:5000", "Mirror", "lowercase"),
            ("host:5000", "a//b", "empty path component"),
            ("host:5000", "a..b", "invalid path component"),
            ("host:5000", &"a".repeat(250), "more than 255"),
        ] {
            match r.rebase(registry, prefix) {
                Err(Error::InvalidReference { reason, .. }) => {
                    assert!(reason.contains(why), "{registry:?} {prefix:?}: {reason}")
                }
                other => panic!("{registry:?} {prefix:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn registry_host() {
        let host = |s: &str| Reference::parse(s).unwrap().registry_host().to_string();
        assert_eq!(host("alpine"), "registry-1.docker.io");
        assert_eq!(host("index.docker.io/a/b"), "registry-1.docker.io");
        assert_eq!(host("ghcr.io/a/b"), "ghcr.io");
        assert_eq!(host("localhost:5000/x"), "localhost:5000");
        assert_eq!(host("[::1]:5000/x"), "[::1]:5000");
    }

    #[test]
    fn ref_names() {
        for bare in ["3.16", "latest", "Latest", "v1.0-rc_1", "", &dg()] {
            assert_eq!(ref_name_as_reference(bare), None, "{bare:?}");
        }
        for (name, canonical) in [
            ("alpine:3.16", "docker.io/library/alpine:3.16"),
            ("a/b:t", "docker.io/a/b:t"),
            ("a/b", "docker.io/a/b:latest"),
            ("host:5000/x:t", "host:5000/x:t"),
            (
                "docker.io/library/alpine:latest",
                "docker.io/library/alpine:latest",
            ),
        ] {
            let r = ref_name_as_reference(name).unwrap_or_else(|| panic!("{name:?}"));
            assert_eq!(r.to_string(), canonical);
        }
        let with_digest = format!("alpine@{}", dg());
        assert_eq!(
            ref_name_as_reference(&with_digest).unwrap().to_string(),
            format!("docker.io/library/alpine@{}", dg())
        );
        for invalid in ["Alpine:1", "a//b:t", "alpine:", "x@sha256:00"] {
            assert_eq!(ref_name_as_reference(invalid), None, "{invalid:?}");
        }
    }

    #[test]
    fn tags() {
        assert!(is_valid_tag("latest"));
        assert!(is_valid_tag("_"));
        assert!(is_valid_tag("A.b-C_9"));
        assert!(is_valid_tag(&"x".repeat(128)));
        assert!(!is_valid_tag(&"x".repeat(129)));
        for bad in ["", "-a", ".a", "a:b", "a/b", "a@b", "a b", "ä"] {
            assert!(!is_valid_tag(bad), "{bad:?}");
        }
    }

    #[test]
    fn components() {
        for good in ["a", "0", "a.b", "a_b", "a__b", "a-b", "a---b", "a.b_c__d-e"] {
            assert!(is_valid_component(good.as_bytes()), "{good:?}");
        }
        for bad in [
            "", ".", "a..b", "a___b", "a_.b", "a-.b", "a._b", "A", "a-", "a_", "é",
        ] {
            assert!(!is_valid_component(bad.as_bytes()), "{bad:?}");
        }
    }
}
