//! The network configuration on stdin.

use crate::error::{CniError, Result, code};
use ipnet::IpNet;
use serde_json::{Map, Value};
use std::path::PathBuf;
use weft_model::{Mode, addressing, names, network};

/// Spec versions this plugin speaks.
pub const SUPPORTED_VERSIONS: [&str; 3] = ["0.4.0", "1.0.0", "1.1.0"];

/// The version used when the input has none we can trust (VERSION, or an
/// error before the version is known).
pub const LATEST: &str = "1.1.0";

pub const DEFAULT_AGENT_SOCKET: &str = "/run/weft/agent.sock";

/// Keys the spec defines and keys of weft's own. Anything else is refused
/// with code 2, naming the key.
const KNOWN_KEYS: &[&str] = &[
    // the spec's
    "cniVersion",
    "cniVersions",
    "name",
    "type",
    "args",
    "runtimeConfig",
    "capabilities",
    "prevResult",
    "dns",
    "cni.dev/valid-attachments",
    // weft's
    "agentSocket",
    "subnet",
    "block",
    "mode",
    "internal",
    "domain",
];

/// A weft network as a CNI configuration describes it.
///
/// The network's own settings (`subnet`, `block`, `mode`, `internal`,
/// `domain`) stay `None` when the config does not give them: they matter
/// only when the network has to be created (the agent's defaults fill the
/// gaps then); for a network that exists, an absent key means "whatever it
/// is" and only a key that is present must agree with it.
#[derive(Clone, Debug, PartialEq)]
pub struct NetConf {
    pub cni_version: String,
    /// The weft network.
    pub name: String,
    pub agent_socket: PathBuf,
    /// When set, the agent creates the network on first use.
    pub subnet: Option<IpNet>,
    pub block: Option<IpNet>,
    pub mode: Option<Mode>,
    pub internal: Option<bool>,
    pub domain: Option<String>,
    /// The workload's name given in `args.name`, if any.
    pub args_name: Option<String>,
    pub prev_result: Option<Value>,
    /// GC: (container id, ifname) pairs that stay.
    pub valid_attachments: Vec<(String, String)>,
    pub dns: Option<Value>,
}

fn string(obj: &Map<String, Value>, key: &str) -> Result<Option<String>> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(CniError::invalid_config(format!(
            "{key}: expected a string, got {other}"
        ))),
    }
}

/// Only the version, for reporting errors in the caller's version even
/// when the rest of the input is bad.
pub fn version_of(stdin: &[u8]) -> String {
    serde_json::from_slice::<Value>(stdin)
        .ok()
        .and_then(|v| {
            v.get("cniVersion")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .filter(|v| SUPPORTED_VERSIONS.contains(&v.as_str()))
        .unwrap_or_else(|| LATEST.to_string())
}

pub fn parse(stdin: &[u8]) -> Result<NetConf> {
    let value: Value = serde_json::from_slice(stdin).map_err(|e| {
        CniError::new(
            code::DECODE,
            format!("network configuration on stdin is not valid JSON: {e}"),
        )
    })?;
    let Value::Object(obj) = value else {
        return Err(CniError::new(
            code::DECODE,
            "network configuration on stdin is not a JSON object",
        ));
    };
    let cni_version = string(&obj, "cniVersion")?
        .ok_or_else(|| CniError::invalid_config("cniVersion: required"))?;
    if !SUPPORTED_VERSIONS.contains(&cni_version.as_str()) {
        return Err(CniError::new(
            code::INCOMPATIBLE_VERSION,
            format!(
                "cniVersion {cni_version:?} is not supported (supported: {})",
                SUPPORTED_VERSIONS.join(", ")
            ),
        ));
    }
    if let Some((key, value)) = obj.iter().find(|(k, _)| !KNOWN_KEYS.contains(&k.as_str())) {
        return Err(CniError::new(
            code::UNSUPPORTED_FIELD,
            format!("unsupported field {key:?} (value {value})"),
        ));
    }
    let name = string(&obj, "name")?.ok_or_else(|| CniError::invalid_config("name: required"))?;
    names::validate_network_name(&name)
        .map_err(|e| CniError::invalid_config(format!("name: {e}")))?;
    let invalid = |e: weft_model::ModelError| CniError::invalid_config(e.to_string());
    // An empty string is as good as absent (it always meant "the default").
    let mode = string(&obj, "mode")?
        .filter(|text| !text.is_empty())
        .map(|text| Mode::parse(&text).map_err(invalid))
        .transpose()?;
    let cidr = |field: &'static str| -> Result<Option<IpNet>> {
        string(&obj, field)?
            .map(|text| addressing::parse_cidr(field, &text).map_err(invalid))
            .transpose()
    };
    let subnet = cidr("subnet")?;
    let block = cidr("block")?;
    match (&subnet, &block) {
        (Some(subnet), block) => {
            addressing::validate_subnet(subnet).map_err(invalid)?;
            // The block the network would get if this config creates it.
            let block =
                block.unwrap_or_else(|| network::default_block(mode.unwrap_or_default(), subnet));
            addressing::validate_block(subnet, &block).map_err(invalid)?;
        }
        (None, Some(_)) => return Err(CniError::invalid_config("block: given without subnet")),
        (None, None) => {}
    }
    let internal = match obj.get("internal") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(other) => {
            return Err(CniError::invalid_config(format!(
                "internal: expected true or false, got {other}"
            )));
        }
    };
    let domain = string(&obj, "domain")?.filter(|d| !d.is_empty());
    if let Some(domain) = &domain {
        names::validate_domain(domain).map_err(invalid)?;
    }
    let args_name = obj
        .get("args")
        .and_then(|a| a.get("name"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let agent_socket = string(&obj, "agentSocket")?.unwrap_or_else(|| DEFAULT_AGENT_SOCKET.into());
    let valid_attachments = match obj.get("cni.dev/valid-attachments") {
        None | Some(Value::Null) => vec![],
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| {
                let id = item.get("containerID").and_then(Value::as_str);
                let ifname = item.get("ifname").and_then(Value::as_str);
                match (id, ifname) {
                    (Some(id), Some(ifname)) => Ok((id.to_string(), ifname.to_string())),
                    _ => Err(CniError::invalid_config(format!(
                        "cni.dev/valid-attachments: {item} needs containerID and ifname"
                    ))),
                }
            })
            .collect::<Result<_>>()?,
        Some(other) => {
            return Err(CniError::invalid_config(format!(
                "cni.dev/valid-attachments: expected a list, got {other}"
            )));
        }
    };
    let prev_result = obj.get("prevResult").filter(|v| !v.is_null()).cloned();
    if let Some(prev) = &prev_result
        && !prev.is_object()
    {
        return Err(CniError::invalid_config("prevResult: expected an object"));
    }
    Ok(NetConf {
        cni_version,
        name,
        agent_socket: PathBuf::from(agent_socket),
        subnet,
        block,
        mode,
        internal,
        domain,
        args_name,
        prev_result,
        valid_attachments,
        dns: obj.get("dns").cloned(),
    })
}

#[cfg(test)]
mod tests;
