//! The host's upstream resolvers, read from resolv.conf text.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use tracing::debug;

/// The upstream resolvers named by resolv.conf `text` (e.g. the content of
/// `/etc/resolv.conf`), on port 53, in file order. Pure: reading the file is
/// the caller's business (and should not happen on an async worker).
///
/// Loopback resolvers (systemd-resolved's 127.0.0.53, a local dnsmasq or
/// unbound) are kept: the responder forwards from the agent's own network
/// namespace — the host's, where that resolv.conf applies — so the host's
/// stub is reachable and is what the host itself uses. (Container runtimes
/// drop them because the *container* cannot reach the host's loopback; the
/// workloads here never talk to upstream themselves.)
///
/// Like glibc: `nameserver` lines only (`domain`, `search`, `options` do
/// not matter to a forwarder), `#` and `;` start comments, an address that
/// does not parse is skipped, an IPv6 link-local address with a zone
/// (`fe80::1%eth0`) is skipped (it needs the interface index of a host we
/// do not inspect), and with no usable `nameserver` line the resolver on
/// the local machine (127.0.0.1) is used.
pub fn host_upstreams(resolv_conf: &str) -> Vec<SocketAddr> {
    let mut upstreams = Vec::new();
    for line in resolv_conf.lines() {
        let line = line.split(['#', ';']).next().unwrap_or_default();
        let mut words = line.split_whitespace();
        if words.next() != Some("nameserver") {
            continue;
        }
        let Some(addr) = words.next() else { continue };
        match addr.parse::<IpAddr>() {
            Ok(ip) => {
                let upstream = SocketAddr::new(ip, 53);
                if !upstreams.contains(&upstream) {
                    upstreams.push(upstream);
                }
            }
            Err(_) => debug!(nameserver = addr, "resolv.conf: nameserver skipped"),
        }
    }
    if upstreams.is_empty() {
        upstreams.push(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 53));
    }
    upstreams
}

#[cfg(test)]
mod tests;
