//! An agent fails over between control-plane replicas: two `weft control
//! serve` processes on one state directory (one CA, one SQLite file), at
//! two addresses of the control plane's namespace, each advertising both.
//! The agent enrolls through the first and is told of both; the first is
//! killed (`kill -9`): the agent moves to the second, resumes there, and a
//! network created through the second reaches it.

use serde_json::{Value, json};
use std::path::Path;
use std::time::Duration;
use weft_testkit::*;

use crate::control_common::{self, operator};

const WEFT: &str = env!("CARGO_BIN_EXE_weft");
const FIRST: &str = "192.0.2.10";
const SECOND: &str = "192.0.2.11";
const HOST: &str = "192.0.2.1";

/// cp (both replicas' addresses) and h1 on one link.
fn link(lab: &mut Lab) {
    lab.add_namespaces(["cp", "h1"]);
    sh(&format!(
        "ip link add u0 netns {cp} type veth peer name u0 netns {h1} && \
         ip -n {cp} addr add {FIRST}/24 dev u0 && ip -n {cp} addr add {SECOND}/24 dev u0 && \
         ip -n {h1} addr add {HOST}/24 dev u0 && \
         ip -n {cp} link set u0 up && ip -n {h1} link set u0 up && \
         ip -n {cp} link set lo up && ip -n {h1} link set lo up",
        cp = lab.ns("cp"),
        h1 = lab.ns("h1"),
    ));
}

fn replica(lab: &Lab, state: &Path, addr: &str) -> (process::Spawned, String) {
    let out = state.with_extension(format!("{addr}.out"));
    let log = state.with_extension(format!("{addr}.log"));
    let advertise = [
        "--advertise",
        &format!("{FIRST}:50051"),
        "--advertise",
        &format!("{SECOND}:50051"),
    ];
    control_common::start_control(WEFT, lab, addr, state, (&out, &log), &advertise)
}

/// A tenant's call to the REST API of the replica at `addr`.
fn curl(lab: &Lab, state: &Path, key: &str, addr: &str, path: &str, body: Value) -> Value {
    let out = lab.exec_ok(
        "cp",
        &format!(
            "curl -sS --fail-with-body -X POST --cacert {} -H 'Authorization: Bearer {key}' \
             -H 'Content-Type: application/json' -d '{body}' https://{addr}:8443{path}",
            state.join("ca.pem").display()
        ),
    );
    serde_json::from_str(&out).unwrap()
}

fn control(lab: &Lab) -> Value {
    lab.weft_json("h1", &["status"])["control"].clone()
}

fn has_network(lab: &Lab, name: &str) -> bool {
    let out = lab.weft("h1", &["network", "ls", "-o", "json"]);
    let nets: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    nets.as_array()
        .is_some_and(|n| n.iter().any(|n| n["name"] == name))
}

#[test]
fn an_agent_moves_to_another_replica_when_its_own_dies() {
    require_root!();
    if !require_tools(&["curl"]) {
        return;
    }
    let mut lab = Lab::new(WEFT);
    link(&mut lab);
    let state = lab.dir.path().join("control");
    let (mut first, text) = replica(&lab, &state, FIRST);
    let fingerprint = text
        .lines()
        .find_map(|l| l.strip_prefix("CA fingerprint: "))
        .unwrap()
        .to_string();
    // The second on the same state directory: the same CA, the same store.
    let (_second, text) = replica(&lab, &state, SECOND);
    assert!(text.contains(&fingerprint), "{text}");
    let key = operator(WEFT, &state, &["tenant", "create", "acme"])["secret"]
        .as_str()
        .unwrap()
        .to_string();
    let token = operator(WEFT, &state, &["token", "create", "--tenant", "acme"])["secret"]
        .as_str()
        .unwrap()
        .to_string();
    lab.start_agent_with(
        "h1",
        &control_common::enroll_args(
            "h1",
            &format!("https://{FIRST}:50051"),
            &fingerprint,
            &token,
        ),
    );
    let on = |c: &Value, replica: &str| c["state"] == "connected" && c["replica"] == replica;
    let first_addr = format!("{FIRST}:50051");
    let second_addr = format!("{SECOND}:50051");
    wait_for(
        "h1 to enroll and connect to the first replica",
        Duration::from_secs(20),
        || on(&control(&lab), &first_addr),
    );
    let blue = json!({"name": "blue", "subnet": "10.42.0.0/16"});
    curl(&lab, &state, &key, FIRST, "/v1/networks", blue);
    wait_for("blue on h1", Duration::from_secs(10), || {
        has_network(&lab, "blue")
    });
    // Told of both replicas, and kept with its identity.
    let replicas = lab.agents["h1"].state_dir.join("control/replicas");
    let stored = std::fs::read_to_string(&replicas).unwrap_or_default();
    let stored = stored.lines().collect::<Vec<_>>();
    assert_eq!(stored, [first_addr.as_str(), second_addr.as_str()]);

    first.child.kill().unwrap();
    first.child.wait().unwrap();
    wait_for(
        "h1 to fail over to the second replica",
        Duration::from_secs(15),
        || on(&control(&lab), &second_addr),
    );
    let red = json!({"name": "red", "subnet": "10.43.0.0/16"});
    curl(&lab, &state, &key, SECOND, "/v1/networks", red);
    wait_for(
        "red, made through the second replica, on h1",
        Duration::from_secs(10),
        || has_network(&lab, "red"),
    );
    assert!(has_network(&lab, "blue"), "blue kept across the fail-over");
    let table = lab.weft_ok("h1", &["status"]);
    assert!(table.contains(&format!("replica {second_addr}")), "{table}");
}
