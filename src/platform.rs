//! Platforms as users type them (`os/arch[/variant]`) and matching them against descriptors.

use std::fmt;

use crate::error::{Error, Result};

/// A requested platform: `linux/amd64`, `linux/arm64/v8`, `linux/arm/v7`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Platform {
    /// The operating system (`linux`, `windows`), lowercase.
    pub os: String,
    /// The architecture in its OCI spelling (`amd64`, `arm64`, `arm`), lowercase.
    pub architecture: String,
    /// The variant (`v7`, `v8`), if one was given or is implied by the architecture.
    pub variant: Option<String>,
}

impl Platform {
    /// Parses `os/arch[/variant]`, normalizing architecture aliases (`x86_64` → `amd64`,
    /// `aarch64` → `arm64`).
    pub fn parse(s: &str) -> Result<Platform> {
        let invalid = || {
            Error::Invalid(format!(
                "invalid platform {s:?}: expected os/arch[/variant]"
            ))
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

    /// The platform this program runs on, in OCI spelling (`linux/amd64`, `darwin/arm64`,
    /// `linux/arm/v7`): what a build or run on this machine would pick from a multi-platform
    /// image. No variant is set where the architecture implies none (`arm64` matches `arm64/v8`).
    pub fn host() -> Platform {
        Platform::for_target(std::env::consts::OS, std::env::consts::ARCH)
    }

    /// The OCI platform of a Rust target's `os` and `arch` (as in `std::env::consts`).
    fn for_target(os: &str, arch: &str) -> Platform {
        let os = match os {
            "macos" => "darwin",
            other => other,
        };
        let (architecture, variant) = match arch {
            "x86_64" => ("amd64", None),
            "x86" => ("386", None),
            "aarch64" => ("arm64", None),
            // Rust's `arm` targets that run containers are ARMv7 hard-float in the main.
            "arm" => ("arm", Some("v7")),
            "powerpc64" if cfg!(target_endian = "little") => ("ppc64le", None),
            "loongarch64" => ("loong64", None),
            "mips64" if cfg!(target_endian = "little") => ("mips64le", None),
            other => (other, None),
        };
        Platform {
            os: os.to_string(),
            architecture: architecture.to_string(),
            variant: variant.map(str::to_string),
        }
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

    #[test]
    fn host_platform_in_oci_spelling() {
        let cases = [
            ("linux", "x86_64", "linux/amd64"),
            ("linux", "aarch64", "linux/arm64"),
            ("macos", "aarch64", "darwin/arm64"),
            ("linux", "arm", "linux/arm/v7"),
            ("windows", "x86", "windows/386"),
            ("linux", "s390x", "linux/s390x"),
        ];
        for (os, arch, want) in cases {
            assert_eq!(Platform::for_target(os, arch).to_string(), want);
        }
        // The host's platform matches what a multi-platform image states for it.
        let host = Platform::host();
        assert!(host.matches(&spec(&host.os, &host.architecture, host.variant.as_deref())));
        if cfg!(all(target_os = "linux", target_arch = "x86_64")) {
            assert_eq!(host.to_string(), "linux/amd64");
        }
    }
}
