//! The ADD result, in the shape of the caller's spec version, and the CHECK
//! comparison against it.

use crate::error::{CniError, Result, code};
use serde_json::{Value, json};
use weft_proto::agent as pb;

fn default_dst(gateway: &str) -> &'static str {
    if gateway.contains(':') {
        "::/0"
    } else {
        "0.0.0.0/0"
    }
}

/// The result of an ADD: the host veth and the container interface, the
/// address with its gateway, the routes, DNS. When an earlier plugin's
/// result is given, ours is appended to it.
pub fn add_result(
    cni_version: &str,
    att: &pb::Attachment,
    sandbox: &str,
    prev: Option<&Value>,
    dns: Option<&Value>,
) -> Value {
    let mut result = prev.cloned().unwrap_or_else(|| json!({}));
    result["cniVersion"] = json!(cni_version);
    let mut push = |key: &str, item: Value| {
        if !result[key].is_array() {
            result[key] = json!([]);
        }
        let list = result[key].as_array_mut().expect("just made an array");
        list.push(item);
        list.len() - 1
    };
    push(
        "interfaces",
        json!({ "name": att.host_ifname, "mac": att.host_mac }),
    );
    let inner = push(
        "interfaces",
        json!({ "name": att.ifname, "mac": att.mac, "sandbox": sandbox, "mtu": att.mtu }),
    );
    let mut ip = json!({ "address": att.address, "gateway": att.gateway, "interface": inner });
    if cni_version == "0.4.0" {
        ip["version"] = json!(if att.address.contains(':') { "6" } else { "4" });
    }
    push("ips", ip);
    let dst = if att.default_route {
        default_dst(&att.gateway).to_string()
    } else {
        att.subnet.clone()
    };
    push("routes", json!({ "dst": dst, "gw": att.gateway }));
    if let Some(dns) = dns.filter(|d| !d.is_null()) {
        result["dns"] = dns.clone();
    }
    if cni_version == "0.4.0" {
        // 0.4.0 results have no interface MTU.
        if let Some(list) = result["interfaces"].as_array_mut() {
            for i in list {
                if let Some(obj) = i.as_object_mut() {
                    obj.remove("mtu");
                }
            }
        }
    }
    result
}

/// The result's `dns`: the network's responder and domain from the agent,
/// then whatever the configuration's own `dns` adds.
pub fn dns(agent: Option<&pb::Dns>, conf: Option<&Value>) -> Value {
    let mut nameservers: Vec<Value> = vec![];
    let mut search: Vec<Value> = vec![];
    let mut doc = json!({});
    if let Some(d) = agent {
        nameservers.extend(d.nameservers.iter().map(|n| json!(n)));
        search.extend(d.search.iter().map(|s| json!(s)));
        if !d.domain.is_empty() {
            doc["domain"] = json!(d.domain);
        }
    }
    if let Some(c) = conf {
        for (key, list) in [("nameservers", &mut nameservers), ("search", &mut search)] {
            for v in c[key].as_array().into_iter().flatten() {
                if !list.contains(v) {
                    list.push(v.clone());
                }
            }
        }
        if doc.get("domain").is_none() && c["domain"].is_string() {
            doc["domain"] = c["domain"].clone();
        }
        if c["options"].is_array() {
            doc["options"] = c["options"].clone();
        }
    }
    doc["nameservers"] = json!(nameservers);
    doc["search"] = json!(search);
    doc
}

/// CHECK: the previous result must describe what the agent has.
pub fn check_prev(prev: &Value, att: &pb::Attachment, sandbox: &str) -> Result<()> {
    let mismatch = |what: String| CniError::new(code::OTHER, format!("CHECK: {what}"));
    let interfaces = prev["interfaces"].as_array().cloned().unwrap_or_default();
    let index = interfaces
        .iter()
        .position(|i| i["name"] == att.ifname.as_str() && i["sandbox"] == sandbox)
        .ok_or_else(|| {
            mismatch(format!(
                "prevResult has no interface {} in {sandbox}",
                att.ifname
            ))
        })?;
    if let Some(mac) = interfaces[index]["mac"].as_str()
        && !mac.eq_ignore_ascii_case(&att.mac)
    {
        return Err(mismatch(format!(
            "{} has MAC {} but prevResult says {mac}",
            att.ifname, att.mac
        )));
    }
    let ips = prev["ips"].as_array().cloned().unwrap_or_default();
    let listed = ips.iter().any(|ip| ip["address"] == att.address.as_str());
    if !listed {
        return Err(mismatch(format!(
            "{} has {} but prevResult lists {}",
            att.ifname, att.address, prev["ips"]
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
