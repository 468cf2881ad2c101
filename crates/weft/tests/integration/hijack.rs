//! weft never touches what it did not make: the host's own namespace is no
//! workload's, a network never takes the host's addresses or routes, and a
//! route weft did not create is never replaced or deleted.
//!
//! The "host" here is the lab namespace the agent runs in, with an underlay
//! (192.0.2.1/24 on u0), a route through it and a default route via it.

use weft_testkit::cni::vars;
use weft_testkit::*;

const WEFT: &str = env!("CARGO_BIN_EXE_weft");

/// A host namespace `h1` with its agent, an underlay to `h2`, a route and a
/// default route through the underlay, and network blue (10.42.0.0/16) with
/// workload c1 attached.
fn host_lab() -> Lab {
    let mut lab = Lab::new(WEFT);
    lab.add_namespaces(["h1", "h2", "c1"]);
    lab.underlay("h1", "h2");
    lab.exec_ok(
        "h1",
        "ip route add 198.51.100.0/24 via 192.0.2.2 dev u0 && ip route add default via 192.0.2.2 dev u0",
    );
    lab.start_agent("h1");
    lab.network_on("h1", "blue", 42);
    lab.attach("h1", "blue", "c1", &[]);
    lab
}

/// The host namespace's links, addresses and routes (every table, both
/// families) as `ip -j` reports them.
fn host_state(lab: &Lab) -> String {
    // A link just made has an IPv6 address on trial (duplicate address
    // detection, longer on a loaded machine) and gets its local route
    // when the trial ends: compare settled states only.
    wait_for(
        "IPv6 duplicate address detection on h1",
        std::time::Duration::from_secs(20),
        || {
            lab.exec_ok("h1", "ip -6 addr show tentative")
                .trim()
                .is_empty()
        },
    );
    lab.exec_ok(
        "h1",
        "ip -j link; ip -j addr; ip -j route show table all; ip -j -6 route show table all",
    )
}

fn assert_default_route_kept(lab: &Lab) {
    let default = lab.exec_ok("h1", "ip route show default");
    assert!(
        default.contains("via 192.0.2.2 dev u0"),
        "the host's default route is gone: {default:?}"
    );
}

#[test]
fn cni_add_into_the_agents_own_namespace_is_refused() {
    require_root!();
    let lab = host_lab();
    let host = lab.ns("h1");
    let socket = lab.agents["h1"].socket.display().to_string();
    let conf = serde_json::json!({
        "cniVersion": "1.1.0",
        "name": "blue",
        "type": "weft",
        "agentSocket": socket,
        "subnet": "10.42.0.0/16",
        "block": "10.42.1.0/24",
    })
    .to_string();
    let agent_ns = lab.netns_path("h1");
    let agent_pid_ns = format!("/proc/{}/ns/net", lab.agents["h1"].pid());
    let before = host_state(&lab);
    let records = lab.weft_ok("h1", &["attachments", "-o", "json"]);
    for (id, netns) in [
        ("self", "/proc/self/ns/net"),
        ("named", agent_ns.as_str()),
        ("agent", agent_pid_ns.as_str()),
    ] {
        let out = cni::plugin(&lab.weft, &host, &vars("ADD", id, netns, "eth7"), &conf);
        assert_eq!(out.code(), 4, "ADD into {netns}: {}", out.stdout);
        assert!(
            out.msg().contains("host's own network namespace"),
            "ADD into {netns}: {}",
            out.msg()
        );
        assert_eq!(
            host_state(&lab),
            before,
            "ADD into {netns} changed the host"
        );
        // What a runtime does after a failed ADD must not hurt either.
        let del = cni::plugin(&lab.weft, &host, &vars("DEL", id, netns, "eth7"), &conf);
        assert!(
            del.ok,
            "DEL after the refused ADD: {} {}",
            del.stdout, del.stderr
        );
        assert_eq!(host_state(&lab), before, "DEL in {netns} changed the host");
    }
    assert_default_route_kept(&lab);
    assert_eq!(lab.weft_ok("h1", &["attachments", "-o", "json"]), records);

    // The CLI goes the same way.
    let out = lab.weft(
        "h1",
        &[
            "attach",
            "blue",
            "--netns",
            "/proc/self/ns/net",
            "--id",
            "cli",
        ],
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("host's own network namespace"), "{stderr}");
    assert_eq!(host_state(&lab), before);
    assert_default_route_kept(&lab);
    // Nothing was broken for the real workload either.
    let c1 = lab.netns_path("c1");
    assert!(
        ping_from(std::path::Path::new(&c1), "10.42.1.1", 5),
        "c1 lost its gateway"
    );
    lab.finish();
}

#[test]
fn subnets_of_the_host_are_refused_and_its_routes_untouched() {
    require_root!();
    let lab = host_lab();
    let before = host_state(&lab);
    let nets = lab.weft_ok("h1", &["network", "ls", "-o", "json"]);
    for (subnet, block, want) in [
        (
            "0.0.0.0/0",
            "10.50.1.0/24",
            "invalid subnet \"0.0.0.0/0\": covers every address",
        ),
        (
            "127.0.0.0/24",
            "127.0.0.0/24",
            "invalid subnet \"127.0.0.0/24\": overlaps loopback",
        ),
        (
            "224.0.0.0/24",
            "224.0.0.0/24",
            "invalid subnet \"224.0.0.0/24\": overlaps multicast",
        ),
        (
            "169.254.0.0/24",
            "169.254.0.0/24",
            "invalid subnet \"169.254.0.0/24\": overlaps link-local",
        ),
        // The underlay's own subnet, and one inside the route through it.
        (
            "192.0.2.0/24",
            "192.0.2.0/24",
            "invalid subnet \"192.0.2.0/24\": overlaps 192.0.2.0/24 on u0",
        ),
        (
            "198.51.100.128/25",
            "198.51.100.128/25",
            "invalid subnet \"198.51.100.128/25\": overlaps 198.51.100.0/24 on u0",
        ),
    ] {
        for mode in ["wireguard", "bridge"] {
            let out = lab.weft(
                "h1",
                &[
                    "network", "create", "red", "--mode", mode, "--subnet", subnet, "--block",
                    block,
                ],
            );
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(!out.status.success(), "{mode} {subnet} was accepted");
            assert!(stderr.contains(want), "{mode} {subnet}: {stderr}");
            assert_eq!(host_state(&lab), before, "{mode} {subnet} changed the host");
        }
    }
    assert_default_route_kept(&lab);
    assert_eq!(lab.weft_ok("h1", &["network", "ls", "-o", "json"]), nets);
    lab.finish();
}

#[test]
fn routes_weft_did_not_make_are_never_replaced() {
    require_root!();
    let mut lab = host_lab();
    lab.add_namespaces(["c2", "c3"]);
    // weft's own routes carry its protocol.
    let blue = lab.exec_ok("h1", "ip route show 10.42.0.0/16");
    assert!(blue.contains("proto 119"), "{blue:?}");

    // The host routes one address of blue's block elsewhere, after blue was
    // made: a workload asking for that address does not take the route.
    lab.exec_ok("h1", "ip route add 10.42.1.77/32 via 192.0.2.2 dev u0");
    let before = host_state(&lab);
    let c2 = lab.netns_path("c2");
    let out = lab.weft(
        "h1",
        &[
            "attach",
            "blue",
            "--netns",
            &c2,
            "--id",
            "c2",
            "--ip",
            "10.42.1.77",
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the host's route was taken");
    assert!(
        stderr.contains("route 10.42.1.77/32 via 192.0.2.2 dev u0 (proto 3) is not weft's")
            && stderr.contains("is not weft's"),
        "{stderr}"
    );
    assert_eq!(
        host_state(&lab),
        before,
        "the refused attach left something"
    );

    // A workload whose namespace already has a default route of somebody
    // else's (another plugin's) keeps it.
    lab.exec_ok(
        "c3",
        "ip link add other0 type veth peer name other1 && ip link set other1 up && ip addr add 203.0.113.2/24 dev other0 && ip link set other0 up && ip route add default via 203.0.113.1 dev other0",
    );
    let c3 = lab.netns_path("c3");
    let out = lab.weft("h1", &["attach", "blue", "--netns", &c3, "--id", "c3"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "the workload's default route was taken"
    );
    assert!(
        stderr.contains("route 0.0.0.0/0 via 203.0.113.1 dev other0 (proto 3) is not weft's"),
        "{stderr}"
    );
    let default = lab.exec_ok("c3", "ip route show default");
    assert!(
        default.contains("via 203.0.113.1 dev other0"),
        "{default:?}"
    );
    assert_eq!(
        host_state(&lab),
        before,
        "the refused attach left something"
    );
    assert_default_route_kept(&lab);
    lab.finish();
}

#[test]
fn allowed_ips_outside_the_subnet_are_refused() {
    require_root!();
    let lab = host_lab();
    let key = |_: ()| sh(&format!("{WEFT} key generate | {WEFT} key public"));
    let (k1, k2) = (key(()), key(()));
    let before = host_state(&lab);
    let status = lab.weft_ok("h1", &["status", "-o", "json"]);
    let add = |key: &str, allowed: &str| {
        let args = [
            "peer",
            "add",
            "blue",
            "--public-key",
            key,
            "--endpoint",
            "192.0.2.2:51820",
            "--allowed-ips",
            allowed,
        ];
        lab.weft("h1", &args)
    };
    for (key, allowed, want) in [
        (&k1, "192.0.2.0/24", "outside"),
        (&k1, "0.0.0.0/0", "outside"),
        (&k1, "10.42.2.0/24,10.43.0.0/24", "outside"),
    ] {
        let out = add(key, allowed);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{allowed} was accepted");
        assert!(stderr.contains(want), "{allowed}: {stderr}");
        assert!(stderr.contains("allowed-ips"), "{allowed}: {stderr}");
    }
    assert_eq!(host_state(&lab), before);
    assert_eq!(lab.weft_ok("h1", &["status", "-o", "json"]), status);
    // Inside the subnet it works; the same block for a second peer does not.
    assert!(add(&k1, "10.42.2.0/24").status.success());
    let out = add(&k2, "10.42.2.0/24");
    assert!(!out.status.success(), "a second peer took 10.42.2.0/24");
    lab.finish();
}
