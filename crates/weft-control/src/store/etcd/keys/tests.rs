use super::*;

#[test]
fn hosts_spread_over_every_shard() {
    let mut count = [0u32; SHARDS as usize];
    for i in 0..10_000u32 {
        count[shard_of(&format!("{:016x}", i.wrapping_mul(2_654_435_761))) as usize] += 1;
    }
    let (low, high) = (count.iter().min().unwrap(), count.iter().max().unwrap());
    assert!(*low > 200 && *high < 430, "{count:?}");
}

#[test]
fn tenant_keys_parse_back() {
    let keys = Keys::new("/weft/v1");
    let t = keys.tenant("aa");
    let cases = [
        (keys.host("aa", "h1"), TenantKey::Host("h1")),
        (keys.host_name("aa", "web"), TenantKey::HostName("web")),
        (keys.network("aa", "blue"), TenantKey::Network("blue")),
        (keys.networks_version("aa"), TenantKey::NetworksVersion),
        (keys.blocks("aa", "blue", 7), TenantKey::Blocks("blue")),
        (
            keys.host_keys("aa", "blue", 31),
            TenantKey::HostKeys("blue"),
        ),
        (keys.changed("aa", "blue"), TenantKey::Changed("blue")),
        (keys.tombstone("aa", "blue"), TenantKey::Tombstone("blue")),
        (keys.site("aa", "edge"), TenantKey::Site("edge")),
        (keys.vm("aa", "vm1"), TenantKey::Vm("vm1")),
    ];
    for (key, parsed) in cases {
        assert_eq!(
            TenantKey::parse(key.strip_prefix(&t).unwrap()),
            Some(parsed)
        );
    }
    assert_eq!(TenantKey::parse("later-feature/x"), None);
    assert!(keys.blocks("aa", "blue", 7).ends_with("/blocks/blue/07"));
    assert!(t.starts_with("/weft/v1/t/aa/"));
    // Hosts' reports of their VMs are not read with the tenant's state.
    assert!(!keys.vm_report("aa", "h1").starts_with(&t));
}
