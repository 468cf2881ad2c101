//! Peer health and metrics: probes through the tunnel, `healthy` →
//! `unhealthy` when a host's underlay goes down and back without a manual
//! step, `degraded` for a stale handshake, and the same in Prometheus text.

use weft_testkit::*;

const WEFT: &str = env!("CARGO_BIN_EXE_weft");
use std::time::{Duration, Instant};

fn peer_health(lab: &Lab, host: &str) -> String {
    let status = lab.weft_json(host, &["status"]);
    status["networks"][0]["peers"][0]["health"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn wait_health(lab: &Lab, host: &str, want: &str, within: Duration) -> Duration {
    let start = Instant::now();
    wait_for_value(
        &format!("{host}'s peer to be {want:?}"),
        within,
        || peer_health(lab, host),
        |now| now == want,
    );
    start.elapsed()
}

fn metrics(lab: &Lab, host: &str) -> String {
    lab.exec_ok(
        host,
        "python3 -c \"import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:9586/metrics', timeout=3).read().decode())\"",
    )
}

#[test]
fn health_follows_the_underlay() {
    require_root!();
    let mut lab = Lab::new(WEFT);
    lab.add_namespaces(["h1", "h2", "c1"]);
    lab.underlay("h1", "h2");
    lab.start_agent_with(
        "h1",
        &[
            "--probe-interval",
            "0.5",
            "--idle-probe-interval",
            "0.5",
            "--degraded-after",
            "60",
            "--metrics",
            "127.0.0.1:9586",
        ],
    );
    // h2 calls a handshake stale after 2 s, to show `degraded`.
    lab.start_agent_with(
        "h2",
        &[
            "--probe-interval",
            "0.5",
            "--idle-probe-interval",
            "0.5",
            "--degraded-after",
            "2",
        ],
    );
    for h in ["h1", "h2"] {
        lab.network_on(h, "blue", 42);
    }
    let k2 = lab.public_key("h2", "blue");
    // A peer without a handshake is disconnected.
    lab.peer("h1", "h2", "blue", 42, 51820);
    assert_eq!(peer_health(&lab, "h1"), "disconnected");
    lab.peer("h2", "h1", "blue", 42, 51820);

    // The probes alone bring the tunnel up.
    wait_health(&lab, "h1", "healthy", Duration::from_secs(15));
    let text = lab.weft_ok("h1", &["status"]);
    assert!(
        text.contains("HEALTH") && text.contains("healthy"),
        "{text}"
    );
    let m = metrics(&lab, "h1");
    let peer = format!("network=\"blue\",peer=\"{k2}\"");
    assert!(
        m.contains(&format!("weft_peer_health{{{peer},state=\"healthy\"}} 1")),
        "{m}"
    );
    assert!(
        m.contains(&format!("weft_peer_handshake_age_seconds{{{peer}}}")),
        "{m}"
    );
    assert!(
        m.contains("weft_network_attachments{network=\"blue\"} 0"),
        "{m}"
    );
    assert!(m.contains("weft_reconcile_runs_total 1"), "{m}");
    assert!(m.contains("weft_peer_rx_bytes_total"), "{m}");

    // h2 sees the same handshake as stale after 2 s while probes still answer.
    wait_health(&lab, "h2", "degraded", Duration::from_secs(10));

    // The underlay goes down: unhealthy within two probe intervals (plus a
    // probe's own timeout).
    lab.exec_ok("h2", "ip link set u0 down");
    let took = wait_health(&lab, "h1", "unhealthy", Duration::from_secs(5));
    eprintln!("unhealthy after {took:?}");
    let m = metrics(&lab, "h1");
    assert!(
        m.contains(&format!("weft_peer_health{{{peer},state=\"unhealthy\"}} 1")),
        "{m}"
    );
    assert!(
        m.contains(&format!("weft_peer_health{{{peer},state=\"healthy\"}} 0")),
        "{m}"
    );

    // …and back: healthy again with no manual step.
    lab.exec_ok("h2", "ip link set u0 up");
    // Back: probed every check while failing, through WireGuard's own
    // handshake retries (every 5 s).
    wait_health(&lab, "h1", "healthy", Duration::from_secs(20));
    lab.finish();
}

fn peer_probe(lab: &Lab, host: &str, args: &[&str]) -> String {
    let status = lab.weft_json(host, args);
    status["networks"][0]["peers"][0]["probe"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// `weft status --probe` answers with a probe made for it: with the health
/// watch probing once a minute, its word goes stale, the asked-for probe's
/// does not.
#[test]
fn status_probe_answers_with_a_probe_made_there_and_then() {
    require_root!();
    let mut lab = Lab::new(WEFT);
    lab.add_namespaces(["h1", "h2"]);
    lab.underlay("h1", "h2");
    let quiet = ["--probe-interval", "60", "--idle-probe-interval", "60"];
    lab.start_agent_with("h1", &quiet);
    lab.start_agent_with("h2", &quiet);
    for h in ["h1", "h2"] {
        lab.network_on(h, "blue", 42);
    }
    lab.peer("h1", "h2", "blue", 42, 51820);
    lab.peer("h2", "h1", "blue", 42, 51820);
    // The watch's first probe ran before the peers were there: nothing yet.
    assert_eq!(peer_probe(&lab, "h1", &["status"]), "");
    // Asked for, a probe brings the tunnel up (its handshake first: the
    // first asks may time out).
    wait_for_value(
        "h1's asked-for probe to answer",
        Duration::from_secs(15),
        || peer_probe(&lab, "h1", &["status", "--probe"]),
        |probe| probe == "ok",
    );
    // The watch has not probed since; its latest word is the asked one.
    assert_eq!(peer_probe(&lab, "h1", &["status"]), "ok");

    // h2's underlay goes down: the watch (a minute away) still says ok,
    // a probe asked for now says failed.
    lab.exec_ok("h2", "ip link set u0 down");
    assert_eq!(peer_probe(&lab, "h1", &["status"]), "ok");
    assert_eq!(
        peer_probe(&lab, "h1", &["status", "blue", "--probe"]),
        "failed"
    );
    lab.exec_ok("h2", "ip link set u0 up");
    wait_for_value(
        "h1's asked-for probe to answer again",
        Duration::from_secs(15),
        || peer_probe(&lab, "h1", &["status", "--probe"]),
        |probe| probe == "ok",
    );
    lab.finish();
}

/// Two hosts on one network with the default probe settings, the tunnel
/// up (both ways healthy).
fn quiet_pair() -> Lab {
    let mut lab = Lab::new(WEFT);
    lab.add_namespaces(["h1", "h2"]);
    lab.underlay("h1", "h2");
    for h in ["h1", "h2"] {
        lab.start_agent(h);
        lab.network_on(h, "blue", 42);
    }
    lab.peer("h1", "h2", "blue", 42, 51820);
    lab.peer("h2", "h1", "blue", 42, 51820);
    wait_health(&lab, "h1", "healthy", Duration::from_secs(15));
    lab
}

/// The rule of docs/metrics.md: once traffic to a peer goes unanswered, it
/// is `unhealthy` within 10 s, though an idle mesh probes only every 30 s.
#[test]
fn a_peer_whose_traffic_goes_unanswered_is_unhealthy_within_10_s() {
    require_root!();
    let lab = quiet_pair();
    lab.exec_ok("h2", "ip link set u0 down");
    // Control: idle, nothing tells h1 yet (its next idle probe is ~30 s off).
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(peer_health(&lab, "h1"), "healthy");
    // Traffic to h2, unanswered (stopped by its deadline if not before).
    let ping = lab.exec_ok(
        "h1",
        "ping -q -i 0.2 -w 15 10.42.2.1 >/dev/null 2>&1 & echo $!",
    );
    let took = wait_health(&lab, "h1", "unhealthy", Duration::from_secs(10));
    lab.exec("h1", &format!("kill {}", ping.trim()));
    eprintln!("unhealthy {took:?} after traffic began going unanswered");
    lab.exec_ok("h2", "ip link set u0 up");
    lab.finish();
}

/// …and within 60 s when everything is idle.
#[test]
fn an_idle_peer_that_stops_answering_is_unhealthy_within_60_s() {
    require_root!();
    let lab = quiet_pair();
    lab.exec_ok("h2", "ip link set u0 down");
    let took = wait_health(&lab, "h1", "unhealthy", Duration::from_secs(60));
    eprintln!("unhealthy {took:?} after the peer went away, idle");
    lab.exec_ok("h2", "ip link set u0 up");
    // Back: probed every check while failing, through WireGuard's own
    // handshake retries (every 5 s).
    wait_health(&lab, "h1", "healthy", Duration::from_secs(20));
    lab.finish();
}

/// A host whose names change tells its peers at once: a workload attached
/// on h2 of a quiet pair resolves on h1 within 5 s, though h1's idle probe
/// of h2 is ~30 s away.
#[test]
fn names_travel_at_once_though_idle_probes_are_rare() {
    require_root!();
    let mut lab = quiet_pair();
    lab.add_namespaces(["c2"]);
    lab.attach("h2", "blue", "c2", &["--name", "c2"]);
    let start = std::time::Instant::now();
    wait_for_value(
        "c2's name to resolve through h1's DNS",
        Duration::from_secs(5),
        || {
            lab.exec_ok(
                "h1",
                "dig @10.42.1.1 +short +time=1 +tries=1 c2.mesh.local || true",
            )
        },
        |answer| answer.trim() == "10.42.2.2",
    );
    eprintln!(
        "c2 resolved on h1 {:?} after it was attached",
        start.elapsed()
    );
    lab.finish();
}
