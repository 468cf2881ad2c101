//! Every REST path a page shows (`/v1/networks/{name}/hosts`, a curl
//! URL ending in `/v1/networks`) is a route of the control plane's route
//! table, `weft_control::api::routes`; a method right before it (`PUT
//! /v1/…`, `-X DELETE`) must be one the route has. A segment in braces,
//! or any concrete value, fills a `{parameter}` of the route.

use super::shell;
use super::{Checked, Doc, Item, Problem};

/// The routes as (method, path).
pub fn table() -> Vec<(String, String)> {
    weft_control::api::routes()
        .into_iter()
        .map(|r| (r.method.to_string(), r.path.to_string()))
        .collect()
}

pub fn check_rest_paths(docs: &[Doc], routes: &[(String, String)]) -> Checked {
    let mut checked = Checked::default();
    for doc in docs {
        for item in &doc.items {
            let (line, lines): (usize, Vec<(usize, String)>) = match item {
                Item::Code { line, text } => (*line, vec![(0, text.clone())]),
                Item::Block {
                    line, lang, text, ..
                } if super::commands::is_shell(lang) || lang == "http" => {
                    (*line, shell::logical_lines(text))
                }
                _ => continue,
            };
            for (offset, text) in lines {
                for what in check_text(&text, routes) {
                    checked.saw(what.map(|w| Problem::at(doc, line + offset, w)));
                }
            }
        }
    }
    checked
}

/// Each `/v1/…` path in one line of text, and its problem if it has one.
fn check_text(text: &str, routes: &[(String, String)]) -> Vec<Option<String>> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let mut problems = Vec::new();
    for (i, word) in words.iter().enumerate() {
        let word = word.trim_matches(|c| "'\"`(),;:".contains(c));
        let path = if word.starts_with("/v1") {
            word
        } else if let Some(at) = word.find("://") {
            let rest = &word[at + 3..];
            match rest.find('/') {
                Some(slash) if rest[slash..].starts_with("/v1") => &rest[slash..],
                _ => continue,
            }
        } else {
            continue;
        };
        let path = path.split(['?', '#']).next().unwrap_or(path);
        let path = path.trim_end_matches(['.', '/']);
        // `/v1` alone is the API's prefix, not a route.
        if path.contains('…') || path == "/v1" {
            continue;
        }
        let method = i
            .checked_sub(1)
            .map(|j| words[j])
            .filter(|m| matches!(*m, "GET" | "PUT" | "POST" | "DELETE" | "PATCH"))
            .or_else(|| {
                // curl's `-X METHOD` anywhere on the line.
                words.windows(2).find(|w| w[0] == "-X").map(|w| w[1])
            });
        let matching: Vec<&(String, String)> =
            routes.iter().filter(|(_, p)| same(p, path)).collect();
        problems.push(if matching.is_empty() {
            Some(format!(
                "`{path}` is not a route of the control plane's REST API"
            ))
        } else if let Some(method) = method
            && !matching.iter().any(|(m, _)| m == method)
        {
            Some(format!("`{method} {path}`: the route has no {method}"))
        } else {
            None
        });
    }
    problems
}

/// Whether `shown` is `route` with its parameters filled in.
fn same(route: &str, shown: &str) -> bool {
    let route: Vec<&str> = route.split('/').collect();
    let shown: Vec<&str> = shown.split('/').collect();
    route.len() == shown.len()
        && route
            .iter()
            .zip(&shown)
            .all(|(r, s)| r == s || (r.starts_with('{') && !s.is_empty()))
}
