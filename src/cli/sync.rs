//! `ocilayout sync [REG] DIR REGISTRY[/PREFIX]`: push every named image of a layout to a registry,
//! the domain of each name replaced (`docker.io/library/alpine:3.16` → `REGISTRY/PREFIX/library/alpine:3.16`).

use std::path::PathBuf;

use ocilayout::registry::Client;
use ocilayout::sync::{self, PushOptions};
use ocilayout::{Layout, Reference};

use super::credentials::Owner;
use super::output::UsageError;
use super::registry::{failures, Display, RegistryArgs};
use super::Global;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The layout directory.
    pub dir: PathBuf,
    /// The registry (host[:port]) and an optional path prefix: host:5000/mirror.
    pub destination: String,
    /// Do not push referrers (signatures, SBOMs).
    #[arg(long)]
    pub no_referrers: bool,
    /// Print a JSON object when done.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

pub fn run(args: Args, global: &Global) -> anyhow::Result<u8> {
    super::local::not_a_path(&args.destination)?;
    let (registry, prefix) = destination(&args.destination)?;
    let layout = Layout::open(&args.dir)?;
    let given = args.registry.given(Owner::Registry(registry))?;
    let client = Client::new(args.registry.config(global, given)?)?;
    let opts = PushOptions {
        referrers: !args.no_referrers,
    };
    let display = Display::new(global, "pushed").plain().json(args.json);
    let report = sync::sync(&client, &layout, registry, prefix, &opts, &display)?;
    display.finish(&report.summary, &report.failures)?;
    failures("sync", &report.failures)?;
    Ok(super::EXIT_OK)
}

/// Splits `REGISTRY[/PREFIX]` (a `docker://` in front accepted) and checks it once, before anything
/// is read or sent: the registry must read as one (a `.`, a `:port`, or `localhost`), and neither a
/// tag, a digest nor another scheme may be in it, since every image keeps its own tag.
fn destination(input: &str) -> anyhow::Result<(&str, &str)> {
    let dest = super::registry::registry_ref(input);
    let usage = |why: &str| UsageError(format!("sync destination {input:?}: {why}"));
    if dest.contains("://") {
        return Err(usage("give REGISTRY[/PREFIX] (host:5000/mirror), not a URL").into());
    }
    let (registry, prefix) = dest.split_once('/').unwrap_or((dest, ""));
    let prefix = prefix.trim_end_matches('/');
    let probe = if prefix.is_empty() {
        format!("{registry}/probe")
    } else {
        format!("{registry}/{prefix}")
    };
    match Reference::parse_without_default_tag(&probe) {
        Ok(r) if r.domain() != registry => {
            Err(usage("the registry needs a '.' or a ':port', or must be localhost").into())
        }
        Ok(r) if r.tag().is_some() || r.digest().is_some() => {
            Err(usage("no tag or digest: each image keeps its own (give host:5000/mirror)").into())
        }
        Ok(_) => Ok((registry, prefix)),
        Err(e) => Err(usage(&e.to_string()).into()),
    }
}

#[cfg(test)]
mod tests {
    use super::destination;

    /// A table of destinations: good ones split, bad ones are usage errors before any transfer.
    #[test]
    fn destinations_are_checked_up_front() {
        let good = [
            ("host:5000", ("host:5000", "")),
            ("host:5000/mirror", ("host:5000", "mirror")),
            ("docker://host:5000/a/b/", ("host:5000", "a/b")),
            ("localhost/m", ("localhost", "m")),
            ("reg.example.com", ("reg.example.com", "")),
        ];
        for (input, want) in good {
            assert_eq!(destination(input).unwrap(), want, "{input}");
        }
        for bad in [
            "host:5000/mirror:v1",
            "host:5000:v1",
            "host:5000/m@sha256:0000000000000000000000000000000000000000000000000000000000000000",
            "https://host:5000/m",
            "oci-layout://x",
            "mirror",
            "Host:5000/UPPER",
        ] {
            let e = destination(bad).unwrap_err();
            assert!(e.is::<super::UsageError>(), "{bad}: {e}");
        }
    }
}
