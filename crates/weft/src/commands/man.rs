//! `weft man --out DIR` (hidden): one man page per command and subcommand —
//! `weft.1`, `weft-network.1`, `weft-network-create.1`, … — generated from
//! the command line's definition (`cli.rs`) with clap_mangen. The pages are
//! committed in docs/man/; a test regenerates them and fails when they
//! differ, so they always match the binary. Hidden commands get no page.

use anyhow::{Context as _, Result};
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub struct Args {
    /// The directory to write the pages into (made when missing). Pages of
    /// the same names are replaced, and weft pages of commands that no
    /// longer exist are removed.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
}

/// A man page: its file name (`weft-network-create.1`) and its roff text.
pub struct Page {
    pub file_name: String,
    pub text: Vec<u8>,
}

pub fn exec(args: Args) -> Result<()> {
    let dir = &args.out;
    let pages = pages()?;
    std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    for page in &pages {
        let path = dir.join(&page.file_name);
        std::fs::write(&path, &page.text).with_context(|| format!("write {}", path.display()))?;
    }
    for stale in weft_pages_in(dir)?
        .into_iter()
        .filter(|name| !pages.iter().any(|p| &p.file_name == name))
    {
        let path = dir.join(&stale);
        std::fs::remove_file(&path).with_context(|| format!("remove {}", path.display()))?;
        println!("removed {} (no such command)", path.display());
    }
    println!("wrote {} man pages to {}", pages.len(), dir.display());
    Ok(())
}

/// Every page, rendered in memory: the top command's, then each visible
/// subcommand's, depth first.
pub fn pages() -> Result<Vec<Page>> {
    // As clap_mangen's own `generate_to`: no `help` subcommand pages, and
    // built once so that subcommands carry their full names (`weft-network`).
    // The crate's version, not `--version`'s commit: the committed pages
    // must not change with every commit.
    let mut top = crate::cli::command()
        .version(env!("CARGO_PKG_VERSION"))
        .disable_help_subcommand(true);
    top.build();
    let mut pages = vec![];
    render(&top, &mut pages)?;
    Ok(pages)
}

fn render(cmd: &clap::Command, pages: &mut Vec<Page>) -> Result<()> {
    // Every page's footer names weft and its version, not the subcommand.
    let man = clap_mangen::Man::new(cmd.clone())
        .source(format!("weft {}", env!("CARGO_PKG_VERSION")))
        .manual("weft manual");
    let mut text = vec![];
    man.render(&mut text)
        .with_context(|| format!("render the man page of {}", man.get_filename()))?;
    pages.push(Page {
        file_name: man.get_filename(),
        text,
    });
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        render(sub, pages)?;
    }
    Ok(())
}

/// The names of the weft man pages already in `dir` (`weft.1`, `weft-*.1`),
/// sorted; none when `dir` does not exist.
pub fn weft_pages_in(dir: &Path) -> Result<Vec<String>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
        Err(e) => return Err(e).with_context(|| format!("read {}", dir.display())),
    };
    let mut names = vec![];
    for entry in entries {
        let name = entry
            .with_context(|| format!("read {}", dir.display()))?
            .file_name()
            .to_string_lossy()
            .into_owned();
        if name == "weft.1" || (name.starts_with("weft-") && name.ends_with(".1")) {
            names.push(name);
        }
    }
    names.sort();
    Ok(names)
}

#[cfg(test)]
mod tests;
