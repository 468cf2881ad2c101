//! How the tenant's commands show the API's answers to people: a table
//! per kind of object (and the API's own JSON with `-o json`).

use crate::output::{self, Format};
use anyhow::Result;
use serde_json::Value;

/// The API's answer as JSON for scripts, or `table` of it for people.
pub(super) fn print(format: Format, value: &Value, table: impl FnOnce(&Value)) -> Result<()> {
    match format {
        Format::Json => output::json(value),
        Format::Table => {
            table(value);
            Ok(())
        }
    }
}

pub(super) fn text(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => if *b { "yes" } else { "no" }.into(),
        other => other.to_string(),
    }
}

pub(super) fn rows(list: &Value, fields: &[&str]) -> Vec<Vec<String>> {
    let items = list.as_array().map(Vec::as_slice).unwrap_or_default();
    items
        .iter()
        .map(|item| fields.iter().map(|f| text(&item[*f])).collect())
        .collect()
}

pub(super) fn blocks(v: &Value, key: &str) -> String {
    let items = v["blocks"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    if items.is_empty() {
        return "-".into();
    }
    let shown: Vec<String> = items
        .iter()
        .map(|b| format!("{}={}", text(&b[key]), text(&b["block"])))
        .collect();
    shown.join(",")
}

pub(super) fn networks_table(list: &Value) {
    let mut table = rows(list, &["name", "subnet", "mode", "internal"]);
    let items = list.as_array().map(Vec::as_slice).unwrap_or_default();
    for (row, n) in table.iter_mut().zip(items) {
        row.push(blocks(n, "host"));
    }
    output::table(&["NETWORK", "SUBNET", "MODE", "INTERNAL", "BLOCKS"], &table);
}

pub(super) fn hosts_table(list: &Value) {
    let mut table = rows(list, &["name", "id", "state", "site", "endpoint"]);
    let items = list.as_array().map(Vec::as_slice).unwrap_or_default();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    for (row, h) in table.iter_mut().zip(items) {
        row.push(blocks(h, "network"));
        row.push(key_ages(h, now));
    }
    output::table(
        &[
            "HOST", "ID", "STATE", "SITE", "ENDPOINT", "BLOCKS", "KEY AGE",
        ],
        &table,
    );
}

/// A host's keys' ages by network ("blue=3d"; "?" before ages were kept).
fn key_ages(host: &Value, now: i64) -> String {
    let keys = host["keys"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    if keys.is_empty() {
        return "-".into();
    }
    let shown: Vec<String> = keys
        .iter()
        .map(|k| {
            let age = match k["since"].as_i64() {
                Some(since) => output::age(since.max(1), now).replace(" ago", ""),
                None => "?".into(),
            };
            format!("{}={age}", text(&k["network"]))
        })
        .collect();
    shown.join(",")
}

pub(super) fn sites_table(list: &Value) {
    let mut table = rows(list, &["name"]);
    let items = list.as_array().map(Vec::as_slice).unwrap_or_default();
    for (row, s) in table.iter_mut().zip(items) {
        let labels = s["labels"].as_object();
        let shown: Vec<String> = labels
            .into_iter()
            .flatten()
            .map(|(k, v)| format!("{k}={}", text(v)))
            .collect();
        row.push(if shown.is_empty() {
            "-".into()
        } else {
            shown.join(",")
        });
    }
    output::table(&["SITE", "LABELS"], &table);
}

pub(super) fn vxlan_table(list: &Value) {
    let mut table = rows(
        list,
        &["name", "site", "subnet", "vni", "mtu", "over", "internal"],
    );
    let items = list.as_array().map(Vec::as_slice).unwrap_or_default();
    for (row, n) in table.iter_mut().zip(items) {
        row.push(blocks(n, "host"));
    }
    output::table(
        &[
            "NETWORK", "SITE", "SUBNET", "VNI", "MTU", "OVER", "INTERNAL", "BLOCKS",
        ],
        &table,
    );
}

pub(super) fn network_hosts_table(v: &Value) {
    if v["all"] == true {
        println!(
            "{}: every host of the tenant (those enrolled later too)",
            text(&v["network"])
        );
    } else {
        println!("{}: only the hosts below", text(&v["network"]));
    }
    output::table(&["HOST", "BLOCK"], &rows(&v["hosts"], &["host", "block"]));
}
