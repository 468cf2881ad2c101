//! Table `inet weft` as a value: its sets and maps with their elements and
//! its chains with their rules, in exactly the JSON form
//! `nft -j list table inet weft` prints (handles left out). The same type
//! holds what [`crate::ruleset()`] wants and what a listing shows, so the two
//! compare with `==` and [`crate::changes()`] can tell which objects differ.
//!
//! Objects are kept as `serde_json::Value`: the `nftables` crate builds the
//! rules' statements, but its schema has no verdict maps (`"map":
//! "verdict"` does not parse into its `Map`), and weft's table is built on
//! them.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::ruleset::{FAMILY_KEYWORD, TABLE};

/// One named set or verdict map of the table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Set {
    /// `"set"` or `"map"`: the key nft uses for it in JSON.
    pub(crate) kind: &'static str,
    /// The declaration (family, table, name, type, map, flags) without
    /// handle or elements.
    pub(crate) declaration: Value,
    /// The elements, keyed by their canonical JSON text so that the order
    /// nft lists them in (sorted, or in hash order) never matters.
    pub(crate) elements: BTreeMap<String, Value>,
}

/// One chain of the table and its rules, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Chain {
    /// The declaration (base chains: type, hook, priority, policy) without
    /// handle.
    pub(crate) declaration: Value,
    /// Each rule's object (family, table, chain, expr) without handle.
    pub(crate) rules: Vec<Value>,
}

/// The contents of table `inet weft`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Table {
    pub(crate) sets: BTreeMap<String, Set>,
    pub(crate) chains: BTreeMap<String, Chain>,
}

/// What a listing of table `inet weft` shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Listed {
    /// There is no such table.
    Absent,
    /// The table, every object of it understood.
    Table(Table),
    /// The table holds something this crate does not build (a counter, a
    /// flowtable, a rule in a chain nft did not list first…), or the
    /// listing is not nftables JSON: the table is replaced whole.
    Unknown,
}

impl Table {
    /// How many rules the table has, over all chains.
    pub fn rule_count(&self) -> usize {
        self.chains.values().map(|c| c.rules.len()).sum()
    }

    /// How many elements its sets and maps hold, over all of them.
    pub fn element_count(&self) -> usize {
        self.sets.values().map(|s| s.elements.len()).sum()
    }

    /// The names of its chains, sorted.
    pub fn chain_names(&self) -> Vec<&str> {
        self.chains.keys().map(String::as_str).collect()
    }

    /// The elements of set or map `name`, in canonical JSON text, sorted;
    /// empty when there is no such set.
    pub fn elements_of(&self, name: &str) -> Vec<&str> {
        self.sets
            .get(name)
            .map(|s| s.elements.keys().map(String::as_str).collect())
            .unwrap_or_default()
    }

    /// The rules of chain `name` as their `expr` arrays, in order.
    pub fn rules_of(&self, name: &str) -> Vec<&Value> {
        self.chains
            .get(name)
            .map(|c| c.rules.iter().map(|r| &r["expr"]).collect())
            .unwrap_or_default()
    }

    pub(crate) fn add_set(&mut self, kind: &'static str, declaration: Value, elements: Vec<Value>) {
        let name = declaration["name"].as_str().unwrap_or_default().to_owned();
        let elements = elements.into_iter().map(|e| (canonical(&e), e)).collect();
        self.sets.insert(
            name,
            Set {
                kind,
                declaration,
                elements,
            },
        );
    }

    pub(crate) fn add_chain(&mut self, declaration: Value, rules: Vec<Value>) {
        let name = declaration["name"].as_str().unwrap_or_default().to_owned();
        self.chains.insert(name, Chain { declaration, rules });
    }
}

impl Listed {
    /// Reads `nft -j list table inet weft` output; `""` (what
    /// [`crate::Firewall::list_json`] returns for a missing table) is
    /// [`Listed::Absent`].
    pub fn parse(listing: &str) -> Listed {
        if listing.trim().is_empty() {
            return Listed::Absent;
        }
        match serde_json::from_str::<Value>(listing) {
            Ok(value) => read_objects(&value).map_or(Listed::Unknown, Listed::Table),
            Err(_) => Listed::Unknown,
        }
    }

    /// The table, when one was listed and understood.
    pub fn table(&self) -> Option<&Table> {
        match self {
            Listed::Table(table) => Some(table),
            _ => None,
        }
    }
}

fn read_objects(listing: &Value) -> Option<Table> {
    let mut table = Table::default();
    let mut seen_table = false;
    for object in listing.get("nftables")?.as_array()? {
        let (kind, body) = single_entry(object)?;
        if kind == "metainfo" {
            continue;
        }
        if body.get("family")?.as_str()? != FAMILY_KEYWORD {
            return None;
        }
        let owner = if kind == "table" { "name" } else { "table" };
        if body.get(owner)?.as_str()? != TABLE {
            return None;
        }
        let mut body = body.clone();
        let fields = body.as_object_mut()?;
        fields.remove("handle");
        match kind {
            "table" => seen_table = true,
            "set" | "map" => {
                let elements = match fields.remove("elem") {
                    None => Vec::new(),
                    Some(Value::Array(elements)) => elements,
                    Some(single) => vec![single],
                };
                let kind = if kind == "set" { "set" } else { "map" };
                table.add_set(kind, body, elements);
            }
            "chain" => table.add_chain(body, Vec::new()),
            "rule" => {
                let chain = fields.get("chain")?.as_str()?.to_owned();
                if let Some(Value::Array(expr)) = fields.get_mut("expr") {
                    zero_counters(expr);
                }
                table.chains.get_mut(&chain)?.rules.push(body);
            }
            _ => return None,
        }
    }
    seen_table.then_some(table)
}

/// A rule's counters as built: what was counted is not what the rule is.
fn zero_counters(expr: &mut [Value]) {
    for statement in expr {
        if let Some(counter) = statement.get_mut("counter").and_then(Value::as_object_mut) {
            for count in ["packets", "bytes"] {
                if counter.contains_key(count) {
                    counter.insert(count.into(), json!(0));
                }
            }
        }
    }
}

fn single_entry(object: &Value) -> Option<(&str, &Value)> {
    let map = object.as_object()?;
    if map.len() != 1 {
        return None;
    }
    map.iter().next().map(|(k, v)| (k.as_str(), v))
}

/// JSON text with every object's keys sorted, so equal values always give
/// equal text whatever order they were built or parsed in.
pub(crate) fn canonical(value: &Value) -> String {
    fn sorted(value: &Value) -> Value {
        match value {
            Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                let mut out = Map::new();
                for key in keys {
                    out.insert(key.clone(), sorted(&map[key]));
                }
                Value::Object(out)
            }
            Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
            other => other.clone(),
        }
    }
    sorted(value).to_string()
}

/// `{"family": "inet", "table": "weft", "name": NAME}`: how commands that
/// name a chain, set or map refer to it.
pub(crate) fn reference(name: &str) -> Value {
    json!({"family": FAMILY_KEYWORD, "table": TABLE, "name": name})
}

#[cfg(test)]
mod tests;
