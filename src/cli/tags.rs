//! `ocilayout tags [REG] [--json] REPOSITORY`: every tag of a registry repository.

use std::io::{BufWriter, Write};

use ocilayout::registry::Client;

use super::credentials::Owner;
use super::output::{shown, UsageError};
use super::registry::{registry_ref, RegistryArgs};
use super::Global;

/// The long help (man page): what the command does and its JSON shape.
pub const LONG_ABOUT: &str = "Lists every tag of a repository, following the registry's `Link` pagination to the end.\n\nWith --json it prints {\"repository\": \"host/name\", \"tags\": [\"1.0\", ...]}, the tags in the order the registry sent them. Both are written a page at a time as the registry sends them, so memory holds one page however long the list; the list ends at a `Link` back to a page already read. A repository the registry does not know is an error (exit status 1, the registry's NAME_UNKNOWN).";

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The repository: host:5000/name, alpine, docker://quay.io/org/app (no tag, no digest).
    pub repository: String,
    /// Print a JSON object.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

pub fn run(args: Args, global: &Global) -> anyhow::Result<u8> {
    super::local::not_a_path(&args.repository)?;
    let input = registry_ref(&args.repository);
    let repo = ocilayout::Reference::parse_without_default_tag(input)?;
    if repo.tag().is_some() || repo.digest().is_some() {
        return Err(UsageError(format!(
            "tags lists a repository; drop the tag or digest from {input:?}"
        ))
        .into());
    }
    let given = args.registry.given(Owner::Registry(repo.domain()))?;
    let client = Client::new(args.registry.config(global, given)?)?;
    let registry = client.repository(repo.registry_host(), repo.path(), false);
    let pages = registry.tag_pages(None);
    let what = |e: ocilayout::Error| anyhow::anyhow!("tags of {}: {e}", repo.repository());
    let mut out = BufWriter::new(std::io::stdout().lock());
    if args.json {
        // The object print_json would write, a page at a time.
        let repository = serde_json::to_string(&repo.repository())?;
        write!(out, "{{\n  \"repository\": {repository},\n  \"tags\": [")?;
        let mut any = false;
        for page in pages {
            for tag in page.map_err(what)? {
                let sep = if any { "," } else { "" };
                write!(out, "{sep}\n    {}", serde_json::to_string(&tag)?)?;
                any = true;
            }
            out.flush()?;
        }
        let close = if any { "\n  " } else { "" };
        writeln!(out, "{close}]\n}}")?;
    } else {
        for page in pages {
            for tag in page.map_err(what)? {
                writeln!(out, "{}", shown(&tag))?;
            }
            out.flush()?;
        }
    }
    out.flush()?;
    Ok(super::EXIT_OK)
}
