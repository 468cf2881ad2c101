//! `weft completions SHELL`: the shell's completion script, generated from
//! the command line's definition (`cli.rs`) and printed on stdout.

use anyhow::{Context as _, Result};
use clap_complete::Shell;
use std::io::Write as _;

#[derive(clap::Args)]
pub struct Args {
    /// The shell to complete weft's commands and flags in.
    #[arg(value_enum)]
    shell: Shell,
}

/// Where the script goes, shown by `weft completions --help` and its man
/// page (so paragraphs, which both fill to their width).
pub const WHERE_TO_PUT_IT: &str = "\
Where to put the output, then start a new shell:

bash: weft completions bash > /usr/local/share/bash-completion/completions/weft \
(for one user: ~/.local/share/bash-completion/completions/weft). Needs the \
bash-completion package.

zsh: weft completions zsh > /usr/local/share/zsh/site-functions/_weft \
(for one user: ~/.zfunc/_weft, with `fpath=(~/.zfunc $fpath)` in ~/.zshrc \
before compinit runs).

fish: weft completions fish > ~/.config/fish/completions/weft.fish \
(for every user: /usr/local/share/fish/vendor_completions.d/weft.fish).";

pub fn exec(args: Args) -> Result<()> {
    let mut out = Vec::new();
    script(args.shell, &mut out);
    std::io::stdout()
        .write_all(&out)
        .context("write the completion script to stdout")
}

/// The completion script of `shell` for the `weft` command.
pub fn script(shell: Shell, out: &mut dyn std::io::Write) {
    let mut cmd = without_hidden(&crate::cli::command());
    clap_complete::generate(shell, &mut cmd, "weft", out);
}

/// `cmd` with only what `--help` shows: clap_complete's scripts would offer
/// hidden commands and flags too (`weft service-run`, run by `weft up` on a
/// service's host, is no command for people). What completion uses is kept:
/// names, help texts, arguments with their values; a help subcommand and
/// `--help`/`--version` are added back when the copy is built (clap's
/// `string` feature lets the copy own its names).
fn without_hidden(cmd: &clap::Command) -> clap::Command {
    let mut visible = clap::Command::new(cmd.get_name().to_string())
        .args(cmd.get_arguments().filter(|a| !a.is_hide_set()).cloned())
        .subcommands(
            cmd.get_subcommands()
                .filter(|s| !s.is_hide_set())
                .map(without_hidden),
        );
    if let Some(about) = cmd.get_about() {
        visible = visible.about(about.clone());
    }
    if let Some(version) = cmd.get_version() {
        visible = visible.version(version.to_string());
    }
    visible
}

#[cfg(test)]
mod tests;
