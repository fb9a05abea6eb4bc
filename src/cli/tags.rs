//! `ocilayout tags [REG] [--json] REPOSITORY`: every tag of a registry repository.

use ocilayout::registry::Client;

use super::credentials::Owner;
use super::output::{print_json, print_lines, UsageError};
use super::registry::{registry_ref, RegistryArgs};
use super::Global;

/// The long help (man page): what the command does and its JSON shape.
pub const LONG_ABOUT: &str = "Lists every tag of a repository, following the registry's `Link` pagination to the end.\n\nWith --json it prints {\"repository\": \"host/name\", \"tags\": [\"1.0\", ...]}, the tags in the order the registry sent them. A repository the registry does not know has no tags.";

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

#[derive(serde::Serialize)]
struct Tags {
    repository: String,
    tags: Vec<String>,
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
    let tags = client
        .repository(repo.registry_host(), repo.path(), false)
        .tags()
        .map_err(|e| anyhow::anyhow!("tags of {}: {e}", repo.repository()))?;
    if args.json {
        print_json(&Tags {
            repository: repo.repository(),
            tags,
        })?;
    } else {
        print_lines(tags)?;
    }
    Ok(super::EXIT_OK)
}
