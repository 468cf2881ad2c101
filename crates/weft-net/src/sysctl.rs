//! Per-namespace sysctls under `/proc/sys/net`.
//!
//! `/proc/sys/net` shows the tables of the network namespace of whoever
//! opens the file, so the file is opened on a thread inside the namespace.

use std::fs;
use std::path::PathBuf;

use crate::error::{NetError, Result};
use crate::netns::Netns;

/// Sets a network sysctl inside `ns`, e.g. `("net/ipv4/ip_forward", "1")` or
/// `("net/ipv4/conf/<if>/proxy_arp", "1")`. Only `net/...` keys are allowed:
/// others are global and would change the whole host.
pub fn set_sysctl(ns: &Netns, key: &str, value: &str) -> Result<()> {
    let op = format!("set sysctl {key}={value} in {}", ns.origin());
    let path = sysctl_path(&op, key)?;
    ns.run(|| fs::write(&path, value))?
        .map_err(|e| NetError::os(&op, e))?;
    tracing::debug!("{op}: done");
    Ok(())
}

/// Reads a network sysctl inside `ns`, without the trailing newline.
pub fn get_sysctl(ns: &Netns, key: &str) -> Result<String> {
    let op = format!("read sysctl {key} in {}", ns.origin());
    let path = sysctl_path(&op, key)?;
    let value = ns
        .run(|| fs::read_to_string(&path))?
        .map_err(|e| NetError::os(&op, e))?;
    Ok(value.trim_end_matches('\n').to_owned())
}

fn sysctl_path(op: &str, key: &str) -> Result<PathBuf> {
    let mut parts = key.split('/');
    if parts.next() != Some("net") {
        return Err(NetError::invalid(
            op,
            "only net/... sysctls are per namespace",
        ));
    }
    let rest: Vec<&str> = parts.collect();
    if rest.is_empty()
        || rest
            .iter()
            .any(|part| part.is_empty() || *part == "." || *part == "..")
    {
        return Err(NetError::invalid(op, "malformed sysctl key"));
    }
    Ok(PathBuf::from("/proc/sys").join(key))
}

#[cfg(test)]
mod tests;
