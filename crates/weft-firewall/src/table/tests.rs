use super::*;

const LISTING: &str = r#"{"nftables": [
        {"metainfo": {"version": "1.0.6", "release_name": "Lester Gooch #5", "json_schema_version": 1}},
        {"table": {"family": "inet", "name": "weft", "handle": 7}},
        {"set": {"family": "inet", "name": "interfaces", "table": "weft", "type": "ifname",
                 "handle": 3, "flags": ["interval"], "elem": ["w0-*", "wg0"]}},
        {"map": {"family": "inet", "name": "forward-from", "table": "weft", "type": "ifname",
                 "handle": 4, "map": "verdict", "flags": ["interval"],
                 "elem": [["wg0", {"jump": {"target": "fwd-from-blue"}}]]}},
        {"chain": {"family": "inet", "table": "weft", "name": "fwd-from-blue", "handle": 1}},
        {"rule": {"family": "inet", "table": "weft", "chain": "fwd-from-blue", "handle": 9,
                  "expr": [{"drop": null}]}}
    ]}"#;

#[test]
fn a_listing_reads_without_handles_and_with_elements_as_a_set() {
    let Listed::Table(table) = Listed::parse(LISTING) else {
        panic!("not read")
    };
    assert_eq!(table.elements_of("interfaces"), ["\"w0-*\"", "\"wg0\""]);
    assert_eq!(
        table.elements_of("forward-from"),
        [r#"["wg0",{"jump":{"target":"fwd-from-blue"}}]"#]
    );
    assert_eq!(table.rule_count(), 1);
    assert_eq!(table.element_count(), 3);
    assert_eq!(table.chain_names(), ["fwd-from-blue"]);
    assert_eq!(table.rules_of("fwd-from-blue"), [&json!([{"drop": null}])]);
    assert!(
        !table.chains["fwd-from-blue"]
            .declaration
            .to_string()
            .contains("handle")
    );

    // Elements listed in another order are the same set.
    let reordered = LISTING.replace(r#"["w0-*", "wg0"]"#, r#"["wg0", "w0-*"]"#);
    assert_eq!(Listed::parse(&reordered), Listed::Table(table));
}

#[test]
fn what_is_not_modelled_is_unknown() {
    assert_eq!(Listed::parse(""), Listed::Absent);
    assert_eq!(Listed::parse("  \n"), Listed::Absent);
    assert_eq!(Listed::parse("not json"), Listed::Unknown);
    let counter = LISTING.replace(
        r#"{"chain": {"#,
        r#"{"counter": {"family": "inet", "table": "weft", "name": "c"}}, {"chain": {"#,
    );
    assert_eq!(Listed::parse(&counter), Listed::Unknown);
    let orphan_rule = LISTING.replace(
        r#""chain": "fwd-from-blue", "handle": 9"#,
        r#""chain": "x""#,
    );
    assert_eq!(Listed::parse(&orphan_rule), Listed::Unknown);
    let other_table = LISTING.replace(
        r#""table": "weft", "name": "fwd"#,
        r#""table": "x", "name": "fwd"#,
    );
    assert_eq!(Listed::parse(&other_table), Listed::Unknown);
}

#[test]
fn counted_packets_do_not_make_a_rule_differ() {
    let listing = |packets: u64| {
        format!(
            r#"{{"nftables": [
                {{"table": {{"family": "inet", "name": "weft", "handle": 1}}}},
                {{"chain": {{"family": "inet", "table": "weft", "name": "in-from-blue", "handle": 2}}}},
                {{"rule": {{"family": "inet", "table": "weft", "chain": "in-from-blue", "handle": 3,
                  "expr": [{{"counter": {{"packets": {packets}, "bytes": {}}}}}, {{"drop": null}}]}}}}
                ]}}"#,
            packets * 60
        )
    };
    let (Listed::Table(idle), Listed::Table(busy)) =
        (Listed::parse(&listing(0)), Listed::parse(&listing(12)))
    else {
        panic!("both listings are weft's table");
    };
    assert_eq!(idle, busy);
    assert_eq!(
        busy.rules_of("in-from-blue")[0][0],
        crate::nft_json::counter()
    );
}

#[test]
fn canonical_text_ignores_key_order() {
    let a: Value = serde_json::from_str(r#"{"b": 1, "a": {"d": 2, "c": 3}}"#).unwrap();
    let b: Value = serde_json::from_str(r#"{"a": {"c": 3, "d": 2}, "b": 1}"#).unwrap();
    assert_eq!(canonical(&a), canonical(&b));
    assert_eq!(canonical(&a), r#"{"a":{"c":3,"d":2},"b":1}"#);
}
