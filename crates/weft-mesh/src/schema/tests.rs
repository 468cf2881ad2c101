use super::*;

fn hosts(yaml_hosts: &str) -> Vec<HostSpec> {
    let text = format!("name: m\nnetworks: [{{name: blue}}]\nhosts: {yaml_hosts}\n");
    MeshFile::parse(&text)
        .unwrap_or_else(|e| panic!("{e}"))
        .hosts
}

#[test]
fn lab_is_true_or_an_empty_map() {
    let h = hosts("[{name: a, lab: true}, {name: b, lab: {}}, {name: c, lab: false}]");
    assert_eq!(
        h.iter().map(|h| h.lab).collect::<Vec<_>>(),
        [true, true, false]
    );
    assert_eq!(h[1].reach(), Reach::Lab);
    let err = MeshFile::parse("name: m\nnetworks: []\nhosts: [{name: a, lab: 7}]\n").unwrap_err();
    assert_eq!(err.path, "hosts[0].lab");
    assert!(err.message.contains("expected true or {}"), "{err}");
}

#[test]
fn an_ssh_host_is_reached_at_its_ssh_address() {
    let h = hosts("[{name: a, ssh: 'ops@host.example:2222', identity: /k}]");
    assert_eq!(h[0].file_endpoint().unwrap().to_string(), "host.example");
    let Reach::Ssh { target, identity } = h[0].reach() else {
        panic!("not ssh")
    };
    assert_eq!((target.port, identity.as_deref()), (2222, Some("/k")));
    let h = hosts("[{name: a, ssh: root@192.0.2.1, endpoint: 198.51.100.1}]");
    assert_eq!(h[0].file_endpoint().unwrap().to_string(), "198.51.100.1");
}

#[test]
fn kinds_and_network_types_read_as_lowercase_words() {
    assert_eq!(Kind::Container.to_string(), "container");
    assert_eq!(NetworkType::Dual.to_string(), "dual");
    assert!(NetworkType::Dual.has_own_address() && NetworkType::Dual.uses_host_ports());
    assert!(!NetworkType::Host.has_own_address() && !NetworkType::Mesh.uses_host_ports());
}
