//! Every ```` ```yaml ```` block of the docs is a mesh file `weft up`
//! takes, or is marked as one it refuses.
//!
//! A block may be a part of a file: the top-level keys it lacks among
//! `name`, `networks` and `hosts` are filled in from [`BASE`] (three lab
//! hosts h1–h3; networks blue, red and backend), so a page can show its
//! `services:` alone. The comment right before a block changes what is
//! expected of it:
//! - `<!-- refused -->`: `weft-mesh` must refuse it; `<!-- refused:
//!   hosts[2].lab -->` also says at which key;
//! - `<!-- not a mesh file -->`: some other YAML (a cloud-init
//!   network-config, say), not checked.

use super::{Checked, Doc, Item, Problem};
use weft_mesh::ValidMesh;

/// What a partial sample is completed with, key by key.
const BASE: &[(&str, &str)] = &[
    ("name", "name: docs\n"),
    (
        "networks",
        "networks:\n  - {name: blue, subnet: 10.42.0.0/16}\n  - {name: red, subnet: 10.43.0.0/16}\n  - {name: backend, subnet: 10.77.0.0/16}\n",
    ),
    (
        "hosts",
        "hosts:\n  - {name: h1, lab: true}\n  - {name: h2, lab: true}\n  - {name: h3, lab: true}\n",
    ),
];

pub fn check_mesh_samples(docs: &[Doc]) -> Checked {
    let mut checked = Checked::default();
    for doc in docs {
        for item in &doc.items {
            let Item::Block {
                line,
                lang,
                text,
                marker,
            } = item
            else {
                continue;
            };
            if !matches!(lang.as_str(), "yaml" | "yml") {
                continue;
            }
            checked.saw(
                check_sample(text, marker.as_deref()).map(|what| Problem::at(doc, *line, what)),
            );
        }
    }
    checked
}

/// The sample completed into a whole file.
pub fn completed(sample: &str) -> String {
    let mut text = sample.to_string();
    if !text.ends_with('\n') {
        text.push('\n');
    }
    let has = |key: &str| {
        sample.lines().any(|l| {
            l.strip_prefix(key)
                .is_some_and(|rest| rest.starts_with(':'))
        })
    };
    for (key, default) in BASE {
        if !has(key) {
            text.push_str(default);
        }
    }
    text
}

/// What is wrong with one sample, if anything.
fn check_sample(sample: &str, marker: Option<&str>) -> Option<String> {
    let marker = marker.map(str::trim).unwrap_or("");
    if marker == "not a mesh file" {
        return None;
    }
    let result = ValidMesh::parse(&completed(sample));
    if let Some(expected) = marker.strip_prefix("refused") {
        let expected = expected.trim_start_matches(':').trim();
        return match result {
            Ok(_) => Some("this mesh sample is marked refused, but weft-mesh accepts it".into()),
            Err(err) if !expected.is_empty() && err.path != expected => Some(format!(
                "this mesh sample should be refused at {expected}, but is refused at {}: {err}",
                if err.path.is_empty() {
                    "the top"
                } else {
                    &err.path
                }
            )),
            Err(_) => None,
        };
    }
    result.err().map(|err| {
        format!(
            "this mesh sample is refused by weft-mesh: {err} (mark it `<!-- refused -->` if that is its point)"
        )
    })
}
