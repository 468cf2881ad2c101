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
