use serde_json::{Value, json};

use super::*;
use crate::model::NetworkRules;
use crate::ruleset::ruleset;
use crate::ruleset::tests::{blue, numbered, red_internal};

fn table(networks: &[NetworkRules]) -> Table {
    ruleset(networks).unwrap().unwrap()
}

/// The verb and kind of each command: `add chain`, `flush set`, …
fn verbs(changes: &Changes) -> Vec<String> {
    changes
        .commands()
        .iter()
        .map(|c| {
            let (verb, body) = c.as_object().unwrap().iter().next().unwrap();
            let kind = body.as_object().unwrap().keys().next().unwrap();
            format!("{verb} {kind}")
        })
        .collect()
}

/// The name each command is about (a chain's or set's name, a rule's chain).
fn subject(command: &Value) -> String {
    let body = command.as_object().unwrap().values().next().unwrap();
    let (kind, object) = body.as_object().unwrap().iter().next().unwrap();
    match kind.as_str() {
        "rule" => object["chain"].as_str().unwrap().to_owned(),
        "table" => "table".into(),
        _ => object["name"].as_str().unwrap().to_owned(),
    }
}

#[test]
fn nothing_to_do_when_the_table_is_right() {
    let nets = [blue(), red_internal()];
    assert_eq!(changes(&Listed::Absent, None), None);
    assert_eq!(
        changes(&Listed::Table(table(&nets)), Some(&table(&nets))),
        None
    );
}

#[test]
fn a_new_table_is_built_chains_first_elements_last() {
    let wanted = table(&[blue(), red_internal()]);
    let created = changes(&Listed::Absent, Some(&wanted)).unwrap();
    assert_eq!(created.kind, ChangeKind::Create);
    let verbs = verbs(&created);
    assert_eq!(verbs[0], "add table");
    let first = |v: &str| verbs.iter().position(|x| x == v).unwrap();
    let last = |v: &str| verbs.iter().rposition(|x| x == v).unwrap();
    assert!(last("add chain") < first("add set") && last("add chain") < first("add map"));
    assert!(last("add set").max(last("add map")) < first("add rule"));
    assert!(last("add rule") < first("add element"));
    assert_eq!(
        verbs.iter().filter(|v| *v == "add rule").count(),
        wanted.rule_count()
    );
    assert_eq!(
        created.to_json()["nftables"].as_array().unwrap().len(),
        created.commands().len()
    );

    // Over a table that is not weft's (or not readable): replaced whole.
    let replaced = changes(&Listed::Unknown, Some(&wanted)).unwrap();
    assert_eq!(replaced.kind, ChangeKind::Replace);
    assert_eq!(
        self::verbs(&replaced)[..3],
        ["add table", "delete table", "add table"]
    );
    assert_eq!(replaced.commands()[3..], created.commands()[1..]);
}

#[test]
fn adding_a_network_touches_only_its_chains_and_the_sets_it_joins() {
    let before: Vec<NetworkRules> = (0..10).map(numbered).collect();
    let mut after = before.clone();
    after.push(numbered(10));
    let wanted = table(&after);
    let update = changes(&Listed::Table(table(&before)), Some(&wanted)).unwrap();
    assert_eq!(update.kind, ChangeKind::Update);
    // net10 is not internal (10 % 3 != 0): internal-interfaces and the
    // IPv6 sets keep their elements and are not touched.
    let refill = ["flush map", "add element"];
    let refill_set = ["flush set", "add element"];
    let mut expected = vec!["add chain"];
    // Its forward chain: source, two destination rules, two interfaces,
    // the rest of weft; its input chain: DHCP requests, source and
    // destinations.
    expected.extend(["add rule"; 6]);
    expected.push("add chain");
    expected.extend(["add rule"; 4]);
    expected.extend(refill); // forward-from
    expected.extend(refill); // input-from
    expected.extend(refill_set); // interfaces
    expected.extend(refill_set); // masquerade-v4
    expected.extend(refill_set); // subnets-v4
    assert_eq!(verbs(&update), expected, "{:#?}", update.commands());
    // Chains and rules: only net10's.
    for command in update.commands() {
        let verb = command.as_object().unwrap().values().next().unwrap();
        if verb.get("chain").is_some() || verb.get("rule").is_some() {
            assert!(subject(command).ends_with("-net10"), "{command}");
        }
    }
    // Each refilled set gets exactly what the wanted table holds.
    for command in update.commands() {
        if let Some(element) = command.get("add").and_then(|a| a.get("element")) {
            let name = element["name"].as_str().unwrap();
            assert_eq!(
                element["elem"].as_array().unwrap().len(),
                wanted.elements_of(name).len(),
                "{name}"
            );
        }
    }
}

#[test]
fn removing_a_network_refills_the_sets_it_leaves_and_deletes_its_chains_last() {
    let all = [blue(), red_internal()];
    let update = changes(&Listed::Table(table(&all)), Some(&table(&all[..1]))).unwrap();
    assert_eq!(update.kind, ChangeKind::Update);
    let verbs = verbs(&update);
    let subjects: Vec<String> = update.commands().iter().map(subject).collect();
    // Chains go last, flushed then deleted; blue's are never touched.
    let n = verbs.len();
    assert_eq!(
        verbs[n - 4..],
        ["flush chain", "delete chain", "flush chain", "delete chain"]
    );
    assert_eq!(
        subjects[n - 4..],
        ["fwd-from-red", "fwd-from-red", "in-from-red", "in-from-red"]
    );
    // Every set red had elements in is flushed and refilled with blue's;
    // the others are left alone.
    let flushed: Vec<&str> = verbs
        .iter()
        .zip(&subjects)
        .filter(|(v, _)| v.starts_with("flush set") || v.starts_with("flush map"))
        .map(|(_, s)| s.as_str())
        .collect();
    assert_eq!(
        flushed,
        [
            "forward-from",
            "input-from",
            "interfaces",
            "internal-interfaces",
            "subnets-v4"
        ]
    );
    assert!(
        !subjects.iter().any(|s| s.ends_with("blue")),
        "{subjects:?}"
    );
    assert!(
        !subjects.contains(&"masquerade-v4".to_string()),
        "red never masqueraded"
    );
    // internal-interfaces is left empty: flushed, nothing added back.
    assert_eq!(
        subjects
            .iter()
            .filter(|s| *s == "internal-interfaces")
            .count(),
        1
    );
}

#[test]
fn the_nat_chain_comes_with_the_first_network_that_needs_it() {
    let update = changes(
        &Listed::Table(table(&[red_internal()])),
        Some(&table(&[red_internal(), blue()])),
    )
    .unwrap();
    assert_eq!(update.kind, ChangeKind::Update);
    let text = update.to_json().to_string();
    assert!(text.contains(r#""hook":"postrouting""#), "{text}");
    let back = changes(
        &Listed::Table(table(&[red_internal(), blue()])),
        Some(&table(&[red_internal()])),
    )
    .unwrap();
    let verbs = verbs(&back);
    let at = back
        .commands()
        .iter()
        .position(|c| subject(c) == "postrouting")
        .unwrap();
    assert_eq!(verbs[at..at + 2], ["flush chain", "delete chain"]);
}

#[test]
fn drift_is_repaired_in_place() {
    let nets = [blue(), red_internal()];
    let wanted = table(&nets);

    // A rule deleted by hand: that chain alone is rewritten.
    let mut edited = wanted.clone();
    edited.chains.get_mut("fwd-from-red").unwrap().rules.pop();
    let fix = changes(&Listed::Table(edited), Some(&wanted)).unwrap();
    assert_eq!(fix.kind, ChangeKind::Update);
    assert_eq!(verbs(&fix)[0], "flush chain");
    assert!(fix.commands().iter().all(|c| subject(c) == "fwd-from-red"));
    assert_eq!(
        fix.commands().len(),
        1 + wanted.rules_of("fwd-from-red").len()
    );

    // An element added by hand: the set is refilled.
    let mut edited = wanted.clone();
    let set = edited.sets.get_mut("interfaces").unwrap();
    set.elements.insert("\"eth0\"".into(), json!("eth0"));
    let fix = changes(&Listed::Table(edited), Some(&wanted)).unwrap();
    assert_eq!(verbs(&fix), ["flush set", "add element"]);

    // A chain added by hand: deleted.
    let mut edited = wanted.clone();
    edited.add_chain(
        json!({"family": "inet", "table": "weft", "name": "mine"}),
        vec![],
    );
    let fix = changes(&Listed::Table(edited), Some(&wanted)).unwrap();
    assert_eq!(verbs(&fix), ["flush chain", "delete chain"]);

    // A base chain's policy changed, or a set missing: replaced whole.
    let mut edited = wanted.clone();
    edited.chains.get_mut("forward").unwrap().declaration["policy"] = json!("drop");
    assert_eq!(
        changes(&Listed::Table(edited), Some(&wanted)).unwrap().kind,
        ChangeKind::Replace
    );
    let mut edited = wanted.clone();
    edited.sets.remove("masquerade-v6");
    assert_eq!(
        changes(&Listed::Table(edited), Some(&wanted)).unwrap().kind,
        ChangeKind::Replace
    );
}

#[test]
fn no_networks_removes_the_table() {
    let current = Listed::Table(table(&[blue()]));
    let removed = changes(&current, None).unwrap();
    assert_eq!(removed.kind, ChangeKind::Remove);
    assert_eq!(verbs(&removed), ["add table", "delete table"]);
    assert_eq!(
        changes(&Listed::Unknown, None).unwrap().kind,
        ChangeKind::Remove
    );
}
