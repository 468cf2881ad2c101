//! `weft-bench-control`: the simulated agents of `bench/control`.
//!
//! N agents in this one process (a multi-threaded tokio runtime), each
//! enrolled with its own key pair and CSR, each reporting a WireGuard key
//! and listen port for the tenant's network and following its desired
//! state on its own mutual-TLS connection. Setup: enroll and report every
//! agent, then open the streams in waves, each wave waiting for its
//! snapshots (the O(n²) bytes of a full mesh's first snapshots are setup,
//! not measured). Then each change is made `--changes` times:
//!
//!   enroll  a new host enrolls and reports its key: from the start of its
//!           enrollment until every other agent applied a message that has
//!           it as a peer;
//!   port    a host reports another listen port: until every other agent
//!           applied its changed entry.
//!
//! With `--log-rate R` every agent also streams R log records a second
//! (`StreamLogs`, a batch each 250 ms, as `weft agent` does) from before
//! the first change to the end: the same changes under the load of the
//! fleet's logs.
//!
//! For each kind it prints one line, tab-separated, starting with `row`:
//! change, p50, p99 and max milliseconds (over every agent of every
//! repetition), mean and max bytes an agent received for a change, the
//! control plane's CPU seconds per change (mean; all `--control-pid`s,
//! from the change's start until the last agent applied it) and its peak
//! RSS in MiB (the largest VmHWM of those processes). Before them, one
//! line starting with `mem`: the control plane's memory per connected
//! agent in KiB (VmRSS of every `--control-pid` summed, once every stream
//! is open and 5 s have passed, less what it was before the first agent
//! came, over the agents), then those two RSS in MiB. Progress goes to
//! stderr.

// Messages are built with `..Default::default()` even when every field is
// given, so fields added to the proto need no change here.
#![allow(clippy::needless_update)]

mod agent;
mod probe;
mod report;
mod state;

use agent::Agent;
use anyhow::{Context as _, Result, bail, ensure};
use clap::Parser;
use probe::{Probe, Want};
use report::Outcome;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use weft_agent::control::ControlConfig;

#[derive(Parser)]
#[command(about = "bench/control's simulated agents")]
struct Args {
    /// The control plane replicas' gRPC URLs (https://HOST:PORT), comma
    /// separated; agent i uses replica i mod their number.
    #[arg(long, value_delimiter = ',', required = true)]
    control: Vec<String>,
    /// The CA's fingerprint, as `weft control serve` prints it.
    #[arg(long)]
    ca_fingerprint: String,
    /// Enrollment tokens, one per line: TOKEN USES (enough for the agents
    /// and the hosts the enroll changes add).
    #[arg(long)]
    tokens: PathBuf,
    /// The tenant's network every host is in.
    #[arg(long, default_value = "bench")]
    network: String,
    /// How many agents.
    #[arg(long)]
    agents: usize,
    /// How many times each change is made.
    #[arg(long, default_value_t = 5)]
    changes: usize,
    /// Streams opened at once during setup.
    #[arg(long, default_value_t = 250)]
    wave: usize,
    /// Enrollments (and reports) in flight at once during setup.
    #[arg(long, default_value_t = 32)]
    parallel: usize,
    /// The control plane's processes, for their CPU time and peak memory.
    #[arg(long = "control-pid", value_delimiter = ',', required = true)]
    control_pids: Vec<u32>,
    /// How long a change may take to reach every agent.
    #[arg(long, default_value_t = 120)]
    timeout_secs: u64,
    /// How long after a change reached every agent its bytes are still
    /// counted (longer than the control plane's 1 s look).
    #[arg(long, default_value_t = 1500)]
    settle_ms: u64,
    /// Every agent streams this many log records a second while the
    /// changes are made (0: none); the rows' changes are then named
    /// `enroll+logs` and `port+logs`.
    #[arg(long, default_value_t = 0)]
    log_rate: u32,
}

/// Raise the soft descriptor limit to the hard one (two connections per
/// agent, for a moment, while it enrolls); returns it.
fn raise_nofile() -> Result<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit into the struct we own.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(std::io::Error::last_os_error()).context("read RLIMIT_NOFILE");
    }
    limit.rlim_cur = limit.rlim_max;
    // SAFETY: setrlimit only reads the struct.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } != 0 {
        return Err(std::io::Error::last_os_error()).context("raise RLIMIT_NOFILE");
    }
    Ok(limit.rlim_max)
}

fn read_tokens(path: &PathBuf, needed: usize) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("read {}", path.display()))?;
    let mut tokens = Vec::new();
    for (n, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let (token, uses) = line
            .split_once(' ')
            .and_then(|(t, u)| Some((t, u.trim().parse::<usize>().ok()?)))
            .with_context(|| format!("{}:{}: expected TOKEN USES", path.display(), n + 1))?;
        tokens.extend(std::iter::repeat_n(token.to_string(), uses));
    }
    ensure!(
        tokens.len() >= needed,
        "{}: {} enrollments, {needed} needed",
        path.display(),
        tokens.len()
    );
    Ok(tokens)
}

/// Seconds the control plane is left alone after setup before its
/// memory per connected agent is read.
const SETTLE_SECS: u64 = 5;

struct Bench {
    args: Args,
    controls: Vec<ControlConfig>,
    tokens: Vec<String>,
    probe: Arc<Probe>,
    agents: Vec<Agent>,
    started: Instant,
}

fn main() -> Result<()> {
    let args = Args::parse();
    ensure!(args.agents >= 2, "--agents: at least 2");
    ensure!(
        args.wave >= 1 && args.parallel >= 1,
        "--wave and --parallel: at least 1"
    );
    let hard = raise_nofile()?;
    if hard < 2 * args.agents as u64 + 256 {
        eprintln!(
            "bench: warning: RLIMIT_NOFILE is {hard}; {} agents need about {}",
            args.agents,
            2 * args.agents + 256
        );
    }
    let controls = args
        .control
        .iter()
        .map(|url| ControlConfig::new(url, None, Some(&args.ca_fingerprint), None))
        .collect::<Result<Vec<_>, _>>()?;
    let tokens = read_tokens(&args.tokens, args.agents + args.changes)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("start the async runtime")?;
    let probe = Arc::new(Probe::new(args.agents + args.changes));
    let mut bench = Bench {
        args,
        controls,
        tokens,
        probe,
        agents: Vec::new(),
        started: Instant::now(),
    };
    runtime.block_on(bench.run())
}

impl Bench {
    fn log(&self, what: impl std::fmt::Display) {
        eprintln!(
            "bench: [{:7.1} s] {what}",
            self.started.elapsed().as_secs_f64()
        );
    }

    fn control(&self, index: usize) -> &ControlConfig {
        &self.controls[index % self.controls.len()]
    }

    fn cpu(&self) -> Result<Duration> {
        let mut total = Duration::ZERO;
        for pid in &self.args.control_pids {
            total += probe::cpu_time(*pid)?;
        }
        Ok(total)
    }

    /// The control plane's resident memory now, every replica summed.
    fn rss(&self) -> Result<u64> {
        let mut total = 0;
        for pid in &self.args.control_pids {
            total += probe::rss(*pid)?;
        }
        Ok(total)
    }

    async fn run(&mut self) -> Result<()> {
        let before = self.rss()?;
        self.enroll_all().await?;
        self.follow_all().await?;
        // Memory per connected agent: what the control plane holds once
        // every stream is open and the first snapshots' burst is over.
        tokio::time::sleep(Duration::from_secs(SETTLE_SECS)).await;
        let connected = self.rss()?;
        let per_agent = connected.saturating_sub(before) as f64 / self.agents.len() as f64;
        self.log(format!(
            "control plane RSS {:.0} MiB before the agents, {:.0} MiB with {} streams open: {:.1} KiB per agent",
            before as f64 / (1 << 20) as f64,
            connected as f64 / (1 << 20) as f64,
            self.agents.len(),
            per_agent / 1024.0
        ));
        println!(
            "mem\t{:.1}\t{:.0}\t{:.0}",
            per_agent / 1024.0,
            before as f64 / (1 << 20) as f64,
            connected as f64 / (1 << 20) as f64
        );
        if self.args.log_rate > 0 {
            for agent in &self.agents {
                agent.stream_logs(self.args.log_rate);
            }
            self.log(format!(
                "{} agents stream {} log records a second each",
                self.agents.len(),
                self.args.log_rate
            ));
            // Let the streams open and the control plane's writes settle in.
            tokio::time::sleep(Duration::from_secs(5)).await;
        }
        let mut enrolls = Outcome::default();
        let mut ports = Outcome::default();
        for rep in 0..self.args.changes {
            self.enroll_one(rep, &mut enrolls).await?;
            self.change_port(rep, &mut ports).await?;
        }
        let mut peak = 0;
        for pid in &self.args.control_pids {
            peak = peak.max(probe::peak_rss(*pid)?);
        }
        let breaks = self.probe.breaks.load(std::sync::atomic::Ordering::Relaxed);
        if breaks > 0 {
            self.log(format!("{breaks} streams broke and were opened again"));
        }
        let suffix = if self.args.log_rate > 0 { "+logs" } else { "" };
        for (kind, outcome) in [("enroll", enrolls), ("port", ports)] {
            println!("{}", report::row(&format!("{kind}{suffix}"), outcome, peak));
        }
        Ok(())
    }

    /// Enroll and report every agent, `--parallel` at a time.
    async fn enroll_all(&mut self) -> Result<()> {
        let n = self.args.agents;
        self.log(format!(
            "enrolling and reporting {n} agents over {} replica(s)",
            self.controls.len()
        ));
        let mut tasks = tokio::task::JoinSet::new();
        let mut next = 0;
        let mut agents: Vec<Option<Agent>> = (0..n).map(|_| None).collect();
        let mut done = 0;
        while done < n {
            while next < n && tasks.len() < self.args.parallel {
                let control = self.control(next).clone();
                let (token, network) = (self.tokens[next].clone(), self.args.network.clone());
                let index = next;
                tasks.spawn(async move {
                    let mut agent = agent::enroll(index, &control, &token).await?;
                    agent.report(&network).await?;
                    Ok::<_, agent::AgentError>(agent)
                });
                next += 1;
            }
            let agent = tasks.join_next().await.expect("tasks were spawned")??;
            let index = agent.index;
            agents[index] = Some(agent);
            done += 1;
            if done.is_multiple_of(1000) {
                self.log(format!("{done} agents enrolled and reported"));
            }
        }
        self.agents = agents
            .into_iter()
            .map(|a| a.expect("every agent enrolled"))
            .collect();
        if !n.is_multiple_of(1000) {
            self.log(format!("{n} agents enrolled and reported"));
        }
        Ok(())
    }

    /// Open every agent's stream, a wave at a time, and check that each
    /// has every other host as a peer.
    async fn follow_all(&mut self) -> Result<()> {
        let n = self.agents.len();
        let timeout = Duration::from_secs(self.args.timeout_secs);
        for start in (0..n).step_by(self.args.wave) {
            let end = (start + self.args.wave).min(n);
            for agent in &self.agents[start..end] {
                agent.follow(Arc::clone(&self.probe));
            }
            if !self.probe.wait_ready(end, timeout).await {
                bail!(
                    "{} of {end} streams had their first snapshot after {timeout:?}",
                    self.probe.ready()
                );
            }
            if end.is_multiple_of(1000) || end == n {
                self.log(format!("{end} streams open, snapshots applied"));
            }
        }
        let setup_bytes = self.probe.bytes().iter().sum::<u64>();
        self.log(format!(
            "first snapshots: {:.1} MiB in all",
            setup_bytes as f64 / (1 << 20) as f64
        ));
        for agent in &self.agents {
            let peers = agent
                .state
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .network(&self.args.network)
                .map_or(0, |net| net.peers());
            ensure!(
                peers == n - 1,
                "{} has {peers} peers in {}, not {}",
                agent.name,
                self.args.network,
                n - 1
            );
        }
        self.log(format!("every agent has its {} peers", n - 1));
        Ok(())
    }

    /// Measure `want` on every agent but `except`, from `t0`: latencies,
    /// bytes (after a settling time) and CPU time.
    async fn measure(&self, what: &str, t0: u64, cpu0: Duration, out: &mut Outcome) -> Result<()> {
        let timeout = Duration::from_secs(self.args.timeout_secs);
        let all = self.probe.wait_applied(timeout).await;
        let cpu = self.cpu()?.saturating_sub(cpu0);
        tokio::time::sleep(Duration::from_millis(self.args.settle_ms)).await;
        self.probe.disarm();
        let results = self.probe.results(t0);
        let mut latencies: Vec<Duration> = results.iter().filter_map(|r| r.0).collect();
        latencies.sort_unstable();
        let missing = results.len() - latencies.len();
        let bytes: Vec<u64> = results.iter().map(|r| r.1).collect();
        self.log(format!(
            "{what}: {} agents, max {}, mean {:.0} bytes each, {:.2} CPU s{}",
            results.len(),
            if all {
                format!("{:.1} ms", ms(*latencies.last().unwrap_or(&Duration::ZERO)))
            } else {
                "timeout".into()
            },
            bytes.iter().sum::<u64>() as f64 / bytes.len().max(1) as f64,
            cpu.as_secs_f64(),
            if all {
                String::new()
            } else {
                format!(", {missing} never applied it")
            },
        ));
        out.latencies.extend(latencies);
        out.missing += missing;
        out.bytes.extend(bytes);
        out.cpu.push(cpu);
        Ok(())
    }

    fn watchers(&self, except: Option<usize>) -> impl Iterator<Item = usize> + use<> {
        let n = self.agents.len();
        (0..n).filter(move |i| Some(*i) != except)
    }

    /// A new host enrolls and reports its key; it then follows too.
    async fn enroll_one(&mut self, rep: usize, out: &mut Outcome) -> Result<()> {
        let index = self.agents.len();
        let cpu0 = self.cpu()?;
        let t0 = self.probe.reset_bytes();
        let control = self.control(index).clone();
        let mut agent = agent::enroll(index, &control, &self.tokens[index]).await?;
        // Not a peer of anyone before it reports: arming now is in time.
        self.probe.arm(
            Want::Present {
                network: self.args.network.clone(),
                peer: agent.id,
            },
            self.watchers(None),
        );
        agent.report(&self.args.network).await?;
        self.measure(&format!("enroll #{}", rep + 1), t0, cpu0, out)
            .await?;
        agent.follow(Arc::clone(&self.probe));
        let timeout = Duration::from_secs(self.args.timeout_secs);
        if !self.probe.wait_ready(index + 1, timeout).await {
            bail!(
                "the new host {} had no snapshot after {timeout:?}",
                agent.name
            );
        }
        self.agents.push(agent);
        Ok(())
    }

    /// A host reports another listen port.
    async fn change_port(&mut self, rep: usize, out: &mut Outcome) -> Result<()> {
        let n = self.agents.len();
        let k = (rep * 7919 + 1) % n;
        let witness = (k + 1) % n;
        let id = self.agents[k].id;
        let old = self.agents[witness]
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .network(&self.args.network)
            .and_then(|net| net.peer(id))
            .with_context(|| {
                format!(
                    "{} is not a peer of {}",
                    self.agents[k].name, self.agents[witness].name
                )
            })?;
        self.probe.arm(
            Want::Changed {
                network: self.args.network.clone(),
                peer: id,
                old,
            },
            self.watchers(Some(k)),
        );
        let cpu0 = self.cpu()?;
        let t0 = self.probe.reset_bytes();
        let agent = &mut self.agents[k];
        agent.listen_port = agent.listen_port.wrapping_add(1).max(1);
        agent.report(&self.args.network).await?;
        self.measure(&format!("port #{}", rep + 1), t0, cpu0, out)
            .await
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
