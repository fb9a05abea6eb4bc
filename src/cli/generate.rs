//! `ocilayout generate man DIR` and `ocilayout generate completions SHELL DIR`: man pages and shell
//! completions from the same clap definitions the parser uses (hidden; used to refresh `man/`).

use std::fs;
use std::path::PathBuf;

use clap::CommandFactory;
use clap_complete::Shell;

use super::{Cli, Global};

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    pub what: What,
}

#[derive(clap::Subcommand, Debug)]
pub enum What {
    /// Write ocilayout.1 and ocilayout-<command>.1 into DIR.
    Man { dir: PathBuf },
    /// Write the completion script for SHELL into DIR.
    Completions { shell: Shell, dir: PathBuf },
}

pub fn run(args: Args, _global: &Global) -> anyhow::Result<u8> {
    match args.what {
        What::Man { dir } => super::man::write_pages(&dir)?,
        What::Completions { shell, dir } => {
            fs::create_dir_all(&dir)?;
            clap_complete::generate_to(shell, &mut Cli::command(), "ocilayout", &dir)?;
        }
    }
    Ok(super::EXIT_OK)
}
