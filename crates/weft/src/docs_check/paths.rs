//! Every repository path a page names exists.
//!
//! What counts as a repository path, in inline code, a shell block or a
//! link:
//! - a path under one of the repository's top folders (`crates/…`,
//!   `docs/…`, `scripts/…`, `bench/…`, `examples/…`, `contrib/…`,
//!   `proto/…`, `.ci/…`), taken from the root: it must exist; a `*` in it
//!   must match something; a trailing `…` means "something starting so";
//! - a file name ending in `.rs`, `.proto`, `.md`, `.toml` or `.service`
//!   (`grpc/requests.rs`, `Cargo.toml`): it must exist from the root, from
//!   the page's folder, or as the tail of some path (architecture's
//!   shorthand inside a crate), and `file.rs::item` must define `item`;
//! - a link's target, from the page's folder, and its `#anchor` among the
//!   target page's headings.
//!
//! Not repository paths: absolute ones (`/run/netns/c1`, `/var/lib/weft`,
//! `/etc/cni/net.d`), `~/…`, URLs, anything with a placeholder (`<id>`,
//! `{name}`, `$VAR`) and paths through a folder named `foo` (CONTRIBUTING's
//! examples of where a module's tests go).

use super::shell;
use super::{Checked, Doc, Item, Problem, Repo};
use std::collections::BTreeMap;

const ROOTS: &[&str] = &[
    "crates", "docs", "scripts", "bench", "examples", "contrib", "proto", ".ci",
];
const EXTENSIONS: &[&str] = &["rs", "proto", "md", "toml", "service"];

/// A path a page names, and the item after `::`, if any.
#[derive(Debug, PartialEq, Eq)]
pub struct Named {
    pub path: String,
    pub item: Option<String>,
    /// Under a top folder: resolved from the root only.
    pub rooted: bool,
}

/// The repository path `token` names, if it names one.
pub fn named(token: &str) -> Option<Named> {
    let t = token.trim_matches(|c| "()[],;:\"'`".contains(c));
    let t = t
        .strip_suffix('.')
        .filter(|s| !s.ends_with('.'))
        .unwrap_or(t);
    let t = t.strip_prefix("./").unwrap_or(t);
    if t.is_empty()
        || t.starts_with('/')
        || t.starts_with('~')
        || t.starts_with('-')
        || t.contains("://")
        || ["$", "<", "{", "=", "@", "%"].iter().any(|c| t.contains(c))
    {
        return None;
    }
    let (path, item) = match t.split_once("::") {
        Some((p, i)) => (
            p,
            Some(i.trim_end_matches("()").trim_end_matches('!').to_string()),
        ),
        None => (t, None),
    };
    if path.split('/').any(|c| c == "foo" || c.starts_with("foo.")) {
        return None;
    }
    let first = path.split('/').next().unwrap_or("");
    let rooted = path.contains('/') && ROOTS.contains(&first);
    let file = path.rsplit('/').next().unwrap_or(path);
    let extension = file.rsplit_once('.').map(|(_, e)| e);
    let file_like = extension.is_some_and(|e| EXTENSIONS.contains(&e))
        && path
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-./*…".contains(c));
    (rooted || file_like).then(|| Named {
        path: path.to_string(),
        item,
        rooted,
    })
}

pub fn check_paths(repo: &Repo, docs: &[Doc]) -> Checked {
    let packages = packages(repo);
    let mut checked = Checked::default();
    for doc in docs {
        for item in &doc.items {
            match item {
                Item::Code { line, text } => {
                    for named in text.split_whitespace().filter_map(named) {
                        checked.saw(missing(repo, doc, &named).map(|w| Problem::at(doc, *line, w)));
                    }
                }
                Item::Block {
                    line, lang, text, ..
                } if super::commands::is_shell(lang) => {
                    for (offset, logical) in shell::logical_lines(text) {
                        let at = line + offset;
                        let Some(commands) = shell::simple_commands(shell::strip_prompt(&logical))
                        else {
                            continue;
                        };
                        for command in &commands {
                            for named in command.iter().filter_map(|w| named(&w.text)) {
                                checked.saw(
                                    missing(repo, doc, &named).map(|w| Problem::at(doc, at, w)),
                                );
                            }
                            if let Some(what) = cargo_target(repo, &packages, command) {
                                checked.saw(what.map(|w| Problem::at(doc, at, w)));
                            }
                        }
                    }
                }
                Item::Link { line, target } => {
                    checked.saw(
                        broken_link(repo, docs, doc, target).map(|w| Problem::at(doc, *line, w)),
                    );
                }
                _ => {}
            }
        }
    }
    checked
}

/// Why `named` does not hold in `repo`, if it does not.
fn missing(repo: &Repo, doc: &Doc, named: &Named) -> Option<String> {
    let path = named.path.as_str();
    if let Some(prefix) = path.strip_suffix('…').or_else(|| path.strip_suffix("...")) {
        let found = repo
            .files
            .iter()
            .chain(&repo.dirs)
            .any(|f| f.starts_with(prefix));
        return (!found)
            .then(|| format!("`{path}`: nothing in the repository starts with `{prefix}`"));
    }
    if path.contains('…') {
        return None;
    }
    if path.contains('*') {
        if !named.rooted {
            return None;
        }
        let found = repo.files.iter().chain(&repo.dirs).any(|f| glob(path, f));
        return (!found).then(|| format!("`{path}` matches no path in the repository"));
    }
    let dir = doc.path.rsplit_once('/').map_or("", |(d, _)| d);
    let mut found: Vec<String> = Vec::new();
    if repo.exists(path) {
        found.push(path.trim_end_matches('/').to_string());
    }
    if !named.rooted {
        let relative = join(dir, path);
        if repo.exists(&relative) {
            found.push(relative);
        }
        let tail = format!("/{}", path.trim_end_matches('/'));
        found.extend(
            repo.files
                .iter()
                .chain(&repo.dirs)
                .filter(|f| f.ends_with(&tail))
                .cloned(),
        );
    }
    if found.is_empty() {
        return Some(format!("`{path}` does not exist in the repository"));
    }
    let item = named.item.as_deref()?;
    let name = item.rsplit("::").next().unwrap_or(item);
    let defined = found
        .iter()
        .filter(|f| f.ends_with(".rs"))
        .filter_map(|f| repo.read(f))
        .any(|text| defines(&text, name));
    (!defined).then(|| {
        format!(
            "`{path}::{item}`: no `{name}` is defined in {}",
            found.join(", ")
        )
    })
}

/// Whether Rust source `text` defines an item called `name`.
pub fn defines(text: &str, name: &str) -> bool {
    const KINDS: &[&str] = &[
        "fn",
        "struct",
        "enum",
        "trait",
        "const",
        "static",
        "type",
        "mod",
        "macro_rules!",
    ];
    text.match_indices(name).any(|(at, _)| {
        let after = text[at + name.len()..].chars().next();
        let before = text[..at].trim_end();
        after.is_none_or(|c| !(c.is_alphanumeric() || c == '_'))
            && KINDS.iter().any(|k| {
                before.ends_with(k)
                    && before[..before.len() - k.len()]
                        .chars()
                        .last()
                        .is_none_or(|c| !(c.is_alphanumeric() || c == '_'))
            })
    })
}

/// `dir/path` with `.` and `..` resolved.
fn join(dir: &str, path: &str) -> String {
    let mut parts: Vec<&str> = dir.split('/').filter(|p| !p.is_empty()).collect();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    parts.join("/")
}

/// `*` matches within one component.
fn glob(pattern: &str, path: &str) -> bool {
    let pattern: Vec<&str> = pattern.trim_end_matches('/').split('/').collect();
    let path: Vec<&str> = path.split('/').collect();
    pattern.len() == path.len() && pattern.iter().zip(&path).all(|(p, c)| component_glob(p, c))
}

fn component_glob(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((head, rest)) => {
            text.starts_with(head)
                && (0..=text.len() - head.len()).any(|skip| {
                    text.is_char_boundary(head.len() + skip)
                        && component_glob(rest, &text[head.len() + skip..])
                })
        }
    }
}

fn broken_link(repo: &Repo, docs: &[Doc], doc: &Doc, target: &str) -> Option<String> {
    if target.starts_with("http://")
        || target.starts_with("https://")
        || target.starts_with("mailto:")
    {
        return None;
    }
    let (path, anchor) = match target.split_once('#') {
        Some((p, a)) => (p, Some(a)),
        None => (target, None),
    };
    let dir = doc.path.rsplit_once('/').map_or("", |(d, _)| d);
    let resolved = if path.is_empty() {
        doc.path.clone()
    } else {
        join(dir, path)
    };
    if !path.is_empty() && !repo.exists(&resolved) {
        return Some(format!("link to `{target}`: {resolved} does not exist"));
    }
    let anchor = anchor.filter(|a| !a.is_empty())?;
    if !resolved.ends_with(".md") {
        return None;
    }
    let parsed;
    let anchors = match docs.iter().find(|d| d.path == resolved) {
        Some(d) => &d.anchors,
        None if path.is_empty() => &doc.anchors,
        None => {
            parsed = Doc::parse(&resolved, &repo.read(&resolved).unwrap_or_default());
            &parsed.anchors
        }
    };
    (!anchors.iter().any(|a| a == anchor))
        .then(|| format!("link to `{target}`: {resolved} has no heading with anchor #{anchor}"))
}

/// Package name → its folder, from every Cargo.toml with a `[package]`.
fn packages(repo: &Repo) -> BTreeMap<String, String> {
    repo.files
        .iter()
        .filter(|f| f.ends_with("/Cargo.toml"))
        .filter_map(|f| {
            let text = repo.read(f)?;
            let package = text.split("[package]").nth(1)?;
            let name = package
                .lines()
                .find_map(|l| l.trim().strip_prefix("name"))?
                .trim_start()
                .strip_prefix('=')?
                .trim()
                .trim_matches('"')
                .to_string();
            Some((name, f.trim_end_matches("/Cargo.toml").to_string()))
        })
        .collect()
}

/// `cargo test -p CRATE --test NAME` / `--bench NAME` name a package and
/// a target of it that exist: `None` for another command, else
/// `Some(the problem, if any)`.
fn cargo_target(
    repo: &Repo,
    packages: &BTreeMap<String, String>,
    command: &[shell::Word],
) -> Option<Option<String>> {
    let words: Vec<&str> = shell::unwrap_command(command)
        .iter()
        .map(|w| w.text.as_str())
        .collect();
    if words.first() != Some(&"cargo") {
        return None;
    }
    Some(cargo_problem(repo, packages, &words))
}

fn cargo_problem(
    repo: &Repo,
    packages: &BTreeMap<String, String>,
    words: &[&str],
) -> Option<String> {
    let value = |flags: &[&str]| {
        words
            .windows(2)
            .find(|w| flags.contains(&w[0]))
            .map(|w| w[1])
    };
    let package = value(&["-p", "--package"]);
    let dir = match package {
        Some(p) => match packages.get(p) {
            Some(dir) => Some(dir.as_str()),
            None => return Some(format!("`cargo … -p {p}`: no package {p} in the workspace")),
        },
        None => None,
    };
    for (flag, folder) in [("--test", "tests"), ("--bench", "benches")] {
        let Some(name) = value(&[flag]) else {
            continue;
        };
        let exists = |dir: &str| {
            repo.exists(&format!("{dir}/{folder}/{name}.rs"))
                || repo.exists(&format!("{dir}/{folder}/{name}/main.rs"))
        };
        let found = match dir {
            Some(dir) => exists(dir),
            None => packages.values().any(|d| exists(d)),
        };
        if !found {
            return Some(format!(
                "`cargo … {flag} {name}`: no {folder}/{name}.rs in {}",
                dir.unwrap_or("any package")
            ));
        }
    }
    None
}
