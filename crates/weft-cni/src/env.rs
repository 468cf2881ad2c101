//! The `CNI_*` environment variables, checked per command.

use crate::error::{CniError, Result};
use std::collections::BTreeMap;
use weft_model::names;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    Add,
    Del,
    Check,
    Status,
    Gc,
    Version,
}

impl Command {
    fn parse(text: &str) -> Result<Command> {
        Ok(match text {
            "ADD" => Command::Add,
            "DEL" => Command::Del,
            "CHECK" => Command::Check,
            "STATUS" => Command::Status,
            "GC" => Command::Gc,
            "VERSION" => Command::Version,
            other => {
                return Err(CniError::invalid_env(
                    "CNI_COMMAND",
                    format!(
                        "unknown command {other:?} (expected ADD, DEL, CHECK, STATUS, GC or VERSION)"
                    ),
                ));
            }
        })
    }
}

/// What the runtime passed in the environment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CniEnv {
    pub command: Command,
    pub container_id: String,
    pub netns: String,
    pub ifname: String,
    /// `CNI_ARGS`: `KEY=VALUE;…`
    pub args: BTreeMap<String, String>,
}

impl CniEnv {
    /// Read and check the variables the command needs, naming any that is
    /// missing or malformed.
    pub fn from_vars(get: impl Fn(&str) -> Option<String>) -> Result<CniEnv> {
        let command = get("CNI_COMMAND")
            .filter(|c| !c.is_empty())
            .ok_or_else(|| CniError::invalid_env("CNI_COMMAND", "is not set"))?;
        let command = Command::parse(&command)?;
        let var = |name: &str| get(name).unwrap_or_default();
        let env = CniEnv {
            command,
            container_id: var("CNI_CONTAINERID"),
            netns: var("CNI_NETNS"),
            ifname: var("CNI_IFNAME"),
            args: parse_args(&var("CNI_ARGS"))?,
        };
        let required: &[&str] = match command {
            Command::Add | Command::Check => &["CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME"],
            // DEL may come after the namespace is gone.
            Command::Del => &["CNI_CONTAINERID", "CNI_IFNAME"],
            Command::Status | Command::Gc | Command::Version => &[],
        };
        for name in required {
            let value = match *name {
                "CNI_CONTAINERID" => &env.container_id,
                "CNI_NETNS" => &env.netns,
                _ => &env.ifname,
            };
            if value.is_empty() {
                return Err(CniError::invalid_env(
                    name,
                    "is required for this command but not set",
                ));
            }
        }
        if required.contains(&"CNI_CONTAINERID") {
            names::validate_workload_id(&env.container_id)
                .map_err(|e| CniError::invalid_env("CNI_CONTAINERID", e))?;
        }
        if required.contains(&"CNI_IFNAME") {
            names::validate_ifname("interface name", &env.ifname)
                .map_err(|e| CniError::invalid_env("CNI_IFNAME", e))?;
        }
        Ok(env)
    }
}

fn parse_args(text: &str) -> Result<BTreeMap<String, String>> {
    text.split(';')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            kv.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .ok_or_else(|| {
                    CniError::invalid_env("CNI_ARGS", format!("{kv:?} is not KEY=VALUE"))
                })
        })
        .collect()
}

#[cfg(test)]
mod tests;
