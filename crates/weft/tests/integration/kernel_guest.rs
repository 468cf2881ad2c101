//! The kernel WireGuard backend end to end, in a QEMU guest whose Debian
//! kernel has the module (this machine's kernel does not): two hosts as
//! namespaces inside the guest with `weft agent --wireguard auto` (which
//! must choose the kernel) and `--wireguard kernel`; networks, peers,
//! workloads, ping and TCP both ways; the real `wg` against `weft status`;
//! `kill -9` and restart, also over a bare device left by a crash; two
//! isolated networks; `network rm` leaving no WireGuard link; then interop
//! between a kernel host and a userspace one. No agent may warn: on this
//! path a warning is a drift repair or a refused change.
//!
//! One guest boot runs every step (`fixtures/kernel_guest.sh`) and reports
//! each check by name over a serial port; this file asserts them all and
//! compares the `wg` dump with `weft status` itself. It fails, never skips,
//! when QEMU, the kernel package or the module cannot be had.

use std::time::Duration;

use serde_json::Value;
use weft_testkit::guest::{Guest, GuestConfig, GuestRun, Initramfs, KernelImage, NETWORK_MODULES};

const WEFT: &str = env!("CARGO_BIN_EXE_weft");
const SCRIPT: &str = include_str!("../fixtures/kernel_guest.sh");

/// Every check the guest script reports, in its order.
const CHECKS: &[&str] = &[
    "module:veth",
    "module:tun",
    "module-available:wireguard",
    "module-autoloaded:wireguard",
    "backend:h1-auto",
    "backend:h2-kernel",
    "wg0-is-kernel:h1",
    "ping:c1-c2",
    "ping:c2-c1",
    "tcp:c1-c2",
    "tcp:c2-c1",
    "rotate:kernel",
    "rotate:kernel-new-key",
    "rotate:kernel-no-retiring",
    "rotate:kernel-ping",
    "big-peer:add",
    "big-peer:wg-allowed-ips",
    "big-peer:status-allowed-ips",
    "big-peer:wg-keepalive",
    "big-peer:status-keepalive",
    "big-peer:rm",
    "big-peer:gone",
    "ipv6:ping:c1-c2",
    "ipv6:wg-endpoint",
    "ipv6:status-endpoint",
    "ipv6:back-to-ipv4",
    "wireguard-links:h1",
    "ping:c3-c4",
    "isolated:c1-c4",
    "isolated:c3-c2",
    "isolated:c1-c3",
    "survives-kill:h1",
    "ping-without-agent:c1-c2",
    "restart:networks",
    "restart:attachments",
    "restart:key",
    "restart:links",
    "ping-after-restart:c1-c2",
    "bare-device:key",
    "bare-device:alias",
    "bare-device:networks",
    "ping-after-bare-device:c1-c2",
    "network-rm:red",
    "network-rm:h1",
    "network-rm:h2",
    "listen-port:kernel:busy-refused",
    "listen-port:kernel:nothing-left",
    "listen-port:kernel:busy-skipped",
    "listen-port:kernel:device",
    "listen-port:kernel:clean",
    "network-rm:over-foreign-link",
    "network-rm:foreign-link-kept",
    "network-rm:bare-link",
    "network-rm:bare-link-removed",
    "backend:h3",
    "backend:h4",
    "interop-ping:kernel-userspace",
    "interop-ping:userspace-kernel",
    "interop-tcp:kernel-userspace",
    "interop-tcp:userspace-kernel",
    "interop-counters",
    "rotate:userspace",
    "rotate:userspace-retiring",
    "rotate:userspace-old-session",
    "rotate:userspace-new-key",
    "rotate:userspace-old-key-gone",
    "roam:ping-from-moved-userspace",
    "roam:kernel-follows",
    "roam:ping-from-moved-kernel",
    "roam:kernel-status",
    "roam:userspace-status",
    "listen-port:userspace:busy-refused",
    "listen-port:userspace:nothing-left",
    "listen-port:userspace:busy-skipped",
    "listen-port:userspace:device",
    "stop:kernel-device-kept",
    "stop:kernel-traffic-without-agent",
    "stop:userspace-device-gone",
];

fn boot_guest() -> GuestRun {
    let kernel = KernelImage::fetch().unwrap_or_else(|e| panic!("{e}"));
    let mut initramfs = Initramfs::new(&kernel, NETWORK_MODULES).unwrap_or_else(|e| panic!("{e}"));
    initramfs
        .add_program(std::path::Path::new(WEFT), "usr/local/bin/weft")
        .unwrap_or_else(|e| panic!("{e}"));
    for (tool, package) in [("wg", "wireguard-tools"), ("nft", "nftables"), ("jq", "jq")] {
        initramfs
            .add_tool(tool, package)
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let config = GuestConfig {
        // Not wireguard: the script checks that the agent's probe makes
        // the kernel load it on demand.
        modules: ["veth", "tun"].map(String::from).to_vec(),
        timeout: Duration::from_secs(600),
        ..GuestConfig::default()
    };
    let guest = Guest {
        kernel,
        initramfs,
        config,
    };
    guest.boot(SCRIPT).unwrap_or_else(|e| panic!("{e}"))
}

/// The device line and the peer lines of `wg show IF dump` (sent with
/// newlines as `|`).
fn dump_lines(dump: &str) -> (Vec<&str>, Vec<Vec<&str>>) {
    let mut lines = dump.split('|').filter(|l| !l.is_empty());
    let device = lines.next().unwrap_or_default().split('\t').collect();
    let peers = lines.map(|l| l.split('\t').collect()).collect();
    (device, peers)
}

/// `wg show wg0 dump` (taken first) and `weft status` agree on h1's
/// network blue: key, port, the peer's key, endpoint, allowed IPs and
/// handshake; counters only grow between the two reads.
fn wg_agrees_with_status(run: &GuestRun) {
    let (device, peers) = dump_lines(run.data("wg-dump:h1"));
    let status: Value = serde_json::from_str(run.data("status:h1"))
        .unwrap_or_else(|e| run.fail(&format!("status:h1 is not JSON: {e}")));
    let net = status["networks"]
        .as_array()
        .and_then(|nets| nets.iter().find(|n| n["name"] == "blue"))
        .unwrap_or_else(|| run.fail("no network blue in weft status"));
    let disagree = |what: &str| -> ! {
        run.fail(&format!(
            "wg show and weft status disagree on {what}:\nwg: {}\nstatus: {net}",
            run.data("wg-dump:h1")
        ))
    };
    if device.len() != 4 || net["public_key"] != device[1] {
        disagree("the public key");
    }
    if net["listen_port"] != 51820 || device[2] != "51820" {
        disagree("the listen port");
    }
    let [peer] = peers.as_slice() else {
        disagree("the number of peers")
    };
    let live = &net["peers"][0];
    if peer.len() != 8 || live["public_key"] != peer[0] {
        disagree("the peer's key");
    }
    if live["endpoint"] != peer[2] || peer[2] != "192.0.2.2:51820" {
        disagree("the endpoint");
    }
    if live["allowed_ips"] != serde_json::json!([peer[3]]) || peer[3] != "10.42.2.0/24" {
        disagree("the allowed IPs");
    }
    let handshake: i64 = peer[4].parse().unwrap_or(0);
    if handshake == 0 || live["latest_handshake"].as_i64() != Some(handshake) {
        disagree("the latest handshake");
    }
    let (rx, tx): (u64, u64) = (peer[5].parse().unwrap_or(0), peer[6].parse().unwrap_or(0));
    let counted = |field: &str, seen: u64| live[field].as_u64().is_some_and(|v| v >= seen);
    if rx == 0 || tx == 0 || !counted("rx_bytes", rx) || !counted("tx_bytes", tx) {
        disagree("the transfer counters");
    }
    if status["backend"] != "kernel" {
        disagree("the backend");
    }
}

/// Both interop hosts' devices name each other as their one peer, with a
/// handshake: kernel and userspace WireGuard really spoke.
fn interop_handshakes(run: &GuestRun) {
    let (kernel_dev, kernel_peers) = dump_lines(run.data("interop-wg-dump:h3"));
    let (user_dev, user_peers) = dump_lines(run.data("interop-wg-dump:h4"));
    let ok = kernel_peers.len() == 1
        && user_peers.len() == 1
        && kernel_peers[0][0] == user_dev[1]
        && user_peers[0][0] == kernel_dev[1]
        && kernel_peers[0][4] != "0"
        && user_peers[0][4] != "0";
    if !ok {
        run.fail(&format!(
            "kernel and userspace did not peer:\nh3: {}\nh4: {}",
            run.data("interop-wg-dump:h3"),
            run.data("interop-wg-dump:h4")
        ));
    }
}

#[test]
fn kernel_wireguard_in_a_guest() {
    let run = boot_guest();
    eprintln!("kernel_guest: the guest ran for {:?}", run.elapsed);
    let failures = run.failures();
    if !failures.is_empty() {
        let list: Vec<String> = failures
            .iter()
            .map(|f| format!("{}: {}", f.name, f.detail))
            .collect();
        run.fail(&format!("guest checks failed:\n{}", list.join("\n")));
    }
    run.expect_completed();
    for check in CHECKS {
        run.expect_pass(check);
    }
    wg_agrees_with_status(&run);
    interop_handshakes(&run);
    // Nothing to repair, nothing refused: a kernel device read back unlike
    // what weft set (a keepalive, an allowed IP, a roamed endpoint) would
    // show here as a drift repair every pass.
    for host in ["h1", "h2", "h3", "h4"] {
        let warnings = run.data(&format!("agent-warnings:{host}"));
        if warnings != "0" {
            run.fail(&format!(
                "the agent on {host} logged {warnings} warnings or errors"
            ));
        }
    }
    // Shown with --nocapture: what the guest did, for the record.
    eprintln!("--- guest console ---\n{}", run.console);
}
