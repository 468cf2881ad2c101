//! Privileged: the real `nft` inside throwaway network namespaces. Every
//! namespace is anonymous (it disappears with its handle, even when a test
//! panics), so nothing on the host is ever touched.

use std::net::{SocketAddr, UdpSocket};
use std::process::{Command, Stdio};
use std::time::Duration;

use std::collections::BTreeMap;

use weft_firewall::{
    Applied, BridgePort, BridgePorts, Firewall, HostServices, IfMatch, Listed, LocalGateway,
    NetworkRules, VxlanSources, ruleset,
};
use weft_net::{IpNet, Netlink, Netns, Route, set_sysctl};

use weft_testkit::{ping_from, require_root};

fn blue() -> NetworkRules {
    NetworkRules {
        name: "blue".into(),
        subnets: vec!["10.42.0.0/16".parse().unwrap()],
        interfaces: vec![IfMatch::Exact("wg0".into()), IfMatch::Prefix("w0-".into())],
        internal: false,
        bridge_ports: None,
        host_services: None,
        vxlan: None,
    }
}

fn red_internal() -> NetworkRules {
    NetworkRules {
        name: "red".into(),
        subnets: vec!["10.43.0.0/16".parse().unwrap()],
        interfaces: vec![IfMatch::Exact("wg1".into()), IfMatch::Prefix("w1-".into())],
        internal: true,
        bridge_ports: None,
        host_services: Some(HostServices {
            address: "10.43.1.1".parse().unwrap(),
            tcp_ports: vec![53, 7945],
            udp_ports: vec![53],
        }),
        vxlan: None,
    }
}

/// Network `i` of many: a /24 of 10.100.0.0/14, `wg<i>` and `w<i>-*`;
/// every third internal.
fn numbered(i: usize) -> NetworkRules {
    NetworkRules {
        name: format!("net{i}"),
        subnets: vec![
            format!("10.{}.{}.0/24", 100 + i / 256, i % 256)
                .parse()
                .unwrap(),
        ],
        interfaces: vec![
            IfMatch::Exact(format!("wg{i}")),
            IfMatch::Prefix(format!("w{i}-")),
        ],
        internal: i.is_multiple_of(3),
        bridge_ports: None,
        host_services: None,
        vxlan: None,
    }
}

/// What `networks` need, as a listing of it must read.
fn wanted(networks: &[NetworkRules]) -> Listed {
    match ruleset(networks).unwrap() {
        Some(table) => Listed::Table(table),
        None => Listed::Absent,
    }
}

/// Every object of table inet weft in a JSON listing, with its handle:
/// `chain NAME`, `set NAME`, `map NAME`, `rule CHAIN #i` (i-th of its
/// chain) and `table`, each with its handle and (for rules) expression.
fn handles(listing: &str) -> BTreeMap<String, String> {
    let listing: serde_json::Value = serde_json::from_str(listing).unwrap();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut out = BTreeMap::new();
    for object in listing["nftables"].as_array().unwrap() {
        let (kind, body) = object.as_object().unwrap().iter().next().unwrap();
        let key = match kind.as_str() {
            "metainfo" => continue,
            "table" => "table".to_string(),
            "rule" => {
                let chain = body["chain"].as_str().unwrap();
                let n = seen.entry(chain.to_owned()).or_default();
                *n += 1;
                format!("rule {chain} #{n}")
            }
            _ => format!("{kind} {}", body["name"].as_str().unwrap()),
        };
        let value = match kind.as_str() {
            "rule" => format!("{} {}", body["handle"], body["expr"]),
            _ => body["handle"].to_string(),
        };
        out.insert(key, value);
    }
    out
}

/// How many rules table inet weft has, from a JSON listing.
fn rule_count(listing: &str) -> usize {
    let listing: serde_json::Value = serde_json::from_str(listing).unwrap();
    listing["nftables"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o.get("rule").is_some())
        .count()
}

/// Runs `nft ARGS` inside `ns`, feeding `stdin`; panics on failure.
fn nft(ns: &Netns, args: &[&str], stdin: Option<&str>) -> String {
    let mut child = Command::new("nsenter")
        .arg(format!("--net={}", ns.proc_path().display()))
        .arg("nft")
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run nsenter nft");
    if let Some(input) = stdin {
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "nft {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The (family, name) of every table in `nft -j list ruleset`.
fn tables(ns: &Netns) -> Vec<(String, String)> {
    let listing: serde_json::Value =
        serde_json::from_str(&nft(ns, &["-j", "list", "ruleset"], None)).unwrap();
    listing["nftables"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|o| o.get("table"))
        .map(|t| {
            (
                t["family"].as_str().unwrap().to_owned(),
                t["name"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// The chain names of table inet weft (sorted), from its JSON listing.
fn weft_chains(listing: &str) -> Vec<String> {
    if listing.is_empty() {
        return Vec::new();
    }
    let listing: serde_json::Value = serde_json::from_str(listing).unwrap();
    let mut names: Vec<String> = listing["nftables"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|o| o.get("chain"))
        .map(|c| c["name"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    names
}

const FOREIGN: &str = "table inet other {
    chain c {
        type filter hook forward priority 10; policy accept;
        ip daddr 192.0.2.1 counter accept
    }
}
";

#[test]
fn apply_is_idempotent_replaces_and_removes_and_never_touches_other_tables() {
    require_root!();
    let ns = Netns::new_anonymous().unwrap();
    let fw = Firewall::in_netns(ns.proc_path());
    nft(&ns, &["-f", "-"], Some(FOREIGN));
    let foreign = || nft(&ns, &["-j", "list", "table", "inet", "other"], None);
    let foreign_before = foreign();

    assert_eq!(fw.list_json().unwrap(), "", "no weft table yet");

    // Apply: only table inet weft appears, with the chains we build.
    let both = [blue(), red_internal()];
    assert_eq!(fw.apply(&both).unwrap(), Applied::Created);
    assert_eq!(
        tables(&ns),
        vec![
            ("inet".into(), "other".into()),
            ("inet".into(), "weft".into())
        ]
    );
    let first = fw.list_json().unwrap();
    assert_eq!(
        weft_chains(&first),
        [
            "forward",
            "fwd-from-blue",
            "fwd-from-red",
            "in-from-blue",
            "in-from-red",
            "input",
            "postrouting",
            "prerouting",
            "vxlan-in"
        ]
    );
    // What nft lists back is exactly what we built (this is what lets
    // apply recognise an up-to-date table).
    assert_eq!(Listed::parse(&first), wanted(&both));
    eprintln!(
        "nft list table inet weft:\n{}",
        nft(&ns, &["list", "table", "inet", "weft"], None)
    );

    // Apply again (an agent restart): nothing changes, byte for byte.
    let ruleset_before = nft(&ns, &["-j", "list", "ruleset"], None);
    assert_eq!(fw.apply(&both).unwrap(), Applied::Unchanged);
    assert_eq!(fw.list_json().unwrap(), first);
    assert_eq!(nft(&ns, &["-j", "list", "ruleset"], None), ruleset_before);

    // Someone deletes one of our rules: the next apply puts it back.
    let handle = {
        let listing: serde_json::Value = serde_json::from_str(&first).unwrap();
        listing["nftables"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|o| o.get("rule"))
            .find(|r| r["chain"] == "fwd-from-blue")
            .map(|r| r["handle"].to_string())
            .unwrap()
    };
    nft(
        &ns,
        &[
            "delete",
            "rule",
            "inet",
            "weft",
            "fwd-from-blue",
            "handle",
            &handle,
        ],
        None,
    );
    assert_ne!(Listed::parse(&fw.list_json().unwrap()), wanted(&both));
    assert_eq!(fw.apply(&both).unwrap(), Applied::Updated);
    assert_eq!(Listed::parse(&fw.list_json().unwrap()), wanted(&both));

    // Someone replaces the table with one that is not weft's: replaced.
    nft(&ns, &["delete", "table", "inet", "weft"], None);
    nft(
        &ns,
        &["-f", "-"],
        Some(
            "table inet weft {\n counter c {\n }\n chain forward {\n  type filter hook forward priority 0;\n }\n}\n",
        ),
    );
    assert_eq!(Listed::parse(&fw.list_json().unwrap()), Listed::Unknown);
    assert_eq!(fw.apply(&both).unwrap(), Applied::Replaced);
    assert_eq!(Listed::parse(&fw.list_json().unwrap()), wanted(&both));

    // One network fewer: red's chains and every rule and element naming its
    // interfaces or subnet are gone.
    assert_eq!(fw.apply(&[blue()]).unwrap(), Applied::Updated);
    let blue_only = fw.list_json().unwrap();
    assert_eq!(
        weft_chains(&blue_only),
        [
            "forward",
            "fwd-from-blue",
            "in-from-blue",
            "input",
            "postrouting",
            "prerouting",
            "vxlan-in"
        ]
    );
    for gone in ["wg1", "w1-", "10.43.0.0", "red"] {
        assert!(!blue_only.contains(gone), "{gone} still in {blue_only}");
    }
    assert_eq!(Listed::parse(&blue_only), wanted(&[blue()]));

    // Nothing left: no weft table at all; removing twice is fine.
    assert_eq!(fw.apply(&[]).unwrap(), Applied::Removed);
    assert_eq!(fw.list_json().unwrap(), "");
    assert_eq!(tables(&ns), vec![("inet".into(), "other".into())]);
    assert_eq!(fw.remove().unwrap(), Applied::Unchanged);

    assert_eq!(foreign(), foreign_before, "table inet other was touched");
}

#[test]
fn a_refused_batch_leaves_the_previous_table_in_force() {
    require_root!();
    let ns = Netns::new_anonymous().unwrap();
    let fw = Firewall::in_netns(ns.proc_path());
    fw.apply(&[blue()]).unwrap();
    let before = fw.list_json().unwrap();

    // A wrapper hands nft a batch shaped like ours (add, delete and re-add
    // the table) whose last rule names a chain that does not exist. nft
    // refuses it, and since the batch is one transaction the delete that
    // came before the bad rule must not have happened either.
    let bad_batch = r#"{"nftables":[{"add":{"table":{"family":"inet","name":"weft"}}},{"delete":{"table":{"family":"inet","name":"weft"}}},{"add":{"table":{"family":"inet","name":"weft"}}},{"add":{"rule":{"family":"inet","table":"weft","chain":"nope","expr":[{"accept":null}]}}}]}"#;
    let wrapper = tempfile_script(&format!(
        "#!/bin/sh\nif [ \"$2\" = \"-f\" ]; then cat >/dev/null; echo '{bad_batch}' | nft \"$1\" -f -; exit $?; fi\nexec nft \"$@\"\n"
    ));
    let broken = Firewall::in_netns(ns.proc_path()).with_nft(wrapper.path());
    let err = broken
        .apply(&[blue(), red_internal()])
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("apply nftables ruleset (table inet weft): nft: ")
            && err.contains("Error: Could not process rule: No such file or directory"),
        "{err}"
    );

    // An nft that swallows the batch and claims success is caught too.
    let silent = tempfile_script(
        "#!/bin/sh\nif [ \"$2\" = \"-f\" ]; then cat >/dev/null; exit 0; fi\nexec nft \"$@\"\n",
    );
    let liar = Firewall::in_netns(ns.proc_path()).with_nft(silent.path());
    let err = liar
        .apply(&[blue(), red_internal()])
        .unwrap_err()
        .to_string();
    assert!(err.contains("does not read back"), "{err}");
    assert_eq!(
        fw.list_json().unwrap(),
        before,
        "a failed apply changed the table"
    );
}

/// An nft that logs every run (its arguments) before doing it; the log
/// is in the script's directory and goes with it.
struct LoggingNft(TempScript);

impl LoggingNft {
    fn new() -> Self {
        LoggingNft(tempfile_script(
            "#!/bin/sh\necho \"$*\" >>\"$(dirname \"$0\")/log\"\nexec nft \"$@\"\n",
        ))
    }

    fn path(&self) -> std::path::PathBuf {
        self.0.path()
    }

    /// The runs since the last call, in order.
    fn runs(&self) -> Vec<String> {
        let log = self.0.dir.join("log");
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let _ = std::fs::remove_file(&log);
        text.lines().map(str::to_owned).collect()
    }
}

/// A shell script in a temporary file, executable; removed when dropped.
fn tempfile_script(text: &str) -> TempScript {
    use std::os::unix::fs::PermissionsExt;
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("weft-fw-test-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("nft-wrapper");
    std::fs::write(&path, text).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    TempScript { dir }
}

struct TempScript {
    dir: std::path::PathBuf,
}

impl TempScript {
    fn path(&self) -> std::path::PathBuf {
        self.dir.join("nft-wrapper")
    }
}

impl Drop for TempScript {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

// ---------------------------------------------------------------------------
// Real traffic.

fn net(s: &str) -> IpNet {
    s.parse().unwrap()
}

fn link_index(nl: &mut Netlink, name: &str) -> u32 {
    nl.link_by_name(name)
        .unwrap()
        .unwrap_or_else(|| panic!("no link {name}"))
        .index
}

/// One end of a namespace pair as the tests use it: a host-side veth in H
/// named `host_if` with the host address `host_ip/32`, and the workload's
/// `eth0` in `ns` with `ip/32`, routes both ways, a default route via the
/// host.
fn attach(h: &mut Netlink, host_if: &str, host_ip: &str, ns: &Netns, ip: &str) {
    h.create_veth(host_if, "eth0", Some(ns)).unwrap();
    let hi = link_index(h, host_if);
    h.add_address(hi, net(&format!("{host_ip}/32"))).unwrap();
    h.set_up(hi).unwrap();
    h.add_route(&Route::link(net(&format!("{ip}/32")), hi))
        .unwrap();

    let mut w = Netlink::in_netns(ns).unwrap();
    let wi = link_index(&mut w, "eth0");
    w.add_address(wi, net(&format!("{ip}/32"))).unwrap();
    w.set_up(wi).unwrap();
    let lo = link_index(&mut w, "lo");
    w.set_up(lo).unwrap();
    w.add_route(&Route::link(net(&format!("{host_ip}/32")), wi))
        .unwrap();
    w.add_route(&Route::via(
        net("0.0.0.0/0"),
        host_ip.parse().unwrap(),
        Some(wi),
    ))
    .unwrap();
}

fn ping(from: &Netns, to: &str, attempts: usize) -> bool {
    ping_from(&from.proc_path(), to, attempts)
}

/// H's uplink `uplink` (198.51.100.1/24) to W's `eth0` (198.51.100.2/24),
/// with forwarding on in H; returns W's netlink and its `eth0` index.
fn uplink(h: &mut Netlink, h_ns: &Netns, w_ns: &Netns) -> (Netlink, u32) {
    h.create_veth("uplink", "eth0", Some(w_ns)).unwrap();
    let up = link_index(h, "uplink");
    h.add_address(up, net("198.51.100.1/24")).unwrap();
    h.set_up(up).unwrap();
    let mut w = Netlink::in_netns(w_ns).unwrap();
    let we = link_index(&mut w, "eth0");
    w.add_address(we, net("198.51.100.2/24")).unwrap();
    w.set_up(we).unwrap();
    set_sysctl(h_ns, "net/ipv4/ip_forward", "1").unwrap();
    (w, we)
}

/// A UDP socket listening inside `ns` on `addr`.
fn listen_udp(ns: &Netns, addr: &str) -> UdpSocket {
    let addr: SocketAddr = addr.parse().unwrap();
    let socket = ns.run(|| UdpSocket::bind(addr)).unwrap().unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(700)))
        .unwrap();
    socket
}

/// Sends one datagram from inside `ns` to `to`, and returns the source
/// address `listener` saw it come from, if it arrived.
fn udp_source_seen(ns: &Netns, to: &str, listener: &UdpSocket) -> Option<SocketAddr> {
    udp_seen_from(ns, "0.0.0.0", to, listener)
}

/// Sends one datagram from inside `ns`, bound to `source`, to `to`; the
/// source address `listener` saw it come from, if it arrived. Tries three
/// times: the first packet on a fresh link can be lost to neighbour
/// discovery. Each call's datagrams carry their own token, so a late
/// datagram of an earlier call (a retry that also got through) is never
/// taken for this one's.
fn udp_seen_from(ns: &Netns, source: &str, to: &str, listener: &UdpSocket) -> Option<SocketAddr> {
    static CALLS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let token = format!(
        "who am i {}",
        CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    let to: SocketAddr = to.parse().unwrap();
    let from: SocketAddr = format!("{source}:0").parse().unwrap();
    let sender = ns.run(|| UdpSocket::bind(from)).unwrap().unwrap();
    let mut buf = [0u8; 64];
    for _ in 0..3 {
        sender.send_to(token.as_bytes(), to).unwrap();
        while let Ok((n, from)) = listener.recv_from(&mut buf) {
            if buf[..n] == *token.as_bytes() {
                return Some(from);
            }
        }
    }
    None
}

#[test]
fn blue_and_red_cannot_reach_each_other_and_only_blue_is_masqueraded() {
    require_root!();
    // H: the host. A: a blue workload, B: a red (internal) workload,
    // W: the outside world behind H's uplink; W has no route back to weft's
    // subnets, so it can only answer a masqueraded A.
    let h_ns = Netns::new_anonymous().unwrap();
    let a_ns = Netns::new_anonymous().unwrap();
    let b_ns = Netns::new_anonymous().unwrap();
    let w_ns = Netns::new_anonymous().unwrap();
    let mut h = Netlink::in_netns(&h_ns).unwrap();
    attach(&mut h, "w0-a", "10.42.1.1", &a_ns, "10.42.1.2");
    attach(&mut h, "w1-b", "10.43.1.1", &b_ns, "10.43.1.2");

    uplink(&mut h, &h_ns, &w_ns);

    let world = listen_udp(&w_ns, "198.51.100.2:9999");

    // Before weft's rules: everything flows, unmasqueraded — so every
    // failure below is the firewall's doing.
    assert!(ping(&a_ns, "10.43.1.2", 3), "A -> B before apply");
    assert!(
        ping(&a_ns, "10.43.1.1", 3),
        "A -> H's red address before apply"
    );
    assert_eq!(
        udp_source_seen(&a_ns, "198.51.100.2:9999", &world).map(|s| s.ip().to_string()),
        Some("10.42.1.2".into()),
        "A -> W before apply, not masqueraded"
    );
    assert_eq!(
        udp_source_seen(&b_ns, "198.51.100.2:9999", &world).map(|s| s.ip().to_string()),
        Some("10.43.1.2".into()),
        "B -> W before apply"
    );
    assert!(
        !ping(&a_ns, "198.51.100.2", 1),
        "W cannot answer an unmasqueraded A"
    );

    let fw = Firewall::in_netns(h_ns.proc_path());
    assert_eq!(
        fw.apply(&[blue(), red_internal()]).unwrap(),
        Applied::Created
    );

    assert!(!ping(&a_ns, "10.43.1.2", 2), "A -> B after apply");
    assert!(!ping(&b_ns, "10.42.1.2", 2), "B -> A after apply");
    assert!(
        !ping(&a_ns, "10.43.1.1", 2),
        "A -> H's red address after apply"
    );
    assert!(
        ping(&a_ns, "10.42.1.1", 3),
        "A -> H's blue address after apply"
    );
    assert!(
        ping(&b_ns, "10.43.1.1", 3),
        "B -> H's red address after apply"
    );

    // Egress: blue is masqueraded behind H's uplink address (and W can now
    // answer it); internal red gets nowhere.
    assert_eq!(
        udp_source_seen(&a_ns, "198.51.100.2:9999", &world).map(|s| s.ip().to_string()),
        Some("198.51.100.1".into()),
        "A -> W after apply, masqueraded"
    );
    assert!(ping(&a_ns, "198.51.100.2", 3), "A <-> W through masquerade");
    assert_eq!(
        udp_source_seen(&b_ns, "198.51.100.2:9999", &world),
        None,
        "internal B reached W"
    );
    assert!(!ping(&b_ns, "198.51.100.2", 1));

    // A third network, added in place, changes nothing for the first two.
    let mut green = numbered(5);
    green.name = "green".into();
    assert_eq!(
        fw.apply(&[blue(), red_internal(), green]).unwrap(),
        Applied::Updated
    );
    assert!(!ping(&a_ns, "10.43.1.2", 2), "A -> B after adding green");
    assert!(!ping(&b_ns, "10.42.1.2", 2), "B -> A after adding green");
    assert!(ping(&a_ns, "10.42.1.1", 3), "A -> H after adding green");
    assert_eq!(
        udp_source_seen(&a_ns, "198.51.100.2:9999", &world).map(|s| s.ip().to_string()),
        Some("198.51.100.1".into()),
        "A -> W after adding green, masqueraded"
    );
    // And removing red, in place, lets A reach B's address only through
    // the host's own forwarding (no weft rule for red any more), while A is
    // still masqueraded.
    assert_eq!(fw.apply(&[blue()]).unwrap(), Applied::Updated);
    assert_eq!(
        udp_source_seen(&a_ns, "198.51.100.2:9999", &world).map(|s| s.ip().to_string()),
        Some("198.51.100.1".into()),
        "A -> W after removing red, masqueraded"
    );

    // Removing the networks' rules restores the host as it was.
    fw.apply(&[]).unwrap();
    assert!(ping(&a_ns, "10.43.1.2", 3), "A -> B after removal");
}

#[test]
fn dual_stack_networks_read_back_equal_so_reapplying_changes_nothing() {
    require_root!();
    let ns = Netns::new_anonymous().unwrap();
    let fw = Firewall::in_netns(ns.proc_path());
    let mut nets = [blue(), red_internal()];
    nets[0].subnets.push("fd42::/48".parse().unwrap());
    nets[1].subnets.push("fd43::/48".parse().unwrap());
    nets[1].interfaces.push(IfMatch::Exact("weft-br1".into()));
    assert_eq!(fw.apply(&nets).unwrap(), Applied::Created);
    let listing = fw.list_json().unwrap();
    assert_eq!(Listed::parse(&listing), wanted(&nets));
    assert_eq!(fw.apply(&nets).unwrap(), Applied::Unchanged);
    assert_eq!(fw.list_json().unwrap(), listing);
    fw.remove().unwrap();
    assert_eq!(fw.list_json().unwrap(), "");
}

#[test]
fn adding_or_removing_a_network_leaves_the_others_objects_untouched() {
    require_root!();
    let ns = Netns::new_anonymous().unwrap();
    let fw = Firewall::in_netns(ns.proc_path());
    let mut nets: Vec<NetworkRules> = (1..=6).map(numbered).collect();
    assert_eq!(fw.apply(&nets).unwrap(), Applied::Created);
    let before = handles(&fw.list_json().unwrap());

    // Added: every object that was there keeps its handle (and each rule
    // its place and expression); only net7's chains and rules are new.
    nets.push(numbered(7));
    assert_eq!(fw.apply(&nets).unwrap(), Applied::Updated);
    let after = handles(&fw.list_json().unwrap());
    for (object, handle) in &before {
        assert_eq!(after.get(object), Some(handle), "{object} changed");
    }
    let new: Vec<&String> = after.keys().filter(|k| !before.contains_key(*k)).collect();
    assert!(!new.is_empty());
    for object in &new {
        assert!(object.contains("-net7"), "{object} is new but not net7's");
    }
    assert_eq!(Listed::parse(&fw.list_json().unwrap()), wanted(&nets));

    // Removed (net3, in the middle): the others' chains and rules keep
    // their handles; only net3's are gone.
    nets.retain(|n| n.name != "net3");
    assert_eq!(fw.apply(&nets).unwrap(), Applied::Updated);
    let removed = handles(&fw.list_json().unwrap());
    for (object, handle) in &after {
        if object.contains("-net3") {
            assert!(!removed.contains_key(object), "{object} left behind");
        } else {
            assert_eq!(removed.get(object), Some(handle), "{object} changed");
        }
    }
    assert_eq!(Listed::parse(&fw.list_json().unwrap()), wanted(&nets));
    fw.remove().unwrap();
}

#[test]
fn the_kernels_rule_count_grows_linearly_with_the_networks() {
    require_root!();
    let ns = Netns::new_anonymous().unwrap();
    let fw = Firewall::in_netns(ns.proc_path());
    // Networks 1…n, added in steps of 30 (a multiple of 3, so each step
    // adds as many internal networks as the last).
    let mut counts = Vec::new();
    for n in [1, 31, 61, 91] {
        let nets: Vec<NetworkRules> = (1..=n).map(numbered).collect();
        let start = std::time::Instant::now();
        fw.apply(&nets).unwrap();
        let took = start.elapsed();
        let listing = fw.list_json().unwrap();
        assert_eq!(Listed::parse(&listing), wanted(&nets));
        let rules = rule_count(&listing);
        eprintln!("{n} networks: {rules} rules, applied in {took:?}");
        counts.push(rules);
    }
    let steps: Vec<usize> = counts.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(
        steps.iter().all(|s| *s == steps[0]),
        "rules {counts:?} do not grow by the same amount per step: {steps:?}"
    );
    assert!(steps[0] <= 11 * 30, "{} rules per 30 networks", steps[0]);
    fw.remove().unwrap();
}

#[test]
fn a_known_table_is_not_listed_again_and_a_hand_edit_is_noticed() {
    require_root!();
    let ns = Netns::new_anonymous().unwrap();
    let wrapper = LoggingNft::new();
    let runs = || wrapper.runs();
    let fw = Firewall::in_netns(ns.proc_path()).with_nft(wrapper.path());
    let mut nets: Vec<NetworkRules> = (1..=20).map(numbered).collect();

    // First call: table bridge weft (no bridge networks here) is made
    // sure gone, once; the inet table is not known, so it is listed; then
    // created.
    assert_eq!(fw.apply(&nets).unwrap(), Applied::Created);
    assert_eq!(runs(), ["-j -f -", "-j list table inet weft", "-j -f -"]);
    // Known and unchanged since: no nft at all.
    assert_eq!(fw.apply(&nets).unwrap(), Applied::Unchanged);
    assert!(runs().is_empty());
    // One more network: one nft run, no listing.
    nets.push(numbered(21));
    assert_eq!(fw.apply(&nets).unwrap(), Applied::Updated);
    assert_eq!(runs(), ["-j -f -"]);
    assert_eq!(Listed::parse(&fw.list_json().unwrap()), wanted(&nets));
    runs();

    // A change by anyone else (here in another table) moves the
    // generation: the next call lists again, finds weft's table intact.
    // (Table bridge weft, absent here, is checked the same way.)
    nft(&ns, &["add", "table", "inet", "other"], None);
    assert_eq!(fw.apply(&nets).unwrap(), Applied::Unchanged);
    assert_eq!(
        runs(),
        ["-j list table bridge weft", "-j list table inet weft"]
    );
    // A hand edit of weft's table is listed, seen and repaired.
    nft(
        &ns,
        &["flush", "chain", "inet", "weft", "fwd-from-net4"],
        None,
    );
    assert_eq!(fw.apply(&nets).unwrap(), Applied::Updated);
    assert_eq!(
        runs(),
        [
            "-j list table bridge weft",
            "-j list table inet weft",
            "-j -f -"
        ]
    );
    assert_eq!(Listed::parse(&fw.list_json().unwrap()), wanted(&nets));
    runs();

    // A clone shares what is known.
    let clone = fw.clone();
    assert_eq!(clone.apply(&nets).unwrap(), Applied::Unchanged);
    assert!(runs().is_empty());
    assert_eq!(fw.remove().unwrap(), Applied::Removed);
}

/// Whether a datagram from inside `ns`, from `source` (an address the test
/// added to the workload's own interface: a forged one), reaches `listener`.
fn udp_from_arrives(ns: &Netns, source: &str, to: &str, listener: &UdpSocket) -> bool {
    udp_seen_from(ns, source, to, listener).is_some()
}

/// Packets counted by the rules of `chain` that end in a counter.
fn dropped_in(fw: &Firewall, chain: &str) -> u64 {
    let listing: serde_json::Value = serde_json::from_str(&fw.list_json().unwrap()).unwrap();
    listing["nftables"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|o| o.get("rule"))
        .filter(|r| r["chain"] == chain)
        .flat_map(|r| r["expr"].as_array().unwrap().iter())
        .filter_map(|s| s.get("counter"))
        .map(|c| c["packets"].as_u64().unwrap())
        .sum()
}

#[test]
fn forged_sources_are_dropped_and_counted_and_internal_reaches_only_weft_services() {
    require_root!();
    // H: the host, with an uplink to W (the world). A and C: blue
    // workloads; B: a red (internal) workload.
    let h_ns = Netns::new_anonymous().unwrap();
    let a_ns = Netns::new_anonymous().unwrap();
    let b_ns = Netns::new_anonymous().unwrap();
    let c_ns = Netns::new_anonymous().unwrap();
    let w_ns = Netns::new_anonymous().unwrap();
    let mut h = Netlink::in_netns(&h_ns).unwrap();
    attach(&mut h, "w0-a", "10.42.1.1", &a_ns, "10.42.1.2");
    attach(&mut h, "w0-c", "10.42.1.1", &c_ns, "10.42.1.3");
    attach(&mut h, "w1-b", "10.43.1.1", &b_ns, "10.43.1.2");
    let (mut w, we) = uplink(&mut h, &h_ns, &w_ns);
    // W routes everything back to H, so a forged source that got through
    // would be seen (and answered) there.
    w.add_route(&Route::via(
        net("0.0.0.0/0"),
        "198.51.100.1".parse().unwrap(),
        Some(we),
    ))
    .unwrap();

    // A forges its neighbour C's address, red's B, and an outside one.
    let forged = ["10.42.1.3", "10.43.1.2", "203.0.113.7"];
    let mut a = Netlink::in_netns(&a_ns).unwrap();
    let ae = link_index(&mut a, "eth0");
    for ip in forged {
        a.add_address(ae, net(&format!("{ip}/32"))).unwrap();
    }
    let world = listen_udp(&w_ns, "198.51.100.2:9999");
    let host = listen_udp(&h_ns, "10.42.1.1:9998");
    // Without weft's rules every forged datagram arrives: what follows is
    // the firewall's doing.
    for ip in forged {
        assert!(
            udp_from_arrives(&a_ns, ip, "198.51.100.2:9999", &world),
            "A as {ip} -> W before apply"
        );
    }

    let fw = Firewall::in_netns(h_ns.proc_path());
    fw.apply(&[blue(), red_internal()]).unwrap();
    for ip in forged {
        assert!(
            !udp_from_arrives(&a_ns, ip, "198.51.100.2:9999", &world),
            "A as {ip} -> W got through (masqueraded or not)"
        );
        assert!(
            !udp_from_arrives(&a_ns, ip, "10.42.1.1:9998", &host),
            "A as {ip} -> the host got through"
        );
    }
    assert!(
        dropped_in(&fw, "prerouting") >= 6,
        "the drops are counted: {}",
        fw.list_json().unwrap()
    );
    // A's own address still works, masqueraded outside and as itself
    // to the host.
    assert_eq!(
        udp_source_seen(&a_ns, "198.51.100.2:9999", &world).map(|s| s.ip().to_string()),
        Some("198.51.100.1".into())
    );
    assert!(udp_from_arrives(
        &a_ns,
        "10.42.1.2",
        "10.42.1.1:9998",
        &host
    ));

    // Internal red reaches weft's DNS on H's red address, not a service on
    // H's underlay address, nor a port weft does not serve.
    let dns = listen_udp(&h_ns, "10.43.1.1:53");
    let underlay = listen_udp(&h_ns, "198.51.100.1:9997");
    let other = listen_udp(&h_ns, "10.43.1.1:9996");
    assert!(udp_from_arrives(&b_ns, "10.43.1.2", "10.43.1.1:53", &dns));
    assert!(
        !udp_from_arrives(&b_ns, "10.43.1.2", "198.51.100.1:9997", &underlay),
        "internal B reached a host service on the underlay address"
    );
    assert!(
        !udp_from_arrives(&b_ns, "10.43.1.2", "10.43.1.1:9996", &other),
        "internal B reached a port weft does not serve"
    );
    assert!(ping(&b_ns, "10.43.1.1", 3), "B pings its gateway");
    assert!(dropped_in(&fw, "in-from-red") >= 2);
    // Blue (not internal) may still reach the host's other services.
    let blue_host = listen_udp(&h_ns, "198.51.100.1:9995");
    assert!(udp_from_arrives(
        &a_ns,
        "10.42.1.2",
        "198.51.100.1:9995",
        &blue_host
    ));
    fw.remove().unwrap();
}

/// A workload on H's bridge `br`: port `port` in H, `eth0` with `ip`/16
/// and `mac` in `ns`.
fn bridge_port(h: &mut Netlink, br: u32, port: &str, ns: &Netns, ip: &str, mac: [u8; 6]) {
    h.create_veth(port, "eth0", Some(ns)).unwrap();
    let p = link_index(h, port);
    h.set_master(p, Some(br)).unwrap();
    h.set_up(p).unwrap();
    let mut w = Netlink::in_netns(ns).unwrap();
    let wi = link_index(&mut w, "eth0");
    w.set_mac(wi, mac).unwrap();
    w.add_address(wi, net(&format!("{ip}/16"))).unwrap();
    w.set_up(wi).unwrap();
    let lo = link_index(&mut w, "lo");
    w.set_up(lo).unwrap();
}

/// H: a namespace with bridge `weft-br0` (10.88.0.1/16), up; its netlink
/// handle and the bridge's index.
fn bridge_host() -> (Netns, Netlink, u32) {
    let h_ns = Netns::new_anonymous().unwrap();
    let mut h = Netlink::in_netns(&h_ns).unwrap();
    h.create_bridge("weft-br0").unwrap();
    let br = link_index(&mut h, "weft-br0");
    h.add_address(br, net("10.88.0.1/16")).unwrap();
    h.set_up(br).unwrap();
    (h_ns, h, br)
}

#[test]
fn a_bridge_port_carries_only_its_workloads_mac_and_address() {
    require_root!();
    let (h_ns, mut h, br) = bridge_host();
    let a_ns = Netns::new_anonymous().unwrap();
    let c_ns = Netns::new_anonymous().unwrap();
    let d_ns = Netns::new_anonymous().unwrap();
    let (mac_a, mac_c, mac_d) = (
        [0x02, 0, 0, 0, 0, 0x0a],
        [0x02, 0, 0, 0, 0, 0x0c],
        [0x02, 0, 0, 0, 0, 0x0d],
    );
    bridge_port(&mut h, br, "fn-a", &a_ns, "10.88.0.2", mac_a);
    bridge_port(&mut h, br, "fn-c", &c_ns, "10.88.0.3", mac_c);
    // D's port is named like a workload's but weft never pinned it.
    bridge_port(&mut h, br, "fn-d", &d_ns, "10.88.0.4", mac_d);
    let mut a = Netlink::in_netns(&a_ns).unwrap();
    let ae = link_index(&mut a, "eth0");
    a.add_address(ae, net("10.88.0.9/32")).unwrap();
    let to_c = listen_udp(&c_ns, "10.88.0.3:9999");
    let to_h = listen_udp(&h_ns, "10.88.0.1:9998");
    // Before weft's rules: a forged address gets through, and D talks.
    assert!(udp_from_arrives(
        &a_ns,
        "10.88.0.9",
        "10.88.0.3:9999",
        &to_c
    ));
    assert!(udp_from_arrives(
        &d_ns,
        "10.88.0.4",
        "10.88.0.1:9998",
        &to_h
    ));

    let bridge_net =
        bridge_network(&[("fn-a", mac_a, "10.88.0.2"), ("fn-c", mac_c, "10.88.0.3")]).remove(0);
    let fw = Firewall::in_netns(h_ns.proc_path());
    fw.apply(std::slice::from_ref(&bridge_net)).unwrap();
    assert_eq!(
        fw.apply(std::slice::from_ref(&bridge_net)).unwrap(),
        Applied::Unchanged
    );

    // Its own address and MAC: through, to the neighbour and the host.
    assert!(udp_from_arrives(
        &a_ns,
        "10.88.0.2",
        "10.88.0.3:9999",
        &to_c
    ));
    assert!(udp_from_arrives(
        &a_ns,
        "10.88.0.2",
        "10.88.0.1:9998",
        &to_h
    ));
    // A forged address: not to the neighbour, not to the host.
    assert!(!udp_from_arrives(
        &a_ns,
        "10.88.0.9",
        "10.88.0.3:9999",
        &to_c
    ));
    assert!(!udp_from_arrives(
        &a_ns,
        "10.88.0.9",
        "10.88.0.1:9998",
        &to_h
    ));
    // The neighbour's MAC with its own address: dropped too.
    a.set_mac(ae, mac_c).unwrap();
    assert!(!udp_from_arrives(
        &a_ns,
        "10.88.0.2",
        "10.88.0.1:9998",
        &to_h
    ));
    a.set_mac(ae, mac_a).unwrap();
    assert!(udp_from_arrives(
        &a_ns,
        "10.88.0.2",
        "10.88.0.1:9998",
        &to_h
    ));
    // A port weft did not pin carries nothing.
    assert!(!udp_from_arrives(
        &d_ns,
        "10.88.0.4",
        "10.88.0.1:9998",
        &to_h
    ));
    let counted = nft_in(&h_ns, &["-j", "list", "table", "bridge", "weft"]);
    // The MAC pin and the address pin both dropped something (the ARP
    // pin may not have: A's ARP used its own address; nobody sent a DHCP
    // answer or a router advertisement, the other two counted drops).
    assert_eq!(counted.matches("\"counter\"").count(), 5, "{counted}");
    assert!(
        counted.matches("\"packets\": 0,").count() <= 3,
        "the pins count their drops: {counted}"
    );

    // Traffic moved the counters only: the table is still what was made.
    assert_eq!(
        fw.apply(std::slice::from_ref(&bridge_net)).unwrap(),
        Applied::Unchanged
    );
    // Hand edits of the bridge table are seen and undone on the next
    // apply: a flushed chain, then a removed pin.
    nft_in(&h_ns, &["flush", "chain", "bridge", "weft", "prerouting"]);
    assert!(udp_from_arrives(
        &a_ns,
        "10.88.0.9",
        "10.88.0.3:9999",
        &to_c
    ));
    assert_eq!(
        fw.apply(std::slice::from_ref(&bridge_net)).unwrap(),
        Applied::Updated
    );
    assert!(!udp_from_arrives(
        &a_ns,
        "10.88.0.9",
        "10.88.0.3:9999",
        &to_c
    ));
    let pinned = nft_in(&h_ns, &["list", "set", "bridge", "weft", "port-ips"]);
    assert!(pinned.contains("10.88.0.2"), "{pinned}");
    nft_in(
        &h_ns,
        &[
            "delete",
            "element",
            "bridge",
            "weft",
            "port-ips",
            "{ fn-a . 10.88.0.2 }",
        ],
    );
    assert!(
        !nft_in(&h_ns, &["list", "set", "bridge", "weft", "port-ips"]).contains("10.88.0.2"),
        "the hand edit took"
    );
    assert_eq!(
        fw.apply(std::slice::from_ref(&bridge_net)).unwrap(),
        Applied::Updated
    );
    assert!(nft_in(&h_ns, &["list", "set", "bridge", "weft", "port-ips"]).contains("10.88.0.2"));
    assert_eq!(
        fw.apply(std::slice::from_ref(&bridge_net)).unwrap(),
        Applied::Unchanged
    );

    fw.remove().unwrap();
    assert!(
        !nft_in(&h_ns, &["list", "tables"]).contains("weft"),
        "both tables gone"
    );
}

/// A bridge network `br` on `weft-br0` whose workload ports are `ports`
/// (port, MAC, address).
fn bridge_network(ports: &[(&str, [u8; 6], &str)]) -> Vec<NetworkRules> {
    vec![NetworkRules {
        name: "br".into(),
        subnets: vec![net("10.88.0.0/16")],
        interfaces: vec![IfMatch::Exact("weft-br0".into())],
        internal: false,
        bridge_ports: Some(BridgePorts {
            prefix: "fn-".into(),
            ports: ports
                .iter()
                .map(|(ifname, mac, ip)| BridgePort {
                    ifname: (*ifname).into(),
                    mac: *mac,
                    ip: ip.parse().unwrap(),
                })
                .collect(),
            local_gateway: None,
        }),
        host_services: None,
        vxlan: None,
    }]
}

#[test]
fn an_attach_sends_only_its_pins_and_a_detached_port_carries_nothing() {
    require_root!();
    let (h_ns, mut h, br) = bridge_host();
    let a_ns = Netns::new_anonymous().unwrap();
    let c_ns = Netns::new_anonymous().unwrap();
    let (mac_a, mac_c) = ([0x02, 0, 0, 0, 0, 0x0a], [0x02, 0, 0, 0, 0, 0x0c]);
    bridge_port(&mut h, br, "fn-a", &a_ns, "10.88.0.2", mac_a);
    bridge_port(&mut h, br, "fn-c", &c_ns, "10.88.0.3", mac_c);
    let to_h = listen_udp(&h_ns, "10.88.0.1:9998");
    let to_a = listen_udp(&a_ns, "10.88.0.2:9999");
    // Each workload from its own (pinned or once pinned) address.
    let a_to_host = || udp_from_arrives(&a_ns, "10.88.0.2", "10.88.0.1:9998", &to_h);
    let c_to_host = || udp_from_arrives(&c_ns, "10.88.0.3", "10.88.0.1:9998", &to_h);
    let c_to_a = || udp_from_arrives(&c_ns, "10.88.0.3", "10.88.0.2:9999", &to_a);

    let wrapper = LoggingNft::new();
    let runs = || wrapper.runs();
    let fw = Firewall::in_netns(h_ns.proc_path()).with_nft(wrapper.path());
    let only_a = bridge_network(&[("fn-a", mac_a, "10.88.0.2")]);
    let a_and_c = bridge_network(&[("fn-a", mac_a, "10.88.0.2"), ("fn-c", mac_c, "10.88.0.3")]);
    fw.apply(&only_a).unwrap();
    runs();
    // C is not attached yet: its port carries nothing.
    assert!(!c_to_host());

    // Someone else's transaction moves the generation; C's attach still
    // runs no nft at all (its two pins go by netlink) and lists nothing.
    nft_in(&h_ns, &["add", "table", "inet", "other"]);
    assert_eq!(fw.apply_ports(&a_and_c).unwrap(), Applied::Updated);
    assert!(runs().is_empty());
    let pinned = nft_in(&h_ns, &["list", "table", "bridge", "weft"]);
    assert!(
        pinned.contains("\"fn-c\" . 02:00:00:00:00:0c") && pinned.contains("\"fn-c\" . 10.88.0.3"),
        "{pinned}"
    );
    assert!(c_to_host());
    assert!(c_to_a());
    assert_eq!(fw.apply_ports(&a_and_c).unwrap(), Applied::Unchanged);
    // The pins sent by netlink read back as nft's own: the next apply
    // lists the table (the generation moved) and finds it as known.
    assert_eq!(fw.apply(&a_and_c).unwrap(), Applied::Unchanged);
    assert_eq!(
        runs(),
        ["-j list table bridge weft", "-j list table inet weft"]
    );

    // A hand edit is not looked for on an attach, but the next apply (the
    // agent's drift pass) lists the table, finds it and repairs it.
    sh_in(
        &h_ns,
        "nft delete element bridge weft port-ips '{ fn-a . 10.88.0.2 }'",
    );
    assert!(!a_to_host());
    assert_eq!(fw.apply(&a_and_c).unwrap(), Applied::Updated);
    assert!(runs().contains(&"-j list table bridge weft".to_owned()));
    assert!(a_to_host());

    // C detached (its port left behind, as a slow teardown would): from
    // C's own MAC and once-pinned address, nothing passes any more —
    // neither to the host nor to A. A still talks.
    assert_eq!(fw.apply_ports(&only_a).unwrap(), Applied::Updated);
    assert!(runs().is_empty());
    assert!(!c_to_host());
    assert!(!c_to_a());
    assert!(a_to_host());
    let pinned = nft_in(&h_ns, &["list", "table", "bridge", "weft"]);
    assert!(!pinned.contains("fn-c"), "{pinned}");

    // C back, then a detach whose pin someone already deleted: the
    // change is refused (no such element), the table is listed and made
    // whole, and C's other pin is gone too.
    assert_eq!(fw.apply_ports(&a_and_c).unwrap(), Applied::Updated);
    sh_in(
        &h_ns,
        "nft delete element bridge weft port-macs '{ fn-c . 02:00:00:00:00:0c }'",
    );
    runs();
    assert_eq!(fw.apply_ports(&only_a).unwrap(), Applied::Updated);
    assert_eq!(
        runs(),
        [
            "-j list table bridge weft",
            "-j -f -",
            "-j list table bridge weft"
        ]
    );
    assert!(!nft_in(&h_ns, &["list", "table", "bridge", "weft"]).contains("fn-c"));
    assert!(!c_to_host());
    assert!(a_to_host());
    assert_eq!(fw.apply(&only_a).unwrap(), Applied::Unchanged);

    fw.remove().unwrap();
    runs();
    assert!(!nft_in(&h_ns, &["list", "tables"]).contains("weft"));
}

fn nft_in(ns: &Netns, args: &[&str]) -> String {
    let out = Command::new("nsenter")
        .arg(format!("--net={}", ns.proc_path().display()))
        .arg("nft")
        .args(args)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

// ---------------------------------------------------------------------------
// VXLAN networks: whom their packets are taken from.

/// VXLAN network `name` on bridge `weft-vbr<i>`, VXLAN device `weft-vx<i>`.
fn segment(name: &str, i: u32, vni: u32, over: Option<&str>, vteps: &[&str]) -> NetworkRules {
    NetworkRules {
        name: name.into(),
        subnets: vec![net(&format!("10.{}.0.0/16", 50 + 10 * i))],
        interfaces: vec![IfMatch::Exact(format!("weft-vbr{i}"))],
        internal: false,
        bridge_ports: Some(BridgePorts {
            prefix: "fn-".into(),
            ports: vec![],
            local_gateway: Some(LocalGateway {
                port: format!("weft-vx{i}"),
                ip: format!("10.{}.255.254", 50 + 10 * i).parse().unwrap(),
            }),
        }),
        host_services: None,
        vxlan: Some(VxlanSources {
            vni,
            port: 4789,
            over: over.map(Into::into),
            vteps: vteps.iter().map(|v| v.parse().unwrap()).collect(),
        }),
    }
}

#[test]
fn vxlan_sources_read_back_equal_and_a_vtep_change_touches_only_its_chain() {
    require_root!();
    let ns = Netns::new_anonymous().unwrap();
    let fw = Firewall::in_netns(ns.proc_path());
    let mut nets = vec![
        blue(),
        segment(
            "red",
            0,
            100,
            None,
            &["192.0.2.3", "192.0.2.2", "2001:db8::2"],
        ),
        segment("sec", 1, 300, Some("wg0"), &["10.42.2.1"]),
    ];
    assert_eq!(fw.apply(&nets).unwrap(), Applied::Created);
    let listing = fw.list_json().unwrap();
    assert_eq!(Listed::parse(&listing), wanted(&nets));
    assert_eq!(fw.apply(&nets).unwrap(), Applied::Unchanged);
    // What table bridge weft drops reads back too (the firewall compares
    // listings of it).
    let bridge = nft_in(&ns, &["list", "chain", "bridge", "weft", "prerouting"]);
    for want in [
        "udp dport { 68, 546 } iifname @workload-ports counter",
        "icmpv6 type nd-router-advert iifname @workload-ports counter",
    ] {
        assert!(bridge.contains(want), "{want:?} not in {bridge}");
    }
    let ports = nft_in(&ns, &["list", "set", "bridge", "weft", "workload-ports"]);
    assert!(
        ports.contains("\"fn-*\"")
            && ports.contains("\"weft-vx0\"")
            && ports.contains("\"weft-vx1\""),
        "{ports}"
    );

    // A VTEP more: red's chain changes, nothing else.
    let before = handles(&listing);
    nets[1]
        .vxlan
        .as_mut()
        .unwrap()
        .vteps
        .push("192.0.2.4".parse().unwrap());
    assert_eq!(fw.apply(&nets).unwrap(), Applied::Updated);
    let after_listing = fw.list_json().unwrap();
    assert_eq!(Listed::parse(&after_listing), wanted(&nets));
    let after = handles(&after_listing);
    for (object, handle) in &before {
        if !object.contains("vxlan-from-red") {
            assert_eq!(after.get(object), Some(handle), "{object} changed");
        }
    }
    assert_ne!(
        before.get("rule vxlan-from-red #1"),
        after.get("rule vxlan-from-red #1")
    );
    fw.remove().unwrap();
}

/// Runs `cmd` (a shell line) inside `ns`; panics on failure.
fn sh_in(ns: &Netns, cmd: &str) -> String {
    let out = Command::new("nsenter")
        .arg(format!("--net={}", ns.proc_path().display()))
        .args(["sh", "-c", cmd])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{cmd}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The payloads `listener` gets until it has waited 700 ms for one more.
fn received(listener: &UdpSocket) -> Vec<String> {
    let mut got = Vec::new();
    let mut buf = [0u8; 2048];
    while let Ok(n) = listener.recv(&mut buf) {
        got.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    got
}

#[test]
fn vxlan_over_ipv6_is_taken_only_from_vteps_and_fragments_only_reassembled() {
    require_root!();
    let h_ns = Netns::new_anonymous().unwrap();
    let a_ns = Netns::new_anonymous().unwrap();
    let w_ns = Netns::new_anonymous().unwrap();
    let (a, w) = (
        a_ns.proc_path().display().to_string(),
        w_ns.proc_path().display().to_string(),
    );
    // H's underlay u0 (fd00::1) to A (who sends as anyone); H's segment:
    // the kernel's VXLAN device on a bridge with W's port.
    sh_in(
        &h_ns,
        &format!(
            "ip link add u0 type veth peer name u0 netns {a} && \
             ip addr add fd00::1/64 dev u0 nodad && ip link set u0 up && \
             ip link add weft-vbr0 type bridge && ip link set weft-vbr0 up && \
             ip link add weft-vx0 type vxlan id 100 dstport 4789 local fd00::1 nolearning && \
             ip link set weft-vx0 master weft-vbr0 up && \
             ip link add fn-w type veth peer name eth0 netns {w} && \
             ip link set fn-w master weft-vbr0 up && \
             (sysctl -qw net.bridge.bridge-nf-call-iptables=0 || true)"
        ),
    );
    sh_in(&a_ns, "ip link set u0 up");
    sh_in(
        &w_ns,
        "ip addr add 10.50.1.2/16 dev eth0 && ip link set eth0 up && ip link set lo up",
    );
    let h_mac: serde_json::Value =
        serde_json::from_str(&sh_in(&h_ns, "ip -j link show u0")).unwrap();
    let h_mac = h_mac[0]["address"].as_str().unwrap().to_string();
    let listener = listen_udp(&w_ns, "0.0.0.0:9999");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/vxlan6_send.py");
    let send = |source: &str, marker: &str, fragment: bool| {
        sh_in(
            &a_ns,
            &format!(
                "python3 {script} u0 {h_mac} {source} fd00::1 100 {marker} {}",
                if fragment { "--fragment" } else { "" }
            ),
        );
    };
    // Before weft's rules: whole or in fragments, the kernel takes it.
    send("fd00::9", "open-whole", false);
    send("fd00::9", "open-fragments", true);
    assert_eq!(received(&listener), ["open-whole", "open-fragments"]);

    // weft's table as it is built: it always has a user of connection
    // tracking (internal networks' `ct state`, others' nat chain), which
    // reassembles IPv6 before the input hook, so the VNI is in sight.
    let mut seg = segment("red", 0, 100, None, &["fd00::2"]);
    seg.internal = true;
    let fw = Firewall::in_netns(h_ns.proc_path());
    fw.apply(std::slice::from_ref(&seg)).unwrap();
    send("fd00::9", "stranger-whole", false);
    send("fd00::9", "stranger-fragments", true);
    send("fd00::2", "vtep-fragments", true);
    send("fd00::2", "vtep-whole", false);
    assert_eq!(received(&listener), ["vtep-fragments", "vtep-whole"]);

    // Without connection tracking (its one user deleted by hand) nothing
    // reassembles them first: fragments to a VXLAN port are refused,
    // whoever sends them.
    let handle_of = |chain: &str, text: &str| {
        let listing = nft_in(&h_ns, &["-a", "list", "chain", "inet", "weft", chain]);
        listing
            .lines()
            .find(|l| l.contains(text))
            .and_then(|l| l.rsplit("# handle ").next())
            .unwrap_or_else(|| panic!("no {text:?} in {listing}"))
            .trim()
            .to_string()
    };
    let ct = handle_of("in-from-red", "ct state");
    nft(
        &h_ns,
        &[
            "delete",
            "rule",
            "inet",
            "weft",
            "in-from-red",
            "handle",
            &ct,
        ],
        None,
    );
    send("fd00::9", "untracked-stranger-fragments", true);
    send("fd00::2", "untracked-vtep-fragments", true);
    send("fd00::2", "untracked-vtep-whole", false);
    assert_eq!(received(&listener), ["untracked-vtep-whole"]);

    // And without the fragment rule a stranger's fragments get in: the
    // first carries no VNI, so the VNI check never sees them.
    let frag = handle_of("vxlan-in", "exthdr frag exists");
    nft(
        &h_ns,
        &[
            "delete", "rule", "inet", "weft", "vxlan-in", "handle", &frag,
        ],
        None,
    );
    send("fd00::9", "unguarded-fragments", true);
    send("fd00::9", "unguarded-whole", false);
    assert_eq!(received(&listener), ["unguarded-fragments"]);
    fw.remove().unwrap();
}
