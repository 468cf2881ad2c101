//! The responder against a real client: busybox `udhcpc` in a namespace
//! of its own, across a veth standing in for a VM's TAP (a TAP needs a
//! hypervisor to carry frames; the responder sees no difference). The
//! guest gets its address, routes, resolver and MTU; a foreign MAC and an
//! oversized datagram get no answer.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::process::Command;
use std::time::{Duration, Instant};

use weft_dhcp::{Lease, Responder};
use weft_testkit::netns::NamedNetns;
use weft_testkit::{require_root, require_tools};

const GUEST_MAC: &str = "02:aa:bb:cc:dd:01";
const FOREIGN_MAC: &str = "02:aa:bb:cc:dd:99";

fn lease() -> Lease {
    let address = "10.42.1.2/32".parse().unwrap();
    let router = Ipv4Addr::new(10, 42, 1, 1);
    Lease {
        mac: [0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0x01],
        address,
        router,
        dns_servers: vec![router],
        domain: "blue.example".into(),
        mtu: 1420,
        routes: Lease::routes_for(address, router, "10.42.0.0/16".parse().unwrap(), true),
        host_name: Some("vm1".into()),
    }
}

/// Runs `udhcpc` once in `guest`; Some(its `bound` environment) or None
/// when it got no lease.
fn udhcpc(guest: &NamedNetns, dir: &std::path::Path) -> Option<String> {
    let out = dir.join("bound.env");
    let _ = std::fs::remove_file(&out);
    let script = dir.join("script.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\n[ \"$1\" = bound ] && env | sort > {}\nexit 0\n",
            out.display()
        ),
    )
    .unwrap();
    Command::new("chmod")
        .arg("+x")
        .arg(&script)
        .status()
        .unwrap();
    let status = Command::new("ip")
        .args(["netns", "exec", &guest.name, "busybox", "udhcpc"])
        .args(["-i", "eth0", "-f", "-q", "-n", "-t", "3", "-T", "1", "-s"])
        .arg(&script)
        .output()
        .unwrap();
    if !status.status.success() {
        return None;
    }
    Some(std::fs::read_to_string(&out).expect("udhcpc ran the script"))
}

/// A veth standing in for a VM's TAP: `t0` on the host, `eth0` (with the
/// lease's MAC) in the guest.
fn wire(host: &NamedNetns, guest: &NamedNetns) {
    host.ip(&["link", "add", "t0", "type", "veth", "peer", "name", "eth0"]);
    host.ip(&["link", "set", "eth0", "netns", &guest.name]);
    host.ip(&["link", "set", "t0", "up"]);
    guest.ip(&["link", "set", "eth0", "address", GUEST_MAC, "up"]);
}

#[test]
fn udhcpc_gets_its_lease_and_nobody_else_does() {
    require_root!();
    require_tools!("busybox");
    let started = Instant::now();
    let host = NamedNetns::new();
    let guest = NamedNetns::new();
    wire(&host, &guest);
    // The host's address on the network, as on its WireGuard interface.
    host.ip(&["addr", "add", "10.42.1.1/32", "dev", "lo"]);
    let responder = host.run_inside(|| Responder::start("t0", vec![lease()]).unwrap());
    let dir = tempfile::tempdir().unwrap();

    let env = udhcpc(&guest, dir.path()).expect("a lease for the assigned MAC");
    for want in [
        "ip=10.42.1.2\n",
        "mask=32\n",
        "router=10.42.1.1\n",
        "dns=10.42.1.1\n",
        "domain=blue.example\n",
        "mtu=1420\n",
        "serverid=10.42.1.1\n",
        "hostname=vm1\n",
        // Option 121: the router on-link, then the default route.
        "staticroutes=10.42.1.1/32 0.0.0.0 0.0.0.0/0 10.42.1.1\n",
    ] {
        assert!(env.contains(want), "{want:?} not in\n{env}");
    }

    // Another MAC on the same wire: no answer, no lease.
    guest.ip(&["link", "set", "eth0", "address", FOREIGN_MAC]);
    assert_eq!(
        udhcpc(&guest, dir.path()),
        None,
        "a foreign MAC got a lease"
    );

    // An oversized datagram gets nothing, and the responder lives on.
    let answered = guest.run_inside(|| {
        use socket2::{Domain, Socket, Type};
        let socket = Socket::new(Domain::IPV4, Type::DGRAM, None).unwrap();
        socket.bind_device(Some(b"eth0")).unwrap();
        socket
            .bind(&SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 68).into())
            .unwrap();
        socket.set_broadcast(true).unwrap();
        let socket = std::net::UdpSocket::from(socket);
        socket
            .set_read_timeout(Some(Duration::from_millis(1500)))
            .unwrap();
        let mut big = weft_dhcp::Message::request(
            weft_dhcp::MessageType::Discover,
            7,
            [0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0x01],
        )
        .encode();
        big.resize(4000, 0);
        socket
            .send_to(&big, SocketAddrV4::new(Ipv4Addr::BROADCAST, 67))
            .unwrap();
        let mut buf = [0u8; 2048];
        socket.recv(&mut buf).is_ok()
    });
    assert!(!answered, "an oversized request was answered");
    guest.ip(&["link", "set", "eth0", "address", GUEST_MAC]);
    assert!(
        udhcpc(&guest, dir.path()).is_some(),
        "no lease after the bad datagrams"
    );

    // Leases are replaced in place: the MAC removed, no answer.
    responder.set_leases(vec![]);
    assert_eq!(udhcpc(&guest, dir.path()), None);
    drop(responder);
    eprintln!("wall time {:?}", started.elapsed());
}

/// The answers come from the network's side: the host's address in the
/// network (the router, as option 54 says), never another of the host's
/// addresses — on a routed TAP, with no address of its own, the kernel
/// would otherwise pick one, such as the underlay's.
#[test]
fn answers_come_from_the_hosts_address_in_the_network() {
    require_root!();
    require_tools!("busybox", "tcpdump");
    let host = NamedNetns::new();
    let guest = NamedNetns::new();
    // The underlay first (the kernel's choice of a source goes by device
    // order), then the network's address on an interface standing in for
    // the WireGuard one.
    // (Empty bridges: this kernel has no dummy devices.)
    host.ip(&["link", "add", "u0", "type", "bridge"]);
    host.ip(&["addr", "add", "192.0.2.1/24", "dev", "u0"]);
    host.ip(&["link", "set", "u0", "up"]);
    wire(&host, &guest);
    host.ip(&["link", "add", "wg0", "type", "bridge"]);
    host.ip(&["addr", "add", "10.42.1.1/32", "dev", "wg0"]);
    host.ip(&["link", "set", "wg0", "up"]);
    let _responder = host.run_inside(|| Responder::start("t0", vec![lease()]).unwrap());
    let dir = tempfile::tempdir().unwrap();
    let capture = weft_testkit::capture::start(&guest.name, "eth0", &dir.path().join("eth0.pcap"));
    assert!(udhcpc(&guest, dir.path()).is_some(), "no lease");
    let (lines, _) = capture.stop();
    let answers: Vec<&String> = lines.iter().filter(|l| l.contains(".67 > ")).collect();
    assert!(!answers.is_empty(), "no answer captured: {lines:?}");
    for answer in answers {
        assert!(
            answer.contains(" IP 10.42.1.1.67 > "),
            "an answer not from the router: {answer}"
        );
    }
}
