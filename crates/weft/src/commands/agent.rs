//! `weft agent`: run the per-host daemon.

use super::Context;
use anyhow::{Context as _, Result};
use std::path::PathBuf;
use std::sync::Arc;
use weft_agent::control::logs::LogBuffer;
use weft_agent::{AgentConfig, WireguardMode};

mod runner;

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum Mode {
    /// The kernel module when present, else the userspace engine.
    Auto,
    Kernel,
    Userspace,
}

#[derive(clap::Args)]
pub struct Args {
    /// Where the agent keeps its state (networks, keys, attachments).
    #[arg(long, env = "WEFT_STATE_DIR", default_value = weft_agent::DEFAULT_STATE_DIR)]
    state_dir: PathBuf,
    /// Directory of the userspace engine's WireGuard UAPI sockets (`wg` looks
    /// in /var/run/wireguard).
    #[arg(long, default_value = weft_wg::DEFAULT_UAPI_DIR)]
    uapi_dir: PathBuf,
    /// Which WireGuard implementation carries traffic.
    #[arg(long, value_enum, default_value_t = Mode::Auto)]
    wireguard: Mode,
    /// This host's name in the networks' DNS zones (`<host>.<domain>`);
    /// default: the machine's host name.
    #[arg(long)]
    host_name: Option<String>,
    /// Resolver for names outside the networks' domains, IP:PORT; repeat for
    /// more. Default: the nameservers of /etc/resolv.conf.
    #[arg(long = "dns-upstream", value_name = "IP:PORT")]
    dns_upstream: Vec<std::net::SocketAddr>,
    /// Every SECS seconds, read each peer's byte counters and probe the
    /// peers whose traffic goes unanswered, whose latest probe failed, or
    /// that are due (see --idle-probe-interval).
    #[arg(long, value_name = "SECS", default_value_t = 2.0)]
    probe_interval: f64,
    /// Probe a peer at least every SECS seconds even when nothing suggests
    /// trouble: a peer that stops answering an idle mesh is unhealthy
    /// within this plus 2 s. Longer sends less when idle.
    #[arg(long, value_name = "SECS", default_value_t = 30.0)]
    idle_probe_interval: f64,
    /// A peer whose latest handshake is older than SECS is `degraded`.
    #[arg(long, value_name = "SECS", default_value_t = 180.0)]
    degraded_after: f64,
    /// Check the kernel state weft made (interfaces, peers, addresses,
    /// routes, workloads' veths) every SECS seconds and repair what drifted
    /// (0.2 to 600).
    #[arg(long, value_name = "SECS", default_value_t = 2.0)]
    reconcile_interval: f64,
    /// Serve Prometheus metrics on ADDR:PORT (e.g. 127.0.0.1:9586).
    #[arg(long, value_name = "ADDR:PORT")]
    metrics: Option<std::net::SocketAddr>,
    /// Userspace engine: after handling packets, keep polling for more for
    /// this many microseconds before sleeping (0: never). Longer trades idle
    /// CPU for latency: replies that come back within it need no wake-up.
    #[arg(long, value_name = "MICROS", default_value_t = 50,
          value_parser = clap::value_parser!(u64).range(0..=1_000_000))]
    busy_poll: u64,
    /// Userspace engine: no TUN offloads or UDP GSO/GRO (one packet per read
    /// and write). For comparison and for kernels that misbehave with them.
    #[arg(long)]
    no_offloads: bool,
    /// Enroll with this control plane's gRPC port and follow it,
    /// e.g. https://cp.example:50051 (optional: without it, this host is
    /// driven only through its socket and `weft up`).
    #[arg(long, value_name = "URL", env = "WEFT_CONTROL")]
    control: Option<String>,
    /// The enrollment token from `weft control token create` (needed until
    /// the host has enrolled; better passed in the environment).
    #[arg(
        long,
        env = "WEFT_ENROLL_TOKEN",
        hide_env_values = true,
        requires = "control"
    )]
    enroll_token: Option<String>,
    /// The control plane CA's fingerprint, as `weft control serve` prints it.
    #[arg(
        long,
        value_name = "SHA256:…",
        env = "WEFT_CA_FINGERPRINT",
        requires = "control",
        conflicts_with = "ca_file"
    )]
    ca_fingerprint: Option<String>,
    /// The control plane's CA certificate (PEM), instead of its fingerprint.
    #[arg(long, env = "WEFT_CA_FILE", requires = "control")]
    ca_file: Option<PathBuf>,
    /// Log filter (tracing's EnvFilter syntax), e.g. `debug` or `weft_wg=trace`.
    #[arg(long, env = "WEFT_LOG", default_value = "info,hickory_server=warn")]
    log: String,
    /// With --control: stream weft's log records at this level or more
    /// severe to the control plane (`weft control logs HOST`). Secrets and
    /// key material are cut from every record before it is kept.
    #[arg(long, value_enum, default_value_t = LogLevel::Info, requires = "control")]
    control_log_level: LogLevel,
    /// With --control: records held for the control plane while it is slow
    /// or away (also at most 4 MiB); when full the oldest are dropped and
    /// counted (metric weft_control_log_records_dropped, and a record once
    /// back).
    #[arg(long, value_name = "RECORDS", default_value_t = weft_agent::control::logs::DEFAULT_RECORDS,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000),
          requires = "control")]
    control_log_buffer: u32,
    /// A directory the control plane's VMs may boot from: their kernel,
    /// initrd and root disk (`run` of `POST /v1/vms`) must be files in
    /// one of these (symbolic links resolved), so a tenant's API key
    /// cannot hand a guest any file of the host. Repeat for several.
    #[arg(long = "vm-files", value_name = "DIR", default_value = runner::DEFAULT_VM_FILES)]
    vm_files: Vec<PathBuf>,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

impl LogLevel {
    fn level(self) -> tracing::Level {
        match self {
            LogLevel::Error => tracing::Level::ERROR,
            LogLevel::Warn => tracing::Level::WARN,
            LogLevel::Info => tracing::Level::INFO,
            LogLevel::Debug => tracing::Level::DEBUG,
            LogLevel::Trace => tracing::Level::TRACE,
        }
    }
}

fn seconds(flag: &str, value: f64) -> Result<std::time::Duration> {
    if !(value > 0.0 && value.is_finite()) {
        anyhow::bail!("{flag} {value}: must be a positive number of seconds");
    }
    Ok(std::time::Duration::from_secs_f64(value))
}

fn reconcile_interval(value: f64) -> Result<std::time::Duration> {
    let interval = seconds("--reconcile-interval", value)?;
    let (min, max) = weft_agent::RECONCILE_INTERVAL_BOUNDS;
    if interval < min || interval > max {
        anyhow::bail!(
            "--reconcile-interval {value}: must be between {} and {} seconds",
            min.as_secs_f64(),
            max.as_secs_f64()
        );
    }
    Ok(interval)
}

fn machine_host_name() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .map(|h| h.split('.').next().unwrap_or_default().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "host".into())
}

/// Raise the soft limit on open files to the hard one, as daemons do: the
/// agent's descriptors (sockets, netlink, TUN queues, DNS responders) grow
/// with networks and workloads, and the usual soft limit of 1,024 is a
/// relic of select(2), which nothing here uses.
fn raise_open_files_limit() {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    match getrlimit(Resource::RLIMIT_NOFILE) {
        Ok((soft, hard)) if soft < hard => match setrlimit(Resource::RLIMIT_NOFILE, hard, hard) {
            Ok(()) => tracing::debug!(from = soft, to = hard, "raised the open files limit"),
            Err(e) => tracing::warn!("raise the open files limit from {soft} to {hard}: {e}"),
        },
        Ok(_) => {}
        Err(e) => tracing::warn!("read the open files limit: {e}"),
    }
}

/// Logs to stderr (filtered by `--log`) and, with a control plane, into
/// the buffer streamed to it (filtered by `--control-log-level`); each
/// output with its own filter.
fn init_logging(args: &Args) -> Result<Option<Arc<LogBuffer>>> {
    use tracing_subscriber::Layer as _;
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    let filter = tracing_subscriber::EnvFilter::try_new(&args.log).context("--log")?;
    let stderr = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_filter(filter);
    let buffer = args.control.as_ref().map(|_| {
        Arc::new(LogBuffer::new(
            args.control_log_buffer as usize,
            weft_agent::control::logs::MAX_BYTES,
        ))
    });
    let streamed = (buffer.clone())
        .map(|b| weft_agent::control::logs::layer(b, args.control_log_level.level()));
    tracing_subscriber::registry()
        .with(stderr)
        .with(streamed)
        .init();
    Ok(buffer)
}

pub fn exec(ctx: &Context, args: Args) -> Result<()> {
    let logs = init_logging(&args)?;
    raise_open_files_limit();
    let control = match &args.control {
        Some(url) => {
            let config = weft_agent::control::ControlConfig::new(
                url,
                args.enroll_token.clone(),
                args.ca_fingerprint.as_deref(),
                args.ca_file.as_deref(),
            )?;
            let config = config.with_vm_runner(Arc::new(runner::SupervisedVms::new(
                &args.state_dir,
                args.vm_files.clone(),
            )?));
            Some(match logs {
                Some(buffer) => config.with_logs(buffer),
                None => config,
            })
        }
        None => None,
    };
    let config = AgentConfig {
        socket: ctx.socket.clone(),
        state_dir: args.state_dir,
        uapi_dir: args.uapi_dir,
        wireguard: match args.wireguard {
            Mode::Auto => WireguardMode::Auto,
            Mode::Kernel => WireguardMode::Kernel,
            Mode::Userspace => WireguardMode::Userspace,
        },
        host_name: args.host_name.unwrap_or_else(machine_host_name),
        dns_upstream: (!args.dns_upstream.is_empty()).then_some(args.dns_upstream),
        health: weft_agent::HealthSettings {
            probe_interval: seconds("--probe-interval", args.probe_interval)?,
            idle_probe_interval: seconds("--idle-probe-interval", args.idle_probe_interval)?,
            degraded_after: seconds("--degraded-after", args.degraded_after)?,
        },
        metrics: args.metrics,
        reconcile_interval: reconcile_interval(args.reconcile_interval)?,
        engine: weft_wg::EngineOptions {
            offloads: !args.no_offloads,
            busy_poll: std::time::Duration::from_micros(args.busy_poll),
            ..Default::default()
        },
        control,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("start the async runtime")?;
    rt.block_on(async {
        let shutdown = async {
            use tokio::signal::unix::{SignalKind, signal};
            let mut term = signal(SignalKind::terminate()).expect("install SIGTERM handler");
            let mut int = signal(SignalKind::interrupt()).expect("install SIGINT handler");
            tokio::select! {
                _ = term.recv() => {},
                _ = int.recv() => {},
            }
            tracing::info!("stopping");
        };
        weft_agent::run(config, shutdown).await
    })?;
    Ok(())
}
