use super::*;

fn conf(json: &str) -> NetConf {
    config::parse(json.as_bytes()).unwrap()
}

/// What `weft network create br --mode bridge --subnet 10.88.0.0/16`
/// makes, as the agent lists it.
fn existing_bridge() -> pb::Network {
    pb::Network {
        name: "br".into(),
        interface: "weft-br0".into(),
        subnet: "10.88.0.0/16".into(),
        block: "10.88.0.0/16".into(),
        mode: "bridge".into(),
        internal: false,
        domain: "mesh.local".into(),
        ..Default::default()
    }
}

#[test]
fn a_config_without_settings_takes_the_network_as_it_is() {
    let net = existing_bridge();
    check_matches(&conf(r#"{"cniVersion":"1.1.0","name":"br"}"#), &net).unwrap();
    // Settings that agree are fine too, however they are spelled.
    check_matches(
        &conf(
            r#"{"cniVersion":"1.1.0","name":"br","mode":"bridge","subnet":" 10.88.0.0/16",
                    "block":"10.88.0.0/16","internal":false,"domain":"mesh.local"}"#,
        ),
        &net,
    )
    .unwrap();
}

#[test]
fn each_setting_that_contradicts_the_network_is_refused() {
    let net = existing_bridge();
    for (extra, want) in [
        (
            r#""mode":"wireguard""#,
            "exists in mode bridge, but the config says wireguard",
        ),
        (
            r#""subnet":"10.89.0.0/16""#,
            "exists with subnet 10.88.0.0/16, but the config says 10.89.0.0/16",
        ),
        (
            r#""subnet":"10.88.0.0/16","block":"10.88.1.0/24""#,
            "exists with block 10.88.0.0/16, but the config says 10.88.1.0/24",
        ),
        (
            r#""internal":true"#,
            "exists with internal false, but the config says true",
        ),
        (
            r#""domain":"corp.example""#,
            "exists with domain mesh.local, but the config says corp.example",
        ),
    ] {
        let json = format!(r#"{{"cniVersion":"1.1.0","name":"br",{extra}}}"#);
        let err = check_matches(&conf(&json), &net).unwrap_err();
        assert_eq!(err.code, code::INVALID_CONFIG, "{extra}");
        assert!(err.msg.contains(want), "{extra}: {}", err.msg);
        assert!(err.msg.contains("network \"br\""), "{}", err.msg);
    }
}

#[test]
fn a_new_network_gets_what_the_config_says_and_defaults_for_the_rest() {
    let bare = conf(r#"{"cniVersion":"1.1.0","name":"blue","subnet":"10.42.0.0/16"}"#);
    let req = new_network(&bare, bare.subnet.as_ref().unwrap());
    assert_eq!(
        (req.name.as_str(), req.subnet.as_str(), req.block.as_str()),
        ("blue", "10.42.0.0/16", "")
    );
    assert_eq!(
        (req.mode.as_str(), req.internal, req.domain.as_str()),
        ("wireguard", false, "")
    );
    let full = conf(
        r#"{"cniVersion":"1.1.0","name":"br","subnet":"10.88.0.0/16","block":"10.88.0.0/16",
                "mode":"bridge","internal":true,"domain":"corp.example"}"#,
    );
    let req = new_network(&full, full.subnet.as_ref().unwrap());
    assert_eq!(req.block, "10.88.0.0/16");
    assert_eq!(
        (req.mode.as_str(), req.internal, req.domain.as_str()),
        ("bridge", true, "corp.example")
    );
}
