//! `weft up` says the mesh is up only when it is: a normal `up` returns
//! once every peer has a handshake and answers the probe (read back from
//! `status --file` right after it returns); with one host's underlay down,
//! `up` fails within its timeout naming exactly the peers that do not
//! answer; `--no-wait` returns at once.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};
use weft_testkit::*;

const WEFT: &str = env!("CARGO_BIN_EXE_weft");

struct Mesh {
    name: String,
    file: PathBuf,
    state: PathBuf,
}

impl Mesh {
    fn weft(&self, args: &[&str]) -> Output {
        Command::new(WEFT)
            .args(args)
            .env("WEFT_MESH_STATE", &self.state)
            .env("WEFT_SOCKET", self.state.join("no-local-agent.sock"))
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }
    fn file(&self) -> &str {
        self.file.to_str().unwrap()
    }
    fn ok(&self, args: &[&str]) -> String {
        stdout_of(self.weft(args), &format!("weft {args:?}"))
    }
    fn underlay(&self, host: &str, state: &str) {
        sh(&format!(
            "ip -n weft-{}-{host} link set u0 {state}",
            self.name
        ));
    }
}

struct Down<'a>(&'a Mesh);

impl Drop for Down<'_> {
    fn drop(&mut self) {
        let _ = self.0.weft(&["down", self.0.file()]);
    }
}

/// Every peer of every host as `status --file -o json` shows it:
/// (host, peer host, health, probe, latest handshake).
fn peers(mesh: &Mesh) -> Vec<(String, String, String, String, i64)> {
    let doc: serde_json::Value =
        serde_json::from_str(&mesh.ok(&["status", "--file", mesh.file(), "-o", "json"])).unwrap();
    let mut all = vec![];
    for h in doc["hosts"].as_array().unwrap() {
        for n in h["status"]["networks"].as_array().unwrap() {
            for p in n["peers"].as_array().unwrap() {
                let key = p["public_key"].as_str().unwrap();
                all.push((
                    h["host"].as_str().unwrap().to_string(),
                    doc["peer_hosts"][key].as_str().unwrap_or(key).to_string(),
                    p["health"].as_str().unwrap_or_default().to_string(),
                    p["probe"].as_str().unwrap_or_default().to_string(),
                    p["latest_handshake"].as_i64().unwrap_or(0),
                ));
            }
        }
    }
    all
}

#[test]
fn up_returns_when_every_peer_answers_and_fails_naming_those_that_do_not() {
    require_root!();
    let dir = tempfile::Builder::new()
        .prefix("weft-test-verify")
        .tempdir()
        .unwrap();
    let mesh = Mesh {
        name: format!("v{}", std::process::id()),
        file: dir.path().join("mesh.yaml"),
        state: dir.path().join("state"),
    };
    std::fs::write(
        &mesh.file,
        format!(
            "name: {}\nnetworks: [{{name: blue, subnet: 10.47.0.0/16}}]\n\
             hosts: [{{name: h1, lab: true}}, {{name: h2, lab: true}}, {{name: h3, lab: true}}]\n\
             services: [{{name: s, host: h1, kind: process, networks: [blue], command: [sleep, '600']}}]\n",
            mesh.name
        ),
    )
    .unwrap();
    let _down = Down(&mesh);

    // A normal up: once it returns, every peer is healthy and answered.
    let out = mesh.ok(&["up", mesh.file()]);
    assert!(
        out.contains(&format!(
            "mesh {} is up: 6/6 peers up, 1/1 services running",
            mesh.name
        )),
        "{out}"
    );
    let seen = peers(&mesh);
    assert_eq!(seen.len(), 6, "{seen:?}");
    for (host, peer, health, probe, handshake) in &seen {
        assert_eq!(
            (health.as_str(), probe.as_str()),
            ("healthy", "ok"),
            "{host} -> {peer} right after up"
        );
        assert!(*handshake > 0, "{host} -> {peer}: no handshake");
    }

    // h3's underlay goes down: up fails within its timeout, naming the
    // four peers that involve h3 and no other.
    mesh.underlay("h3", "down");
    let started = Instant::now();
    let out = mesh.weft(&["up", mesh.file(), "--timeout", "10"]);
    let took = started.elapsed();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "up succeeded with h3 cut off: {stdout}"
    );
    assert!(took < Duration::from_secs(40), "took {took:?}");
    assert!(stderr.contains("is not up after 10s"), "{stderr}");
    let failing: Vec<&str> = stdout
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("host "))
        .collect();
    let mut named: Vec<String> = failing
        .iter()
        .map(|l| l.split(": ").take(2).collect::<Vec<_>>().join(": "))
        .collect();
    named.sort();
    assert_eq!(
        named,
        [
            "host h1 network blue: peer h3",
            "host h2 network blue: peer h3",
            "host h3 network blue: peer h1",
            "host h3 network blue: peer h2",
        ],
        "{stdout}"
    );
    for line in &failing {
        assert!(stderr.contains(line), "the error names {line}: {stderr}");
    }

    // --no-wait returns at once, whatever the peers do.
    let started = Instant::now();
    let out = mesh.ok(&["up", mesh.file(), "--no-wait"]);
    assert!(
        out.contains("no changes") && !out.contains("is up"),
        "{out}"
    );
    assert!(started.elapsed() < Duration::from_secs(10));

    // Back up: a plain up waits until everything answers again.
    mesh.underlay("h3", "up");
    let out = mesh.ok(&["up", mesh.file()]);
    assert!(out.contains("is up: 6/6 peers up"), "{out}");
    for (host, peer, health, probe, _) in peers(&mesh) {
        assert_eq!(
            (health.as_str(), probe.as_str()),
            ("healthy", "ok"),
            "{host} -> {peer}"
        );
    }
}
