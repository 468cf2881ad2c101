//! A fleet driven by the control plane, end to end: `weft control serve`
//! in one lab namespace, three lab hosts whose agents enroll with a token,
//! a tenant making network `blue` with `curl`; containers attached through
//! the CNI plugin on two hosts ping and resolve each other. Then the
//! control plane is killed (`kill -9`): traffic keeps flowing, an agent
//! restarted meanwhile restores everything from its own state, and once
//! the control plane is back a change made then reaches every host. A
//! deleted host leaves every peer list within 2 s.

use serde_json::{Value, json};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use weft_testkit::cni::{self, vars};
use weft_testkit::*;

use crate::control_common;

const WEFT: &str = env!("CARGO_BIN_EXE_weft");
const CP: &str = "192.0.2.10";
const HOSTS: [&str; 3] = ["h1", "h2", "h3"];

/// cp, h1..h3 on one switch (a bridge in namespace `sw`): cp 192.0.2.10,
/// hN 192.0.2.N; and containers c1, c2.
fn switch(lab: &mut Lab) {
    control_common::switch(lab, CP, &HOSTS);
    lab.add_namespaces(["c1", "c2"]);
}

fn start_control(lab: &Lab, state: &std::path::Path, n: u32) -> (process::Spawned, String) {
    let out = state.with_extension(format!("out{n}"));
    let log = out.with_extension("log");
    control_common::start_control(WEFT, lab, CP, state, (&out, &log), &[])
}

struct Tenant {
    ca: String,
    key: String,
}

impl Tenant {
    /// `curl` from the control plane's namespace; the body as JSON.
    fn curl(&self, lab: &Lab, method: &str, path: &str, body: Option<Value>) -> Value {
        let data = body
            .map(|b| format!("-H 'Content-Type: application/json' -d '{b}'"))
            .unwrap_or_default();
        let out = lab.exec_ok(
            "cp",
            &format!(
                "curl -sS --fail-with-body -X {method} --cacert {} -H 'Authorization: Bearer {}' {data} https://{CP}:8443{path}",
                self.ca, self.key
            ),
        );
        if out.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&out).unwrap()
        }
    }
}

fn peer_count(lab: &Lab, host: &str, network: &str) -> Option<u64> {
    let out = lab.weft(host, &["network", "ls", "-o", "json"]);
    let nets: Value = serde_json::from_slice(&out.stdout).ok()?;
    let net = nets.as_array()?.iter().find(|n| n["name"] == network)?;
    net["peers"]
        .as_array()
        .map(|p| p.len() as u64)
        .or_else(|| net["peer_count"].as_u64())
}

/// The control plane connection as `weft status` shows it on `host`.
fn control_state(lab: &Lab, host: &str) -> String {
    let status = lab.weft_json(host, &["status"]);
    status["control"]["state"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn every_host_has(lab: &Lab, hosts: &[&str], network: &str, peers: u64) -> bool {
    hosts
        .iter()
        .all(|h| peer_count(lab, h, network) == Some(peers))
}

fn cni_add(lab: &Lab, host: &str, container: &str) -> String {
    let socket = lab.agents[host].socket.display().to_string();
    let conf =
        json!({"cniVersion": "1.1.0", "name": "blue", "type": "weft", "agentSocket": socket})
            .to_string();
    let netns = lab.netns_path(container);
    let mut env = vars("ADD", container, &netns, "eth0");
    let args = format!("IgnoreUnknown=1;K8S_POD_NAME={container}");
    env.push(("CNI_ARGS", &args));
    let out = cni::plugin(&lab.weft, &lab.ns(host), &env, &conf);
    assert!(
        out.ok,
        "CNI ADD {container} on {host}: {} {}",
        out.stdout, out.stderr
    );
    out.json()["ips"][0]["address"]
        .as_str()
        .unwrap()
        .replace("/32", "")
}

#[test]
fn a_fleet_follows_the_control_plane_and_outlives_it() {
    require_root!();
    if !require_tools(&["curl", "dig"]) {
        return;
    }
    let mut lab = Lab::new(WEFT);
    switch(&mut lab);
    let state = lab.dir.path().join("control");
    let (control, first) = start_control(&lab, &state, 0);
    let fingerprint = control_common::fingerprint(&first);
    let key = control_common::secret(WEFT, &state, &["tenant", "create", "acme"]);
    let token = control_common::secret(
        WEFT,
        &state,
        &["token", "create", "--tenant", "acme", "--uses", "3"],
    );
    let url = format!("https://{CP}:50051");
    for host in HOSTS {
        lab.start_agent_with(
            host,
            &control_common::enroll_args(host, &url, &fingerprint, &token),
        );
    }
    let tenant = Tenant {
        ca: state.join("ca.pem").display().to_string(),
        key,
    };
    wait_for(
        "three hosts to enroll and report",
        Duration::from_secs(20),
        || {
            let hosts = tenant.curl(&lab, "GET", "/v1/hosts", None);
            hosts.as_array().is_some_and(|h| {
                h.len() == 3
                    && h.iter()
                        .all(|h| h["endpoint"].is_string() && h["state"] == "online")
            })
        },
    );

    // The tenant makes `blue` with curl: every host has it, with two peers, within 2 s.
    let started = Instant::now();
    let blue = tenant.curl(
        &lab,
        "POST",
        "/v1/networks",
        Some(json!({"name": "blue", "subnet": "10.42.0.0/16"})),
    );
    assert_eq!(blue["blocks"].as_array().unwrap().len(), 3, "{blue}");
    wait_for(
        "blue with two peers on every host",
        Duration::from_secs(10),
        || every_host_has(&lab, &HOSTS, "blue", 2),
    );
    let took = started.elapsed();
    eprintln!("blue reached every host with its peers in {took:?}");
    assert!(took < Duration::from_secs(2), "took {took:?}");
    assert_eq!(control_state(&lab, "h1"), "connected");
    // Heartbeats carry the peers' health to the tenant's host list.
    wait_for(
        "h1's peers reported by health",
        Duration::from_secs(30),
        || {
            let hosts = tenant.curl(&lab, "GET", "/v1/hosts", None);
            hosts.as_array().unwrap().iter().any(|h| {
                h["name"] == "h1"
                    && h["peer_health"]
                        .as_object()
                        .is_some_and(|m| m.values().filter_map(Value::as_u64).sum::<u64>() == 2)
            })
        },
    );
    let table = lab.weft_ok("h1", &["status"]);
    assert!(
        table.contains(&format!("control plane {url}: connected")),
        "{table}"
    );

    // Containers through the CNI plugin on h1 and h2 ping and resolve each other.
    let _c1 = cni_add(&lab, "h1", "c1");
    let c2 = cni_add(&lab, "h2", "c2");
    wait_for(
        "c1 to reach c2 across hosts",
        Duration::from_secs(15),
        || {
            lab.exec("c1", &format!("ping -c1 -W1 {c2}"))
                .status
                .success()
        },
    );
    let h1_gateway = lab
        .exec_ok("c1", "ip -4 route show default | awk '{print $3}'")
        .trim()
        .to_string();
    wait_for(
        "c1 to resolve c2.mesh.local",
        Duration::from_secs(15),
        || {
            let out = lab.exec(
                "c1",
                &format!("dig @{h1_gateway} +short +time=1 +tries=1 c2.mesh.local"),
            );
            String::from_utf8_lossy(&out.stdout).trim() == c2
        },
    );

    // Outage: kill -9 the control plane. Traffic keeps flowing for 60 s;
    // h2's agent is restarted meanwhile and restores everything itself.
    let mut control = control;
    control.child.kill().unwrap();
    control.child.wait().unwrap();
    let pinger = Command::new("ip")
        .args([
            "netns",
            "exec",
            &lab.ns("c1"),
            "ping",
            "-c",
            "60",
            "-i",
            "1",
            "-W",
            "1",
            &c2,
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(10));
    lab.kill_agent("h2");
    lab.start_agent_with("h2", &["--host-name", "h2", "--control", &url]);
    assert_eq!(
        peer_count(&lab, "h2", "blue"),
        Some(2),
        "h2 restored blue and its peers from its own state"
    );
    let pings = pinger.wait_with_output().unwrap();
    let summary = String::from_utf8_lossy(&pings.stdout).to_string();
    let received: u32 = summary
        .split(", ")
        .find_map(|p| p.strip_suffix(" received"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0);
    eprintln!(
        "during the outage: {}",
        summary.lines().rev().nth(1).unwrap_or("")
    );
    assert!(
        received >= 55,
        "traffic stopped while the control plane was down: {summary}"
    );
    assert!(
        lab.agent_log("h1")
            .contains("disconnected from the control plane")
    );

    // Back: the agents reconnect within their backoff; a change made then reaches everyone.
    let _control = start_control(&lab, &state, 1);
    let started = Instant::now();
    tenant.curl(
        &lab,
        "POST",
        "/v1/networks",
        Some(json!({"name": "red", "subnet": "10.43.0.0/16"})),
    );
    wait_for(
        "red with two peers on every host",
        Duration::from_secs(90),
        || every_host_has(&lab, &HOSTS, "red", 2),
    );
    eprintln!(
        "after the restart, red reached every host in {:?}",
        started.elapsed()
    );

    // Revocation: h3 is deleted; it leaves every peer list within 2 s.
    let h3 = tenant
        .curl(&lab, "GET", "/v1/hosts", None)
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["name"] == "h3")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let started = Instant::now();
    tenant.curl(&lab, "DELETE", &format!("/v1/hosts/{h3}"), None);
    wait_for(
        "h3 to leave every peer list",
        Duration::from_secs(10),
        || every_host_has(&lab, &["h1", "h2"], "blue", 1),
    );
    let took = started.elapsed();
    eprintln!("h3 left every peer list in {took:?}");
    assert!(took < Duration::from_secs(2), "took {took:?}");
    lab.exec_ok("c1", &format!("ping -c1 -W2 {c2}"));
    wait_for("h3's agent to be refused", Duration::from_secs(10), || {
        lab.agent_log("h3").contains("refused this host")
    });
    drop(_control);
    lab.finish();
}
