//! Longest-prefix match from IP addresses to peers ("cryptokey routing").
//!
//! Per address family, one hash map per prefix length in use; a lookup tries
//! the lengths from longest to shortest. Real configurations use a handful
//! of distinct lengths, so this costs a few hash probes per packet and stays
//! simple. (gotatun's own table lives behind its `device` feature, which
//! pulls in tokio; we do not use that part.)

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

pub struct AllowedIps<T> {
    v4: Family<T>,
    v6: Family<T>,
}

struct Family<T> {
    /// prefix length → (network address → owner)
    by_len: BTreeMap<u8, HashMap<u128, T>>,
    bits: u8,
}

impl<T> Family<T> {
    fn new(bits: u8) -> Self {
        Self {
            by_len: BTreeMap::new(),
            bits,
        }
    }

    fn mask(&self, addr: u128, len: u8) -> u128 {
        if len == 0 {
            0
        } else {
            let shift = u32::from(self.bits - len);
            addr & ((u128::MAX >> (128 - u32::from(self.bits))) << shift)
        }
    }

    fn lookup(&self, addr: u128) -> Option<&T> {
        self.by_len
            .iter()
            .rev()
            .find_map(|(len, nets)| nets.get(&self.mask(addr, *len)))
    }

    fn insert(&mut self, addr: u128, len: u8, value: T) -> Option<T> {
        let key = self.mask(addr, len);
        self.by_len.entry(len).or_default().insert(key, value)
    }

    fn remove(&mut self, addr: u128, len: u8) -> Option<T> {
        let key = self.mask(addr, len);
        let nets = self.by_len.get_mut(&len)?;
        let old = nets.remove(&key);
        if nets.is_empty() {
            self.by_len.remove(&len);
        }
        old
    }

    fn retain(&mut self, mut keep: impl FnMut(u128, u8, &T) -> bool) {
        for (len, nets) in &mut self.by_len {
            nets.retain(|addr, value| keep(*addr, *len, value));
        }
        self.by_len.retain(|_, nets| !nets.is_empty());
    }
}

fn split(net: &IpNet) -> (bool, u128, u8) {
    match net {
        IpNet::V4(n) => (false, u32::from(n.network()).into(), n.prefix_len()),
        IpNet::V6(n) => (true, u128::from(n.network()), n.prefix_len()),
    }
}

fn join(v6: bool, addr: u128, len: u8) -> IpNet {
    if v6 {
        IpNet::V6(Ipv6Net::new(addr.into(), len).expect("stored prefix lengths are valid"))
    } else {
        // Stored IPv4 keys come from a u32, so the cast is lossless.
        let addr = addr as u32;
        IpNet::V4(Ipv4Net::new(addr.into(), len).expect("stored prefix lengths are valid"))
    }
}

impl<T> Default for AllowedIps<T> {
    fn default() -> Self {
        Self {
            v4: Family::new(32),
            v6: Family::new(128),
        }
    }
}

impl<T> AllowedIps<T> {
    fn family(&mut self, v6: bool) -> &mut Family<T> {
        if v6 { &mut self.v6 } else { &mut self.v4 }
    }

    /// Route `net` to `value`, returning the previous owner of exactly that
    /// prefix (an allowed IP belongs to one peer at a time).
    pub fn insert(&mut self, net: IpNet, value: T) -> Option<T> {
        let (v6, addr, len) = split(&net);
        self.family(v6).insert(addr, len, value)
    }

    pub fn remove(&mut self, net: &IpNet) -> Option<T> {
        let (v6, addr, len) = split(net);
        self.family(v6).remove(addr, len)
    }

    /// The owner of the longest prefix containing `ip`.
    pub fn lookup(&self, ip: IpAddr) -> Option<&T> {
        match ip {
            IpAddr::V4(ip) => self.v4.lookup(u32::from(ip).into()),
            IpAddr::V6(ip) => self.v6.lookup(u128::from(ip)),
        }
    }

    pub fn retain(&mut self, mut keep: impl FnMut(&IpNet, &T) -> bool) {
        self.v4
            .retain(|addr, len, value| keep(&join(false, addr, len), value));
        self.v6
            .retain(|addr, len, value| keep(&join(true, addr, len), value));
    }

    pub fn clear(&mut self) {
        self.v4.by_len.clear();
        self.v6.by_len.clear();
    }

    /// Every prefix and its owner: IPv4 before IPv6, sorted by address then
    /// prefix length.
    pub fn entries(&self) -> Vec<(IpNet, &T)> {
        let mut out = Vec::new();
        for (v6, family) in [(false, &self.v4), (true, &self.v6)] {
            let start = out.len();
            for (len, nets) in &family.by_len {
                out.extend(
                    nets.iter()
                        .map(|(addr, value)| (join(v6, *addr, *len), value)),
                );
            }
            out[start..].sort_by_key(|(net, _)| (net.network(), net.prefix_len()));
        }
        out
    }
}

#[cfg(test)]
mod tests;
