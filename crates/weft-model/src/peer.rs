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
mod tests {
    use super::*;

    #[test]
    fn endpoints() {
        assert_eq!(
            split_endpoint("192.0.2.2:51820").unwrap(),
            ("192.0.2.2", 51820)
        );
        assert_eq!(
            split_endpoint("[2001:db8::1]:51820").unwrap(),
            ("2001:db8::1", 51820)
        );
        assert_eq!(split_endpoint("hub.example:7").unwrap(), ("hub.example", 7));
        for bad in [
            "192.0.2.2",
            "192.0.2.2:",
            ":51820",
            "x:0",
            "x:70000",
            "2001:db8::1:5",
            "[::1:5",
        ] {
            let err = split_endpoint(bad).unwrap_err().to_string();
            assert!(err.contains("endpoint"), "{bad}: {err}");
        }
    }

    #[test]
    fn allowed_ips_lists() {
        let nets = parse_allowed_ips(["10.42.2.0/24,10.42.3.0/24", "fd00::/64"]).unwrap();
        assert_eq!(nets.len(), 3);
        assert!(parse_allowed_ips([""]).is_err());
        let err = parse_allowed_ips(["10.42.2.0/24,nope"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("allowed-ips") && err.contains("nope"), "{err}");
    }

    #[test]
    fn allowed_ips_must_not_overlap() {
        let subnet: IpNet = "10.42.0.0/16".parse().unwrap();
        let own: IpNet = "10.42.1.0/24".parse().unwrap();
        let other: IpNet = "10.42.3.0/24".parse().unwrap();
        let ok = parse_allowed_ips(["10.42.2.0/24"]).unwrap();
        assert!(check_allowed_ips(&ok, &subnet, &own, [("B", &other)]).is_ok());
        let mine = parse_allowed_ips(["10.42.0.0/16"]).unwrap();
        let err = check_allowed_ips(&mine, &subnet, &own, [])
            .unwrap_err()
            .to_string();
        assert!(err.contains("own block"), "{err}");
        let theirs = parse_allowed_ips(["10.42.3.128/25"]).unwrap();
        let err = check_allowed_ips(&theirs, &subnet, &own, [("B", &other)])
            .unwrap_err()
            .to_string();
        assert!(err.contains("peer B"), "{err}");
    }

    #[test]
    fn allowed_ips_stay_inside_the_subnet_without_repeats() {
        let subnet: IpNet = "10.42.0.0/16".parse().unwrap();
        let own: IpNet = "10.42.1.0/24".parse().unwrap();
        for (list, why) in [
            ("0.0.0.0/0", "outside the network's subnet"),
            ("192.168.1.0/24", "outside the network's subnet"),
            ("10.0.0.0/8", "outside the network's subnet"),
            (
                "10.42.2.0/24,10.42.2.0/24",
                "repeats or overlaps 10.42.2.0/24",
            ),
            (
                "10.42.2.0/24,10.42.2.7/32",
                "repeats or overlaps 10.42.2.0/24",
            ),
        ] {
            let nets = parse_allowed_ips([list]).unwrap();
            let err = check_allowed_ips(&nets, &subnet, &own, [])
                .unwrap_err()
                .to_string();
            assert!(
                err.contains(why) && err.contains("allowed-ips"),
                "{list}: {err}"
            );
        }
    }
}
