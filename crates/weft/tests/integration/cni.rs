//! CNI conformance: the real binary, driven exactly as a runtime drives it,
//! against a real agent, in throwaway namespaces.

use weft_testkit::cni::{CniOutput, vars};
use weft_testkit::*;

const WEFT: &str = env!("CARGO_BIN_EXE_weft");
use serde_json::{Value, json};

struct Cni {
    lab: Lab,
    host: String,
    socket: String,
}

impl Cni {
    fn new() -> Cni {
        let lab = Lab::with_agents(WEFT, &["h1"]);
        let host = lab.ns("h1");
        let socket = lab.agents["h1"].socket.display().to_string();
        Cni { lab, host, socket }
    }

    fn conf(&self, version: &str, name: &str, extra: Value) -> String {
        let mut c = json!({
            "cniVersion": version,
            "name": name,
            "type": "weft",
            "agentSocket": self.socket,
        });
        for (k, v) in extra.as_object().unwrap() {
            c[k] = v.clone();
        }
        c.to_string()
    }

    fn blue(&self) -> String {
        self.conf(
            "1.1.0",
            "blue",
            json!({"subnet": "10.42.0.0/16", "block": "10.42.1.0/24"}),
        )
    }

    fn call(&self, command: &str, id: &str, netns: &str, ifname: &str, conf: &str) -> CniOutput {
        self.plugin(&vars(command, id, netns, ifname), conf)
    }

    /// The plugin in the host namespace with exactly these variables.
    fn plugin(&self, vars: &[(&str, &str)], stdin: &str) -> CniOutput {
        cni::plugin(&self.lab.weft, &self.host, vars, stdin)
    }

    fn add(&mut self, name: &str, conf: &str) -> Value {
        self.lab.add_netns(name);
        let netns = self.lab.netns_path(name);
        let out = self.call("ADD", name, &netns, "eth0", conf);
        assert!(out.ok, "ADD {name}: {} {}", out.stdout, out.stderr);
        out.json()
    }

    fn records(&self) -> String {
        self.lab.weft_ok("h1", &["attachments", "-o", "json"])
    }

    fn host_links(&self) -> String {
        self.lab.exec_ok("h1", "ip -br link")
    }

    /// Everything a failed call must leave alone.
    fn snapshot(&self) -> String {
        format!(
            "{}\n{}\n{}",
            self.records(),
            self.host_links(),
            self.lab.weft_ok("h1", &["network", "ls", "-o", "json"])
        )
    }
}

#[test]
fn add_check_del_in_wireguard_mode() {
    require_root!();
    let mut t = Cni::new();
    // VERSION
    let out = t.call("VERSION", "", "", "", &t.conf("1.0.0", "blue", json!({})));
    assert!(out.ok);
    let v = out.json();
    assert_eq!(v["cniVersion"], "1.0.0");
    for want in ["0.4.0", "1.0.0", "1.1.0"] {
        assert!(
            v["supportedVersions"]
                .as_array()
                .unwrap()
                .contains(&json!(want)),
            "{v}"
        );
    }

    // ADD creates the network from the config and attaches.
    let conf = t.blue();
    let r = t.add("c1", &conf);
    assert_eq!(r["cniVersion"], "1.1.0");
    assert_eq!(r["interfaces"][0]["name"], "w0-c1");
    assert!(
        r["interfaces"][0]["mac"].as_str().unwrap().len() == 17,
        "{r}"
    );
    assert_eq!(r["interfaces"][1]["name"], "eth0");
    assert_eq!(r["interfaces"][1]["sandbox"], t.lab.netns_path("c1"));
    let mac = r["interfaces"][1]["mac"].as_str().unwrap().to_string();
    assert_eq!(r["ips"][0]["address"], "10.42.1.2/32");
    assert_eq!(r["ips"][0]["gateway"], "10.42.1.1");
    assert_eq!(r["ips"][0]["interface"], 1);
    assert_eq!(
        r["routes"][0],
        json!({"dst": "0.0.0.0/0", "gw": "10.42.1.1"})
    );
    let inside = t.lab.exec_ok("c1", "ip -j link show eth0");
    assert!(inside.contains(&mac), "{inside}");
    t.lab.exec_ok("c1", "ping -c1 -W2 10.42.1.1");
    let net = t.lab.weft_json("h1", &["network", "ls"]);
    assert_eq!(net[0]["name"], "blue");
    assert_eq!(net[0]["interface"], "wg0");

    // A 0.4.0 caller gets a 0.4.0 result.
    let old = t.add(
        "c0",
        &t.conf(
            "0.4.0",
            "blue",
            json!({"subnet": "10.42.0.0/16", "block": "10.42.1.0/24"}),
        ),
    );
    assert_eq!(old["cniVersion"], "0.4.0");
    assert_eq!(old["ips"][0]["version"], "4");

    // ADD of an existing (container id, ifname): an error, nothing changed.
    let before = t.snapshot();
    let out = t.call("ADD", "c1", &t.lab.netns_path("c1"), "eth0", &conf);
    assert!(out.code() > 0);
    assert!(out.msg().contains("already attached"), "{}", out.msg());
    assert_eq!(t.snapshot(), before);

    // CHECK with the ADD's result passes; each missing piece fails it.
    let mut with_prev: Value = serde_json::from_str(&conf).unwrap();
    with_prev["prevResult"] = r.clone();
    let with_prev = with_prev.to_string();
    let c1 = t.lab.netns_path("c1");
    assert!(t.call("CHECK", "c1", &c1, "eth0", &with_prev).ok);
    t.lab.exec_ok("c1", "ip addr del 10.42.1.2/32 dev eth0");
    let out = t.call("CHECK", "c1", &c1, "eth0", &with_prev);
    assert!(
        out.code() > 0 && out.msg().contains("10.42.1.2"),
        "{}",
        out.msg()
    );
    // Removing the address took its routes; put all of it back.
    t.lab.exec_ok("c1", "ip addr add 10.42.1.2/32 dev eth0");
    t.lab
        .exec_ok("c1", "ip route replace 10.42.1.1 dev eth0 scope link");
    t.lab
        .exec_ok("c1", "ip route replace default via 10.42.1.1 dev eth0");
    assert!(t.call("CHECK", "c1", &c1, "eth0", &with_prev).ok);
    t.lab.exec_ok("c1", "ip route del default");
    assert!(
        !t.call("CHECK", "c1", &c1, "eth0", &with_prev).ok,
        "missing route"
    );
    t.lab
        .exec_ok("c1", "ip route add default via 10.42.1.1 dev eth0");
    t.lab.exec_ok("h1", "ip link set w0-c1 down");
    assert!(
        !t.call("CHECK", "c1", &c1, "eth0", &with_prev).ok,
        "host side down"
    );
    t.lab.exec_ok("h1", "ip link set w0-c1 up");
    assert!(t.call("CHECK", "c1", &c1, "eth0", &with_prev).ok);
    let mut wrong = r.clone();
    wrong["ips"][0]["address"] = json!("10.42.1.99/32");
    let mut wrong_conf: Value = serde_json::from_str(&conf).unwrap();
    wrong_conf["prevResult"] = wrong;
    assert!(
        !t.call("CHECK", "c1", &c1, "eth0", &wrong_conf.to_string())
            .ok,
        "prevResult mismatch"
    );
    assert!(
        !t.call("CHECK", "nobody", &c1, "eth0", &conf).ok,
        "unknown container"
    );

    // DEL with prevResult, then again without, then for an unknown container.
    let before_links = t.host_links();
    assert!(before_links.contains("w0-c1"));
    assert!(t.call("DEL", "c1", &c1, "eth0", &with_prev).ok);
    assert!(!t.host_links().contains("w0-c1"));
    assert!(!t.lab.exec("c1", "ip link show eth0").status.success());
    assert!(t.call("DEL", "c1", &c1, "eth0", &conf).ok, "second DEL");
    assert!(
        t.call("DEL", "never-added", &c1, "eth0", &conf).ok,
        "unknown container"
    );
    // DEL with the namespace gone (and no CNI_NETNS at all).
    t.add("c2", &conf);
    sh(&format!("ip netns del {}", t.lab.ns("c2")));
    let out = t.plugin(&vars("DEL", "c2", "", "eth0"), &conf);
    assert!(out.ok, "{} {}", out.stdout, out.stderr);
    assert!(out.stdout.is_empty(), "DEL prints nothing: {}", out.stdout);
    let records = t.records();
    assert!(
        !records.contains("\"c2\"") && !records.contains("\"c1\""),
        "{records}"
    );
    assert!(!t.host_links().contains("w0-c2"));
    // The released addresses are handed out again.
    let again = t.add("c3", &conf);
    assert_eq!(again["ips"][0]["address"], "10.42.1.2/32");
    // The container's name comes from the runtime (K8S_POD_NAME) and must
    // be a DNS label.
    t.lab.add_netns("c5");
    let c5 = t.lab.netns_path("c5");
    let mut env = vars("ADD", "c5", &c5, "eth0");
    env.push(("CNI_ARGS", "IgnoreUnknown=1;K8S_POD_NAME=bad.name"));
    let out = t.plugin(&env, &conf);
    assert_eq!(out.code(), 4);
    assert!(out.msg().contains("K8S_POD_NAME"), "{}", out.msg());
    env.pop();
    env.push(("CNI_ARGS", "IgnoreUnknown=1;K8S_POD_NAME=tender_lumiere"));
    let named = t.plugin(&env, &conf);
    assert!(named.ok, "{}", named.stdout);
    let address = named.json()["ips"][0]["address"]
        .as_str()
        .unwrap()
        .replace("/32", "");
    assert!(
        t.records().contains("\"tender_lumiere\""),
        "{}",
        t.records()
    );
    let answer = t.lab.exec_ok(
        "c5",
        "dig @10.42.1.1 +short +time=2 +tries=1 tender_lumiere.mesh.local",
    );
    assert_eq!(answer.trim(), address);
    t.lab.finish();
}

#[test]
fn spec_error_codes() {
    require_root!();
    let mut t = Cni::new();
    t.lab.add_netns("c1");
    let netns = t.lab.netns_path("c1");
    let conf = t.blue();
    let before = t.snapshot();
    let long = "x".repeat(16);
    // (environment, stdin, expected code, text the message must contain)
    type Case<'a> = (Vec<(&'a str, &'a str)>, String, u64, &'a str);
    let cases: Vec<Case> = vec![
        (
            vars("ADD", "c1", &netns, "eth0"),
            "{not json".into(),
            6,
            "not valid JSON",
        ),
        (
            vars("ADD", "c1", &netns, "eth0"),
            t.conf("0.9.9", "blue", json!({})),
            1,
            "0.9.9",
        ),
        (
            vars("ADD", "", &netns, "eth0"),
            conf.clone(),
            4,
            "CNI_CONTAINERID",
        ),
        (vars("ADD", "c1", &netns, ""), conf.clone(), 4, "CNI_IFNAME"),
        (vars("ADD", "c1", "", "eth0"), conf.clone(), 4, "CNI_NETNS"),
        (
            vars("ADD", "c1", "/run/netns/nope-nope", "eth0"),
            conf.clone(),
            4,
            "CNI_NETNS",
        ),
        (
            vars("ADD", "c1", &netns, &long),
            conf.clone(),
            4,
            "CNI_IFNAME",
        ),
        (
            vars("ADD", "c1", &netns, "a/b"),
            conf.clone(),
            4,
            "CNI_IFNAME",
        ),
        (
            vars("FROB", "c1", &netns, "eth0"),
            conf.clone(),
            4,
            "CNI_COMMAND",
        ),
        (
            vars("ADD", "c1", &netns, "eth0"),
            t.conf("1.1.0", "blue", json!({"subnet": "10.42.0.0/31"})),
            7,
            "too small",
        ),
        (
            vars("ADD", "c1", &netns, "eth0"),
            t.conf(
                "1.1.0",
                "blue",
                json!({"subnet": "10.42.0.0/16", "block": "10.9.0.0/24"}),
            ),
            7,
            "block",
        ),
        (
            vars("ADD", "c1", &netns, "eth0"),
            t.conf("1.1.0", "blue", json!({"bogusKey": 42})),
            2,
            "bogusKey",
        ),
        (
            vars("ADD", "c1", &netns, "eth0"),
            t.conf("1.1.0", "blue", json!({})),
            7,
            "does not exist",
        ),
        (
            vars("ADD", "c1", &netns, "eth0"),
            t.conf("1.1.0", "Not_A_Label", json!({"subnet": "10.42.0.0/16"})),
            7,
            "name",
        ),
        (
            vars("STATUS", "", "", ""),
            t.conf("1.0.0", "blue", json!({})),
            1,
            "1.1.0",
        ),
    ];
    for (env, stdin, want_code, want_msg) in &cases {
        let out = t.plugin(env, stdin);
        assert_eq!(out.code(), *want_code, "{env:?} {stdin}: {}", out.stdout);
        assert!(
            out.msg().contains(want_msg),
            "{env:?}: want {want_msg:?} in {:?}",
            out.msg()
        );
        assert_eq!(
            out.stdout.lines().count(),
            1,
            "stdout is exactly one JSON document"
        );
        assert_eq!(t.snapshot(), before, "{env:?} changed state");
    }
    // The error document carries the caller's version when it is known.
    let out = t.plugin(
        &vars("ADD", "", &netns, "eth0"),
        &t.conf("1.0.0", "blue", json!({})),
    );
    assert_eq!(out.json()["cniVersion"], "1.0.0");
    // The agent unreachable: ADD asks to try again later, STATUS says not available.
    let gone = json!({"cniVersion":"1.1.0","name":"blue","type":"weft","agentSocket":"/nonexistent/agent.sock","subnet":"10.42.0.0/16"}).to_string();
    assert_eq!(
        t.plugin(&vars("ADD", "c1", &netns, "eth0"), &gone).code(),
        11
    );
    let out = t.plugin(&vars("STATUS", "", "", ""), &gone);
    assert_eq!(out.code(), 50);
    assert!(
        out.msg().contains("/nonexistent/agent.sock"),
        "{}",
        out.msg()
    );
    t.lab.finish();
}

#[test]
fn failed_add_rolls_back_everything() {
    require_root!();
    let mut t = Cni::new();
    t.lab.add_netns("c1");
    // The container already has an eth0: the veth cannot be made half-way
    // through the ADD, after the network was created and the address taken.
    t.lab
        .exec_ok("c1", "ip link add eth0 type veth peer name other0");
    let before = t.snapshot();
    let out = t.call("ADD", "c1", &t.lab.netns_path("c1"), "eth0", &t.blue());
    assert!(out.code() > 0, "{}", out.stdout);
    assert!(out.msg().contains("eth0"), "{}", out.msg());
    assert_eq!(
        t.snapshot(),
        before,
        "the network this ADD created is gone again"
    );
    // With the clash gone the same ADD works and gets the first address.
    t.lab.exec_ok("c1", "ip link del eth0");
    let out = t.call("ADD", "c1", &t.lab.netns_path("c1"), "eth0", &t.blue());
    assert!(out.ok, "{}", out.stdout);
    assert_eq!(out.json()["ips"][0]["address"], "10.42.1.2/32");
    t.lab.finish();
}

#[test]
fn status_and_gc() {
    require_root!();
    let mut t = Cni::new();
    let conf = t.blue();
    assert!(
        t.call("STATUS", "", "", "", &conf).ok,
        "ready before the network exists"
    );
    for id in ["g1", "g2", "g3"] {
        t.add(id, &conf);
    }
    assert!(t.call("STATUS", "", "", "", &conf).ok);
    // GC keeps only g2.
    let mut gc: Value = serde_json::from_str(&conf).unwrap();
    gc["cni.dev/valid-attachments"] = json!([{"containerID": "g2", "ifname": "eth0"}]);
    let out = t.call("GC", "", "", "", &gc.to_string());
    assert!(out.ok, "{} {}", out.stdout, out.stderr);
    let records = t.records();
    assert!(
        records.contains("\"g2\"") && !records.contains("\"g1\"") && !records.contains("\"g3\""),
        "{records}"
    );
    let links = t.host_links();
    assert!(
        links.contains("w0-g2") && !links.contains("w0-g1") && !links.contains("w0-g3"),
        "{links}"
    );
    assert!(!t.lab.exec("g1", "ip link show eth0").status.success());

    // A pool that is full makes STATUS fail with 50.
    let tiny = t.conf("1.1.0", "tiny", json!({"subnet": "10.77.0.0/30"}));
    assert!(t.call("STATUS", "", "", "", &tiny).ok);
    t.add("t1", &tiny);
    let out = t.call("STATUS", "", "", "", &tiny);
    assert_eq!(out.code(), 50);
    assert!(out.msg().contains("exhausted"), "{}", out.msg());
    // …and another ADD gets a clear error.
    t.lab.add_netns("t2");
    let out = t.call("ADD", "t2", &t.lab.netns_path("t2"), "eth0", &tiny);
    assert!(out.code() > 0);
    assert!(out.msg().contains("exhausted"), "{}", out.msg());
    t.lab.finish();
}

#[test]
fn bridge_mode() {
    require_root!();
    let mut t = Cni::new();
    let conf = t.conf(
        "1.0.0",
        "br",
        json!({"mode": "bridge", "subnet": "10.88.0.0/16"}),
    );
    let a = t.add("b1c2d3e4f5a6", &conf);
    let b = t.add("f6e5d4c3b2a1", &conf);
    assert_eq!(a["interfaces"][0]["name"], "fn-b1c2d3e4");
    assert_eq!(b["interfaces"][0]["name"], "fn-f6e5d4c3");
    assert_eq!(a["ips"][0]["address"], "10.88.0.2/16");
    assert_eq!(a["ips"][0]["gateway"], "10.88.0.1");
    let bridge = t.lab.exec_ok("h1", "ip -j -d link show fn-b1c2d3e4");
    assert!(bridge.contains("\"master\":\"weft-br0\""), "{bridge}");
    let gw = t.lab.exec_ok("h1", "ip -br addr show weft-br0");
    assert!(gw.contains("10.88.0.1/16"), "{gw}");
    // host <-> container, container <-> container
    t.lab.exec_ok("h1", "ping -c1 -W2 10.88.0.2");
    t.lab.exec_ok("b1c2d3e4f5a6", "ping -c1 -W2 10.88.0.1");
    t.lab.exec_ok("b1c2d3e4f5a6", "ping -c1 -W2 10.88.0.3");
    t.lab.exec_ok("f6e5d4c3b2a1", "ping -c1 -W2 10.88.0.2");
    assert!(
        t.call(
            "DEL",
            "b1c2d3e4f5a6",
            &t.lab.netns_path("b1c2d3e4f5a6"),
            "eth0",
            &conf
        )
        .ok
    );
    assert!(!t.host_links().contains("fn-b1c2d3e4"));
    t.lab.finish();
}

/// A network made beforehand (here with the CLI) is joined by a config
/// that only names it: what the config leaves out is whatever the network
/// is. What it says must still agree: a contradicting mode is refused with
/// code 7, and that refusal changes nothing.
#[test]
fn a_config_without_mode_joins_an_existing_bridge_network() {
    require_root!();
    let mut t = Cni::new();
    t.lab.bridge_on("h1", "br", "10.88.0.0/16");
    let bare = t.conf("1.1.0", "br", json!({}));
    let r = t.add("c1", &bare);
    assert_eq!(r["ips"][0]["address"], "10.88.0.2/16");
    assert_eq!(r["ips"][0]["gateway"], "10.88.0.1");
    t.lab.exec_ok("c1", "ping -c1 -W2 10.88.0.1");
    // The same with the settings it has, spelled out.
    let agreeing = t.conf(
        "1.1.0",
        "br",
        json!({"mode": "bridge", "subnet": "10.88.0.0/16", "internal": false}),
    );
    let r = t.add("c2", &agreeing);
    assert_eq!(r["ips"][0]["address"], "10.88.0.3/16");

    t.lab.add_netns("c3");
    let before = t.snapshot();
    let contradicting = t.conf("1.1.0", "br", json!({"mode": "wireguard"}));
    let out = t.call("ADD", "c3", &t.lab.netns_path("c3"), "eth0", &contradicting);
    assert_eq!(out.code(), 7, "{}", out.stdout);
    assert!(
        out.msg()
            .contains("exists in mode bridge, but the config says wireguard"),
        "{}",
        out.msg()
    );
    assert_eq!(t.snapshot(), before, "a refused ADD changed state");
    assert!(
        t.call("DEL", "c1", &t.lab.netns_path("c1"), "eth0", &bare)
            .ok
    );
    t.lab.finish();
}
