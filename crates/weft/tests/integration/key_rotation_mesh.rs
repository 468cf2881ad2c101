//! `weft network rotate-key` on a mesh file's host, then the file's next
//! `weft up` (the way its peers learn the new key), with a ping every
//! 10 ms and a TCP stream across both: pings lost (at most one) and
//! stream resets (none) counted and printed; afterwards the peer holds the
//! new key and the old private key is gone from the host.

use std::process::Command;
use std::time::Duration;
use weft_testkit::*;

use crate::key_rotation::{Traffic, assert_key_gone};
use crate::mesh_lab::{Down, Mesh};

const WEFT: &str = env!("CARGO_BIN_EXE_weft");
const SECS: u64 = 20;

/// The private key h1's engine holds for `ifname` (`wg` in the lab host).
fn engine_key(mesh: &Mesh, ifname: &str) -> String {
    let file = mesh.file.to_str().unwrap();
    let wg = mesh.weft(&[
        "exec",
        "--file",
        file,
        "h1",
        "--",
        "wg",
        "show",
        ifname,
        "private-key",
    ]);
    String::from_utf8_lossy(&wg.stdout).trim().to_string()
}

fn blue(mesh: &Mesh, host: &str) -> serde_json::Value {
    mesh.agent_json(host, &["network", "ls"])
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == "blue")
        .cloned()
        .unwrap()
}

#[test]
fn a_rotation_then_weft_up_drops_no_traffic() {
    require_root!();
    if !require_tools(&["iperf3", "wg"]) {
        return;
    }
    let (dir, mesh) = Mesh::in_tempdir("weft-test-rotate", format!("r{}", std::process::id()));
    let _down = Down(&mesh);
    std::fs::write(
        &mesh.file,
        format!(
            "name: {}\n\
             networks:\n  - {{name: blue, subnet: 10.46.0.0/16}}\n\
             hosts:\n  - {{name: h1, lab: true}}\n  - {{name: h2, lab: true}}\n\
             services:\n\
             \x20 - {{name: a, host: h1, kind: process, networks: [blue], command: [iperf3, -s]}}\n\
             \x20 - {{name: b, host: h2, kind: container, networks: [blue]}}\n",
            mesh.name
        ),
    )
    .unwrap();
    let out = mesh.up();
    assert!(out.contains("change(s) applied"), "{out}");
    let a = mesh.service_address("a");
    wait_for("b to reach a's iperf3", Duration::from_secs(20), || {
        mesh.exec(
            "b",
            &format!("ping -c1 -W1 {a} && iperf3 -c {a} -t 1 >/dev/null"),
        )
    });
    let old = blue(&mesh, "h1");
    let ifname = old["interface"].as_str().unwrap().to_string();
    let old_private = engine_key(&mesh, &ifname);
    assert!(!old_private.is_empty());

    let file = mesh.file.to_str().unwrap().to_string();
    let state = mesh.state.clone();
    let traffic = Traffic::start_with(
        dir.path(),
        || {
            let mut command = Command::new(WEFT);
            command
                .env("WEFT_MESH_STATE", &state)
                .args(["exec", "--file", &file, "b", "--"]);
            command
        },
        &a,
        "mesh",
        SECS,
    );
    std::thread::sleep(Duration::from_secs(SECS / 4));
    let rotated = mesh.agent_json("h1", &["network", "rotate-key", "blue"]);
    let new_public = rotated["public_key"].as_str().unwrap().to_string();
    assert_ne!(new_public, old["public_key"].as_str().unwrap());
    // h2 learns it at the file's next `up`, not before.
    std::thread::sleep(Duration::from_secs(2));
    let peers = mesh.agent_json("h2", &["peer", "ls", "blue"]);
    assert_eq!(peers[0]["public_key"], old["public_key"], "{peers}");
    let out = mesh.up();
    assert!(
        out.contains("change(s) applied") && out.contains("replace peer h1 on blue"),
        "{out}"
    );
    let peers = mesh.agent_json("h2", &["peer", "ls", "blue"]);
    assert_eq!(peers[0]["public_key"], new_public.as_str(), "{peers}");
    traffic
        .finish()
        .assert_dropped_nothing("rotation, then weft up");

    wait_for("h1 to forget its old key", Duration::from_secs(20), || {
        blue(&mesh, "h1")["retiring_public_key"]
            .as_str()
            .is_none_or(str::is_empty)
    });
    assert_ne!(engine_key(&mesh, &ifname), old_private);
    assert_key_gone(
        &mesh.state.join(&mesh.name).join("hosts").join("h1"),
        &old_private,
    );
    // A second `up` has nothing to do.
    assert!(mesh.up().contains("no changes"));
}
