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
    #[expect(
        dead_code,
        reason = "drawn by the transfer commands (pull, push, import)"
    )]
    pub fn progress_bars(&self) -> bool {
        use std::io::IsTerminal;
        !self.quiet && !self.no_progress && io::stderr().is_terminal()
    }

    /// Prints an informational line on stderr unless `--quiet`.
    pub fn info(&self, line: impl std::fmt::Display) {
        if !self.quiet {
            eprintln!("{line}");
        }
    }
}

/// Prints a value as pretty JSON on stdout, followed by a newline.
pub fn print_json<T: serde::Serialize>(value: &T) -> anyhow::Result<()> {
    let mut out = io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value)?;
    writeln!(out)?;
    out.flush()?;
    Ok(())
}

/// Prints lines on stdout.
pub fn print_lines<I: IntoIterator<Item = S>, S: std::fmt::Display>(
    lines: I,
) -> anyhow::Result<()> {
    let mut out = io::BufWriter::new(io::stdout().lock());
    for l in lines {
        writeln!(out, "{l}")?;
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
    let mut chain = e.chain().map(|c| c.to_string());
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
