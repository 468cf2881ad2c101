use super::*;
use crate::output::one_line;

/// A host whose agent answers with canned JSON.
struct Canned {
    networks: &'static str,
    attachments: &'static str,
    peers: &'static str,
    names: &'static str,
    /// What `weft service-status` prints.
    services: &'static str,
}

impl HostConn for Canned {
    fn name(&self) -> &str {
        "h1"
    }
    fn weft(&self, args: &[&str]) -> Result<String> {
        Ok(match args[0] {
            "network" => self.networks,
            "attachments" => self.attachments,
            "peer" => self.peers,
            "names" => self.names,
            other => panic!("unexpected weft {other}"),
        }
        .to_string())
    }
    fn sh(&self, script: &str) -> Result<String> {
        assert!(script.contains("service-status"), "{script}");
        Ok(self.services.into())
    }
    fn sh_net(&self, _script: &str) -> Result<String> {
        unreachable!("observing runs nothing in the host's namespace")
    }
    fn weft_bin(&self) -> String {
        "weft".into()
    }
    fn mesh_dir(&self, _mesh: &Mesh) -> String {
        "/nonexistent".into()
    }
    fn exec_argv(&self, cmd: &[String]) -> Vec<String> {
        cmd.to_vec()
    }
}

const KEY: &str = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";
const NETWORKS: &str = r#"[{"name": "blue", "interface": "wg0", "mode": "wireguard",
        "subnet": "10.42.0.0/16", "block": "10.42.1.0/24", "listen_port": 51820,
        "public_key": "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=", "internal": false}]"#;
const ATTACHMENTS: &str = r#"[{"network": "blue", "id": "web", "address": "10.42.1.2/24"}]"#;
const PEERS: &str = r#"[{"public_key": "AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=",
        "endpoint": "192.0.2.2:51820", "allowed_ips": ["10.42.2.0/24"], "keepalive": 25}]"#;
const NAMES: &str = r#"[{"name": "web", "addresses": ["10.42.1.2"]}]"#;

fn mesh() -> Mesh {
    let file = weft_mesh::ValidMesh::parse(
        "name: m\nnetworks: [{name: blue}]\nhosts: [{name: h1, ssh: root@192.0.2.1}]\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    Mesh {
        file,
        dir: "/nonexistent".into(),
    }
}

fn observe_canned(host: Canned) -> Result<HostState> {
    super::host(&mesh(), &host)
}

fn good() -> Canned {
    Canned {
        networks: NETWORKS,
        attachments: ATTACHMENTS,
        peers: PEERS,
        names: NAMES,
        services: "[]",
    }
}

#[test]
fn a_well_formed_host_is_read_whole() {
    let state = observe_canned(good()).unwrap();
    let blue = &state.networks["blue"];
    assert_eq!(blue.public_key.unwrap().to_base64(), KEY);
    assert_eq!(blue.attachments["web"].to_string(), "10.42.1.2");
    assert_eq!(blue.peers[0].allowed_ips[0].to_string(), "10.42.2.0/24");
    let dns = blue.dns.as_ref().unwrap();
    assert_eq!(dns[0].name, "web.mesh.local");
    assert_eq!(dns[0].address.to_string(), "10.42.1.2");
}

/// Anything the agent reports that cannot be read stops the
/// observation with an error naming the host, the network and its
/// interface, and the value; it is never dropped.
#[test]
fn unreadable_addresses_are_errors_naming_host_interface_and_value() {
    let cases = [
        (
            Canned {
                peers: r#"[{"public_key": "AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=",
                        "endpoint": "192.0.2.2:51820",
                        "allowed_ips": ["10.42.2.0/24", "10.42.3.0/33"], "keepalive": 0}]"#,
                ..good()
            },
            "allowed IP of peer AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=",
            "\"10.42.3.0/33\"",
        ),
        (
            Canned {
                attachments: r#"[{"network": "blue", "id": "web", "address": "10.42.1.x/24"}]"#,
                ..good()
            },
            "address of attachment web",
            "\"10.42.1.x\"",
        ),
        (
            Canned {
                names: r#"[{"name": "web", "addresses": ["10.42.1.2", "nonsense"]}]"#,
                ..good()
            },
            "address of DNS name web",
            "\"nonsense\"",
        ),
    ];
    for (host, what, value) in cases {
        let err = observe_canned(host).expect_err(what);
        let line = one_line(&err);
        assert!(
            line.starts_with(&format!(
                "observe h1: network blue (wg0): {what}: cannot read {value}: "
            )),
            "{line}"
        );
    }
}

/// An ended process is observed (with the fingerprint it ran with), so
/// the plan does not start it again; a service that is neither running
/// nor ended is not, so it is started.
#[test]
fn ended_processes_are_observed_vanished_services_are_not() {
    let state = observe_canned(Canned {
            services: r#"[
                {"name": "web", "fingerprint": "f1", "running": true, "exit": null},
                {"name": "job", "fingerprint": "f2", "running": false, "exit": "exited with code 0"},
                {"name": "gone", "fingerprint": "f3", "running": false, "exit": null}
            ]"#,
            ..good()
        })
        .unwrap();
    let observed: Vec<(&str, &str)> = state
        .services
        .iter()
        .map(|(name, s)| (name.as_str(), s.fingerprint.as_str()))
        .collect();
    assert_eq!(observed, [("job", "f2"), ("web", "f1")]);
}
