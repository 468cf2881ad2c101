use super::*;

#[test]
fn names_are_lowercase_dns_labels() {
    assert!("web-1".parse::<Name>().is_ok());
    for bad in ["", "Web", "a_b", "-a", "a-", "a.b", &"x".repeat(64)] {
        assert!(bad.parse::<Name>().is_err(), "{bad:?}");
    }
}

#[test]
fn domains() {
    let d = Domain::try_from("corp.example.".to_owned()).unwrap();
    assert_eq!(d.qualify("web"), "web.corp.example");
    for bad in ["", "a..b", "Mesh.Local", "a_b.c"] {
        assert!(Domain::try_from(bad.to_owned()).is_err(), "{bad:?}");
    }
}

#[test]
fn addresses() {
    let v6: Address = "[2001:db8::1]".parse().unwrap();
    assert_eq!(v6.with_port(51820), "[2001:db8::1]:51820");
    assert_eq!("2001:db8::1".parse::<Address>().unwrap(), v6);
    assert_eq!(
        "192.0.2.1".parse::<Address>().unwrap().with_port(7),
        "192.0.2.1:7"
    );
    assert_eq!(
        "Hub.Example".parse::<Address>().unwrap(),
        Address::Dns("hub.example".into())
    );
    let err = "192.0.2.1:51820".parse::<Address>().unwrap_err();
    assert!(err.contains("listen_port"), "{err}");
    assert!("under score_".parse::<Address>().is_err());
}

#[test]
fn ssh_targets() {
    let t: SshTarget = "root@192.0.2.9".parse().unwrap();
    assert_eq!((t.user.as_str(), t.port), ("root", 22));
    let t: SshTarget = "ops@host.example:2222".parse().unwrap();
    assert_eq!(t.address, Address::Dns("host.example".into()));
    assert_eq!(t.port, 2222);
    let t: SshTarget = "ops@[2001:db8::2]:2200".parse().unwrap();
    assert_eq!(t.to_string(), "ops@[2001:db8::2]:2200");
    let t: SshTarget = "ops@2001:db8::2".parse().unwrap();
    assert_eq!(t.port, 22);
    for bad in [
        "host.example",
        "@host",
        "ops@",
        "ops@host:0",
        "ops@host:x",
        "o ps@host",
        "ops@[::1",
    ] {
        let err = bad.parse::<SshTarget>().unwrap_err();
        assert!(err.contains("user@addr[:port]"), "{bad}: {err}");
    }
}
