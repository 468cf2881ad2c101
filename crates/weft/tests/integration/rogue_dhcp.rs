//! No rogue DHCP server on weft's networks. busybox `udhcpd` in a workload
//! answers every DHCPDISCOVER it hears; none of its answers reach another
//! workload (busybox `udhcpc`, which takes any lease it is offered) or a
//! VM's NIC (a TAP the test reads as the hypervisor would), while weft's
//! own responder still answers the VM: on a bridge network with and
//! without `br_netfilter` handing bridged frames to the `inet` hooks, on a
//! routed network, and across a VXLAN segment (from the other host's
//! workload, and as a VTEP's hand-made frame). Captures at the receivers
//! count what arrived. A drop rule deleted by hand is put back by the
//! drift repair; deleted with nobody to repair it, the rogue's lease is
//! taken — what happened before these rules.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use weft_dhcp::message::{Message, MessageType, OP_REPLY, opt};
use weft_model::naming;
use weft_testkit::*;

use crate::vm_tap::{discover_frame, next_dhcp_reply, open_tap, write_frame};

const WEFT: &str = env!("CARGO_BIN_EXE_weft");

const SEND: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/vxlan_send.py");

/// How long a repair may take: the default pass runs every 2 s.
const REPAIRED_WITHIN: Duration = Duration::from_secs(5);

/// Start busybox `udhcpd` on `ns`'s eth0, handing out `first`…`last` with
/// itself (`server`) as router and DNS server: what a hostile workload
/// would run.
fn rogue_server(lab: &mut Lab, ns: &str, server: &str, first: &str, last: &str) {
    let dir = lab.dir.path().join(format!("udhcpd-{ns}"));
    std::fs::create_dir_all(&dir).unwrap();
    let leases = dir.join("leases");
    std::fs::write(&leases, b"").unwrap();
    let conf = dir.join("udhcpd.conf");
    std::fs::write(
        &conf,
        format!(
            "start {first}\nend {last}\ninterface eth0\nlease_file {}\npidfile {}\n\
             opt router {server}\nopt dns {server}\nopt subnet 255.255.0.0\nopt lease 600\n",
            leases.display(),
            dir.join("pid").display()
        ),
    )
    .unwrap();
    let child = std::process::Command::new("ip")
        .args(["netns", "exec", &lab.ns(ns), "busybox", "udhcpd", "-f"])
        .arg(&conf)
        .stdin(std::process::Stdio::null())
        .stdout(std::fs::File::create(dir.join("log")).unwrap())
        .stderr(std::fs::File::create(dir.join("err")).unwrap())
        .spawn()
        .expect("spawn busybox udhcpd");
    lab.keep(child);
}

/// busybox `udhcpc` in `ns` asks three times, a second apart; whether it
/// took a lease (it takes the first offer; `/bin/true` as its script, so
/// the workload's own address stays).
fn client_takes_a_lease(lab: &Lab, ns: &str) -> bool {
    lab.exec(ns, "busybox udhcpc -i eth0 -f -q -n -t 3 -T 1 -s /bin/true")
        .status
        .success()
}

/// `count` DHCPOFFERs for `mac` sent by `ns` from `server`:67 to the
/// broadcast address, port 68, unasked: what a rogue that learnt a
/// client's transaction (a rebinding client broadcasts its requests from
/// its own address) would send. Its own socket beside `udhcpd`'s.
fn unsolicited_offers(lab: &Lab, ns: &str, server: Ipv4Addr, mac: [u8; 6], count: usize) {
    let mut offer = Message::request(MessageType::Offer, 0x0bad_0ffe, mac);
    offer.op = OP_REPLY;
    offer.yiaddr = Ipv4Addr::new(10, 99, 9, 50);
    offer
        .options
        .insert(opt::SERVER_ID, server.octets().to_vec());
    let hex: String = offer.encode().iter().map(|b| format!("{b:02x}")).collect();
    lab.exec_ok(
        ns,
        &format!(
            "python3 -c \"import socket;s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);\
             s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1);\
             s.setsockopt(socket.SOL_SOCKET,socket.SO_BROADCAST,1);\
             s.bind(('{server}',67));\
             [s.sendto(bytes.fromhex('{hex}'),('255.255.255.255',68)) for _ in range({count})]\""
        ),
    );
}

/// The DHCP servers that answered a VM's NIC (`mac`, on TAP `tap` of
/// host `host`): DISCOVERs every half second for `wait`, and the server
/// identifier of every OFFER that came back.
fn servers_answering_vm(tap: &std::fs::File, mac: [u8; 6], wait: Duration) -> Vec<Ipv4Addr> {
    let deadline = Instant::now() + wait;
    let mut servers = Vec::new();
    let mut xid = 0x5eed_0000;
    while Instant::now() < deadline {
        xid += 1;
        write_frame(tap, &discover_frame(mac, xid));
        let round = (Instant::now() + Duration::from_millis(500)).min(deadline);
        while let Some(m) = next_dhcp_reply(tap, round) {
            if m.message_type() == Ok(MessageType::Offer)
                && let Some(server) = m.address_option(opt::SERVER_ID)
            {
                servers.push(server);
            }
        }
    }
    servers
}

/// Lines of a capture with a DHCP answer from `server` (its port 67 to a
/// client's port 68).
fn answers_from(lines: &[String], server: &str) -> usize {
    lines
        .iter()
        .filter(|l| l.contains(&format!("{server}.67 > ")) && l.contains(".68: "))
        .count()
}

/// Set whether `br_netfilter` hands bridged frames to the `inet` hooks in
/// `host`'s namespace (the sysctls are per namespace); false when this
/// kernel has no `br_netfilter` at all (then it never does).
fn set_br_netfilter(lab: &Lab, host: &str, on: bool) -> bool {
    let v = u8::from(on);
    lab.exec(
        host,
        &format!(
            "sysctl -qw net.bridge.bridge-nf-call-iptables={v} \
             net.bridge.bridge-nf-call-ip6tables={v}"
        ),
    )
    .status
    .success()
}

/// The handle of the rule of table `bridge weft`'s prerouting chain on
/// `host` that mentions `text`.
fn bridge_rule(lab: &Lab, host: &str, text: &str) -> Option<String> {
    let listing = lab.exec_ok(host, "nft -a list chain bridge weft prerouting");
    listing
        .lines()
        .find(|l| l.contains(text))
        .and_then(|l| l.rsplit("# handle ").next())
        .map(|h| h.trim().to_string())
}

/// The DHCP-answer drop's text in a listing of table `bridge weft`.
const DHCP_DROP: &str = "udp dport { 68, 546 } iifname @workload-ports";

/// h2, a VTEP of h1's segment, sends hand-made VXLAN packets to h1: three
/// with a DHCPOFFER inside (marked `vtep-offer-<tag>`, server 10.50.2.2),
/// then ones with a plain broadcast until c1 sees one. Returns c1's raw
/// capture and the servers of the DHCP answers the VM's TAP got.
fn vtep_round(lab: &Lab, tap: &std::fs::File, tag: &str) -> (Vec<u8>, Vec<Ipv4Addr>) {
    let send = |kind: &str| {
        lab.exec_ok(
            "h2",
            &format!("python3 {SEND} 192.0.2.1 4789 100 {kind} --inner 10.50.2.2"),
        )
    };
    let file = lab.dir.path().join(format!("c1-{tag}.pcap"));
    let cap = capture::start(&lab.ns("c1"), "eth0", &file);
    for _ in 0..3 {
        send(&format!("offer:vtep-offer-{tag}"));
    }
    let control = format!("vtep-broadcast-{tag}");
    wait_for(
        "the VTEP's broadcast in c1",
        Duration::from_secs(10),
        || {
            send(&format!("broadcast:{control}"));
            std::thread::sleep(Duration::from_millis(200));
            capture::seen(&std::fs::read(&file).unwrap_or_default(), &control) > 0
        },
    );
    let mut servers = Vec::new();
    while let Some(m) = next_dhcp_reply(tap, Instant::now() + Duration::from_millis(300)) {
        servers.extend(m.address_option(opt::SERVER_ID));
    }
    (cap.stop().1, servers)
}

/// An IPv6 router advertisement: prefix 2001:db8:66::/64, and "route
/// through me" for 30 minutes.
const ROUTER_ADVERTISEMENT: &str = concat!(
    "86000000", // type 134, code 0, checksum (the kernel's)
    "40000708", // hop limit 64, no flags, router lifetime 1800 s
    "00000000", // reachable time
    "00000000", // retransmission timer
    "030440c0", // prefix information, /64, on-link and autonomous
    "00015180", // valid lifetime
    "00003840", // preferred lifetime
    "00000000", // reserved
    "20010db8006600000000000000000000",
);

/// Send `hex` on `ns`'s eth0 to ff02::1: as ICMPv6 (`port` None; hop
/// limit 255, as routers send) or in a UDP datagram to `port` (to DHCPv6
/// clients' 546 from its servers' 547).
fn to_all_nodes(lab: &Lab, ns: &str, hex: &str, port: Option<u16>) {
    let (socket, bind, port) = match port {
        None => ("socket.SOCK_RAW,socket.IPPROTO_ICMPV6", "", 0),
        Some(546) => ("socket.SOCK_DGRAM", "s.bind(('::',547));", 546),
        Some(port) => ("socket.SOCK_DGRAM", "", port),
    };
    lab.exec_ok(
        ns,
        &format!(
            "python3 -c \"import socket;s=socket.socket(socket.AF_INET6,{socket});{bind}\
             s.setsockopt(socket.IPPROTO_IPV6,socket.IPV6_MULTICAST_HOPS,255);\
             s.sendto(bytes.fromhex('{hex}'),('ff02::1',{port},0,socket.if_nametoindex('eth0')))\""
        ),
    );
}

/// Whether `ns` has an IPv6 default route (one a router advertisement
/// would give it).
fn ipv6_default_route(lab: &Lab, ns: &str) -> bool {
    !lab.exec_ok(ns, "ip -6 route show default")
        .trim()
        .is_empty()
}

/// c1 advertises itself as an IPv6 router and sends to DHCPv6 clients'
/// port, three times each, then to port 9999 until c2 sees that; returns
/// c2's capture.
fn ipv6_round(lab: &Lab, tag: &str) -> Vec<String> {
    let file = lab.dir.path().join(format!("c2-ipv6-{tag}.pcap"));
    let cap = capture::start(&lab.ns("c2"), "eth0", &file);
    for _ in 0..3 {
        to_all_nodes(lab, "c1", ROUTER_ADVERTISEMENT, None);
        to_all_nodes(lab, "c1", "726f677565", Some(546));
    }
    wait_for(
        "c1's datagram to port 9999 in c2",
        Duration::from_secs(10),
        || {
            to_all_nodes(lab, "c1", "636f6e74726f6c", Some(9999));
            std::thread::sleep(Duration::from_millis(200));
            sh(&format!("tcpdump -r {} -n 2>/dev/null", file.display())).contains(".9999: UDP")
        },
    );
    cap.stop().0
}

fn mac_of(attachment: &serde_json::Value) -> [u8; 6] {
    naming::parse_mac(attachment["mac"].as_str().unwrap()).unwrap()
}

/// One round on h1's bridge: c2's `udhcpc` and the VM ask while c1's
/// `udhcpd` answers and c1 sends offers of its own besides (`udhcpd`
/// hears no DISCOVER while `br_netfilter` is on: weft's source check
/// drops their 0.0.0.0 between workloads). Returns (whether c2 took a lease, the servers that
/// answered the VM, the rogue's answers seen leaving c1 and arriving at
/// c2).
fn bridge_round(
    lab: &Lab,
    tap: &std::fs::File,
    vm_mac: [u8; 6],
    tag: &str,
) -> (bool, Vec<Ipv4Addr>, usize, usize) {
    let dir = lab.dir.path();
    let rogue = capture::start(&lab.ns("c1"), "eth0", &dir.join(format!("c1-{tag}.pcap")));
    let victim = capture::start(&lab.ns("c2"), "eth0", &dir.join(format!("c2-{tag}.pcap")));
    let (took, servers) = std::thread::scope(|s| {
        let client = s.spawn(|| client_takes_a_lease(lab, "c2"));
        let offers = s.spawn(|| {
            std::thread::sleep(Duration::from_millis(500));
            unsolicited_offers(lab, "c1", Ipv4Addr::new(10, 88, 0, 2), vm_mac, 3);
        });
        let servers = servers_answering_vm(tap, vm_mac, Duration::from_secs(3));
        offers.join().unwrap();
        (client.join().unwrap(), servers)
    });
    std::thread::sleep(Duration::from_millis(300));
    let (sent, _) = rogue.stop();
    let (arrived, _) = victim.stop();
    (
        took,
        servers,
        answers_from(&sent, "10.88.0.2"),
        answers_from(&arrived, "10.88.0.2"),
    )
}

#[test]
fn a_rogue_dhcp_server_on_a_bridge_or_routed_network_reaches_no_workload_or_vm() {
    require_root!();
    require_tools!("tcpdump", "busybox", "python3", "nft");
    let mut lab = Lab::new(WEFT);
    lab.add_namespaces(["h1", "c1", "c2", "c3", "c4"]);
    lab.start_agent("h1");
    lab.bridge_on("h1", "br", "10.88.0.0/16");
    let rogue = lab.attach("h1", "br", "c1", &[]);
    assert_eq!(rogue["address"], "10.88.0.2/16");
    lab.attach("h1", "br", "c2", &[]);
    let vm = lab.weft_json("h1", &["attach", "br", "--vm", "vm1"]);
    let vm_mac = mac_of(&vm);
    let tap = open_tap(&lab.netns_path("h1"), "fn-vm1-0", false);
    rogue_server(&mut lab, "c1", "10.88.0.2", "10.88.0.100", "10.88.0.150");
    let weft = "10.88.0.1".parse::<Ipv4Addr>().unwrap();
    let rogue: Ipv4Addr = "10.88.0.2".parse().unwrap();

    // Both states of br_netfilter, where this kernel has it.
    let brnf = set_br_netfilter(&lab, "h1", true);
    let states: Vec<bool> = [false, true]
        .into_iter()
        .filter(|&on| brnf || !on)
        .collect();
    if states.len() < 2 {
        eprintln!("this kernel has no br_netfilter: only the state without it is tested");
    }
    for &on in &states {
        let tag = if on { "brnf-on" } else { "brnf-off" };
        set_br_netfilter(&lab, "h1", on);
        let (took, servers, sent, arrived) = bridge_round(&lab, &tap, vm_mac, tag);
        assert!(
            sent > 0,
            "{tag}: the rogue never answered (the test shows nothing)"
        );
        assert_eq!(arrived, 0, "{tag}: the rogue's answers reached c2");
        assert!(!took, "{tag}: c2 took a lease from the rogue");
        assert!(
            !servers.contains(&rogue),
            "{tag}: the rogue answered the VM: {servers:?}"
        );
        assert!(
            servers.contains(&weft),
            "{tag}: weft's responder is silent: {servers:?}"
        );
    }

    // IPv6: a workload is no router and no DHCPv6 server either.
    let lines = ipv6_round(&lab, "guarded");
    let advertised = |lines: &[String]| {
        lines
            .iter()
            .filter(|l| l.contains("router advertisement"))
            .count()
    };
    let to_546 = |lines: &[String]| lines.iter().filter(|l| l.contains(".546: ")).count();
    assert_eq!(advertised(&lines), 0, "{lines:#?}");
    assert_eq!(to_546(&lines), 0, "{lines:#?}");
    assert!(!ipv6_default_route(&lab, "c2"));

    // Routed: a workload's DHCP answer to a neighbour's address is not
    // forwarded (a broadcast never is); other datagrams are.
    lab.network_on("h1", "blue", 42);
    lab.attach("h1", "blue", "c3", &[]);
    lab.attach("h1", "blue", "c4", &[]);
    let cap = capture::start(&lab.ns("c4"), "eth0", &lab.dir.path().join("c4.pcap"));
    let send_udp = |sport: u16, dport: u16| {
        lab.exec_ok(
            "c3",
            &format!(
                "python3 -c \"import socket;s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);\
                 s.bind(('10.42.1.2',{sport}));s.sendto(b'rogue-offer',('10.42.1.3',{dport}))\""
            ),
        );
    };
    for _ in 0..3 {
        send_udp(67, 68);
    }
    wait_for(
        "c3's datagram to port 9999 in c4",
        Duration::from_secs(10),
        || {
            send_udp(40000, 9999);
            std::thread::sleep(Duration::from_millis(200));
            sh(&format!("tcpdump -r {} -n 2>/dev/null", cap.file.display())).contains(".9999: UDP")
        },
    );
    let (lines, _) = cap.stop();
    assert_eq!(answers_from(&lines, "10.42.1.2"), 0, "{lines:#?}");

    // Drift: the bridge rule deleted by hand is back within seconds.
    set_br_netfilter(&lab, "h1", false);
    let handle = bridge_rule(&lab, "h1", DHCP_DROP).expect("table bridge weft drops DHCP answers");
    let start = Instant::now();
    lab.exec_ok(
        "h1",
        &format!("nft delete rule bridge weft prerouting handle {handle}"),
    );
    assert!(
        poll_until(REPAIRED_WITHIN, Duration::from_millis(100), || {
            bridge_rule(&lab, "h1", DHCP_DROP).is_some()
        }),
        "not put back within {REPAIRED_WITHIN:?}\n{}",
        lab.agent_log("h1")
    );
    eprintln!(
        "the bridge's DHCP drop put back after {:?}",
        start.elapsed()
    );
    let (took, servers, sent, arrived) = bridge_round(&lab, &tap, vm_mac, "repaired");
    assert!(sent > 0 && !took && arrived == 0 && !servers.contains(&rogue));

    // With nobody to repair it: the bridge rule deleted, the inet rule
    // alone still stops the rogue while br_netfilter hands it bridged
    // frames; without br_netfilter the rogue's lease is taken.
    lab.kill_agent("h1");
    let handle = bridge_rule(&lab, "h1", DHCP_DROP).unwrap();
    lab.exec_ok(
        "h1",
        &format!("nft delete rule bridge weft prerouting handle {handle}"),
    );
    if states.contains(&true) {
        set_br_netfilter(&lab, "h1", true);
        let (took, servers, sent, arrived) = bridge_round(&lab, &tap, vm_mac, "inet-only");
        assert!(
            sent > 0 && !took && arrived == 0 && !servers.contains(&rogue),
            "inet forward rule alone"
        );
    }
    set_br_netfilter(&lab, "h1", false);
    let (took, servers, _, arrived) = bridge_round(&lab, &tap, vm_mac, "open");
    assert!(arrived > 0, "with no rule the rogue's answers must arrive");
    assert!(took, "with no rule c2 takes the rogue's lease");
    assert!(
        servers.contains(&rogue),
        "with no rule the rogue answers the VM: {servers:?}"
    );
    let ra = bridge_rule(&lab, "h1", "nd-router-advert").unwrap();
    lab.exec_ok(
        "h1",
        &format!("nft delete rule bridge weft prerouting handle {ra}"),
    );
    let lines = ipv6_round(&lab, "open");
    assert!(advertised(&lines) > 0 && to_546(&lines) > 0, "{lines:#?}");
    wait_for(
        "c2 to take c1 as its IPv6 router",
        Duration::from_secs(5),
        || ipv6_default_route(&lab, "c2"),
    );
    drop(tap);
    lab.finish();
}

#[test]
fn a_rogue_dhcp_server_across_vxlan_reaches_no_vm_or_workload_on_another_host() {
    require_root!();
    require_tools!("tcpdump", "busybox", "python3", "nft");
    let mut lab = Lab::new(WEFT);
    lab.add_namespaces(["h1", "h2", "c1", "c3"]);
    lab.underlay("h1", "h2");
    for (n, host) in [(1, "h1"), (2, "h2")] {
        lab.start_agent(host);
        lab.weft_json(
            host,
            &[
                "network",
                "create",
                "lan",
                "--mode",
                "vxlan",
                "--subnet",
                "10.50.0.0/16",
                "--block",
                &format!("10.50.{n}.0/24"),
                "--vni",
                "100",
                "--local",
                &format!("192.0.2.{n}"),
            ],
        );
        let other = 3 - n;
        lab.weft_ok(
            host,
            &[
                "peer",
                "add",
                "lan",
                "--endpoint",
                &format!("192.0.2.{other}"),
                "--allowed-ips",
                &format!("10.50.{other}.0/24"),
            ],
        );
    }
    lab.attach("h1", "lan", "c1", &[]);
    let rogue = lab.attach("h2", "lan", "c3", &[]);
    assert_eq!(rogue["address"], "10.50.2.2/16");
    let vm = lab.weft_json("h1", &["attach", "lan", "--vm", "vm1"]);
    let vm_mac = mac_of(&vm);
    let tap = open_tap(&lab.netns_path("h1"), "fn-vm1-0", false);
    wait_for("c1 to reach c3", Duration::from_secs(20), || {
        lab.exec("c1", "ping -c 1 -W 2 10.50.2.2").status.success()
    });
    rogue_server(&mut lab, "c3", "10.50.2.2", "10.50.2.100", "10.50.2.150");
    let rogue: Ipv4Addr = "10.50.2.2".parse().unwrap();
    // Without br_netfilter on either host: with it, weft's source check
    // drops the clients' DISCOVERs (from 0.0.0.0) on their way to c3, and
    // the rogue would have nothing to answer.
    set_br_netfilter(&lab, "h1", false);
    set_br_netfilter(&lab, "h2", false);
    let dir = lab.dir.path();

    // The rogue on h2 hears h1's clients across the segment and answers.
    let sent = capture::start(&lab.ns("c3"), "eth0", &dir.join("c3.pcap"));
    let arrived = capture::start(&lab.ns("c1"), "eth0", &dir.join("c1.pcap"));
    let (took, servers) = std::thread::scope(|s| {
        let client = s.spawn(|| client_takes_a_lease(&lab, "c1"));
        let servers = servers_answering_vm(&tap, vm_mac, Duration::from_secs(3));
        (client.join().unwrap(), servers)
    });
    std::thread::sleep(Duration::from_millis(300));
    let (sent, _) = sent.stop();
    let (arrived, _) = arrived.stop();
    assert!(
        answers_from(&sent, "10.50.2.2") > 0,
        "the rogue never answered"
    );
    assert_eq!(answers_from(&arrived, "10.50.2.2"), 0, "{arrived:#?}");
    assert!(!took, "c1 took a lease from the rogue on h2");
    assert!(
        !servers.contains(&rogue),
        "the rogue answered the VM: {servers:?}"
    );
    assert!(!servers.is_empty(), "weft's responder is silent");

    // A VTEP that sends a DHCP answer itself (an older weft, a host that
    // lets its workloads' answers out): dropped where it leaves h1's VXLAN
    // device, whether or not br_netfilter is there. The same packet with
    // a plain broadcast inside arrives.
    let brnf = set_br_netfilter(&lab, "h1", true);
    for on in [false, true].into_iter().filter(|&on| brnf || !on) {
        set_br_netfilter(&lab, "h1", on);
        let tag = if on { "brnf-on" } else { "brnf-off" };
        let (raw, servers) = vtep_round(&lab, &tap, tag);
        let marker = format!("vtep-offer-{tag}");
        assert_eq!(
            capture::seen(&raw, &marker),
            0,
            "{tag}: the VTEP's DHCP answer reached c1"
        );
        assert!(!servers.contains(&rogue), "{tag}: it reached the VM");
    }

    // Negative control: h1's VXLAN device out of the set, nobody to put it
    // back, no br_netfilter: the same answer reaches c1.
    lab.kill_agent("h1");
    set_br_netfilter(&lab, "h1", false);
    lab.exec_ok(
        "h1",
        "nft delete element bridge weft workload-ports '{ \"weft-vx0\" }'",
    );
    let (raw, _) = vtep_round(&lab, &tap, "open");
    assert!(
        capture::seen(&raw, "vtep-offer-open") > 0,
        "with the VXLAN device unguarded the VTEP's answer must arrive"
    );
    drop(tap);
    lab.finish();
}
