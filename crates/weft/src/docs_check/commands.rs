//! `weft …` command lines in the docs parse with the real CLI.
//!
//! Shell blocks (```` ```sh ````, ```` ```bash ````, ```` ```console ````
//! and unlabelled ones) are read line by line as full commands: every
//! required argument must be there. Inline code that starts with `weft `
//! is a fragment (`weft status --file`, `weft control tenant …`): what
//! it leaves out may be required, but every subcommand, flag and literal
//! value it shows must be accepted.
//!
//! Placeholders stand for a value the flag or argument takes: a word in
//! capitals (`NAME`, `IP:PORT`), `<…>`, a word with `…` or `...` in it,
//! `$VAR`. Each is replaced by a sample the argument's own value parser
//! accepts, so `--listen-port N` parses while `--listen-port many` does
//! not. Synopsis brackets (`[--block CIDR]`) are read as if present, and
//! alternatives (`--wireguard auto|kernel|userspace`) are each tried.

use super::shell::{self, Word};
use super::{Checked, Doc, Item, Problem};
use clap::error::ErrorKind;
use clap::{Arg, ArgAction, Command};

/// The shells' code blocks. Output, tables and diagrams say `text`.
pub fn is_shell(lang: &str) -> bool {
    matches!(lang, "sh" | "bash" | "shell" | "console")
}

pub fn check_commands(docs: &[Doc], cli: &Command) -> Checked {
    let mut cli = cli.clone();
    cli.build();
    let mut checked = Checked::default();
    for doc in docs {
        for item in &doc.items {
            match item {
                Item::Block {
                    line, lang, text, ..
                } if is_shell(lang) => {
                    for (offset, logical) in shell::logical_lines(text) {
                        let at = line + offset;
                        for words in weft_commands(shell::strip_prompt(&logical)) {
                            checked.saw(match words {
                                Ok(words) => {
                                    check_line(&cli, &words, false).map(|w| Problem::at(doc, at, w))
                                }
                                Err(w) => Some(Problem::at(doc, at, w)),
                            });
                        }
                    }
                }
                Item::Block { line, lang, .. } if lang.is_empty() => checked.saw(Some(Problem::at(
                    doc,
                    line - 1,
                    "a fenced block without a language: say `sh`, `text`, `yaml`, … so the drift test knows what to check",
                ))),
                Item::Code { line, text } if text.starts_with("weft ") => {
                    let words = shell::simple_commands(text)
                        .and_then(|c| c.into_iter().next())
                        .unwrap_or_default();
                    checked.saw(check_line(&cli, &words, true).map(|w| Problem::at(doc, *line, w)));
                }
                _ => {}
            }
        }
    }
    checked
}

/// The `weft` commands of a shell line (also inside `sh -c '…'`).
fn weft_commands(line: &str) -> Vec<Result<Vec<Word>, String>> {
    let Some(commands) = shell::simple_commands(line) else {
        return vec![Err(format!(
            "cannot read this shell line (a quote is left open): {line}"
        ))];
    };
    let mut found = Vec::new();
    for command in commands {
        let words = shell::unwrap_command(&command);
        if words.first().is_some_and(|w| is_weft(&w.text)) {
            found.push(Ok(words.to_vec()));
        }
        for pair in command.windows(2) {
            if pair[0].text == "-c" && pair[1].quoted {
                found.extend(weft_commands(&pair[1].text));
            }
        }
    }
    found
}

fn is_weft(word: &str) -> bool {
    word == "weft" || word == "$WEFT" || (word.ends_with("/weft") && !word.starts_with("/opt/"))
}

/// A placeholder for a value: `NAME`, `IP:PORT`, `<B's key>`, `wet_…`,
/// `$KEY`.
pub fn is_placeholder(word: &str) -> bool {
    let caps = word.chars().any(|c| c.is_ascii_uppercase())
        && word
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || "_:=,./-[]".contains(c));
    caps || word.contains('…')
        || word.contains("...")
        || (word.starts_with('<') && word.ends_with('>'))
        || word.starts_with('$')
}

/// The problem with one command line (the words from `weft` on), if any.
fn check_line(cli: &Command, words: &[Word], fragment: bool) -> Option<String> {
    let shown = words
        .iter()
        .map(|w| w.text.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    for variant in variants(words) {
        let args = fill_placeholders(cli, &variant, fragment);
        let Err(err) = cli.clone().try_get_matches_from(&args) else {
            continue;
        };
        let tolerated = match err.kind() {
            ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => true,
            ErrorKind::MissingRequiredArgument
            | ErrorKind::MissingSubcommand
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => fragment,
            _ => false,
        };
        if !tolerated {
            let message = err.to_string();
            let first = message
                .lines()
                .next()
                .unwrap_or("")
                .trim_start_matches("error: ");
            return Some(format!("`{shown}` is refused by the CLI: {first}"));
        }
    }
    None
}

/// The words with synopsis brackets removed, once per alternative of each
/// `a|b|c` word (the others at their first).
fn variants(words: &[Word]) -> Vec<Vec<String>> {
    let base: Vec<Vec<String>> = words
        .iter()
        .filter_map(|w| {
            if w.quoted {
                return Some(vec![w.text.clone()]);
            }
            let t = w.text.trim_start_matches('[');
            let t = t
                .strip_suffix("]...")
                .or_else(|| t.strip_suffix("]…"))
                .unwrap_or(t);
            let t = t.trim_end_matches(']');
            if t.is_empty() || t == "…" || t == "..." {
                return None;
            }
            if t.starts_with('-') && t.contains('|') && !t.contains('=') {
                // `--a|--b`: either flag.
                return Some(t.split('|').map(String::from).collect());
            }
            Some(if t.contains('|') && !is_placeholder(t) {
                t.split('|').map(String::from).collect()
            } else {
                vec![t.to_string()]
            })
        })
        .collect();
    let first: Vec<String> = base.iter().map(|alts| alts[0].clone()).collect();
    let mut out = vec![first.clone()];
    for (i, alts) in base.iter().enumerate() {
        for alt in alts.iter().skip(1) {
            let mut v = first.clone();
            v[i] = alt.clone();
            out.push(v);
        }
    }
    out
}

/// Replace each placeholder by a value its argument accepts; in a
/// fragment, give a trailing flag the value it lacks.
fn fill_placeholders(cli: &Command, words: &[String], fragment: bool) -> Vec<String> {
    let mut out = Vec::with_capacity(words.len());
    let mut cmd = cli;
    let mut positional = 0;
    let mut raw = false;
    let mut i = 0;
    // The program's own name, whatever path it was called by.
    out.push("weft".to_string());
    i += 1;
    while i < words.len() {
        let word = &words[i];
        i += 1;
        if raw {
            out.push(word.clone());
            continue;
        }
        if word == "--" {
            raw = true;
            out.push(word.clone());
            continue;
        }
        if let Some(flag) = word.strip_prefix("--").filter(|f| !f.is_empty()) {
            let (name, inline) = match flag.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (flag, None),
            };
            let arg = cmd.get_arguments().find(|a| a.get_long() == Some(name));
            match (arg, inline) {
                (Some(arg), Some(value)) if is_placeholder(value) => {
                    if let Some(sample) = sample(arg) {
                        out.push(format!("--{name}={sample}"));
                    }
                }
                (Some(arg), None) if takes_value(arg) => {
                    match words.get(i) {
                        Some(next) if is_placeholder(next) => {
                            // No value it takes is known: leave the flag out.
                            if let Some(sample) = sample(arg) {
                                out.push(word.clone());
                                out.push(sample);
                            }
                            i += 1;
                        }
                        Some(next) if !next.starts_with('-') => {
                            out.push(word.clone());
                            out.push(next.clone());
                            i += 1;
                        }
                        None if fragment && optional_value(arg).is_none() => {
                            if let Some(sample) = sample(arg) {
                                out.push(word.clone());
                                out.push(sample);
                            }
                        }
                        _ => out.push(word.clone()),
                    }
                }
                _ => out.push(word.clone()),
            }
            continue;
        }
        if word.starts_with('-') && word.len() == 2 {
            let short = word.chars().nth(1);
            let arg = cmd.get_arguments().find(|a| a.get_short() == short);
            out.push(word.clone());
            if let Some(arg) = arg.filter(|a| takes_value(a))
                && let Some(next) = words.get(i)
            {
                let value = if is_placeholder(next) {
                    sample(arg)
                } else {
                    Some(next.clone())
                };
                out.push(value.unwrap_or_else(|| next.clone()));
                i += 1;
            }
            continue;
        }
        if positional == 0
            && let Some(sub) = cmd.find_subcommand(word)
        {
            cmd = sub;
            out.push(word.clone());
            continue;
        }
        let arg = cmd.get_positionals().nth(positional);
        match arg {
            Some(arg) if is_placeholder(word) => {
                out.push(sample(arg).unwrap_or_else(|| word.clone()));
            }
            _ => out.push(word.clone()),
        }
        if arg.is_some_and(|a| !matches!(a.get_action(), ArgAction::Append)) {
            positional += 1;
        }
    }
    out
}

fn takes_value(arg: &Arg) -> bool {
    arg.get_action().takes_values()
}

/// `Some(())` when the flag's value may be left out (`--watch [SECS]`).
fn optional_value(arg: &Arg) -> Option<()> {
    arg.get_num_args()
        .filter(|r| r.min_values() == 0)
        .map(|_| ())
}

/// A value `arg` accepts: its first possible value, or the first of a few
/// typical ones its value parser takes.
fn sample(arg: &Arg) -> Option<String> {
    if let Some(value) = arg.get_possible_values().first() {
        return Some(value.get_name().to_string());
    }
    const CANDIDATES: &[&str] = &[
        "1",
        "10.42.0.0/16",
        "10.42.0.1",
        "192.0.2.1:51820",
        "https://cp.example:50051",
        "1h",
        "5/20",
        "sample",
    ];
    let probe = |value: &str| {
        Command::new("probe")
            .arg(
                Arg::new("v")
                    .long("v")
                    .num_args(1)
                    .value_parser(arg.get_value_parser().clone()),
            )
            .try_get_matches_from(["probe", "--v", value])
            .is_ok()
    };
    CANDIDATES.iter().find(|c| probe(c)).map(|c| c.to_string())
}
