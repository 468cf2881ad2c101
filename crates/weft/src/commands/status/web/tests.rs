use super::*;

#[test]
fn only_loopback_addresses_are_served() {
    assert!(parse_addr("127.0.0.1:8080").is_ok());
    assert!(parse_addr("[::1]:8080").is_ok());
    for bad in ["0.0.0.0:8080", "192.0.2.1:80", "localhost", "127.0.0.1"] {
        let err = parse_addr(bad).unwrap_err().to_string();
        assert!(err.contains("--web"), "{bad}: {err}");
    }
}

#[test]
fn a_mesh_status_becomes_the_control_planes_shape() {
    let doc = json!({
        "mesh": "lab",
        "peer_hosts": { "KEY2": "h2" },
        "hosts": [
            { "host": "h1", "status": { "networks": [{ "name": "blue", "mode": "wireguard",
                "addresses": ["10.42.0.1/24"],
                "peers": [{ "public_key": "KEY2", "endpoint": "192.0.2.2:51820",
                    "latest_handshake": 100, "rx_bytes": 5, "tx_bytes": 6, "health": "healthy" }] }] } },
            { "host": "h2", "status": { "error": "unreachable" } }
        ]
    });
    let s = dashboard_status(&doc, 200);
    assert_eq!(s["tenant"], "mesh lab");
    assert_eq!(s["hosts"][0]["state"], "online");
    assert_eq!(s["hosts"][1]["state"], "offline");
    let link = &s["hosts"][0]["links"][0];
    assert_eq!(
        (link["peer"].as_str(), link["health"].as_str()),
        (Some("h2"), Some("healthy"))
    );
    assert_eq!(link["endpoint"], "192.0.2.2:51820");
    assert_eq!(s["hosts"][0]["peer_health"]["healthy"], 1);
    assert_eq!(s["networks"][0]["blocks"][0]["block"], "10.42.0.1/24");
    assert_eq!(s["networks"][0]["block_prefix"], 24);
}
