//! `ocilayout inspect [REG] [--platform P] [--raw|--config] [--json] (DIR REF | oci-layout://... | REF)`.

use std::io::Write;

use ocilayout::inspect::{self, Inspection, LayoutSource, RegistrySource, Source};
use ocilayout::registry::Client;
use ocilayout::resolve::{self, Platform};
use ocilayout::Layout;

use super::credentials::Owner;
use super::output::{print_json, print_lines, shown, UsageError};
use super::registry::{parse_ref, RegistryArgs};
use super::Global;

/// The long help (man page): what the command does and its JSON shape.
pub const LONG_ABOUT: &str = "Shows what a manifest or index holds.\n\nTwo arguments are a layout and a reference in it; one argument is an oci-layout:// URL or a registry reference (a docker:// prefix is accepted). --platform first descends through image indexes to the manifest for that platform.\n\nWith --json it prints one object: {\"digest\", \"mediaType\", \"size\", \"annotations\": {...}, \"referrers\": [{\"digest\", \"mediaType\", \"artifactType\"}]}, and for an index \"manifests\": [{\"digest\", \"mediaType\", \"size\", \"platform\": \"os/arch[/variant]\" | null}], for a manifest \"config\": {\"digest\", \"mediaType\", \"size\", \"os\", \"architecture\", \"variant\", \"created\", \"entrypoint\", \"cmd\", \"labels\"}, \"layers\": [{\"digest\", \"mediaType\", \"size\"}] and \"total\" (the manifest, config and layer sizes added up); \"artifactType\" and \"subject\" when the document has them.";

#[derive(clap::Args, Debug)]
pub struct Args {
    /// DIR REF, an oci-layout://PATH[/NAME][:TAG|@DIGEST] URL, or a registry reference.
    #[arg(required = true, num_args = 1..=2, value_name = "DIR REF | URL | IMAGE")]
    pub args: Vec<String>,
    /// Descend through image indexes to the manifest for os/arch[/variant].
    #[arg(long, value_parser = super::resolve::parse_platform)]
    pub platform: Option<Platform>,
    /// Print the exact bytes of the manifest or index (sha256sum of them is its digest).
    #[arg(long, conflicts_with_all = ["config", "json"])]
    pub raw: bool,
    /// Print the exact bytes of the image's config.
    #[arg(long, conflicts_with = "json")]
    pub config: bool,
    /// Print a JSON object.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

pub fn run(args: Args, global: &Global) -> anyhow::Result<u8> {
    let platform = args.platform.as_ref();
    let layout_only = |what: &str| {
        args.registry.given(Owner::Nowhere(format!(
            "--username is for a registry, and inspect {what} reads a layout"
        )))
    };
    let found = match args.args.as_slice() {
        [dir, reference] => {
            layout_only(&format!("{} {}", shown(dir), shown(reference)))?;
            let layout = Layout::open(dir)?;
            let d = layout.resolve(reference, platform)?;
            inspect::inspect(&LayoutSource(&layout), &d)?
        }
        [url] if url.starts_with("oci-layout://") => {
            layout_only(&shown(url))?;
            let (layout, d) = resolve::resolve_url(url, platform)?;
            inspect::inspect(&LayoutSource(&layout), &d)?
        }
        [image] => {
            super::local::not_a_path(image)?;
            let image = parse_ref(image)?;
            let given = args.registry.given(Owner::Registry(image.domain()))?;
            let client = Client::new(args.registry.config(global, given)?)?;
            let repo = client.repository(image.registry_host(), image.path(), false);
            let source = RegistrySource(&repo);
            let reference = match image.digest() {
                Some(d) => d.to_string(),
                None => image.tag().unwrap_or("latest").to_string(),
            };
            let what = |e: ocilayout::Error| anyhow::anyhow!("inspect {image}: {e}");
            let mut d = repo.get_manifest(&reference).map_err(what)?.descriptor();
            if let Some(p) = platform {
                d = inspect::select_platform(&source as &dyn Source, d, p).map_err(what)?;
            }
            inspect::inspect(&source, &d).map_err(what)?
        }
        _ => return Err(UsageError("give DIR REF, a URL or an image".into()).into()),
    };
    if args.raw || args.config {
        let bytes = if args.raw {
            &found.raw
        } else {
            found
                .raw_config
                .as_ref()
                .ok_or_else(|| anyhow::anyhow!("{} has no config (it is an index)", found.digest))?
        };
        let mut out = std::io::stdout().lock();
        out.write_all(bytes)?;
        out.flush()?;
    } else if args.json {
        print_json(&found)?;
    } else {
        print_lines(human(&found))?;
    }
    Ok(super::EXIT_OK)
}

/// The human lines: one `key: value` per line, lists indented.
fn human(i: &Inspection) -> Vec<String> {
    let mut l = vec![
        format!("digest: {}", i.digest),
        format!("mediaType: {}", i.media_type),
        format!("size: {}", i.size),
    ];
    if let Some(t) = &i.artifact_type {
        l.push(format!("artifactType: {t}"));
    }
    if let Some(s) = &i.subject {
        l.push(format!("subject: {s}"));
    }
    if let Some(children) = &i.manifests {
        l.push("platforms:".into());
        for c in children {
            let p = c.platform.as_deref().unwrap_or("-");
            l.push(format!("  {p}  {}  {}  {}", c.digest, c.media_type, c.size));
        }
    }
    if let Some(c) = &i.config {
        l.push(format!(
            "config: {} ({}, {} bytes)",
            c.digest, c.media_type, c.size
        ));
        if let (Some(os), Some(arch)) = (&c.os, &c.architecture) {
            let variant = c
                .variant
                .as_deref()
                .map(|v| format!("/{v}"))
                .unwrap_or_default();
            l.push(format!("  platform: {os}/{arch}{variant}"));
        }
        if let Some(created) = &c.created {
            l.push(format!("  created: {created}"));
        }
        if let Some(e) = &c.entrypoint {
            l.push(format!(
                "  entrypoint: {}",
                serde_json::to_string(e).unwrap_or_default()
            ));
        }
        if let Some(cmd) = &c.cmd {
            l.push(format!(
                "  cmd: {}",
                serde_json::to_string(cmd).unwrap_or_default()
            ));
        }
        for (k, v) in &c.labels {
            l.push(format!("  label: {k}={v}"));
        }
    }
    if let Some(layers) = &i.layers {
        l.push("layers:".into());
        for b in layers {
            l.push(format!("  {}  {}  {}", b.digest, b.media_type, b.size));
        }
    }
    if let Some(t) = i.total {
        l.push(format!("total: {t} ({})", super::registry::human_bytes(t)));
    }
    if !i.annotations.is_empty() {
        l.push("annotations:".into());
        for (k, v) in &i.annotations {
            l.push(format!("  {k}={v}"));
        }
    }
    if !i.referrers.is_empty() {
        l.push("referrers:".into());
        for r in &i.referrers {
            let t = r.artifact_type.as_deref().unwrap_or(&r.media_type);
            l.push(format!("  {t}  {}", r.digest));
        }
    }
    l
}
