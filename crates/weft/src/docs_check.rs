//! The docs cannot drift: what README.md, CONTRIBUTING.md and `docs/`
//! show a reader is checked against the code it describes (the generated
//! man pages under `docs/man/` are not read: they come from the CLI).
//!
//! - [`paths`]: every repository path a page names (in inline code, a
//!   link, or a shell block) exists; `file.rs::item` names an item that
//!   file defines; a link's `#anchor` is a heading of its page; `cargo
//!   test -p CRATE --test NAME` names a package and a test that exist.
//! - [`commands`]: every `weft …` command line of a shell block, and
//!   inline code that starts with `weft `, parses with the real clap
//!   definition ([`crate::Cli`]), placeholders (`NAME`, `<…>`, `$VAR`,
//!   `…`) standing for a value the flag takes.
//! - [`mesh_samples`]: every ```` ```yaml ```` block is a mesh file (or
//!   a part of one, completed with hosts and networks) that `weft-mesh`
//!   parses and validates — unless the comment right before it says
//!   `<!-- refused -->` (then it must be refused, at the path given after
//!   a colon if any) or `<!-- not a mesh file -->`.
//! - [`rest`]: every `/v1/…` path is a route of the control plane's route
//!   table, with the method named before it.
//!
//! Each problem names the page, the line and what is wrong. The checks
//! are pure functions of the pages and the repository's file list, so
//! `tests.rs` also proves each of them fails on a planted mistake.

mod commands;
mod markdown;
mod mesh_samples;
mod paths;
mod rest;
mod shell;

pub use markdown::{Doc, Item};
use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

/// What is wrong, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub file: String,
    pub line: usize,
    pub what: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.what)
    }
}

impl Problem {
    fn at(doc: &Doc, line: usize, what: impl Into<String>) -> Problem {
        Problem {
            file: doc.path.clone(),
            line,
            what: what.into(),
        }
    }
}

/// What a check looked at (paths, command lines, samples, routes) and
/// what it found wrong. The count lets a test tell a check that passed
/// from one that found nothing to look at.
#[derive(Debug, Default)]
pub struct Checked {
    pub looked_at: usize,
    pub problems: Vec<Problem>,
}

impl Checked {
    fn saw(&mut self, problem: Option<Problem>) {
        self.looked_at += 1;
        self.problems.extend(problem);
    }
}

/// The repository as the checks see it: its files and directories
/// (relative, `/`-separated; build output and VCS data left out) and
/// where it is, to read a file a page names.
pub struct Repo {
    pub root: PathBuf,
    pub files: BTreeSet<String>,
    pub dirs: BTreeSet<String>,
}

impl Repo {
    /// The repository this crate is built from.
    pub fn this() -> Repo {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let root = root.canonicalize().unwrap_or(root);
        Repo::at(root)
    }

    pub fn at(root: PathBuf) -> Repo {
        let mut repo = Repo {
            root,
            files: BTreeSet::new(),
            dirs: BTreeSet::new(),
        };
        let root = repo.root.clone();
        repo.walk(&root, "");
        repo
    }

    fn walk(&mut self, dir: &Path, prefix: &str) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name == "target" || name == ".git" {
                continue;
            }
            let rel = format!("{prefix}{name}");
            match entry.file_type() {
                Ok(t) if t.is_dir() => {
                    self.dirs.insert(rel.clone());
                    self.walk(&entry.path(), &format!("{rel}/"));
                }
                Ok(_) => {
                    self.files.insert(rel);
                }
                Err(_) => {}
            }
        }
    }

    /// A repository made of these paths alone (for the checks' own tests).
    #[cfg(test)]
    pub fn of(files: &[&str]) -> Repo {
        let mut repo = Repo {
            root: PathBuf::from("/nonexistent"),
            files: files.iter().map(|f| f.to_string()).collect(),
            dirs: BTreeSet::new(),
        };
        for f in files {
            let mut at = 0;
            while let Some(i) = f[at..].find('/') {
                repo.dirs.insert(f[..at + i].to_string());
                at += i + 1;
            }
        }
        repo
    }

    pub fn exists(&self, rel: &str) -> bool {
        let rel = rel.trim_end_matches('/');
        rel.is_empty() || self.files.contains(rel) || self.dirs.contains(rel)
    }

    pub fn read(&self, rel: &str) -> Option<String> {
        std::fs::read_to_string(self.root.join(rel)).ok()
    }

    /// The pages the checks read: README.md, CONTRIBUTING.md and every
    /// Markdown file under docs/ but the generated man pages.
    pub fn docs(&self) -> Vec<Doc> {
        self.files
            .iter()
            .filter(|f| {
                *f == "README.md"
                    || *f == "CONTRIBUTING.md"
                    || (f.starts_with("docs/") && f.ends_with(".md") && !f.starts_with("docs/man/"))
            })
            .filter_map(|f| Some(Doc::parse(f, &self.read(f)?)))
            .collect()
    }
}

/// Every problem of every check, one per line (empty when the docs hold).
pub fn report(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

pub use commands::check_commands;
pub use mesh_samples::check_mesh_samples;
pub use paths::check_paths;
pub use rest::check_rest_paths;

#[cfg(test)]
mod tests;
