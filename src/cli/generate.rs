//! `ocilayout generate man DIR` and `ocilayout generate completions SHELL DIR`: man pages and shell
//! completions from the same clap definitions the parser uses (hidden; used to refresh `man/`).

use std::fs;
use std::path::{Path, PathBuf};

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
        What::Man { dir } => write_man_pages(&dir)?,
        What::Completions { shell, dir } => {
            fs::create_dir_all(&dir)?;
            clap_complete::generate_to(shell, &mut Cli::command(), "ocilayout", &dir)?;
        }
    }
    Ok(super::EXIT_OK)
}

fn write_man_pages(dir: &Path) -> anyhow::Result<()> {
    fs::create_dir_all(dir)?;
    let cmd = Cli::command();
    let mut pages = vec![("ocilayout".to_string(), cmd.clone())];
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        pages.push((
            format!("ocilayout-{}", sub.get_name()),
            sub.clone().name(format!("ocilayout-{}", sub.get_name())),
        ));
    }
    for (name, page) in pages {
        let mut buf = Vec::new();
        clap_mangen::Man::new(page).render(&mut buf)?;
        fs::write(dir.join(format!("{name}.1")), buf)?;
    }
    Ok(())
}
