//! Which registry a credential given on the command line is for. `--username` is the destination's
//! for push, sync and copy, and the source's for pull, tags and inspect; `copy` also takes
//! `--src-username` and `--dest-username`. A password is offered to its own registry only; where it
//! is unclear which registry that is, the command is refused before anything is sent.

use std::io::Read;

use anyhow::Context;
use ocilayout::registry::auth::{Credential, CredentialSources, Environment, Given};
use ocilayout::Reference;

use super::output::UsageError;
use super::registry::RegistryArgs;

/// Whom a command's `--username` is for.
pub enum Owner<'a> {
    /// This registry: every repository of it.
    Registry(&'a str),
    /// No registry (the command reads a layout): `--username` is refused, saying this.
    Nowhere(String),
}

/// The registry every image of a pull comes from, which its `--username` is for; several
/// registries make `--username` unclear, and that is refused.
pub fn pull_owner<'a>(
    registry: &RegistryArgs,
    images: &'a [Reference],
) -> anyhow::Result<Owner<'a>> {
    let mut hosts: Vec<&str> = images.iter().map(Reference::domain).collect();
    hosts.sort_unstable();
    hosts.dedup();
    match hosts.as_slice() {
        [one] => Ok(Owner::Registry(one)),
        many if registry.username.is_some() => Err(UsageError(format!(
            "--username is for one registry, and these images come from {}: pull from each \
             registry on its own, or keep the credentials in an auth file (--auth-file)",
            many.join(" and ")
        ))
        .into()),
        // Without --username any owner will do: nothing is given.
        _ => Ok(Owner::Nowhere(String::new())),
    }
}

impl RegistryArgs {
    /// `--username` with the password read from standard input, for `owner`.
    pub fn given(&self, owner: Owner<'_>) -> anyhow::Result<Vec<Given>> {
        let Some(username) = &self.username else {
            return Ok(Vec::new());
        };
        let registry = match owner {
            Owner::Registry(r) => r,
            Owner::Nowhere(why) => return Err(UsageError(why).into()),
        };
        // clap makes --username require --password-stdin.
        let password = read_password("--password-stdin")?;
        Ok(vec![Given::new(
            registry,
            Credential::Basic {
                username: username.clone(),
                password,
            },
            "--username",
        )])
    }

    /// The credential sources of the auth files alone (what is found when no flag gives one).
    pub fn files(&self) -> CredentialSources {
        CredentialSources {
            explicit: Vec::new(),
            auth_file: self.auth_file.clone(),
            env: Environment::from_process(),
            helper_timeout: Some(std::time::Duration::from_secs(self.timeout)),
        }
    }
}

/// A password from standard input, without its line ending.
fn read_password(flag: &str) -> anyhow::Result<String> {
    let mut password = String::new();
    std::io::stdin()
        .read_to_string(&mut password)
        .with_context(|| format!("{flag}: reading the password from standard input"))?;
    Ok(password.trim_end_matches(['\n', '\r']).to_string())
}

/// `copy`'s credentials for each side, besides `--username` (the destination's).
#[derive(clap::Args, Debug, Clone)]
pub struct CopyCredentials {
    /// User name for the source registry; the password comes from --src-password-stdin, else from
    /// the auth file entry for that registry with this user name.
    #[arg(long, value_name = "U")]
    pub src_username: Option<String>,
    /// Read the source registry's password from standard input.
    #[arg(long, requires = "src_username")]
    pub src_password_stdin: bool,
    /// User name for the destination registry (the same as --username); the password comes from
    /// --dest-password-stdin, else from the auth file entry for that registry with this user name.
    #[arg(long, value_name = "U", conflicts_with = "username")]
    pub dest_username: Option<String>,
    /// Read the destination registry's password from standard input.
    #[arg(long, requires = "dest_username", conflicts_with = "password_stdin")]
    pub dest_password_stdin: bool,
}

/// One side of a copy as far as credentials go: the registry image, or `None` for a layout.
pub struct Side<'a> {
    pub image: Option<&'a Reference>,
    /// How the side was typed, for messages.
    pub typed: &'a str,
}

impl CopyCredentials {
    /// The credentials of both sides of a copy, each for its own registry (and, when both sides
    /// are on one registry, its own repository). Refused before any network: a side's user name
    /// for a side that is a layout, and two passwords from standard input.
    pub fn given(
        &self,
        registry: &RegistryArgs,
        src: Side<'_>,
        dst: Side<'_>,
    ) -> anyhow::Result<Vec<Given>> {
        let stdin = [
            ("--password-stdin", registry.password_stdin),
            ("--src-password-stdin", self.src_password_stdin),
            ("--dest-password-stdin", self.dest_password_stdin),
        ];
        let readers: Vec<&str> = stdin
            .iter()
            .filter(|(_, on)| *on)
            .map(|(f, _)| *f)
            .collect();
        if readers.len() > 1 {
            return Err(UsageError(format!(
                "{} would both read standard input: give one registry's password there and keep \
                 the other's in an auth file (--auth-file)",
                readers.join(" and ")
            ))
            .into());
        }
        let dest_user = self
            .dest_username
            .as_ref()
            .map(|u| (u, "--dest-username", self.dest_password_stdin))
            .or_else(|| {
                registry
                    .username
                    .as_ref()
                    .map(|u| (u, "--username", registry.password_stdin))
            });
        let src_user = self
            .src_username
            .as_ref()
            .map(|u| (u, "--src-username", self.src_password_stdin));
        let same_registry = match (src.image, dst.image) {
            (Some(s), Some(d)) => s.domain() == d.domain(),
            _ => false,
        };
        let mut out = Vec::new();
        for (user, side, role, other_flag) in [
            (src_user, &src, "source", "--username or --dest-username"),
            (dest_user, &dst, "destination", "--src-username"),
        ] {
            let Some((username, flag, from_stdin)) = user else {
                continue;
            };
            let Some(image) = side.image else {
                return Err(UsageError(format!(
                    "{flag} is for the {role} registry, and the {role} {} is a layout (for the \
                     other side's registry give {other_flag})",
                    side.typed
                ))
                .into());
            };
            let credential = if from_stdin {
                Credential::Basic {
                    username: username.clone(),
                    password: read_password(&format!("{flag}'s password"))?,
                }
            } else {
                from_auth_files(registry, image, username, flag)?
            };
            out.push(Given {
                repository: same_registry.then(|| image.path().to_string()),
                ..Given::new(image.domain(), credential, flag)
            });
        }
        Ok(out)
    }
}

/// The password of `username` for `image`'s registry from the auth files, for a user name given
/// without a password on standard input.
fn from_auth_files(
    registry: &RegistryArgs,
    image: &Reference,
    username: &str,
    flag: &str,
) -> anyhow::Result<Credential> {
    let files = registry.files();
    let found = files.find(image.domain(), Some(image.path()))?;
    match found.map(|f| f.credential) {
        Some(Credential::Basic {
            username: user,
            password,
        }) if user == username => Ok(Credential::Basic {
            username: user,
            password,
        }),
        _ => Err(anyhow::anyhow!(
            "{flag} {username:?}: the auth files hold no password of that user for {} (looked \
             in: {}); give it on standard input with {}",
            image.domain(),
            files.looked_in().trim_start_matches("--username, "),
            flag.replace("-username", "-password-stdin")
        )),
    }
}
