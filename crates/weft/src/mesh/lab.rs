//! Lab hosts: each a network namespace on this machine with its own agent
//! (in a mount namespace of its own, so its `/var/run/wireguard` is its
//! own), all joined by a bridge in the lab's underlay namespace. Nothing of
//! a lab touches the machine's own network namespace.

use super::host::{LabHost, run};
use super::{Mesh, write_atomic};
use anyhow::{Context as _, Result, bail};
use ipnet::IpNet;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::os::unix::process::CommandExt as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Where lab hosts get their underlay addresses.
pub const UNDERLAY_POOL: &str = "198.18.0.0/24";

pub struct Lab<'a> {
    pub mesh: &'a Mesh,
}

fn ip(args: &[&str], what: &str) -> Result<String> {
    let mut cmd = Command::new("ip");
    cmd.args(args);
    run(cmd, what)
}

fn netns_exists(name: &str) -> bool {
    std::path::Path::new("/run/netns").join(name).exists()
}

impl Lab<'_> {
    fn underlay_ns(&self) -> String {
        self.mesh.netns("underlay")
    }

    fn underlay_file(&self) -> std::path::PathBuf {
        self.mesh.dir.join("lab.json")
    }

    pub fn host(&self, name: &str) -> LabHost {
        LabHost {
            name: name.to_string(),
            netns: self.mesh.netns(name),
            dir: self.mesh.dir.join("hosts").join(name),
        }
    }

    /// The underlay addresses given so far.
    pub fn underlay(&self) -> BTreeMap<String, IpAddr> {
        std::fs::read(self.underlay_file())
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    /// Record the underlay addresses given (`lab.json`).
    pub fn set_underlay(&self, addresses: &BTreeMap<String, IpAddr>) -> Result<()> {
        std::fs::create_dir_all(&self.mesh.dir)
            .with_context(|| format!("create {}", self.mesh.dir.display()))?;
        write_atomic(
            &self.underlay_file(),
            &serde_json::to_vec_pretty(addresses)?,
        )
    }

    /// Make (or keep) the underlay and every lab host with a running agent;
    /// returns the hosts' underlay addresses.
    pub fn ensure(&self, log: &(dyn Fn(&str, &str) + Sync)) -> Result<BTreeMap<String, IpAddr>> {
        let pool: IpNet = UNDERLAY_POOL.parse().expect("valid pool");
        let existing = self.underlay();
        let addresses = weft_mesh::assign_lab_underlay(&self.mesh.file, &existing, &pool)
            .context("lab underlay")?;
        self.set_underlay(&addresses)?;
        let ul = self.underlay_ns();
        if !netns_exists(&ul) {
            ip(&["netns", "add", &ul], "create the lab underlay")?;
            ip(
                &["-n", &ul, "link", "add", "br0", "type", "bridge"],
                "create the lab bridge",
            )?;
            ip(
                &["-n", &ul, "link", "set", "br0", "up"],
                "bring up the lab bridge",
            )?;
            log("lab", &format!("underlay {ul} ({UNDERLAY_POOL})"));
        }
        // Hosts are made and their agents started side by side.
        let hosts: Vec<(&String, &IpAddr)> = addresses.iter().collect();
        for made in
            super::parallel::each(&hosts, |(name, addr)| self.ensure_host(name, **addr, log))
        {
            made?;
        }
        Ok(addresses)
    }

    fn ensure_host(
        &self,
        name: &str,
        addr: IpAddr,
        log: &(dyn Fn(&str, &str) + Sync),
    ) -> Result<()> {
        let host = self.host(name);
        let ul = self.underlay_ns();
        if !netns_exists(&host.netns) {
            let veth = format!("l{:08x}", weft_model::naming::fnv1a(name.as_bytes()) as u32);
            let cidr = format!("{addr}/{}", UNDERLAY_POOL.split('/').nth(1).unwrap_or("24"));
            let ns = host.netns.as_str();
            let what = format!("lab host {name}");
            ip(&["netns", "add", ns], &what)?;
            let made = (|| -> Result<()> {
                ip(&["-n", ns, "link", "set", "lo", "up"], &what)?;
                ip(
                    &[
                        "-n", &ul, "link", "add", &veth, "type", "veth", "peer", "name", "u0",
                        "netns", ns,
                    ],
                    &what,
                )?;
                ip(
                    &["-n", &ul, "link", "set", &veth, "master", "br0", "up"],
                    &what,
                )?;
                ip(&["-n", ns, "addr", "add", &cidr, "dev", "u0"], &what)?;
                ip(&["-n", ns, "link", "set", "u0", "up"], &what)?;
                Ok(())
            })();
            if let Err(e) = made {
                let _ = ip(&["netns", "del", ns], &what);
                return Err(e);
            }
            log(name, &format!("lab host {ns}, underlay {cidr}"));
        }
        if !agent_answers(&host) {
            start_agent(&host)?;
            log(
                name,
                &format!("agent started (pid {})", host.pid().unwrap_or(0)),
            );
        }
        Ok(())
    }

    /// Stop a lab host's agent and remove its namespace and files.
    pub fn remove_host(&self, name: &str) -> Result<()> {
        let host = self.host(name);
        stop_agent(&host);
        if netns_exists(&host.netns) {
            ip(
                &["netns", "del", &host.netns],
                &format!("remove lab host {name}"),
            )?;
        }
        let _ = std::fs::remove_dir_all(&host.dir);
        Ok(())
    }

    /// Remove every lab host and the underlay.
    pub fn remove_all(&self) -> Result<()> {
        let mut names: Vec<String> = self.underlay().into_keys().collect();
        if let Ok(dirs) = std::fs::read_dir(self.mesh.dir.join("hosts")) {
            names.extend(dirs.filter_map(|d| d.ok()?.file_name().into_string().ok()));
        }
        names.sort();
        names.dedup();
        // Agents stop side by side: each takes a moment to let go.
        for removed in super::parallel::each(&names, |name| self.remove_host(name)) {
            removed?;
        }
        let ul = self.underlay_ns();
        if netns_exists(&ul) {
            ip(&["netns", "del", &ul], "remove the lab underlay")?;
        }
        let _ = std::fs::remove_file(self.underlay_file());
        Ok(())
    }
}

pub fn agent_answers(host: &LabHost) -> bool {
    host.pid()
        .and_then(|pid| i32::try_from(pid).ok())
        .is_some_and(crate::commands::service::alive)
        && std::os::unix::net::UnixStream::connect(host.socket()).is_ok()
}

fn start_agent(host: &LabHost) -> Result<()> {
    std::fs::create_dir_all(&host.dir)?;
    std::fs::create_dir_all("/run/wireguard").context("create /run/wireguard")?;
    let weft = std::env::current_exe().context("find this weft binary")?;
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(host.dir.join("agent.log"))?;
    let script = format!(
        "mount -t tmpfs weft-uapi /run/wireguard && exec {} agent --socket {} --state-dir {} --host-name {}",
        super::host::quote(&weft.display().to_string()),
        super::host::quote(&host.socket().display().to_string()),
        super::host::quote(&host.dir.join("state").display().to_string()),
        super::host::quote(&host.name),
    );
    let mut cmd = Command::new("ip");
    cmd.args([
        "netns",
        "exec",
        &host.netns,
        "unshare",
        "-m",
        "--propagation",
        "slave",
        "sh",
        "-c",
        &script,
    ])
    .env_remove("CNI_COMMAND")
    .stdin(Stdio::null())
    .stdout(log.try_clone()?)
    .stderr(log);
    // The agent outlives this command. A process group of its own is all
    // that takes: the terminal's signals go to the foreground group (Ctrl-C)
    // and, on hangup, to the session leader and that group, never to
    // another group; its stdio are not the terminal, so it never touches
    // it. (A session of its own would need setsid() in `pre_exec`, which is
    // unsafe for no gain here.)
    cmd.process_group(0);
    let child = cmd.spawn().context("start a lab agent")?;
    // `ip netns exec`, `unshare` and `sh -c 'exec …'` all exec: the pid is the agent's.
    std::fs::write(host.dir.join("agent.pid"), child.id().to_string())?;
    let start = Instant::now();
    while !agent_answers(host) {
        if start.elapsed() > Duration::from_secs(20) {
            let log = std::fs::read_to_string(host.dir.join("agent.log")).unwrap_or_default();
            bail!(
                "{}: the agent did not start: {}",
                host.name,
                log.lines().last().unwrap_or("")
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

fn stop_agent(host: &LabHost) {
    let Some(pid) = host.pid().and_then(|pid| i32::try_from(pid).ok()) else {
        return;
    };
    // An agent that exited is done, reaped or not (its parent, `weft up`,
    // is gone; init reaps it when it gets to it).
    let alive = || crate::commands::service::alive(pid);
    if !alive() {
        return;
    }
    let pid = Pid::from_raw(pid);
    // Errors mean the agent is gone already (ESRCH): nothing left to do.
    let _ = kill(pid, Signal::SIGTERM);
    let start = Instant::now();
    while alive() && start.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(50));
    }
    if alive() {
        let _ = kill(pid, Signal::SIGKILL);
    }
}
