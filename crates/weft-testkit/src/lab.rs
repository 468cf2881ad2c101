//! A lab for privileged end-to-end tests: network namespaces standing in for
//! hosts and containers, real `weft agent` processes inside them, and the
//! real `weft` CLI. Everything a lab makes it removes on drop, even when the
//! test fails, and [`Lab::finish`] proves it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use crate::netns::NamedNetns;
use crate::process::{
    Spawned, in_netns, in_netns_with_private_mounts, run_sh, sh, stdout_of, stop_child,
};
use crate::wait::wait_until;

static LABS: AtomicU32 = AtomicU32::new(0);

/// How long an agent gets to stop on SIGTERM before it is killed.
const AGENT_GRACE: Duration = Duration::from_secs(5);

/// A running `weft agent`, with its socket, state directory and log.
pub struct Agent {
    pub host: String,
    pub child: Child,
    pub socket: PathBuf,
    pub state_dir: PathBuf,
    pub log: PathBuf,
}

impl Agent {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

/// A set of namespaces and agents, named with a prefix unique to this test
/// process and lab, so tests can run in parallel.
pub struct Lab {
    /// The `weft` binary under test (`env!("CARGO_BIN_EXE_weft")`).
    pub weft: PathBuf,
    pub prefix: String,
    pub dir: tempfile::TempDir,
    // Dropped after the agents and helpers (see `teardown`), last made first.
    namespaces: Vec<NamedNetns>,
    pub agents: BTreeMap<String, Agent>,
    spawned: Vec<Spawned>,
}

impl Lab {
    pub fn new(weft: impl AsRef<Path>) -> Lab {
        let n = LABS.fetch_add(1, Ordering::SeqCst);
        let prefix = format!("wt{}x{n}-", std::process::id());
        let dir = tempfile::Builder::new()
            .prefix(&format!("weft-test-{prefix}"))
            .tempdir()
            .expect("temp dir");
        std::fs::create_dir_all("/run/wireguard").expect("mkdir /run/wireguard");
        Lab {
            weft: weft.as_ref().to_path_buf(),
            prefix,
            dir,
            namespaces: vec![],
            agents: BTreeMap::new(),
            spawned: vec![],
        }
    }

    /// A lab with namespaces `hosts` and an agent started in each.
    pub fn with_agents(weft: impl AsRef<Path>, hosts: &[&str]) -> Lab {
        let mut lab = Lab::new(weft);
        lab.add_namespaces(hosts);
        for host in hosts {
            lab.start_agent(host);
        }
        lab
    }

    /// The full name of one of this lab's namespaces.
    pub fn ns(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    pub fn netns_path(&self, name: &str) -> String {
        format!("/run/netns/{}", self.ns(name))
    }

    pub fn add_netns(&mut self, name: &str) -> String {
        let ns = NamedNetns::named(&self.ns(name));
        let full = ns.name.clone();
        self.namespaces.push(ns);
        full
    }

    /// [`Lab::add_netns`] for each of `names`, in order.
    pub fn add_namespaces<S: AsRef<str>>(&mut self, names: impl IntoIterator<Item = S>) {
        for name in names {
            self.add_netns(name.as_ref());
        }
    }

    /// Run shell command `cmd` in namespace `ns`: all of it, pipes and
    /// `&&` included.
    pub fn exec(&self, ns: &str, cmd: &str) -> Output {
        run_sh(&in_netns(&self.ns(ns), cmd))
    }

    #[track_caller]
    pub fn exec_ok(&self, ns: &str, cmd: &str) -> String {
        sh(&in_netns(&self.ns(ns), cmd))
    }

    /// Two host namespaces joined by a veth underlay: `a` gets 192.0.2.1/24
    /// on `u0`, `b` 192.0.2.2/24 on `u0`.
    pub fn underlay(&mut self, a: &str, b: &str) {
        crate::netns::underlay(&self.ns(a), "u0", &self.ns(b), "u0");
    }

    /// Host namespaces `hosts` (h1, h2, …: already made) on one switched
    /// underlay: a bridge in a namespace of its own (`switch`, made here),
    /// host hN with 192.0.2.N/24 on `u0`. Unlike [`Lab::underlay`] any
    /// number of hosts share the segment, so a broadcast reaches them all.
    pub fn switched_underlay(&mut self, hosts: &[&str]) {
        let switch = self.add_netns("switch");
        crate::sh(&format!(
            "ip -n {switch} link add br0 type bridge && ip -n {switch} link set br0 up"
        ));
        for host in hosts {
            let n = host.trim_start_matches('h');
            let ns = self.ns(host);
            crate::sh(&format!(
                "ip link add name s{n} netns {switch} type veth peer name u0 netns {ns} && \
                 ip -n {switch} link set s{n} master br0 up && \
                 ip -n {ns} addr add 192.0.2.{n}/24 dev u0 && ip -n {ns} link set u0 up && \
                 ip -n {ns} link set lo up"
            ));
        }
    }

    /// Start `weft agent` inside host namespace `host`, in a mount namespace
    /// of its own with a private /run/wireguard (so `wg` finds only this
    /// agent's interfaces there), with socket and state under the lab's dir.
    pub fn start_agent(&mut self, host: &str) -> &Agent {
        self.start_agent_with(host, &[])
    }

    pub fn start_agent_with(&mut self, host: &str, extra: &[&str]) -> &Agent {
        self.start_agent_env(host, extra, &[])
    }

    /// [`Lab::start_agent_with`], the agent's environment added to with
    /// `env` (`PATH`, `WEFT_KVM`, …).
    pub fn start_agent_env(&mut self, host: &str, extra: &[&str], env: &[(&str, &str)]) -> &Agent {
        let base = self.dir.path().join(host);
        std::fs::create_dir_all(&base).unwrap();
        let socket = base.join("agent.sock");
        let state_dir = base.join("state");
        let log = base.join("agent.log");
        let logfile = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap();
        let script = format!(
            "mount -t tmpfs weft-uapi /run/wireguard && exec {} agent --socket {} --state-dir {} --log info,weft=debug,weft_agent=debug,weft_net=debug,weft_wg=debug {}",
            self.weft.display(),
            socket.display(),
            state_dir.display(),
            extra.join(" ")
        );
        let child = in_netns_with_private_mounts(&self.ns(host), &script)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(logfile.try_clone().unwrap())
            .stderr(logfile)
            .spawn()
            .expect("spawn weft agent");
        let agent = Agent {
            host: host.to_string(),
            child,
            socket: socket.clone(),
            state_dir,
            log: log.clone(),
        };
        self.agents.insert(host.to_string(), agent);
        let agent = self.agents.get_mut(host).unwrap();
        wait_until(
            &format!("the agent on {host} to listen"),
            Duration::from_secs(20),
            || {
                if let Ok(Some(status)) = agent.child.try_wait() {
                    panic!(
                        "agent on {host} exited ({status}): {}",
                        std::fs::read_to_string(&log).unwrap_or_default()
                    );
                }
                std::os::unix::net::UnixStream::connect(&socket)
                    .ok()
                    .map(drop)
            },
        );
        &self.agents[host]
    }

    /// `kill -9` the agent on `host` and reap it.
    pub fn kill_agent(&mut self, host: &str) {
        let mut agent = self.agents.remove(host).expect("agent exists");
        let _ = agent.child.kill();
        let _ = agent.child.wait();
    }

    /// Stop the agent on `host` with SIGTERM and wait for it.
    pub fn stop_agent(&mut self, host: &str) -> ExitStatus {
        let mut agent = self.agents.remove(host).expect("agent exists");
        sh(&format!("kill -TERM {}", agent.pid()));
        agent.child.wait().expect("wait for agent")
    }

    /// The `weft` CLI with its socket set to the agent on `host`; add the
    /// arguments and run it.
    pub fn weft_command(&self, host: &str) -> Command {
        let socket = self
            .agents
            .get(host)
            .map(|a| a.socket.clone())
            .unwrap_or_else(|| self.dir.path().join(host).join("agent.sock"));
        let mut command = Command::new(&self.weft);
        command.env("WEFT_SOCKET", socket).stdin(Stdio::null());
        command
    }

    /// Run the `weft` CLI against the agent on `host`.
    pub fn weft(&self, host: &str, args: &[&str]) -> Output {
        self.weft_command(host)
            .args(args)
            .output()
            .expect("spawn weft")
    }

    /// Like `weft` but the command must succeed; returns stdout.
    #[track_caller]
    pub fn weft_ok(&self, host: &str, args: &[&str]) -> String {
        stdout_of(self.weft(host, args), &format!("weft {args:?} on {host}"))
    }

    #[track_caller]
    pub fn weft_json(&self, host: &str, args: &[&str]) -> serde_json::Value {
        let mut all = args.to_vec();
        all.extend(["--output", "json"]);
        let text = self.weft_ok(host, &all);
        serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("weft {args:?}: bad JSON ({e}): {text}"))
    }

    /// Create network `name` on host `hN` (N = 1, 2, …) with subnet
    /// 10.<octet>.0.0/16 and block 10.<octet>.N.0/24; returns its JSON.
    pub fn network_on(&self, host: &str, name: &str, octet: u8) -> serde_json::Value {
        let n = host.trim_start_matches('h');
        self.weft_json(
            host,
            &[
                "network",
                "create",
                name,
                "--subnet",
                &format!("10.{octet}.0.0/16"),
                "--block",
                &format!("10.{octet}.{n}.0/24"),
            ],
        )
    }

    /// Create bridge-mode network `name` with `subnet` on `host`; returns
    /// its JSON.
    pub fn bridge_on(&self, host: &str, name: &str, subnet: &str) -> serde_json::Value {
        let args = [
            "network", "create", name, "--mode", "bridge", "--subnet", subnet,
        ];
        self.weft_json(host, &args)
    }

    /// Attach the workload in lab namespace `workload` (which is also its
    /// id) to `network` on `host`, with any further `weft attach` arguments;
    /// returns the attachment's JSON.
    pub fn attach(
        &self,
        host: &str,
        network: &str,
        workload: &str,
        extra: &[&str],
    ) -> serde_json::Value {
        let netns = self.netns_path(workload);
        let mut args = vec!["attach", network, "--netns", &netns, "--id", workload];
        args.extend_from_slice(extra);
        self.weft_json(host, &args)
    }

    /// The public key of `host`'s network `name`.
    pub fn public_key(&self, host: &str, name: &str) -> String {
        let nets = self.weft_json(host, &["network", "ls"]);
        let net = nets
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["name"] == name)
            .unwrap_or_else(|| panic!("no {name} on {host}"));
        net["public_key"].as_str().unwrap().to_string()
    }

    /// Make host `to` (hN, underlay 192.0.2.N) a peer of `from` on network
    /// `name` (as made by [`Lab::network_on`]), listening on `port`.
    pub fn peer(&self, from: &str, to: &str, name: &str, octet: u8, port: u16) {
        let n = to.trim_start_matches('h');
        let key = self.public_key(to, name);
        self.weft_ok(
            from,
            &[
                "peer",
                "add",
                name,
                "--public-key",
                &key,
                "--endpoint",
                &format!("192.0.2.{n}:{port}"),
                "--allowed-ips",
                &format!("10.{octet}.{n}.0/24"),
            ],
        );
    }

    /// Run a command in the agent's network and mount namespaces (where its
    /// /run/wireguard is), e.g. `wg show`.
    pub fn in_agent(&self, host: &str, cmd: &str) -> Output {
        let pid = self.agents[host].pid();
        run_sh(&format!("nsenter -t {pid} -m -n {cmd}"))
    }

    /// Start `script` (a path, e.g. a test fixture) with python3 inside
    /// namespace `ns`; returns once it prints "ready". Stopped on drop.
    pub fn fixture(&mut self, ns: &str, script: &Path, args: &[&str]) {
        use std::io::BufRead as _;
        let mut child = Command::new("ip")
            .args(["netns", "exec", &self.ns(ns), "python3", "-u"])
            .arg(script)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn python3");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(
            line.trim(),
            "ready",
            "fixture {} did not start",
            script.display()
        );
        self.keep(child);
    }

    /// Keep a spawned helper process to be stopped on drop.
    pub fn keep(&mut self, child: Child) {
        self.spawned.push(Spawned::new(child));
    }

    pub fn agent_log(&self, host: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(host).join("agent.log")).unwrap_or_default()
    }

    /// Tear down now (drop does the same) and prove nothing is left.
    pub fn finish(mut self) {
        self.teardown();
        assert_clean(&self.prefix);
    }

    fn teardown(&mut self) {
        self.spawned.clear();
        for (host, mut agent) in std::mem::take(&mut self.agents) {
            if std::thread::panicking() {
                eprintln!(
                    "--- agent log of {host} ---\n{}",
                    std::fs::read_to_string(&agent.log).unwrap_or_default()
                );
            }
            stop_child(&mut agent.child, AGENT_GRACE);
        }
        // Containers first, then hosts: deleting a namespace destroys its links.
        while let Some(ns) = self.namespaces.pop() {
            drop(ns);
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.teardown();
    }
}

/// Nothing with this prefix remains: no namespace, no process, no link in
/// the host namespace, no socket file.
pub fn assert_clean(prefix: &str) {
    let namespaces = sh("ip netns list");
    assert!(
        !namespaces.lines().any(|l| l.starts_with(prefix)),
        "namespaces left: {namespaces}"
    );
    // The bracket keeps pgrep's own shell from matching the pattern.
    let (first, rest) = prefix.split_at(1);
    let procs = run_sh(&format!("pgrep -af 'weft-test-[{first}]{rest}'"));
    let procs = String::from_utf8_lossy(&procs.stdout);
    assert!(procs.trim().is_empty(), "processes left: {procs}");
    let links = sh("ip -j link show");
    assert!(
        !links.contains("\"weft:"),
        "weft links left in the host namespace: {links}"
    );
}
