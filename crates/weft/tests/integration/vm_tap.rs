//! VMs on weft networks with the real agent: `weft attach --vm` makes
//! persistent TAPs (routed and on a bridge) with weft's MACs, the agent's
//! DHCP responder answers the guest's NIC through them and nobody else,
//! `weft vm config` prints what each hypervisor takes, a `kill -9` of the
//! agent keeps the TAPs, and a detach removes them.
//!
//! The test stands in for the hypervisor: it opens each TAP as QEMU,
//! Cloud Hypervisor and Firecracker do (`IFF_TAP | IFF_NO_PI |
//! IFF_VNET_HDR`) and sends and reads the guest's frames itself.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use serde_json::Value;
use weft_dhcp::message::{Message, MessageType, opt};
use weft_model::naming;
use weft_testkit::netns::spawn_in;
use weft_testkit::*;

const WEFT: &str = env!("CARGO_BIN_EXE_weft");
/// `struct virtio_net_hdr`: what precedes each frame on a VNET_HDR TAP.
const VNET_HDR_LEN: usize = 10;

/// The TAP `name` in namespace `ns` opened as a hypervisor opens it.
pub(crate) fn open_tap(ns: &str, name: &str, multi_queue: bool) -> File {
    let name = name.to_string();
    spawn_in(std::path::Path::new(ns), move || {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/net/tun")
            .unwrap();
        // SAFETY: all-zero bytes are a valid `ifreq`.
        let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
        for (dst, src) in req.ifr_name.iter_mut().zip(name.bytes()) {
            *dst = src as libc::c_char;
        }
        let mut flags = libc::IFF_TAP | libc::IFF_NO_PI | libc::IFF_VNET_HDR;
        if multi_queue {
            flags |= libc::IFF_MULTI_QUEUE;
        }
        req.ifr_ifru.ifru_flags = flags as libc::c_short;
        // SAFETY: TUNSETIFF reads and writes the `ifreq` it is given.
        let rc = unsafe { libc::ioctl(file.as_raw_fd(), libc::TUNSETIFF, &mut req) };
        assert_eq!(rc, 0, "open {name}: {}", std::io::Error::last_os_error());
        file
    })
    .join()
    .unwrap()
}

fn checksum(bytes: &[u8]) -> u16 {
    let mut sum: u32 = bytes
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// A DHCPDISCOVER from `mac` as the guest's kernel puts it on the wire:
/// 0.0.0.0:68 to 255.255.255.255:67, broadcast frame.
pub(crate) fn discover_frame(mac: [u8; 6], xid: u32) -> Vec<u8> {
    let discover = Message::request(MessageType::Discover, xid, mac);
    broadcast_frame(mac, [0, 0, 0, 0], &discover)
}

/// `message` from `mac` and address `from` (port 68) to the broadcast
/// address (port 67).
fn broadcast_frame(mac: [u8; 6], from: [u8; 4], message: &Message) -> Vec<u8> {
    let dhcp = message.encode();
    let udp_len = 8 + dhcp.len();
    let mut udp = vec![0, 68, 0, 67];
    udp.extend((udp_len as u16).to_be_bytes());
    udp.extend([0, 0]);
    udp.extend(&dhcp);
    let mut ip = vec![0x45, 0];
    ip.extend(((20 + udp_len) as u16).to_be_bytes());
    ip.extend([0, 0, 0, 0, 64, 17, 0, 0]);
    ip.extend(from);
    ip.extend([255, 255, 255, 255]);
    let sum = checksum(&ip);
    ip[10..12].copy_from_slice(&sum.to_be_bytes());
    let mut frame = vec![0u8; VNET_HDR_LEN];
    frame.extend([0xff; 6]);
    frame.extend(mac);
    frame.extend([0x08, 0x00]);
    frame.extend(ip);
    frame.extend(udp);
    frame
}

/// Ask as a guest's client does, again every half second (a bridge port
/// forwards only once its TAP has carrier, which opening it gives), until
/// an answer with `xid` comes or `wait` passes.
fn ask(tap: &File, mac: [u8; 6], xid: u32, wait: Duration) -> Option<Message> {
    let deadline = Instant::now() + wait;
    while Instant::now() < deadline {
        write_frame(tap, &discover_frame(mac, xid));
        if let Some(reply) = dhcp_reply(tap, xid, Duration::from_millis(500)) {
            return Some(reply);
        }
    }
    None
}

/// The DHCP reply with `xid` read from the TAP within `wait`, if any.
fn dhcp_reply(tap: &File, xid: u32, wait: Duration) -> Option<Message> {
    let deadline = Instant::now() + wait;
    while let Some(m) = next_dhcp_reply(tap, deadline) {
        if m.xid == xid {
            return Some(m);
        }
    }
    None
}

/// The next DHCP message to a client's port read from the TAP before
/// `deadline`, if any.
pub(crate) fn next_dhcp_reply(tap: &File, deadline: Instant) -> Option<Message> {
    let mut buf = [0u8; 65536];
    while Instant::now() < deadline {
        let mut pfd = libc::pollfd {
            fd: tap.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd, for the call's duration.
        if unsafe { libc::poll(&mut pfd, 1, 100) } <= 0 {
            continue;
        }
        // SAFETY: reads into `buf`, at most its length.
        let n = unsafe { libc::read(tap.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        let Ok(n) = usize::try_from(n) else { continue };
        let frame = &buf[VNET_HDR_LEN.min(n)..n];
        if frame.len() < 14 + 20 + 8 || frame[12..14] != [0x08, 0x00] || frame[14 + 9] != 17 {
            continue;
        }
        let ihl = usize::from(frame[14] & 0x0f) * 4;
        let udp = &frame[14 + ihl..];
        if udp.len() < 8 || udp[2..4] != 68u16.to_be_bytes() {
            continue;
        }
        if let Ok(m) = Message::decode(&udp[8..]) {
            return Some(m);
        }
    }
    None
}

pub(crate) fn write_frame(tap: &File, frame: &[u8]) {
    // SAFETY: writes `frame`, which lives for the call.
    let n = unsafe { libc::write(tap.as_raw_fd(), frame.as_ptr().cast(), frame.len()) };
    assert_eq!(
        n,
        frame.len() as isize,
        "{}",
        std::io::Error::last_os_error()
    );
}

/// `ip -d -j link show NAME` in the lab namespace `ns`.
fn link(lab: &Lab, ns: &str, name: &str) -> Value {
    let text = lab.exec_ok(ns, &format!("ip -d -j link show {name}"));
    serde_json::from_str::<Value>(&text).unwrap()[0].clone()
}

fn mac_of(v: &Value) -> [u8; 6] {
    naming::parse_mac(v["mac"].as_str().unwrap()).unwrap()
}

#[test]
fn vm_nics_are_taps_answered_by_dhcp_and_configured_for_each_hypervisor() {
    require_root!();
    let started = Instant::now();
    let mut lab = Lab::with_agents(WEFT, &["h1"]);
    let h1 = lab.netns_path("h1");
    lab.network_on("h1", "blue", 42);
    lab.bridge_on("h1", "br", "10.88.0.0/16");
    let nic0 = lab.weft_json("h1", &["attach", "blue", "--vm", "vm1", "--name", "vm1"]);
    let nic1 = lab.weft_json("h1", &["attach", "br", "--vm", "vm1", "--queues", "2"]);
    assert_eq!(nic0["kind"], "vm");
    assert_eq!(nic0["ifname"], "eth0");
    assert_eq!(nic0["host_ifname"], "w0-vm1-0");
    assert_eq!(nic0["address"], "10.42.1.2/32");
    assert_eq!(nic1["ifname"], "eth1");
    assert_eq!(nic1["host_ifname"], "fn-vm1-1");
    assert_eq!(nic1["queues"], 2);
    assert_eq!(mac_of(&nic0), naming::vm_mac("vm1", 0, 0));
    assert_eq!(mac_of(&nic1), naming::vm_mac("vm1", 1, 0));

    // The kernel's view: persistent TAPs with the flags hypervisors open
    // them with, weft's mark, routed or enslaved.
    let tap0 = link(&lab, "h1", "w0-vm1-0");
    let info = &tap0["linkinfo"]["info_data"];
    assert_eq!(tap0["linkinfo"]["info_kind"], "tun");
    assert_eq!(info["type"], "tap");
    assert_eq!(info["pi"], false);
    assert_eq!(info["vnet_hdr"], true);
    assert_eq!(info["multi_queue"], false);
    assert_eq!(info["persist"], true);
    assert_eq!(tap0["ifalias"], "weft:blue/vm1");
    assert_eq!(tap0["mtu"], 1420);
    let route = lab.exec_ok("h1", "ip -j route show 10.42.1.2");
    assert!(route.contains(r#""dev":"w0-vm1-0""#), "{route}");
    let tap1 = link(&lab, "h1", "fn-vm1-1");
    assert_eq!(tap1["linkinfo"]["info_data"]["multi_queue"], true);
    assert_eq!(tap1["master"], "weft-br0");
    assert_eq!(tap1["mtu"], 1500);

    // What each hypervisor is told, in NIC order.
    let (m0, m1) = (nic0["mac"].as_str().unwrap(), nic1["mac"].as_str().unwrap());
    assert_eq!(
        lab.weft_ok(
            "h1",
            &["vm", "config", "vm1", "--hypervisor", "cloud-hypervisor"]
        ),
        format!("--net tap=w0-vm1-0,mac={m0} tap=fn-vm1-1,mac={m1},num_queues=4\n")
    );
    assert_eq!(
        lab.weft_ok("h1", &["vm", "config", "vm1", "--hypervisor", "qemu"]),
        format!(
            "-netdev tap,id=net0,ifname=w0-vm1-0,script=no,downscript=no \
             -device virtio-net-pci,netdev=net0,mac={m0} \
             -netdev tap,id=net1,ifname=fn-vm1-1,script=no,downscript=no,queues=2 \
             -device virtio-net-pci,netdev=net1,mac={m1},mq=on,vectors=6\n"
        )
    );
    assert_eq!(
        lab.weft_ok("h1", &["vm", "config", "vm1", "--guest", "kernel-ip"]),
        "ip=10.42.1.2::10.42.1.1:255.255.0.0:vm1:eth0:off:10.42.1.1\n"
    );
    // Firecracker opens TAPs single-queue: the multi-queue NIC is refused,
    // naming it.
    let out = lab.weft(
        "h1",
        &["vm", "config", "vm1", "--hypervisor", "firecracker"],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("NIC eth1 has 2 queue pairs"),
        "{err}"
    );
    let out = lab.weft("h1", &["vm", "config", "nope", "--hypervisor", "qemu"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no VM \"nope\" is attached on this host"),
        "{err}"
    );

    // DHCP through the TAPs, as the guest would ask.
    let tap = open_tap(&h1, "w0-vm1-0", false);
    let offer = ask(&tap, mac_of(&nic0), 0x1001, Duration::from_secs(5))
        .expect("an offer on the routed TAP");
    assert_eq!(offer.message_type(), Ok(MessageType::Offer));
    assert_eq!(offer.yiaddr.to_string(), "10.42.1.2");
    assert_eq!(offer.options[&opt::SUBNET_MASK], [255, 255, 255, 255]);
    assert_eq!(offer.options[&opt::DNS_SERVERS], [10, 42, 1, 1]);
    assert_eq!(offer.options[&opt::DOMAIN_NAME], b"mesh.local");
    assert_eq!(offer.options[&opt::INTERFACE_MTU], 1420u16.to_be_bytes());
    assert_eq!(
        offer.options[&opt::CLASSLESS_ROUTES],
        [32, 10, 42, 1, 1, 0, 0, 0, 0, 0, 10, 42, 1, 1]
    );
    // Another MAC on the same TAP: silence.
    let foreign = [0x02, 0x66, 0x66, 0x66, 0x66, 0x66];
    assert!(
        ask(&tap, foreign, 0x1002, Duration::from_secs(2)).is_none(),
        "a foreign MAC was answered"
    );
    drop(tap);
    let tap = open_tap(&h1, "fn-vm1-1", true);
    let offer = ask(&tap, mac_of(&nic1), 0x2001, Duration::from_secs(5))
        .expect("an offer on the bridge port");
    assert_eq!(offer.yiaddr.to_string(), "10.88.0.2");
    assert_eq!(offer.options[&opt::SUBNET_MASK], [255, 255, 0, 0]);
    assert!(
        !offer.options.contains_key(&opt::ROUTER),
        "the second NIC gets no default route"
    );
    drop(tap);

    // kill -9: the TAPs stay as they are (a running guest keeps its NICs),
    // and the new agent answers DHCP again.
    let index = link(&lab, "h1", "w0-vm1-0")["ifindex"].clone();
    lab.kill_agent("h1");
    lab.start_agent("h1");
    assert_eq!(
        link(&lab, "h1", "w0-vm1-0")["ifindex"],
        index,
        "the TAP was made again"
    );
    let tap = open_tap(&h1, "w0-vm1-0", false);
    let offer = ask(&tap, mac_of(&nic0), 0x3001, Duration::from_secs(10))
        .expect("an offer after the restart");
    assert_eq!(offer.yiaddr.to_string(), "10.42.1.2");
    drop(tap);

    // Drift: a TAP deleted by hand is made again by the running agent,
    // marked and routed, and its DHCP responder binds to the new link.
    lab.exec_ok("h1", "ip link del w0-vm1-0");
    let remade = wait_for_value(
        "the agent to make w0-vm1-0 again",
        Duration::from_secs(15),
        || {
            let out = lab.exec("h1", "ip -d -j link show w0-vm1-0");
            serde_json::from_slice::<Value>(&out.stdout)
                .ok()
                .map(|v| v[0].clone())
        },
        |link| {
            link.as_ref()
                .is_some_and(|l| l["ifalias"] == "weft:blue/vm1")
        },
    )
    .unwrap();
    assert_ne!(remade["ifindex"], index);
    assert_eq!(remade["linkinfo"]["info_data"]["vnet_hdr"], true);
    let route = lab.exec_ok("h1", "ip -j route show 10.42.1.2");
    assert!(route.contains(r#""dev":"w0-vm1-0""#), "{route}");
    let tap = open_tap(&h1, "w0-vm1-0", false);
    let offer = ask(&tap, mac_of(&nic0), 0x4001, Duration::from_secs(10))
        .expect("an offer on the TAP made again");
    assert_eq!(offer.yiaddr.to_string(), "10.42.1.2");
    drop(tap);

    // On an internal network a rebinding guest (its own address, to the
    // broadcast address) still reaches the responder.
    lab.weft_ok(
        "h1",
        &[
            "network",
            "create",
            "green",
            "--subnet",
            "10.44.0.0/16",
            "--internal",
        ],
    );
    let green = lab.weft_json("h1", &["attach", "green", "--vm", "vm3"]);
    assert_eq!(green["address"], "10.44.0.2/32");
    let tap = open_tap(&h1, green["host_ifname"].as_str().unwrap(), false);
    let mut rebind = Message::request(MessageType::Request, 0x5001, mac_of(&green));
    rebind.ciaddr = "10.44.0.2".parse().unwrap();
    rebind.flags = weft_dhcp::message::FLAG_BROADCAST;
    let frame = broadcast_frame(mac_of(&green), [10, 44, 0, 2], &rebind);
    let deadline = Instant::now() + Duration::from_secs(10);
    let ack = loop {
        write_frame(&tap, &frame);
        if let Some(reply) = dhcp_reply(&tap, 0x5001, Duration::from_millis(500)) {
            break reply;
        }
        assert!(
            Instant::now() < deadline,
            "no answer to a rebinding guest on an internal network"
        );
    };
    assert_eq!(ack.message_type(), Ok(MessageType::Ack));
    assert_eq!(ack.yiaddr.to_string(), "10.44.0.2");
    drop(tap);
    lab.weft_ok("h1", &["detach", "green", "--id", "vm3"]);

    // Detach: the TAP goes, its address is free again.
    lab.weft_ok("h1", &["detach", "blue", "--id", "vm1"]);
    let out = lab.exec("h1", "ip link show w0-vm1-0");
    assert!(!out.status.success(), "the TAP outlived its detach");
    let left = lab.weft_json("h1", &["attachments"]);
    assert_eq!(left.as_array().unwrap().len(), 1);
    assert_eq!(left[0]["network"], "br");
    let again = lab.weft_json("h1", &["attach", "blue", "--vm", "vm2"]);
    assert_eq!(again["address"], "10.42.1.2/32");
    lab.weft_ok("h1", &["detach", "blue", "--id", "vm2"]);
    lab.weft_ok("h1", &["detach", "br", "--id", "vm1"]);
    let links = lab.exec_ok("h1", "ip -br link");
    assert!(
        !links.contains("vm1-") && !links.contains("vm2-"),
        "TAPs left: {links}"
    );
    eprintln!("wall time {:?}", started.elapsed());
    lab.finish();
}
