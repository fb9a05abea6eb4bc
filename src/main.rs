//! The `ocilayout` binary: parse the command line, run it, map the outcome to an exit status.

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    cli::main()
}
