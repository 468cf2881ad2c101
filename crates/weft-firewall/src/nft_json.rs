//! Building blocks of nft's JSON: statements, rules, chains and set
//! declarations of table `inet weft`, written so that what is built reads
//! back exactly as `nft -j list` prints it.

use std::borrow::Cow;

use ipnet::IpNet;
use nftables::expr::{Expression, Meta, MetaKey, NamedExpression, Payload, PayloadField, Prefix};
use nftables::stmt::{Match, Operator, Statement, VerdictMap};
use serde_json::{Value, json};

use crate::model::IfMatch;
use crate::ruleset::{FAMILY_KEYWORD, TABLE};

pub(crate) fn set_declaration(name: &str, set_type: &str) -> Value {
    json!({
        "family": FAMILY_KEYWORD,
        "table": TABLE,
        "name": name,
        "type": set_type,
        "flags": ["interval"],
    })
}

pub(crate) fn base_chain(name: &str, kind: &str, hook: &str, prio: i32) -> Value {
    // Policy accept: weft only drops what it recognises; the rest is the
    // host's.
    json!({
        "family": FAMILY_KEYWORD,
        "table": TABLE,
        "name": name,
        "type": kind,
        "hook": hook,
        "prio": prio,
        "policy": "accept",
    })
}

pub(crate) fn regular_chain(name: &str) -> Value {
    json!({"family": FAMILY_KEYWORD, "table": TABLE, "name": name})
}

pub(crate) fn rule(chain: &str, statements: Vec<Statement<'static>>) -> Value {
    let expr = serde_json::to_value(statements).expect("nft statements always serialize to JSON");
    json!({"family": FAMILY_KEYWORD, "table": TABLE, "chain": chain, "expr": expr})
}

/// A rule from statements written as nft's JSON, for what the `nftables`
/// crate cannot express so that it lists back the same (`fib` flags in a
/// fixed order, `ct state` sets, counters).
pub(crate) fn raw_rule(chain: &str, expr: Vec<Value>) -> Value {
    json!({"family": FAMILY_KEYWORD, "table": TABLE, "chain": chain, "expr": expr})
}

/// An anonymous counter as nft lists it. A listing's counts are read back
/// as zero (`crate::table`), so counting never makes a rule differ.
pub(crate) fn counter() -> Value {
    json!({"counter": {"packets": 0, "bytes": 0}})
}

/// An interface as a set element: `"wg0"`, or `"w0-*"` for a prefix.
pub(crate) fn ifname_element(interface: &IfMatch) -> Value {
    Value::String(interface.nft_pattern())
}

/// A subnet as a set element: a prefix, or a plain address for a
/// full-length one (which is how nft lists it).
pub(crate) fn address_element(subnet: &IpNet) -> Value {
    serde_json::to_value(address(subnet)).expect("nft expressions always serialize to JSON")
}

pub(crate) fn address(subnet: &IpNet) -> Expression<'static> {
    let subnet = subnet.trunc();
    let addr = Expression::String(Cow::Owned(subnet.addr().to_string()));
    if subnet.prefix_len() == subnet.max_prefix_len() {
        addr
    } else {
        Expression::Named(NamedExpression::Prefix(Prefix {
            addr: Box::new(addr),
            len: u32::from(subnet.prefix_len()),
        }))
    }
}

pub(crate) fn meta(key: MetaKey) -> Expression<'static> {
    Expression::Named(NamedExpression::Meta(Meta { key }))
}

pub(crate) fn set_ref(name: &str) -> Expression<'static> {
    Expression::String(Cow::Owned(format!("@{name}")))
}

/// `iifname vmap @forward-from`.
pub(crate) fn vmap(key: MetaKey, map: &str) -> Statement<'static> {
    Statement::VerdictMap(VerdictMap {
        key: meta(key),
        data: set_ref(map),
    })
}

/// `oifname "wg0"` / `oifname "w0-*"`.
pub(crate) fn ifname_is(key: MetaKey, interface: &IfMatch) -> Statement<'static> {
    Statement::Match(Match {
        left: meta(key),
        right: Expression::String(Cow::Owned(interface.nft_pattern())),
        op: Operator::EQ,
    })
}

/// `oifname @interfaces`.
pub(crate) fn ifname_in(key: MetaKey, set: &str) -> Statement<'static> {
    Statement::Match(Match {
        left: meta(key),
        right: set_ref(set),
        op: Operator::EQ,
    })
}

pub(crate) fn addr_match(
    protocol: &'static str,
    field: &'static str,
    op: Operator,
    right: Expression<'static>,
) -> Statement<'static> {
    Statement::Match(Match {
        left: Expression::Named(NamedExpression::Payload(Payload::PayloadField(
            PayloadField {
                protocol: Cow::Borrowed(protocol),
                field: Cow::Borrowed(field),
            },
        ))),
        right,
        op,
    })
}

pub(crate) fn accept() -> Statement<'static> {
    Statement::Accept(None)
}

pub(crate) fn drop() -> Statement<'static> {
    Statement::Drop(None)
}

pub(crate) fn ret() -> Statement<'static> {
    Statement::Return(None)
}
