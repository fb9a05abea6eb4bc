//! Man pages from the clap definitions: clap_mangen renders the name, synopsis, description,
//! options and subcommands; this adds what it cannot know (EXIT STATUS, EXAMPLES, SEE ALSO) and
//! names each subcommand the way it is typed (`ocilayout serve`, in a page called
//! `ocilayout-serve(1)`).

use std::fs;
use std::path::Path;

use clap::CommandFactory;

use super::Cli;

/// Examples for each page, by subcommand (`""` is `ocilayout(1)`): a sentence, then the command.
const EXAMPLES: &[(&str, &[(&str, &str)])] = &[
    ("", &[
        ("Pull an image for one platform into a layout, then list what the layout holds:",
         "ocilayout pull --platform linux/amd64 alpine:3.20 ./bundle\nocilayout ls ./bundle"),
        ("Resolve a buildkit-style URL to the digest of its arm64 manifest:",
         "ocilayout resolve oci-layout://./bundle/alpine:3.20 --platform linux/arm64"),
    ]),
    ("init", &[("Create an empty layout:", "ocilayout init ./bundle")]),
    ("ls", &[
        ("List the entries of a layout, one per line:", "ocilayout ls ./bundle"),
        ("The digests of every entry named alpine, with jq:",
         "ocilayout ls --json ./bundle | jq -r '.[] | select(.name != null and (.name | contains(\"alpine\"))) | .digest'"),
    ]),
    ("resolve", &[
        ("Print the digest a name resolves to:", "ocilayout resolve ./bundle alpine:3.20"),
        ("The descriptor of the linux/arm64 manifest, as JSON:",
         "ocilayout resolve --json --platform linux/arm64 ./bundle alpine:3.20"),
    ]),
    ("tag", &[("Give an image two more names:",
               "ocilayout tag ./bundle alpine:3.20 registry.local/base:stable registry.local/base:1")]),
    ("untag", &[("Remove a name (the blobs stay until gc):", "ocilayout untag ./bundle alpine:3.20")]),
    ("gc", &[
        ("See what gc would remove, then remove it:", "ocilayout gc --dry-run ./bundle\nocilayout gc ./bundle"),
    ]),
    ("fsck", &[("Check every reachable blob; exit status 1 on damage:", "ocilayout fsck ./bundle && echo intact")]),
    ("pull", &[
        ("Pull two images, every platform of each:", "ocilayout pull alpine:3.20 ghcr.io/org/app:1.4 ./bundle"),
        ("Pull one platform from a registry with a private CA:",
         "ocilayout pull --cacert ca.pem --platform linux/arm64 registry.local:5000/team/app:1 ./bundle"),
    ]),
    ("push", &[("Push an image of the layout to a registry:",
                "ocilayout push ./bundle alpine:3.20 registry.local:5000/mirror/alpine:3.20")]),
    ("sync", &[("Push every named image of the layout under a prefix:",
                "ocilayout sync ./bundle registry.local:5000/mirror")]),
    ("copy", &[
        ("Copy an image, with its signatures, from a registry into a layout:",
         "ocilayout copy docker://ghcr.io/org/app:1.4 oci-layout://./bundle/app:1.4"),
        ("And from the layout to another registry:",
         "ocilayout copy oci-layout://./bundle/app:1.4 registry.local:5000/org/app:1.4"),
    ]),
    ("export", &[
        ("Write the whole layout to a compressed archive:", "ocilayout export ./bundle bundle.tar.gz"),
        ("Only one image, without what an older bundle already holds:",
         "ocilayout export --base ./last-week ./bundle update.tar alpine:3.20"),
    ]),
    ("import", &[
        ("Merge an archive into a layout, creating it if needed:", "ocilayout import bundle.tar.gz ./bundle"),
        ("Import a docker save tarball:", "docker save alpine:3.20 | ocilayout import - ./bundle"),
    ]),
    ("serve", &[
        ("Serve a layout to pull from on the local network:", "ocilayout serve ./bundle --addr 0.0.0.0:5000"),
        ("Accept pushes too, behind TLS and htpasswd:",
         "ocilayout serve ./bundle --push --tls-cert cert.pem --tls-key key.pem --htpasswd users"),
    ]),
    ("inspect", &[
        ("The platforms and layers of an image in a layout:", "ocilayout inspect ./bundle alpine:3.20"),
        ("The config of an image in a registry, as JSON:",
         "ocilayout inspect --config docker://ghcr.io/org/app:1.4"),
    ]),
    ("tags", &[("Every tag of a repository:", "ocilayout tags registry.local:5000/team/app")]),
    ("login", &[
        ("Log in, typing the password at the prompt:", "ocilayout login --username alice registry.local:5000"),
        ("Log in from a script:",
         "printf '%s\\n' \"$TOKEN\" | ocilayout login --username ci --password-stdin registry.local:5000"),
    ]),
    ("logout", &[
        ("Forget the credentials of one registry:", "ocilayout logout registry.local:5000"),
        ("Of every registry:", "ocilayout logout --all"),
    ]),
    ("rm", &[("Remove an image and what only it uses; see first what would go:",
              "ocilayout rm --dry-run ./bundle alpine:3.20\nocilayout rm ./bundle alpine:3.20")]),
    ("du", &[("Each image's total, unique and shared sizes:", "ocilayout du ./bundle")]),
];

/// What a subcommand's exit status 1 means beyond the usual failures, when it means more.
const EXIT_ONE: &[(&str, &str)] = &[
    (
        "fsck",
        "Damage was found: a blob missing, corrupt or of the wrong size or media type.",
    ),
    ("logout", "The auth file holds no credentials for HOST."),
];

/// Writes `ocilayout.1` and one `ocilayout-<command>.1` per visible subcommand into `dir`.
pub fn write_pages(dir: &Path) -> anyhow::Result<()> {
    fs::create_dir_all(dir)?;
    // The help subcommand has no page of its own (`--help` is on every page).
    let cmd = Cli::command().disable_help_subcommand(true);
    let subs: Vec<clap::Command> = cmd
        .get_subcommands()
        .filter(|s| !s.is_hide_set())
        .cloned()
        .collect();
    let names: Vec<String> = subs.iter().map(|s| s.get_name().to_string()).collect();
    fs::write(dir.join("ocilayout.1"), page(cmd, "", &names)?)?;
    for sub in subs {
        let name = sub.get_name().to_string();
        let sub = sub
            .bin_name(format!("ocilayout {name}"))
            .display_name(format!("ocilayout-{name}"));
        fs::write(
            dir.join(format!("ocilayout-{name}.1")),
            page(sub, &name, &[])?,
        )?;
    }
    Ok(())
}

/// One page: clap_mangen's sections, then EXIT STATUS, EXAMPLES and SEE ALSO.
fn page(cmd: clap::Command, name: &str, subcommands: &[String]) -> anyhow::Result<Vec<u8>> {
    let man = clap_mangen::Man::new(cmd.clone()).source("ocilayout");
    let mut out = Vec::new();
    man.render_title(&mut out)?;
    // Each section clap_mangen renders alone repeats the page's preamble: kept once, at the top.
    let mut rest = Vec::new();
    man.render_name_section(&mut rest)?;
    man.render_synopsis_section(&mut rest)?;
    man.render_description_section(&mut rest)?;
    if cmd.get_arguments().any(|a| !a.is_hide_set()) {
        man.render_options_section(&mut rest)?;
    }
    if !subcommands.is_empty() {
        man.render_subcommands_section(&mut rest)?;
    }
    let rest = String::from_utf8(rest)?;
    for line in rest.lines().filter(|l| !PREAMBLE.contains(l)) {
        out.extend_from_slice(line.as_bytes());
        out.push(b'\n');
    }
    exit_status(&mut out, name);
    examples(&mut out, name);
    see_also(&mut out, name, subcommands);
    if cmd.get_version().is_some() {
        let mut version = Vec::new();
        man.render_version_section(&mut version)?;
        for line in String::from_utf8(version)?
            .lines()
            .filter(|l| !PREAMBLE.contains(l))
        {
            out.extend_from_slice(line.as_bytes());
            out.push(b'\n');
        }
    }
    Ok(out)
}

/// The lines roff output starts with (defining the apostrophe string), once per page.
const PREAMBLE: [&str; 2] = [".ie \\n(.g .ds Aq \\(aq", ".el .ds Aq '"];

fn exit_status(out: &mut Vec<u8>, name: &str) {
    let one = EXIT_ONE
        .iter()
        .find(|(n, _)| *n == name)
        .map_or(String::new(), |(_, extra)| format!(" {extra}"));
    section(out, "EXIT STATUS");
    for (code, meaning) in [
        ("0", "Success.".to_string()),
        (
            "1",
            format!("Failure: not found, ambiguous, damage, network or registry errors.{one}"),
        ),
        ("2", "Usage: the command line is wrong.".to_string()),
    ] {
        out.extend_from_slice(format!(".TP\n{code}\n{}\n", text(&meaning)).as_bytes());
    }
}

fn examples(out: &mut Vec<u8>, name: &str) {
    let Some((_, list)) = EXAMPLES.iter().find(|(n, _)| *n == name) else {
        return;
    };
    section(out, "EXAMPLES");
    for (what, command) in *list {
        out.extend_from_slice(format!(".PP\n{}\n.PP\n.RS 4\n.nf\n", text(what)).as_bytes());
        for line in command.lines() {
            out.extend_from_slice(format!("\\fB{}\\fR\n", text(line)).as_bytes());
        }
        out.extend_from_slice(b".fi\n.RE\n");
    }
}

/// The other pages: from a subcommand's page the main one, from the main one every subcommand's;
/// and the file formats login writes and every command reads.
fn see_also(out: &mut Vec<u8>, name: &str, subcommands: &[String]) {
    let mut refs: Vec<String> = if name.is_empty() {
        subcommands
            .iter()
            .map(|s| format!("ocilayout-{s}(1)"))
            .collect()
    } else {
        vec!["ocilayout(1)".into()]
    };
    if matches!(
        name,
        "" | "login" | "logout" | "pull" | "push" | "sync" | "copy" | "tags"
    ) {
        refs.push("containers-auth.json(5)".into());
    }
    section(out, "SEE ALSO");
    out.extend_from_slice(format!("{}\n", text(&refs.join(", "))).as_bytes());
}

fn section(out: &mut Vec<u8>, title: &str) {
    out.extend_from_slice(format!(".SH \"{title}\"\n").as_bytes());
}

/// Text as roff shows it literally: backslashes and hyphens escaped, a line never starting a
/// request.
fn text(s: &str) -> String {
    let escaped = s.replace('\\', "\\e").replace('-', "\\-");
    if escaped.starts_with(['.', '\'']) {
        format!("\\&{escaped}")
    } else {
        escaped
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    /// Every example parses as the command line it claims to be (the `ocilayout` part of a pipe),
    /// and every visible subcommand has examples.
    #[test]
    fn examples_are_valid_command_lines() {
        for (name, list) in EXAMPLES {
            for (_, command) in *list {
                for line in command.lines() {
                    for part in line.split(['|', '&']) {
                        let part = part.trim();
                        if !part.starts_with("ocilayout ") || part.contains(['\'', '"']) {
                            continue;
                        }
                        let words: Vec<&str> = part.split_whitespace().collect();
                        if let Err(e) = Cli::try_parse_from(&words) {
                            panic!("example of {name:?} does not parse: {part}\n{e}");
                        }
                    }
                }
            }
        }
        for sub in Cli::command()
            .get_subcommands()
            .filter(|s| !s.is_hide_set())
        {
            assert!(
                EXAMPLES.iter().any(|(n, _)| *n == sub.get_name()),
                "{} has no examples: add them to EXAMPLES",
                sub.get_name()
            );
        }
    }

    #[test]
    fn text_is_literal_in_roff() {
        assert_eq!(text("a-b\\n"), "a\\-b\\en");
        assert_eq!(text(".TH x"), "\\&.TH x");
    }
}
