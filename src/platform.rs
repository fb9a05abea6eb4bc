//! Platforms as users type them (`os/arch[/variant]`) and matching them against descriptors.

use std::fmt;

use crate::error::{Error, Result};

/// A requested platform: `linux/amd64`, `linux/arm64/v8`, `linux/arm/v7`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    pub variant: Option<String>,
}

impl Platform {
    /// Parses `os/arch[/variant]`, normalizing architecture aliases (`x86_64` → `amd64`,
    /// `aarch64` → `arm64`).
    pub fn parse(s: &str) -> Result<Platform> {
        let invalid = || Error::InvalidPlatform {
            input: s.to_string(),
        };
        let parts: Vec<&str> = s.split('/').collect();
        if !(2..=3).contains(&parts.len()) || parts.iter().any(|p| p.is_empty()) {
            return Err(invalid());
        }
        let (architecture, implied) = normalize_arch(&parts[1].to_ascii_lowercase());
        let variant = parts
            .get(2)
            .map(|v| v.to_ascii_lowercase())
            .or(implied.map(str::to_string));
        Ok(Platform {
            os: parts[0].to_ascii_lowercase(),
            architecture,
            variant,
        })
    }

    /// The platform a descriptor or config states, as it states it.
    pub fn of(p: &oci_spec::image::Platform) -> Platform {
        Platform {
            os: p.os().to_string(),
            architecture: p.architecture().to_string(),
            variant: p.variant().clone(),
        }
    }

    /// Whether a descriptor's platform satisfies this request. A request without a variant accepts
    /// any variant; `arm64` without a variant is `arm64/v8`.
    pub fn matches(&self, p: &oci_spec::image::Platform) -> bool {
        let (arch, implied) = normalize_arch(&p.architecture().to_string());
        if p.os().to_string() != self.os || arch != self.architecture {
            return false;
        }
        match &self.variant {
            None => true,
            Some(want) => {
                let have = p.variant().clone().or(implied.map(str::to_string));
                have.as_deref() == Some(want.as_str())
                    || (have.is_none() && arch == "arm64" && want == "v8")
            }
        }
    }
}

fn normalize_arch(arch: &str) -> (String, Option<&'static str>) {
    match arch {
        "x86_64" | "x86-64" => ("amd64".into(), None),
        "aarch64" => ("arm64".into(), None),
        "armhf" => ("arm".into(), Some("v7")),
        "armel" => ("arm".into(), Some("v6")),
        other => (other.to_string(), None),
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(os: &str, arch: &str, variant: Option<&str>) -> oci_spec::image::Platform {
        let mut b = oci_spec::image::PlatformBuilder::default()
            .os(os)
            .architecture(arch);
        if let Some(v) = variant {
            b = b.variant(v);
        }
        b.build().unwrap()
    }

    #[test]
    fn parses_and_matches() {
        let cases = [
            ("linux/amd64", spec("linux", "amd64", None), true),
            ("linux/x86_64", spec("linux", "amd64", None), true),
            ("linux/amd64", spec("linux", "arm64", None), false),
            ("linux/arm64", spec("linux", "arm64", Some("v8")), true),
            ("linux/arm64/v8", spec("linux", "arm64", None), true),
            ("linux/arm64/v8", spec("linux", "arm64", Some("v8")), true),
            ("linux/arm/v7", spec("linux", "arm", Some("v6")), false),
            ("linux/arm/v7", spec("linux", "arm", Some("v7")), true),
            ("windows/amd64", spec("linux", "amd64", None), false),
        ];
        for (input, p, want) in cases {
            assert_eq!(Platform::parse(input).unwrap().matches(&p), want, "{input}");
        }
        for bad in ["linux", "linux/", "/amd64", "a/b/c/d", ""] {
            assert!(Platform::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            Platform::parse("linux/arm64/v8").unwrap().to_string(),
            "linux/arm64/v8"
        );
    }
}
