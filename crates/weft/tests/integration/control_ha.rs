//! The control plane highly available, end to end: a three-member etcd
//! cluster (e1..e3) and two replicas of `weft control serve --store etcd://…`
//! (cp1, cp2) in lab namespaces on one switch with three hosts (h1..h3)
//! whose agents enroll through cp1 with one token; containers on h1 and h2
//! ping each other over network `blue`, made with `curl`. Then, each step
//! checked: cp1 is killed (`kill -9`) and every agent moves to cp2, where
//! a new network reaches all three hosts; one etcd member is killed and
//! changes through cp2 still reach everyone; a second is killed (quorum
//! lost) and a write is refused with 503 in bounded time while agents and
//! containers carry on (pings pass over the whole outage); the members
//! and cp1 come back, every agent is told of both replicas again, and a
//! change through cp1 reaches all hosts. Last, the REST API shows no block
//! or host twice, and every agent runs the blocks it shows.

use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use weft_testkit::cni::{self, vars};
use weft_testkit::etcd::Cluster;
use weft_testkit::*;

use crate::control_common;

const WEFT: &str = env!("CARGO_BIN_EXE_weft");
const HOSTS: [&str; 3] = ["h1", "h2", "h3"];
const MEMBERS: [(&str, &str); 3] = [
    ("e1", "192.0.2.21"),
    ("e2", "192.0.2.22"),
    ("e3", "192.0.2.23"),
];
const CP1: &str = "192.0.2.10";
const CP2: &str = "192.0.2.11";
/// A write refused for want of quorum must be answered within this.
const REFUSED_WITHIN: Duration = Duration::from_secs(20);
/// How long etcd stays without quorum.
const OUTAGE: Duration = Duration::from_secs(25);

/// Every namespace on one switch (a bridge in `sw`): hN 192.0.2.N, the
/// replicas and the etcd members at the addresses above; c1 and c2 are the
/// containers (moved onto h1 and h2 by the CNI plugin).
fn switch(lab: &mut Lab) {
    let mut nodes: Vec<(&str, String)> = vec![("cp1", CP1.into()), ("cp2", CP2.into())];
    nodes.extend(MEMBERS.iter().map(|(ns, ip)| (*ns, ip.to_string())));
    nodes.extend(HOSTS.iter().map(|h| (*h, format!("192.0.2.{}", &h[1..]))));
    lab.add_namespaces(["sw", "c1", "c2"]);
    lab.add_namespaces(nodes.iter().map(|(ns, _)| *ns));
    lab.exec_ok("sw", "ip link add br0 type bridge && ip link set br0 up");
    for (i, (ns, addr)) in nodes.iter().enumerate() {
        sh(&format!(
            "ip link add u0 netns {node} type veth peer name p{i} netns {sw} && \
             ip -n {sw} link set p{i} master br0 up && \
             ip -n {node} addr add {addr}/24 dev u0 && ip -n {node} link set u0 up && \
             ip -n {node} link set lo up",
            node = lab.ns(ns),
            sw = lab.ns("sw"),
        ));
    }
}

/// One `weft control serve` process: its namespace, address and state.
struct Replica {
    ns: &'static str,
    addr: &'static str,
    state: PathBuf,
    starts: u32,
    process: Option<process::Spawned>,
}

impl Replica {
    fn new(lab: &Lab, ns: &'static str, addr: &'static str) -> Replica {
        Replica {
            ns,
            addr,
            state: lab.dir.path().join(ns),
            starts: 0,
            process: None,
        }
    }

    fn grpc(&self) -> String {
        format!("{}:50051", self.addr)
    }

    /// Start it on the shared store; returns what it printed on start.
    fn start(&mut self, lab: &Lab) -> String {
        let store = store_url();
        let advertise = self.grpc();
        let args = ["--store", &store, "--advertise", &advertise];
        self.starts += 1;
        let out = self.state.with_extension(format!("out{}", self.starts));
        let log = out.with_extension(format!("log{}", self.starts));
        let (process, text) = control_common::start_control_in(
            WEFT,
            lab,
            self.ns,
            self.addr,
            &self.state,
            (&out, &log),
            &args,
        );
        self.process = Some(process);
        text
    }

    /// `kill -9`.
    fn kill(&mut self) {
        let mut process = self.process.take().expect("the replica runs");
        process.child.kill().unwrap();
        process.child.wait().unwrap();
    }
}

fn store_url() -> String {
    let members: Vec<String> = MEMBERS.iter().map(|(_, ip)| format!("{ip}:2379")).collect();
    format!("etcd://{}", members.join(","))
}

/// `weft control … --store etcd://…` from `cp1`'s namespace (etcd is only
/// reachable on the switch).
fn operator(lab: &Lab, args: &str) -> Value {
    let out = lab.exec_ok(
        "cp1",
        &format!(
            "{WEFT} control -o json --state-dir {} --store {} {args}",
            lab.dir.path().join("operator").display(),
            store_url()
        ),
    );
    serde_json::from_str(&out).unwrap()
}

struct Tenant {
    ca: String,
    key: String,
}

impl Tenant {
    /// `curl` to `replica`'s REST API from its namespace: the HTTP status
    /// and the body (curl gives up after 60 s).
    fn request(
        &self,
        lab: &Lab,
        replica: &Replica,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (u16, String) {
        let data = body
            .map(|b| format!("-H 'Content-Type: application/json' -d '{b}'"))
            .unwrap_or_default();
        let out = lab.exec_ok(
            replica.ns,
            &format!(
                "curl -sS --max-time 60 -w '\\n%{{http_code}}' -X {method} --cacert {} \
                 -H 'Authorization: Bearer {}' {data} https://{}:8443{path}",
                self.ca, self.key, replica.addr
            ),
        );
        let (body, status) = out.trim_end().rsplit_once('\n').unwrap_or(("", &out));
        (status.trim().parse().unwrap_or(0), body.to_string())
    }

    /// A request that must succeed; its body as JSON.
    #[track_caller]
    fn call(
        &self,
        lab: &Lab,
        via: &Replica,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Value {
        let (status, text) = self.request(lab, via, method, path, body);
        assert!(
            (200..300).contains(&status),
            "{method} {path} through {}: {status} {text}",
            via.ns
        );
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    /// Create network `name` through `via`; wait until every host has it
    /// with two peers.
    fn network_everywhere(&self, lab: &Lab, via: &Replica, name: &str, subnet: &str) {
        let started = Instant::now();
        let body = json!({"name": name, "subnet": subnet});
        let made = self.call(lab, via, "POST", "/v1/networks", Some(body));
        assert_eq!(made["blocks"].as_array().unwrap().len(), 3, "{made}");
        wait_for(
            &format!("{name} (made through {}) on every host", via.ns),
            Duration::from_secs(30),
            || HOSTS.iter().all(|h| peer_count(lab, h, name) == Some(2)),
        );
        eprintln!(
            "{name}, made through {}, reached every host in {:?}",
            via.ns,
            started.elapsed()
        );
    }
}

fn peer_count(lab: &Lab, host: &str, network: &str) -> Option<u64> {
    let out = lab.weft(host, &["network", "ls", "-o", "json"]);
    let nets: Value = serde_json::from_slice(&out.stdout).ok()?;
    let net = nets.as_array()?.iter().find(|n| n["name"] == network)?;
    net["peers"]
        .as_array()
        .map(|p| p.len() as u64)
        .or_else(|| net["peer_count"].as_u64())
}

/// Every agent connected to `replica` (its gRPC address).
fn every_agent_on(lab: &Lab, replica: &str) -> bool {
    HOSTS.iter().all(|h| {
        let control = &lab.weft_json(h, &["status"])["control"];
        control["state"] == "connected" && control["replica"] == replica
    })
}

fn cni_add(lab: &Lab, host: &str, container: &str) -> String {
    let socket = lab.agents[host].socket.display().to_string();
    let conf =
        json!({"cniVersion": "1.1.0", "name": "blue", "type": "weft", "agentSocket": socket})
            .to_string();
    let netns = lab.netns_path(container);
    let env = vars("ADD", container, &netns, "eth0");
    let out = cni::plugin(&lab.weft, &lab.ns(host), &env, &conf);
    assert!(
        out.ok,
        "CNI ADD {container} on {host}: {} {}",
        out.stdout, out.stderr
    );
    out.json()["ips"][0]["address"]
        .as_str()
        .unwrap()
        .replace("/32", "")
}

/// `ping` from a container every 200 ms until stopped.
struct Pinger {
    child: Option<Child>,
    out: PathBuf,
}

impl Pinger {
    fn start(lab: &Lab, from: &str, to: &str) -> Pinger {
        let out = lab.dir.path().join(format!("ping-{from}"));
        let child = Command::new("ip")
            .args([
                "netns",
                "exec",
                &lab.ns(from),
                "ping",
                "-i",
                "0.2",
                "-W",
                "1",
            ])
            .arg(to)
            .stdout(std::fs::File::create(&out).unwrap())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        Pinger {
            child: Some(child),
            out,
        }
    }

    /// Stop it (SIGINT: ping prints its summary); returns how many were
    /// sent and how many answered.
    fn stop(mut self) -> (u32, u32, String) {
        let mut child = self.child.take().unwrap();
        run("kill", &["-INT", &child.id().to_string()]);
        child.wait().unwrap();
        let text = std::fs::read_to_string(&self.out).unwrap();
        let summary = text
            .lines()
            .find(|l| l.contains("packets transmitted"))
            .unwrap_or_else(|| panic!("no summary from ping: {text}"))
            .to_string();
        let count = |suffix: &str| -> u32 {
            summary
                .split(", ")
                .find_map(|p| p.strip_suffix(suffix))
                .and_then(|n| n.trim().parse().ok())
                .unwrap_or(0)
        };
        (count(" packets transmitted"), count(" received"), summary)
    }
}

impl Drop for Pinger {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// No block or host twice: every network has one block per host, the
/// three hosts, each once; no block is handed out twice in any network
/// and networks' blocks lie apart.
fn assert_no_duplicates(status: &Value) {
    let hosts = status["hosts"].as_array().unwrap();
    let ids: BTreeSet<&str> = hosts.iter().map(|h| h["id"].as_str().unwrap()).collect();
    let names: BTreeSet<&str> = hosts.iter().map(|h| h["name"].as_str().unwrap()).collect();
    assert_eq!(hosts.len(), 3, "{status}");
    assert_eq!(ids.len(), 3, "a host twice: {status}");
    assert_eq!(names, BTreeSet::from(HOSTS), "{status}");
    let mut every_block = BTreeSet::new();
    for network in status["networks"].as_array().unwrap() {
        let blocks = network["blocks"].as_array().unwrap();
        let owners: BTreeSet<&str> = blocks.iter().map(|b| b["host"].as_str().unwrap()).collect();
        assert_eq!(blocks.len(), 3, "one block per host: {network}");
        assert_eq!(owners, ids, "a host twice or missing: {network}");
        for block in blocks {
            let block = block["block"].as_str().unwrap();
            assert!(
                every_block.insert(block.to_string()),
                "{block} twice: {status}"
            );
        }
    }
}

/// Every agent runs each network on the block the control plane gave its
/// host there, and on nothing else.
fn assert_hosts_use_their_blocks(lab: &Lab, status: &Value) {
    for host in status["hosts"].as_array().unwrap() {
        let name = host["name"].as_str().unwrap();
        let given: BTreeSet<(String, String)> = host["blocks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| (b["network"].to_string(), b["block"].to_string()))
            .collect();
        let nets = lab.weft_json(name, &["network", "ls"]);
        let used: BTreeSet<(String, String)> = nets
            .as_array()
            .unwrap()
            .iter()
            .map(|n| (n["name"].to_string(), n["block"].to_string()))
            .collect();
        let networks = status["networks"].as_array().unwrap().len();
        assert_eq!(
            given.len(),
            networks,
            "{name}: a block in every network: {host}"
        );
        assert!(given.iter().all(|(_, b)| b.contains('/')), "{host}");
        assert_eq!(used, given, "{name}'s networks: {nets}");
    }
}

#[test]
fn the_control_plane_survives_a_replica_and_etcd_members_dying() {
    require_root!();
    if !require_tools(&["curl"]) || !weft_testkit::etcd::available() {
        return;
    }
    let began = Instant::now();
    let mut lab = Lab::new(WEFT);
    switch(&mut lab);
    let members: Vec<(String, &str)> = MEMBERS.iter().map(|(ns, ip)| (lab.ns(ns), *ip)).collect();
    let members: Vec<(&str, &str)> = members.iter().map(|(ns, ip)| (ns.as_str(), *ip)).collect();
    let mut cluster = Cluster::start_in(&members);

    // Two replicas on the cluster, each advertising only itself: the CA is
    // shared through etcd (the first makes it), the replicas' list too.
    let mut cp1 = Replica::new(&lab, "cp1", CP1);
    let mut cp2 = Replica::new(&lab, "cp2", CP2);
    let first = cp1.start(&lab);
    let fingerprint = first
        .lines()
        .find_map(|l| l.strip_prefix("CA fingerprint: "))
        .unwrap()
        .to_string();
    let second = cp2.start(&lab);
    assert!(second.contains(&fingerprint), "{second}");
    assert!(
        !second.contains("created the control plane's CA"),
        "{second}"
    );
    let ca = cp1.state.join("ca.pem");

    let key = operator(&lab, "tenant create acme")["secret"]
        .as_str()
        .unwrap()
        .to_string();
    let token = operator(&lab, "token create --tenant acme --uses 3")["secret"]
        .as_str()
        .unwrap()
        .to_string();
    let url = format!("https://{}", cp1.grpc());
    for host in HOSTS {
        lab.start_agent_with(
            host,
            &control_common::enroll_args(host, &url, &fingerprint, &token),
        );
    }
    let tenant = Tenant {
        ca: ca.display().to_string(),
        key,
    };
    wait_for(
        "three hosts enrolled and online",
        Duration::from_secs(30),
        || {
            let hosts = tenant.call(&lab, &cp1, "GET", "/v1/hosts", None);
            hosts
                .as_array()
                .is_some_and(|h| h.len() == 3 && h.iter().all(|h| h["state"] == "online"))
        },
    );
    wait_for("every agent on cp1", Duration::from_secs(10), || {
        every_agent_on(&lab, &cp1.grpc())
    });
    tenant.network_everywhere(&lab, &cp1, "blue", "10.42.0.0/16");
    let _c1 = cni_add(&lab, "h1", "c1");
    let c2 = cni_add(&lab, "h2", "c2");
    wait_for(
        "c1 to reach c2 across hosts",
        Duration::from_secs(15),
        || {
            lab.exec("c1", &format!("ping -c1 -W1 {c2}"))
                .status
                .success()
        },
    );
    let pinger = Pinger::start(&lab, "c1", &c2);
    eprintln!("fleet up after {:?}", began.elapsed());

    // cp1 dies: every agent moves to cp2, where changes are made now.
    cp1.kill();
    let started = Instant::now();
    wait_for(
        "every agent to fail over to cp2",
        Duration::from_secs(20),
        || every_agent_on(&lab, &cp2.grpc()),
    );
    eprintln!("every agent on cp2 {:?} after cp1 died", started.elapsed());
    let table = lab.weft_ok("h1", &["status"]);
    assert!(
        table.contains(&format!("replica {}", cp2.grpc())),
        "{table}"
    );
    tenant.network_everywhere(&lab, &cp2, "red", "10.43.0.0/16");

    // One etcd member dies: two of three are a quorum still.
    cluster.members[0].kill();
    tenant.network_everywhere(&lab, &cp2, "green", "10.44.0.0/16");

    // A second dies: no quorum. Writes are refused, clearly and in bounded
    // time; agents and containers carry on.
    cluster.members[1].kill();
    let lost = Instant::now();
    let yellow = json!({"name": "yellow", "subnet": "10.45.0.0/16"});
    let (status, body) = tenant.request(&lab, &cp2, "POST", "/v1/networks", Some(yellow));
    let took = lost.elapsed();
    eprintln!("without quorum, a write was answered {status} in {took:?}: {body}");
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("control plane store unavailable"), "{body}");
    assert!(took < REFUSED_WITHIN, "took {took:?}");
    // The outage lasts past two heartbeats and a replica's registration
    // lease: agents keep their networks and answer all along.
    while lost.elapsed() < OUTAGE {
        for host in HOSTS {
            assert_eq!(
                peer_count(&lab, host, "green"),
                Some(2),
                "{host} kept green"
            );
        }
        std::thread::sleep(Duration::from_secs(2));
    }

    // The members and cp1 come back: every agent connected again, told of
    // both replicas, and a change through cp1 reaches all.
    let started = Instant::now();
    cluster.members[0].restart();
    cluster.members[1].restart();
    cluster.members[0].wait_healthy();
    cluster.members[1].wait_healthy();
    eprintln!("quorum back in {:?}", started.elapsed());
    cp1.start(&lab);
    let both = [cp1.grpc(), cp2.grpc()];
    wait_for(
        "every agent connected and told of both replicas",
        Duration::from_secs(30),
        || {
            HOSTS.iter().all(|h| {
                let replicas = lab.agents[*h].state_dir.join("control/replicas");
                let told = std::fs::read_to_string(replicas).unwrap_or_default();
                let told: BTreeSet<&str> = told.lines().collect();
                lab.weft_json(h, &["status"])["control"]["state"] == "connected"
                    && both.iter().all(|r| told.contains(r.as_str()))
            })
        },
    );
    eprintln!("converged {:?} after the restarts", started.elapsed());
    tenant.network_everywhere(&lab, &cp1, "violet", "10.46.0.0/16");
    let (sent, answered, summary) = pinger.stop();
    eprintln!("c1 → c2 over the failures: {summary}");
    assert!(sent >= 100, "{summary}");
    assert!(sent - answered <= 1, "traffic stopped: {summary}");

    let status = tenant.call(&lab, &cp1, "GET", "/v1/status", None);
    let names: BTreeSet<&str> = status["networks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        BTreeSet::from(["blue", "green", "red", "violet"]),
        "the refused write left nothing behind"
    );
    assert_no_duplicates(&status);
    assert_hosts_use_their_blocks(&lab, &status);
    // The same through cp2: both replicas read one state.
    let seen = tenant.call(&lab, &cp2, "GET", "/v1/status", None);
    assert_eq!(seen["networks"], status["networks"]);

    drop((cp1.process.take(), cp2.process.take()));
    drop(cluster);
    lab.finish();
    eprintln!("whole test: {:?}", began.elapsed());
}
