//! Peers: another host's public key, where to reach it and what it carries.

use crate::addressing::{overlaps, parse_cidr};
use crate::error::ModelError;
use ipnet::IpNet;

/// Split `host:port` (IPv6 as `[addr]:port`), checking the port.
pub fn split_endpoint(text: &str) -> Result<(&str, u16), ModelError> {
    let bad = |why: &str| ModelError::invalid("endpoint", text, why);
    let (host, port) = text
        .rsplit_once(':')
        .ok_or_else(|| bad("expected HOST:PORT"))?;
    let host = host
        .strip_prefix('[')
        .map(|h| h.strip_suffix(']').ok_or_else(|| bad("unclosed '['")))
        .transpose()?
        .unwrap_or(host);
    if host.is_empty() {
        return Err(bad("the host is empty"));
    }
    if host.contains(':') && !text.starts_with('[') {
        return Err(bad("write an IPv6 endpoint as [ADDR]:PORT"));
    }
    let port: u16 = port
        .parse()
        .map_err(|_| bad("the port must be a number from 1 to 65535"))?;
    if port == 0 {
        return Err(bad("the port must be a number from 1 to 65535"));
    }
    Ok((host, port))
}

/// Parse a comma-separated allowed-ips list (or several values), requiring
/// at least one.
pub fn parse_allowed_ips<'a>(
    items: impl IntoIterator<Item = &'a str>,
) -> Result<Vec<IpNet>, ModelError> {
    let nets = items
        .into_iter()
        .flat_map(|s| s.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| parse_cidr("allowed-ips", s))
        .collect::<Result<Vec<_>, _>>()?;
    if nets.is_empty() {
        return Err(ModelError::invalid(
            "allowed-ips",
            "",
            "at least one CIDR is required",
        ));
    }
    Ok(nets)
}

/// A peer's allowed-ips must lie inside the network's subnet (a peer must
/// not pull the underlay or the default route into the tunnel), must not
/// repeat or overlap each other, must not cover this host's own block, nor
/// what another peer already carries (WireGuard would silently move it).
pub fn check_allowed_ips<'a>(
    allowed: &[IpNet],
    subnet: &IpNet,
    own_block: &IpNet,
    others: impl IntoIterator<Item = (&'a str, &'a IpNet)>,
) -> Result<(), ModelError> {
    for (i, net) in allowed.iter().enumerate() {
        if !subnet.contains(net) {
            return Err(ModelError::invalid(
                "allowed-ips",
                net,
                format!("lies outside the network's subnet {subnet}"),
            ));
        }
        if let Some(twin) = allowed[..i].iter().find(|n| overlaps(n, net)) {
            return Err(ModelError::invalid(
                "allowed-ips",
                net,
                format!("repeats or overlaps {twin} of the same list"),
            ));
        }
    }
    for net in allowed {
        if overlaps(net, own_block) {
            return Err(ModelError::invalid(
                "allowed-ips",
                net,
                format!("overlaps this host's own block {own_block}"),
            ));
        }
    }
    for (other_key, other) in others {
        if let Some(net) = allowed.iter().find(|n| overlaps(n, other)) {
            return Err(ModelError::invalid(
                "allowed-ips",
                net,
                format!("overlaps {other} of peer {other_key}"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
