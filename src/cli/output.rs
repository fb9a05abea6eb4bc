//! What the subcommands share for output: global flags, JSON printing, and error reporting.

use std::io::{self, Write};

use super::Cli;

/// The global flags, as a plain struct for the subcommands.
#[derive(Clone, Debug, Default)]
pub struct Global {
    pub verbose: u8,
    pub quiet: bool,
    pub no_progress: bool,
}

impl Global {
    pub fn from_cli(cli: &Cli) -> Self {
        Global {
            verbose: cli.verbose,
            quiet: cli.quiet,
            no_progress: cli.no_progress,
        }
    }

    /// Whether to draw progress bars: on a terminal, unless `--quiet` or `--no-progress`.
    pub fn progress_bars(&self) -> bool {
        use std::io::IsTerminal;
        !self.quiet && !self.no_progress && io::stderr().is_terminal()
    }

    /// Prints a result or summary line on stdout unless `--quiet`, control characters escaped.
    pub fn result(&self, line: impl std::fmt::Display) -> anyhow::Result<()> {
        if !self.quiet {
            print_lines([line])?;
        }
        Ok(())
    }

    /// Prints an informational line on stderr unless `--quiet`, control characters escaped.
    pub fn info(&self, line: impl std::fmt::Display) {
        if !self.quiet {
            eprintln!("{}", shown(&line.to_string()));
        }
    }
}

/// `n` followed by a noun, plural unless `n` is one: `1 image`, `0 images`, `2 blobs`. Every count in
/// human output is written with it, so that no line says "1 images". Regular plurals only (an `s`).
pub fn count<N: std::fmt::Display + PartialEq + From<u8>>(n: N, noun: &str) -> String {
    if n == N::from(1) {
        format!("{n} {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// Prints a value as pretty JSON on stdout, followed by a newline.
pub fn print_json<T: serde::Serialize>(value: &T) -> anyhow::Result<()> {
    // Serialized first: a write error (a closed pipe) then reaches the caller as an io::Error that
    // `is_broken_pipe` recognizes, not wrapped in a serde_json::Error.
    let mut bytes = serde_json::to_vec_pretty(value)?;
    bytes.push(b'\n');
    let mut out = io::stdout().lock();
    out.write_all(&bytes)?;
    out.flush()?;
    Ok(())
}

/// Text from a name, a path or a document as a line of human output shows it: control characters
/// (newline, tab, ESC, OSC sequences' bytes) escaped, so that a hostile name can neither forge a line
/// or a column nor reach the terminal. Every human line goes through here (JSON escapes on its own).
pub fn shown(text: &str) -> std::borrow::Cow<'_, str> {
    ocilayout::error::escape_controls(text)
}

/// Prints lines on stdout, control characters escaped.
pub fn print_lines<I: IntoIterator<Item = S>, S: std::fmt::Display>(
    lines: I,
) -> anyhow::Result<()> {
    let mut out = io::BufWriter::new(io::stdout().lock());
    for l in lines {
        writeln!(out, "{}", shown(&l.to_string()))?;
    }
    out.flush()?;
    Ok(())
}

/// Prints rows of tab-separated columns on stdout, each field's control characters escaped (a tab
/// inside a field cannot make a column).
pub fn print_rows<I, R, S>(rows: I) -> anyhow::Result<()>
where
    I: IntoIterator<Item = R>,
    R: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let mut out = io::BufWriter::new(io::stdout().lock());
    for row in rows {
        let fields: Vec<String> = row
            .into_iter()
            .map(|f| shown(f.as_ref()).into_owned())
            .collect();
        writeln!(out, "{}", fields.join("\t"))?;
    }
    out.flush()?;
    Ok(())
}

/// Whether an error is a closed stdout, which is success for a command-line tool.
pub fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}

/// Prints an error as `ocilayout: <what and where>`, with at most one line of context.
pub fn print_error(e: &anyhow::Error) {
    // Each part one line of sensible length, whatever text from a hostile document it carries.
    let mut chain = e
        .chain()
        .map(|c| ocilayout::error::one_line(&c.to_string()));
    let first = chain.next().unwrap_or_default();
    let mut msg = format!("ocilayout: {first}");
    if let Some(cause) = chain.next() {
        if !first.contains(&cause) {
            msg.push_str(&format!(": {cause}"));
        }
    }
    // One or two lines, whatever the error carried.
    let msg: String = msg.lines().take(2).collect::<Vec<_>>().join("\n  ");
    let _ = writeln!(io::stderr(), "{msg}");
}

/// After a name that is not found: a second line naming the entries it matches but for their
/// registry host (`did you mean 127.0.0.1:5000/myorg/app:1.0?`), when there are any.
pub fn print_hint(e: &anyhow::Error) {
    let Some(ocilayout::Error::NotFound { input, layout }) = e.downcast_ref() else {
        return;
    };
    let Ok(layout) = ocilayout::Layout::open(layout) else {
        return;
    };
    let similar = super::suggest::similar_names(&layout, input);
    if !similar.is_empty() {
        let _ = writeln!(
            io::stderr(),
            "  did you mean {}?",
            shown(&similar.join(" or "))
        );
        return;
    }
    // Nothing like it: say what the layout does hold, the first few names.
    const SHOWN: usize = 5;
    let names = super::suggest::names_in(&layout);
    let line = match names.len() {
        0 => "  it holds no named image".to_string(),
        n if n <= SHOWN => format!("  it holds {}", names.join(", ")),
        n => format!(
            "  it holds {} and {} more (`ocilayout ls` lists them)",
            names[..SHOWN].join(", "),
            n - SHOWN
        ),
    };
    let _ = writeln!(io::stderr(), "{}", shown(&line));
}

/// The ref.name clashes of the layout at `dir` (see [`super::clash`]); none when it is not a
/// readable layout (yet).
pub fn clashes(dir: &std::path::Path) -> Vec<super::clash::Clash> {
    ocilayout::Layout::open(dir)
        .and_then(|l| l.read_index())
        .map(|i| super::clash::clashes(&i))
        .unwrap_or_default()
}

/// After a write that names entries: one note on stderr when it left two entries with different
/// digests sharing one bare ref.name that `before` did not have, naming `--full-ref-name`.
pub fn note_new_clashes(global: &Global, dir: &std::path::Path, before: &[super::clash::Clash]) {
    let new = super::clash::new_clashes(before, &clashes(dir));
    if new.is_empty() {
        return;
    }
    let which: Vec<String> = new
        .iter()
        .map(|c| format!("ref.name {:?} labels {}", c.ref_name, c.names.join(" and ")))
        .collect();
    global.info(format_args!(
        "note: {}; tools that read ref.name alone (skopeo, umoci, podman) cannot tell them apart",
        which.join("; ")
    ));
    global.info("  (skopeo takes the first): write full names with --full-ref-name");
}

/// A command line that parses but asks for something impossible (exit status 2, like clap's errors).
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// Prints a clap usage error in two lines: what is wrong (clap's message, its continuation lines
/// joined, then clap's tips such as "a similar subcommand exists: 'pull'"), then the usage line of
/// the subcommand when clap gives one.
///
/// `hidden` are the subcommands that are not for users (`generate`): clap offers them as
/// suggestions like any other, so a tip that names one is dropped.
pub fn print_usage_error(rendered: &str, hidden: &[&str]) {
    let _ = writeln!(io::stderr(), "{}", usage_error_lines(rendered, hidden));
}

/// What users of other tools type for our subcommands, offered when clap has no suggestion of its
/// own: skopeo's and regctl's `delete`, and the like.
const SYNONYMS: [(&str, &str); 4] = [
    (
        "delete",
        "a similar subcommand exists: 'rm' (or 'untag' to remove names only)",
    ),
    (
        "remove",
        "a similar subcommand exists: 'rm' (or 'untag' to remove names only)",
    ),
    ("list", "a similar subcommand exists: 'ls'"),
    ("save", "a similar subcommand exists: 'export'"),
];

/// A tip of clap's without the hidden subcommands it suggests (`some similar subcommands exist:
/// 'generate', 'rm'` becomes `a similar subcommand exists: 'rm'`); `None` when nothing is left.
fn without_hidden(tip: &str, hidden: &[&str]) -> Option<String> {
    let Some((_, names)) = tip
        .split_once("subcommand exists: ")
        .or_else(|| tip.split_once("subcommands exist: "))
    else {
        return Some(tip.to_string());
    };
    let kept: Vec<&str> = names
        .split(", ")
        .filter(|n| !hidden.iter().any(|h| n.trim_matches('\'') == *h))
        .collect();
    match kept.as_slice() {
        [] => None,
        [one] => Some(format!("a similar subcommand exists: {one}")),
        many => Some(format!(
            "some similar subcommands exist: {}",
            many.join(", ")
        )),
    }
}

/// The two lines [`print_usage_error`] prints.
fn usage_error_lines(rendered: &str, hidden: &[&str]) -> String {
    let mut what = Vec::new();
    let mut tips = Vec::new();
    let mut usage = None;
    for line in rendered.lines().map(str::trim) {
        if line.is_empty() || line.starts_with("For more information") {
            continue;
        }
        if let Some(tip) = line.strip_prefix("tip:") {
            tips.extend(without_hidden(tip.trim(), hidden));
        } else if line.starts_with("Usage:") {
            usage.get_or_insert(line);
        } else if usage.is_none() {
            what.push(line.strip_prefix("error: ").unwrap_or(line));
        }
    }
    let what = what.join(" ");
    if tips.is_empty() {
        let typed = what
            .strip_prefix("unrecognized subcommand '")
            .and_then(|rest| rest.strip_suffix('\''));
        if let Some((_, tip)) = SYNONYMS.iter().find(|(word, _)| Some(*word) == typed) {
            tips.push(tip.to_string());
        }
    }
    let mut msg = format!("ocilayout: {what}");
    for tip in tips {
        msg.push_str("; ");
        msg.push_str(&tip);
    }
    if let Some(u) = usage {
        msg.push('\n');
        msg.push_str(u);
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

    /// clap's suggestions survive the two-line form.
    #[test]
    fn usage_errors_keep_the_suggestion() {
        let rendered = "error: unrecognized subcommand 'pul'\n\n  tip: a similar subcommand \
                        exists: 'pull'\n\nUsage: ocilayout [OPTIONS] <COMMAND>\n\nFor more \
                        information, try '--help'.\n";
        assert_eq!(
            usage_error_lines(rendered, &["generate"]),
            "ocilayout: unrecognized subcommand 'pul'; a similar subcommand exists: 'pull'\n\
             Usage: ocilayout [OPTIONS] <COMMAND>"
        );
    }

    /// A hidden subcommand is never offered, alone or among others; other tips stay as they are,
    /// and what users of other tools type gets our name for it.
    #[test]
    fn hidden_subcommands_are_not_suggested() {
        let render = |typed: &str, tip: &str| {
            format!(
                "error: unrecognized subcommand '{typed}'\n\n  tip: {tip}\n\nUsage: ocilayout \
                 [OPTIONS] <COMMAND>\n"
            )
        };
        let usage = "\nUsage: ocilayout [OPTIONS] <COMMAND>";
        let cases = [
            ("generat", "a similar subcommand exists: 'generate'", "ocilayout: unrecognized subcommand 'generat'"),
            (
                "delete",
                "a similar subcommand exists: 'generate'",
                "ocilayout: unrecognized subcommand 'delete'; a similar subcommand exists: 'rm' (or 'untag' to remove names only)",
            ),
            (
                "gxx",
                "some similar subcommands exist: 'generate', 'gc'",
                "ocilayout: unrecognized subcommand 'gxx'; a similar subcommand exists: 'gc'",
            ),
            (
                "pul",
                "some similar subcommands exist: 'push', 'pull'",
                "ocilayout: unrecognized subcommand 'pul'; some similar subcommands exist: 'push', 'pull'",
            ),
            (
                "x",
                "to pass 'x' as a value, use '-- x'",
                "ocilayout: unrecognized subcommand 'x'; to pass 'x' as a value, use '-- x'",
            ),
        ];
        for (typed, tip, want) in cases {
            assert_eq!(
                usage_error_lines(&render(typed, tip), &["generate"]),
                format!("{want}{usage}"),
                "{typed}"
            );
        }
    }

    /// Counts in human output: the noun is singular for one and plural otherwise, for every type
    /// of count a report has.
    #[test]
    fn counts_agree_with_their_nouns() {
        let cases: [(String, &str); 6] = [
            (count(0usize, "image"), "0 images"),
            (count(1usize, "image"), "1 image"),
            (count(2usize, "image"), "2 images"),
            (count(1u64, "byte"), "1 byte"),
            (count(1024u64, "byte"), "1024 bytes"),
            (count(1u32, "problem"), "1 problem"),
        ];
        for (got, want) in cases {
            assert_eq!(got, want);
        }
    }
}
