//! Platforms as users type them (`os/arch[/variant]`), matching them against descriptors, and the
//! one rule that chooses a platform's manifest in an image index (for resolve, pull, import and
//! export alike).

use std::fmt;

use oci_spec::image::Descriptor;
use serde::Deserialize;

use crate::digest;
use crate::error::{Error, Result};
use crate::graph::{self, LOCAL_MANIFEST_LIMIT};
use crate::layout::Layout;

/// A requested platform: `linux/amd64`, `linux/arm64/v8`, `linux/arm/v7`.
///
/// This is what a user asks for, parsed from `os/arch[/variant]` with the architecture's aliases
/// normalized; [`oci_spec::image::Platform`] is what a descriptor or an image config states (with
/// `os.version` and `os.features`, which a request does not carry). The two convert with `From`
/// both ways: a stated platform becomes a request for exactly it, and a request becomes a stated
/// platform with only `os`, `architecture` and `variant` set.
///
/// ```
/// use ocilayout::oci_spec::image::{Arch, Os, Platform as SpecPlatform};
/// use ocilayout::Platform;
///
/// let wanted = Platform::parse("linux/aarch64")?;
/// let stated: SpecPlatform = wanted.clone().into();
/// assert_eq!((stated.os(), stated.architecture()), (&Os::Linux, &Arch::ARM64));
/// assert!(wanted.matches(&stated));
/// assert_eq!(Platform::from(&stated), wanted);
/// # Ok::<(), ocilayout::Error>(())
/// ```
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

/// Descends from `d` through image indexes (nested ones too) to the one manifest for `platform`, in
/// this layout: in each index the first child whose platform matches, else the first nested index
/// without a platform. A plain image manifest must be for `platform` itself (its descriptor's
/// `platform`, else its config's `os`, `architecture` and `variant`), so that nothing is picked
/// silently; an artifact, or a config that states no platform, is returned as it is. Every document
/// read is verified against its digest.
pub fn select_platform(layout: &Layout, d: Descriptor, platform: &Platform) -> Result<Descriptor> {
    descend_to_platform(d, platform, |x| {
        layout
            .blobs()
            .read_verified(x.digest(), LOCAL_MANIFEST_LIMIT)
    })
}

/// The platform an image manifest's config states, read through `read`; `None` for an artifact, a
/// config of another media type, or one without `os` and `architecture`.
fn config_platform(
    manifest: &Descriptor,
    mut read: impl FnMut(&Descriptor) -> Result<Vec<u8>>,
) -> Result<Option<oci_spec::image::Platform>> {
    const CONFIGS: [&str; 2] = [
        "application/vnd.oci.image.config.v1+json",
        "application/vnd.docker.container.image.v1+json",
    ];
    let malformed = |what: &Descriptor, reason: String| Error::Malformed {
        what: what.digest().to_string(),
        reason,
    };
    let doc: serde_json::Value =
        serde_json::from_slice(&read(manifest)?).map_err(|e| malformed(manifest, e.to_string()))?;
    let Some(config) = doc.get("config") else {
        return Ok(None);
    };
    let config: Descriptor = serde_json::from_value(config.clone())
        .map_err(|e| malformed(manifest, format!("config: {e}")))?;
    if !CONFIGS.contains(&config.media_type().as_ref()) {
        return Ok(None);
    }
    digest::validate(config.digest())
        .map_err(|e| malformed(manifest, format!("config.digest: {e}")))?;
    #[derive(Deserialize)]
    struct Stated {
        os: Option<String>,
        architecture: Option<String>,
        variant: Option<String>,
    }
    let stated: Stated = serde_json::from_slice(&read(&config)?)
        .map_err(|e| malformed(&config, format!("not an image config: {e}")))?;
    let (Some(os), Some(architecture)) = (stated.os, stated.architecture) else {
        return Ok(None);
    };
    let mut p = oci_spec::image::PlatformBuilder::default()
        .os(os.as_str())
        .architecture(architecture.as_str());
    if let Some(v) = stated.variant {
        p = p.variant(v);
    }
    Ok(p.build().ok())
}

/// Descends from `d` through image indexes to the one manifest for `platform`, reading each
/// document's bytes (verified) with `read`, so the same rule serves a layout and a registry: in each
/// index the first child whose platform matches, else the first nested index without a platform. A
/// plain image manifest must be for `platform` itself: its descriptor's `platform`, else its
/// config's `os`, `architecture` and `variant` (the config read with `read` too), must match, so
/// that nothing is picked silently. An artifact, or a config that states no platform, is returned as
/// it is.
pub(crate) fn descend_to_platform(
    d: Descriptor,
    platform: &Platform,
    mut read: impl FnMut(&Descriptor) -> Result<Vec<u8>>,
) -> Result<Descriptor> {
    if !graph::is_index(d.media_type().as_ref()) {
        let found = match d.platform() {
            Some(p) => Some(p.clone()),
            None => config_platform(&d, read)?,
        };
        return match found {
            Some(p) if !platform.matches(&p) => Err(Error::WrongPlatform {
                digest: d.digest().clone(),
                platform: platform.to_string(),
                found: Platform::of(&p).to_string(),
            }),
            _ => Ok(d),
        };
    }
    let root = d.digest().clone();
    let mut current = d;
    // Each step goes one index deeper; a cycle of digests is impossible, but bound the depth anyway.
    for _ in 0..=graph::MAX_NESTING {
        if !graph::is_index(current.media_type().as_ref()) {
            return Ok(current);
        }
        let children = graph::parse_children(&read(&current)?)?.children;
        let matching = children
            .iter()
            .find(|c| c.platform().as_ref().is_some_and(|p| platform.matches(p)));
        let nested = children
            .iter()
            .find(|c| c.platform().is_none() && graph::is_index(c.media_type().as_ref()));
        current = matching
            .or(nested)
            .cloned()
            .ok_or_else(|| Error::NoPlatform {
                digest: root.clone(),
                platform: platform.to_string(),
                available: children
                    .iter()
                    .filter_map(|c| c.platform().as_ref().map(|p| Platform::of(p).to_string()))
                    .collect(),
            })?;
    }
    Err(Error::TooDeep {
        root: root.clone(),
        what: "image indexes",
    })
}

/// Among an image index's children, the image manifest an archive for `docker load` carries when no
/// platform was asked for: linux/amd64, else the first image manifest, else the first nested index
/// (to descend in turn). `is_image` says which children are image manifests.
pub(crate) fn default_child(
    children: &[Descriptor],
    is_image: impl Fn(&Descriptor) -> bool,
) -> Option<&Descriptor> {
    let is_amd64 = |c: &&Descriptor| {
        c.platform().as_ref().is_some_and(|p| {
            p.os().to_string() == "linux" && p.architecture().to_string() == "amd64"
        })
    };
    let images: Vec<&Descriptor> = children.iter().filter(|c| is_image(c)).collect();
    images
        .iter()
        .copied()
        .find(is_amd64)
        .or(images.first().copied())
        .or_else(|| {
            children
                .iter()
                .find(|c| graph::is_index(c.media_type().as_ref()))
        })
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

impl From<&oci_spec::image::Platform> for Platform {
    /// The request for exactly the platform a descriptor states (see [`Platform::of`]).
    fn from(p: &oci_spec::image::Platform) -> Platform {
        Platform::of(p)
    }
}

impl From<oci_spec::image::Platform> for Platform {
    fn from(p: oci_spec::image::Platform) -> Platform {
        Platform::of(&p)
    }
}

impl From<&Platform> for oci_spec::image::Platform {
    /// The stated platform with this request's `os`, `architecture` and `variant`; `os.version`,
    /// `os.features` and `features` unset.
    fn from(p: &Platform) -> oci_spec::image::Platform {
        let mut out = oci_spec::image::Platform::default();
        out.set_os(p.os.as_str().into());
        out.set_architecture(p.architecture.as_str().into());
        out.set_variant(p.variant.clone());
        out
    }
}

impl From<Platform> for oci_spec::image::Platform {
    fn from(p: Platform) -> oci_spec::image::Platform {
        (&p).into()
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

    /// Ours and oci_spec's convert both ways without losing os, architecture or variant, whether
    /// oci_spec knows the names (`Os::Linux`, `Arch::ARM64`) or keeps them as `Other`.
    #[test]
    fn converts_to_and_from_the_stated_platform() {
        let cases = [
            ("linux", "amd64", None),
            ("linux", "arm64", Some("v8")),
            ("linux", "arm", Some("v7")),
            ("windows", "amd64", None),
            ("plan9", "riscv128", Some("x")),
        ];
        for (os, arch, variant) in cases {
            let stated = spec(os, arch, variant);
            let ours = Platform::from(&stated);
            assert_eq!(ours.to_string(), stated_string(os, arch, variant));
            let back: oci_spec::image::Platform = ours.clone().into();
            assert_eq!(back, stated, "{ours}");
            assert!(ours.matches(&back), "{ours}");
            assert_eq!(Platform::from(back), ours);
        }
        // What a request does not carry is not invented, and what a stated platform has beyond
        // the request is dropped, not kept by accident.
        let mut windows = spec("windows", "amd64", None);
        windows.set_os_version(Some("10.0.17763.1".into()));
        let back: oci_spec::image::Platform = Platform::from(&windows).into();
        assert_eq!(back.os_version(), &None);
    }

    fn stated_string(os: &str, arch: &str, variant: Option<&str>) -> String {
        match variant {
            Some(v) => format!("{os}/{arch}/{v}"),
            None => format!("{os}/{arch}"),
        }
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
