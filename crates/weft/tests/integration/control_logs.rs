//! Agents' logs streamed to the control plane, for real: `weft control
//! serve` in one lab namespace (on SQLite, or two replicas on etcd),
//! `weft agent --control …` in another, and `weft control logs` as a
//! tenant runs it (issue 24, part 5).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use weft_testkit::*;

use crate::control_common;

const WEFT: &str = env!("CARGO_BIN_EXE_weft");
const API: &str = "https://192.0.2.1:8443";

struct Plane {
    lab: Lab,
    state: std::path::PathBuf,
    fingerprint: String,
    key: String,
    other_key: String,
    control: Option<process::Spawned>,
}

fn start_control(lab: &Lab, state: &std::path::Path, run: &str) -> (process::Spawned, String) {
    let out = state.with_extension(format!("out-{run}"));
    let log = state.with_extension(format!("log-{run}"));
    control_common::start_control(
        WEFT,
        lab,
        "192.0.2.1",
        state,
        (&out, &log),
        &["--log", "debug"],
    )
}

/// The secret an operator's command printed (a key, a token).
fn operator(state: &std::path::Path, args: &[&str]) -> String {
    let v = control_common::operator(WEFT, state, args);
    v["secret"].as_str().unwrap().to_string()
}

/// The control plane in `cp` (192.0.2.1), tenants acme and beta, and an
/// agent on `h2` enrolled as acme's host `h2` with `extra` flags.
fn plane(extra: &[&str]) -> Plane {
    let mut lab = Lab::new(WEFT);
    lab.add_namespaces(["cp", "h2"]);
    lab.underlay("cp", "h2");
    let state = lab.dir.path().join("control");
    let (control, out) = start_control(&lab, &state, "1");
    let fingerprint = out
        .lines()
        .find_map(|l| l.strip_prefix("CA fingerprint: "))
        .unwrap()
        .to_string();
    let key = operator(&state, &["tenant", "create", "acme"]);
    let other_key = operator(&state, &["tenant", "create", "beta"]);
    let token = operator(&state, &["token", "create", "--tenant", "acme"]);
    let mut args =
        control_common::enroll_args("h2", "https://192.0.2.1:50051", &fingerprint, &token).to_vec();
    args.extend_from_slice(extra);
    lab.start_agent_with("h2", &args);
    wait_for("h2 to connect", Duration::from_secs(40), || {
        lab.agent_log("h2")
            .contains("connected to the control plane")
    });
    // The token, for the secrets test: kept in the lab's directory.
    std::fs::write(lab.dir.path().join("token"), &token).unwrap();
    Plane {
        lab,
        state,
        fingerprint,
        key,
        other_key,
        control: Some(control),
    }
}

impl Plane {
    /// `weft control logs ARGS` in `cp` with `key`.
    fn logs_command(&self, key: &str, args: &[&str]) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.lab.ns("cp"), WEFT, "control", "logs"])
            .args(args)
            .env("WEFT_API", API)
            .env("WEFT_API_KEY", key)
            .arg("--ca")
            .arg(self.state.join("ca.pem"))
            .stdin(Stdio::null());
        cmd
    }

    fn logs(&self, key: &str, args: &[&str]) -> std::process::Output {
        self.logs_command(key, args).output().unwrap()
    }

    fn records(&self) -> Vec<serde_json::Value> {
        let out = self.logs(&self.key, &["h2", "-o", "json"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

/// Start `weft control logs … -f` (`command`) with its output to `out`;
/// returns it (stopped on drop) once it printed the backlog.
fn follow(mut command: Command, out: &std::path::Path) -> process::Spawned {
    let child = command
        .stdout(std::fs::File::create(out).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let follower = process::Spawned::new(child);
    wait_for(
        "the follower to print the backlog",
        Duration::from_secs(20),
        || {
            std::fs::read_to_string(out)
                .is_ok_and(|t| t.contains("enrolled with the control plane"))
        },
    );
    follower
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[test]
fn weft_control_logs_follows_an_agents_lines_and_no_secret_is_streamed() {
    require_root!();
    require_tools!("wg", "curl");
    let p = plane(&["--control-log-level", "trace"]);
    let host_id = std::fs::read_to_string(p.lab.agents["h2"].state_dir.join("control/host_id"))
        .unwrap()
        .trim()
        .to_string();

    // Follow, as a person would.
    let out = p.lab.dir.path().join("follow.out");
    let _follower = follow(p.logs_command(&p.key, &["h2", "-f"]), &out);
    // A line h2's agent logs now shows within 1 s.
    p.lab.weft_ok(
        "h2",
        &["network", "create", "mark7", "--subnet", "10.77.0.0/16"],
    );
    let logged = Instant::now();
    let shown = poll_until(Duration::from_secs(1), Duration::from_millis(10), || {
        std::fs::read_to_string(&out).is_ok_and(|t| t.contains("network created network=mark7"))
    });
    if !shown {
        wait_for("the line at all", Duration::from_secs(10), || {
            std::fs::read_to_string(&out).is_ok_and(|t| t.contains("network created network=mark7"))
        });
    }
    eprintln!("the line showed after {:?}", logged.elapsed());
    assert!(
        shown,
        "the line took {:?} (more than 1 s)",
        logged.elapsed()
    );
    let text = std::fs::read_to_string(&out).unwrap();
    let line = text
        .lines()
        .find(|l| l.contains("network created network=mark7"))
        .unwrap();
    assert!(
        line.contains("INFO") && line.contains("network created"),
        "{line}"
    );

    // Key material made on h2: a network from the control plane (a
    // WireGuard key pair), and secrets pasted where the agent may echo them.
    let token = std::fs::read_to_string(p.lab.dir.path().join("token")).unwrap();
    let made = p.lab.exec_ok(
        "cp",
        &format!(
            "curl -sS --cacert {} -H 'Authorization: Bearer {}' -H 'Content-Type: application/json' \
             --data-binary '{{\"name\":\"blue\",\"subnet\":\"10.42.0.0/16\"}}' {API}/v1/networks",
            p.state.join("ca.pem").display(),
            p.key
        ),
    );
    assert!(made.contains("\"blue\""), "{made}");
    wait_for("h2 to make blue", Duration::from_secs(20), || {
        let text = std::fs::read_to_string(&out).unwrap_or_default();
        text.contains("network made for the control plane network=blue")
    });
    let wg = p.lab.in_agent("h2", "wg show all private-key");
    let wg = String::from_utf8(wg.stdout).unwrap();
    let private_keys: Vec<String> = wg
        .lines()
        .filter_map(|l| l.split_whitespace().nth(1).map(str::to_string))
        .collect();
    assert!(!private_keys.is_empty(), "no WireGuard key on h2: {wg}");
    for pasted in [token.as_str(), private_keys[0].as_str(), p.key.as_str()] {
        // Refused, and whatever the agent logs of it is cut.
        let _ = p
            .lab
            .weft("h2", &["network", "create", pasted, "--subnet", pasted]);
        let _ = p.lab.weft(
            "h2",
            &[
                "peer",
                "add",
                "mark7",
                "--public-key",
                pasted,
                "--endpoint",
                "192.0.2.9:1",
                "--allowed-ips",
                "10.77.9.0/24",
            ],
        );
    }
    let host_key =
        std::fs::read_to_string(p.lab.agents["h2"].state_dir.join("control/host.key")).unwrap();
    let mut secrets: Vec<String> = vec![
        token.rsplit('_').next().unwrap().to_string(),
        p.key.rsplit('_').next().unwrap().to_string(),
    ];
    secrets.extend(private_keys.iter().cloned());
    secrets.extend(
        host_key
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .map(str::to_string),
    );
    // Every record stored, once the last ones are in.
    std::thread::sleep(Duration::from_secs(1));
    let records = p.records();
    assert!(records.len() > 20, "only {} records", records.len());
    let all = records
        .iter()
        .map(|r| format!("{} {}", r["target"], r["message"]))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(all.contains("network=blue"), "blue's records are there");
    // The key pasted as a peer's was logged by the agent, and cut.
    let cut: Vec<&str> = all.lines().filter(|l| l.contains("[base64]")).collect();
    eprintln!("records with key material cut:\n{}", cut.join("\n"));
    assert!(!cut.is_empty(), "no record had key material to cut:\n{all}");
    for secret in &secrets {
        for chunk in secret.as_bytes().chunks(16).filter(|c| c.len() >= 8) {
            let chunk = std::str::from_utf8(chunk).unwrap();
            assert!(
                !all.contains(chunk),
                "a streamed record holds part of a secret ({chunk})"
            );
        }
    }
    eprintln!(
        "{} records checked for {} secrets",
        records.len(),
        secrets.len()
    );

    // Another tenant: not found, by name or id; no key: 401.
    let out = p.logs(&p.other_key, &[&host_id]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("404"), "{err}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("network"));
    let out = p.logs(&p.other_key, &["h2"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("no host named"));
    let code = p.lab.exec_ok(
        "cp",
        &format!(
            "curl -s -o /dev/null -w '%{{http_code}}' --cacert {} {API}/v1/hosts/{host_id}/logs",
            p.state.join("ca.pem").display()
        ),
    );
    assert_eq!(code, "401");
    let _ = &p.fingerprint;
    drop(p.control);
    p.lab.finish();
}

#[test]
fn with_the_control_plane_away_the_agents_memory_stays_flat_and_drops_are_counted() {
    require_root!();
    require_tools!("curl");
    let mut p = plane(&[
        "--control-log-level",
        "debug",
        "--control-log-buffer",
        "100",
        "--metrics",
        "127.0.0.1:9586",
    ]);
    let pid = p.lab.agents["h2"].pid();
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap();
    assert_eq!(comm.trim(), "weft", "the pid is the agent's");
    let churn = |lab: &Lab| {
        lab.weft_ok(
            "h2",
            &[
                "network",
                "create",
                "churn",
                "--mode",
                "bridge",
                "--subnet",
                "10.99.0.0/24",
            ],
        );
        lab.weft_ok("h2", &["network", "rm", "churn"]);
    };
    for _ in 0..5 {
        churn(&p.lab);
    }
    // The control plane goes away; h2 keeps logging for 30 s.
    drop(p.control.take());
    wait_for("h2 to notice", Duration::from_secs(30), || {
        p.lab
            .agent_log("h2")
            .contains("disconnected from the control plane")
    });
    let before = rss_kib(pid);
    let started = Instant::now();
    let mut rounds = 0;
    while started.elapsed() < Duration::from_secs(30) {
        churn(&p.lab);
        rounds += 1;
    }
    let after = rss_kib(pid);
    eprintln!(
        "agent RSS before the outage's churn: {before} KiB, after 30 s ({rounds} rounds, {} records or more): {after} KiB",
        rounds * 2
    );
    assert!(
        rounds * 2 > 100,
        "too few records to fill the buffer: {rounds} rounds"
    );
    assert!(
        after < before + 8 * 1024,
        "RSS grew from {before} KiB to {after} KiB"
    );
    let metrics = p
        .lab
        .exec_ok("h2", "curl -sS http://127.0.0.1:9586/metrics");
    let dropped: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("weft_control_log_records_dropped_total "))
        .unwrap_or_else(|| panic!("no drop counter in {metrics}"))
        .trim()
        .parse()
        .unwrap();
    eprintln!("dropped while away: {dropped}");
    assert!(dropped > 0);

    // Back: the first batch says how many were lost, and the newest
    // records made it.
    let (control, _) = start_control(&p.lab, &p.state, "2");
    p.control = Some(control);
    let records = wait_until(
        "the drop count in h2's log",
        Duration::from_secs(120),
        || {
            let records = p.records();
            records
                .iter()
                .any(|r| {
                    r["message"]
                        .as_str()
                        .unwrap_or("")
                        .contains("log records: its buffer was full")
                })
                .then_some(records)
        },
    );
    let told: u64 = records
        .iter()
        .filter_map(|r| {
            let m = r["message"].as_str()?;
            let n = m.strip_prefix("the agent dropped ")?.split(' ').next()?;
            n.parse::<u64>().ok()
        })
        .sum();
    eprintln!("the control plane was told of {told} dropped records");
    assert!(told >= dropped, "told {told}, counted {dropped} before");
    assert!(
        records.iter().any(|r| r["message"]
            .as_str()
            .unwrap_or("")
            .contains("network=churn")),
        "the newest records before the reconnect came through"
    );
    drop(p.control.take());
    p.lab.finish();
}

/// On etcd with two replicas: h2's agent streams to one, a tenant follows
/// its logs through the other (the follower polls the shared store).
#[test]
fn records_one_replica_took_are_followed_through_another_on_etcd() {
    require_root!();
    if !weft_testkit::etcd::available() {
        return;
    }
    let mut lab = Lab::new(WEFT);
    lab.add_namespaces(["cp", "h2"]);
    lab.underlay("cp", "h2");
    // The second replica's address, beside the first's.
    lab.exec_ok("cp", "ip addr add 192.0.2.3/24 dev u0");
    let etcd = weft_testkit::etcd::Cluster::start_in(&[(&lab.ns("cp"), "192.0.2.1")]);
    let store = "etcd://192.0.2.1:2379";
    let mut replicas = Vec::new();
    let mut fingerprint = String::new();
    for (name, addr) in [("a", "192.0.2.1"), ("b", "192.0.2.3")] {
        let state = lab.dir.path().join(format!("cp-{name}"));
        let (out, log) = (state.with_extension("out"), state.with_extension("log"));
        let advertise = format!("{addr}:50051");
        let (process, text) = control_common::start_control_in(
            WEFT,
            &lab,
            "cp",
            addr,
            &state,
            (&out, &log),
            &["--store", store, "--advertise", &advertise],
        );
        fingerprint = text
            .lines()
            .find_map(|l| l.strip_prefix("CA fingerprint: "))
            .unwrap()
            .to_string();
        replicas.push((process, state));
    }
    let operator = |args: &str| -> String {
        let out = lab.exec_ok(
            "cp",
            &format!(
                "{WEFT} control -o json --state-dir {} --store {store} {args}",
                replicas[0].1.display()
            ),
        );
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        v["secret"].as_str().unwrap().to_string()
    };
    let key = operator("tenant create acme");
    let token = operator("token create --tenant acme");
    lab.start_agent_with(
        "h2",
        &control_common::enroll_args("h2", "https://192.0.2.1:50051", &fingerprint, &token),
    );
    wait_for(
        "h2 to connect to replica a",
        Duration::from_secs(40),
        || {
            lab.agent_log("h2")
                .contains("connected to the control plane")
        },
    );
    // Followed through replica b.
    let out = lab.dir.path().join("follow-b.out");
    let mut command = Command::new("ip");
    command
        .args([
            "netns",
            "exec",
            &lab.ns("cp"),
            WEFT,
            "control",
            "logs",
            "h2",
            "-f",
        ])
        .args(["--api", "https://192.0.2.3:8443", "--ca"])
        .arg(replicas[1].1.join("ca.pem"))
        .env("WEFT_API_KEY", &key)
        .stdin(Stdio::null());
    let _follower = follow(command, &out);
    lab.weft_ok(
        "h2",
        &["network", "create", "mark8", "--subnet", "10.78.0.0/16"],
    );
    let logged = Instant::now();
    wait_for(
        "h2's new line through replica b",
        Duration::from_secs(10),
        || std::fs::read_to_string(&out).is_ok_and(|t| t.contains("network created network=mark8")),
    );
    eprintln!("through the other replica after {:?}", logged.elapsed());
    let agent = lab.agent_log("h2");
    assert!(agent.contains("192.0.2.1:50051"), "h2 streams to replica a");
    drop(replicas);
    drop(etcd);
    lab.finish();
}
