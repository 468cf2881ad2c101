//! The pure part of applying: from what table `inet weft` is to what it
//! must be, the smallest nft batch that gets there — one transaction, so
//! packets see the old table or the new one and never a moment between.
//!
//! Adding a network adds its two chains and refills the sets and maps its
//! interfaces and subnets are elements of; removing one deletes its chains
//! and refills those sets. No other chain or rule is touched: other
//! networks' chains and rules keep their handles, and no packet of theirs
//! is judged differently while it happens. Only a table whose sets or chain
//! declarations are not weft's (an older weft, a hand edit, objects this
//! crate does not model) is replaced whole.

use serde_json::{Value, json};

use crate::ruleset::{FAMILY_KEYWORD, TABLE};
use crate::table::{Listed, Table, reference};

/// What a batch does to the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeKind {
    /// There was no table: it is created.
    Create,
    /// The table is deleted and built again, whole.
    Replace,
    /// Only the chains and elements that differ are changed.
    Update,
    /// No networks: the table is deleted.
    Remove,
}

/// One nft transaction (`nft -j -f -` input).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Changes {
    pub kind: ChangeKind,
    commands: Vec<Value>,
}

impl Changes {
    /// The batch as nft reads it: `{"nftables": [commands…]}`.
    pub fn to_json(&self) -> Value {
        json!({ "nftables": self.commands })
    }

    /// The commands, in order, each `{"add" | "delete" | "flush": {…}}`.
    pub fn commands(&self) -> &[Value] {
        &self.commands
    }
}

/// The batch that makes `current` into `wanted` (`None`: no table);
/// `None` when it already is.
pub fn changes(current: &Listed, wanted: Option<&Table>) -> Option<Changes> {
    let table = json!({"table": {"family": FAMILY_KEYWORD, "name": TABLE}});
    let (kind, commands) = match (current, wanted) {
        (Listed::Absent, None) => return None,
        (Listed::Table(current), Some(wanted)) if current == wanted => return None,
        // `add` first, so the delete cannot fail if the table vanished
        // since it was listed.
        (_, None) => (
            ChangeKind::Remove,
            vec![json!({"add": table}), json!({"delete": table})],
        ),
        (Listed::Absent, Some(wanted)) => {
            let mut commands = vec![json!({"add": table})];
            commands.extend(build(wanted));
            (ChangeKind::Create, commands)
        }
        (Listed::Table(current), Some(wanted)) if same_skeleton(current, wanted) => {
            (ChangeKind::Update, update(current, wanted))
        }
        (Listed::Table(_) | Listed::Unknown, Some(wanted)) => {
            let mut commands = vec![
                json!({"add": table}),
                json!({"delete": table}),
                json!({"add": table}),
            ];
            commands.extend(build(wanted));
            (ChangeKind::Replace, commands)
        }
    };
    Some(Changes { kind, commands })
}

/// Whether `current` can be turned into `wanted` in place: the same sets
/// and maps, declared the same, and every chain both have declared the
/// same (a chain's type, hook or policy cannot be changed in place).
fn same_skeleton(current: &Table, wanted: &Table) -> bool {
    current.sets.len() == wanted.sets.len()
        && current.sets.iter().all(|(name, set)| {
            wanted
                .sets
                .get(name)
                .is_some_and(|w| w.kind == set.kind && w.declaration == set.declaration)
        })
        && current.chains.iter().all(|(name, chain)| {
            wanted
                .chains
                .get(name)
                .is_none_or(|w| w.declaration == chain.declaration)
        })
}

/// Every object of `table`, in an order nft accepts in one transaction:
/// chains before the sets and maps (the kernel refuses a verdict-map
/// element that jumps to a chain created after the map in the same
/// batch), rules, then elements.
fn build(table: &Table) -> Vec<Value> {
    let mut commands = Vec::new();
    for chain in table.chains.values() {
        commands.push(json!({"add": {"chain": chain.declaration}}));
    }
    for set in table.sets.values() {
        commands.push(json!({"add": {set.kind: set.declaration}}));
    }
    for chain in table.chains.values() {
        commands.extend(chain.rules.iter().map(|r| json!({"add": {"rule": r}})));
    }
    for (name, set) in &table.sets {
        if !set.elements.is_empty() {
            commands.push(add_elements(name, set.elements.values()));
        }
    }
    commands
}

/// The in-place changes, for two tables with the same skeleton.
fn update(current: &Table, wanted: &Table) -> Vec<Value> {
    let mut commands = Vec::new();
    // New chains, then the rules of new chains and of chains whose rules
    // differ (flushed and written again: a network's chain holds a handful
    // of rules, and nft has no "replace all rules of a chain").
    for (name, chain) in &wanted.chains {
        match current.chains.get(name) {
            None => {
                commands.push(json!({"add": {"chain": chain.declaration}}));
                commands.extend(chain.rules.iter().map(|r| json!({"add": {"rule": r}})));
            }
            Some(now) if now.rules != chain.rules => {
                commands.push(json!({"flush": {"chain": reference(name)}}));
                commands.extend(chain.rules.iter().map(|r| json!({"add": {"rule": r}})));
            }
            Some(_) => {}
        }
    }
    // Elements: a set or map whose elements differ is flushed and filled
    // again, whole, in the same transaction (packets never see it empty).
    // Not element by element, because of two faults seen with nft 1.0.6
    // on Linux 6.18: nft cannot delete a wildcard interface ("w0-*") from
    // an interval set ("element does not exist"), and the kernel refuses
    // some single wildcard additions as overlapping ("w40-*" next to
    // "w4-*", depending on what else the set holds) that it accepts when
    // the whole set comes at once. It stays one element per interface or
    // subnet: a change costs O(networks), never O(networks²).
    for (name, set) in &wanted.sets {
        let now = &current.sets[name];
        if now.elements != set.elements {
            commands.push(json!({"flush": {now.kind: reference(name)}}));
            if !set.elements.is_empty() {
                commands.push(add_elements(name, set.elements.values()));
            }
        }
    }
    // Chains no longer wanted, last: the map elements jumping to them are
    // gone by now. Flushed first, as older kernels refuse to delete a
    // chain that still has rules.
    for name in current.chains.keys() {
        if !wanted.chains.contains_key(name) {
            commands.push(json!({"flush": {"chain": reference(name)}}));
            commands.push(json!({"delete": {"chain": reference(name)}}));
        }
    }
    commands
}

fn add_elements<'a>(set: &str, elements: impl IntoIterator<Item = &'a Value>) -> Value {
    let mut element = reference(set);
    element["elem"] = Value::Array(elements.into_iter().cloned().collect());
    json!({"add": {"element": element}})
}

#[cfg(test)]
mod tests;
