//! Three things only real agents show: a workload name taken on a network
//! is refused through the CLI (and DNS keeps one answer), the default
//! listen port steps over a UDP port another program holds, and a peer that
//! does not run weft (wireguard-go) is `healthy` by its handshake, with the
//! probe shown as not applicable.

use std::io::BufRead as _;
use std::process::{Command, Stdio};
use std::time::Duration;
use weft_testkit::*;

const WEFT: &str = env!("CARGO_BIN_EXE_weft");

/// Spawn `cmd`, wait for its first line of output to start with "ready",
/// and return the rest of that line; the lab stops the process at the end.
fn start_ready(lab: &mut Lab, mut cmd: Command, what: &str) -> String {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {what}: {e}"));
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    lab.keep(child);
    line.strip_prefix("ready")
        .unwrap_or_else(|| panic!("{what} did not start: {line:?}"))
        .trim()
        .to_string()
}

#[test]
fn a_workload_name_taken_on_the_network_is_refused() {
    require_root!();
    let mut lab = Lab::new(WEFT);
    lab.add_namespaces(["h1", "c1", "c2"]);
    lab.start_agent_with("h1", &["--host-name", "h1"]);
    lab.network_on("h1", "blue", 42);
    lab.attach("h1", "blue", "c1", &["--name", "web"]);

    let c2 = lab.netns_path("c2");
    for (name, owner) in [("web", "workload \"c1\""), ("H1", "this host")] {
        let out = lab.weft(
            "h1",
            &[
                "attach", "blue", "--netns", &c2, "--id", "c2", "--name", name,
            ],
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "attached as {name}: {stderr}");
        let want = format!(
            "name \"{}\" is already taken on network \"blue\" by {owner}",
            name.to_lowercase()
        );
        assert!(stderr.contains(&want), "want {want:?} in {stderr:?}");
    }
    let atts = lab.weft_json("h1", &["attachments"]);
    assert_eq!(atts.as_array().unwrap().len(), 1, "{atts}");
    assert_eq!(
        lab.exec_ok("c2", "ip -br link | grep -c eth || true")
            .trim(),
        "0"
    );

    // One owner, one answer.
    for (name, want) in [("web", "10.42.1.2"), ("h1", "10.42.1.1")] {
        let answer = lab.exec_ok(
            "c1",
            &format!("dig @10.42.1.1 +short +time=2 +tries=1 {name}.mesh.local"),
        );
        assert_eq!(answer.trim(), want, "{name}");
    }
    lab.finish();
}

#[test]
fn the_default_listen_port_steps_over_a_port_another_program_holds() {
    require_root!();
    let mut lab = Lab::new(WEFT);
    lab.add_namespaces(["h1"]);
    lab.start_agent("h1");
    // A plain UDP socket on 51820 in the agent's namespace.
    let ns = lab.ns("h1");
    let mut holder = Command::new("ip");
    holder.args([
        "netns",
        "exec",
        ns.as_str(),
        "python3",
        "-u",
        "-c",
        "import socket, time\n\
         s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
         s.bind(('0.0.0.0', 51820))\n\
         print('ready', flush=True)\n\
         time.sleep(600)",
    ]);
    start_ready(&mut lab, holder, "the UDP port holder");

    let net = lab.network_on("h1", "blue", 42);
    assert_eq!(net["listen_port"], 51821, "{net}");
    let wg = lab.in_agent("h1", "wg show all listen-port");
    let wg = String::from_utf8_lossy(&wg.stdout);
    assert!(wg.contains("51821"), "{wg}");

    // Asked for by name, a busy port stays an error, and nothing is made.
    let out = lab.weft(
        "h1",
        &[
            "network",
            "create",
            "red",
            "--subnet",
            "10.43.0.0/16",
            "--listen-port",
            "51820",
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("51820") && stderr.contains("in use by another program"),
        "{stderr}"
    );
    let nets = lab.weft_json("h1", &["network", "ls"]);
    assert_eq!(nets.as_array().unwrap().len(), 1, "{nets}");
    lab.finish();
}

#[test]
fn a_wireguard_go_peer_is_healthy_by_its_handshake_with_the_probe_not_applicable() {
    require_root!();
    require_tools!("wireguard-go", "wg");
    let mut lab = Lab::new(WEFT);
    lab.add_namespaces(["h1", "h2"]);
    lab.underlay("h1", "h2");
    lab.start_agent_with("h1", &["--probe-interval", "0.5"]);
    lab.network_on("h1", "blue", 42);
    let h1_key = lab.public_key("h1", "blue");

    // h2 runs wireguard-go (no weft): its UAPI socket in a private
    // /run/wireguard, its key in the same tmpfs.
    let script = format!(
        "set -e
         mount -t tmpfs wgo /run/wireguard
         WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1 wireguard-go -f wgo0 >/dev/null 2>&1 &
         pid=$!
         trap 'kill $pid; wait $pid' TERM
         i=0
         while [ ! -S /run/wireguard/wgo0.sock ]; do
           i=$((i+1)); [ $i -lt 200 ] || exit 1; sleep 0.05
         done
         wg genkey > /run/wireguard/key
         wg set wgo0 private-key /run/wireguard/key listen-port 51820 \
           peer {h1_key} endpoint 192.0.2.1:51820 allowed-ips 10.42.1.0/24
         ip addr add 10.42.2.1/24 dev wgo0
         ip link set wgo0 up
         echo ready $(wg show wgo0 public-key)
         wait $pid"
    );
    let go = in_netns_with_private_mounts(&lab.ns("h2"), &script);
    let h2_key = start_ready(&mut lab, go, "wireguard-go");
    lab.weft_ok(
        "h1",
        &[
            "peer",
            "add",
            "blue",
            "--public-key",
            &h2_key,
            "--endpoint",
            "192.0.2.2:51820",
            "--allowed-ips",
            "10.42.2.0/24",
        ],
    );

    let peer = || {
        let status = lab.weft_json("h1", &["status"]);
        let p = &status["networks"][0]["peers"][0];
        (
            p["health"].as_str().unwrap_or_default().to_string(),
            p["probe"].as_str().unwrap_or_default().to_string(),
        )
    };
    // The probes bring up the tunnel, and fail (nothing of weft answers
    // there): healthy by the handshake, the probe not applicable.
    let want = ("healthy".to_string(), "n/a".to_string());
    wait_for_value(
        "the wireguard-go peer to be healthy, probe n/a",
        Duration::from_secs(15),
        peer,
        |now| *now == want,
    );
    // ...and it stays so while probes keep failing.
    for _ in 0..6 {
        std::thread::sleep(Duration::from_millis(500));
        assert_eq!(peer(), want);
    }
    let table = lab.weft_ok("h1", &["status"]);
    assert!(
        table.contains("PROBE") && table.contains("healthy") && table.contains("n/a"),
        "{table}"
    );
    lab.finish();
}
