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
mod tests {
    use super::*;

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn longest_prefix_wins() {
        let mut table = AllowedIps::default();
        table.insert(net("0.0.0.0/0"), "default");
        table.insert(net("10.0.0.0/8"), "ten");
        table.insert(net("10.1.0.0/16"), "ten-one");
        table.insert(net("10.1.2.3/32"), "host");
        table.insert(net("fd00::/8"), "ula");
        table.insert(net("fd00:1::/32"), "ula-1");

        assert_eq!(table.lookup(ip("10.1.2.3")), Some(&"host"));
        assert_eq!(table.lookup(ip("10.1.2.4")), Some(&"ten-one"));
        assert_eq!(table.lookup(ip("10.2.0.1")), Some(&"ten"));
        assert_eq!(table.lookup(ip("192.0.2.1")), Some(&"default"));
        assert_eq!(table.lookup(ip("fd00:1::5")), Some(&"ula-1"));
        assert_eq!(table.lookup(ip("fd00:2::5")), Some(&"ula"));
        assert_eq!(
            table.lookup(ip("2001:db8::1")),
            None,
            "no IPv6 default route"
        );
        assert_eq!(
            table.lookup(ip("::ffff:10.1.2.3")),
            None,
            "IPv6 packets use IPv6 prefixes"
        );
    }

    #[test]
    fn prefixes_are_normalised_and_move_between_owners() {
        let mut table = AllowedIps::default();
        assert_eq!(table.insert(net("10.9.0.7/24"), 1), None);
        assert_eq!(
            table.insert(net("10.9.0.0/24"), 2),
            Some(1),
            "same prefix, new owner"
        );
        assert_eq!(table.lookup(ip("10.9.0.200")), Some(&2));
        assert_eq!(table.remove(&net("10.9.0.0/24")), Some(2));
        assert_eq!(table.lookup(ip("10.9.0.200")), None);
        assert!(table.entries().is_empty());
    }

    #[test]
    fn retain_and_entries() {
        let mut table = AllowedIps::default();
        table.insert(net("10.0.0.2/32"), 'a');
        table.insert(net("10.0.0.0/24"), 'b');
        table.insert(net("fd00::2/128"), 'a');
        table.insert(net("10.0.0.1/32"), 'a');
        let listed: Vec<_> = table
            .entries()
            .into_iter()
            .map(|(n, v)| (n.to_string(), *v))
            .collect();
        assert_eq!(
            listed,
            [
                ("10.0.0.0/24", 'b'),
                ("10.0.0.1/32", 'a'),
                ("10.0.0.2/32", 'a'),
                ("fd00::2/128", 'a')
            ]
            .map(|(n, v)| (n.to_string(), v))
        );
        table.retain(|_, owner| *owner != 'a');
        assert_eq!(table.lookup(ip("10.0.0.2")), Some(&'b'));
        assert_eq!(table.lookup(ip("fd00::2")), None);
        assert_eq!(table.entries().len(), 1);
    }

    #[test]
    fn zero_length_prefixes() {
        let mut table = AllowedIps::default();
        table.insert(net("::/0"), 6);
        assert_eq!(table.lookup(ip("2001:db8::1")), Some(&6));
        assert_eq!(
            table.lookup(ip("10.0.0.1")),
            None,
            "::/0 does not cover IPv4"
        );
        table.clear();
        assert_eq!(table.lookup(ip("2001:db8::1")), None);
    }
}
