//! `weft control serve`: its flags, checked, and the server run until
//! SIGTERM or SIGINT.

use super::runtime;
use anyhow::{Context as _, Result};
use std::net::SocketAddr;
use std::path::PathBuf;
use weft_control::{api, deployment, serve};

#[derive(clap::Args)]
pub(super) struct ServeArgs {
    /// The REST API's address (tenants).
    #[arg(long, default_value = serve::DEFAULT_LISTEN)]
    listen: SocketAddr,
    /// The gRPC address agents enroll with and then connect to (mutual TLS).
    #[arg(long, default_value = serve::DEFAULT_GRPC)]
    grpc: SocketAddr,
    /// A name or address agents and tenants reach this server by, for its
    /// certificate; repeat for more (default: localhost, 127.0.0.1, ::1 and
    /// the machine's host name).
    #[arg(long = "server-name", value_name = "NAME")]
    server_names: Vec<String>,
    /// The gRPC address of a replica serving this control plane (this one
    /// included), told to agents so they fail over between them; repeat
    /// for each (default: this one, at --grpc or its first --server-name).
    #[arg(long, value_name = "HOST:PORT", value_parser = host_port)]
    advertise: Vec<String>,
    /// Serve this certificate (PEM) instead of one made by the CA.
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The key of --tls-cert (PEM, mode 0600).
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Use this CA (PEM) instead of the one in the state directory.
    #[arg(long, requires = "ca_key")]
    ca_cert: Option<PathBuf>,
    /// The key of --ca-cert (PEM, mode 0600).
    #[arg(long, requires = "ca_cert")]
    ca_key: Option<PathBuf>,
    /// Enrollments the server takes per second, and the burst it allows
    /// (default: 5/20).
    #[arg(long, value_name = "RATE/BURST", value_parser = parse_rate)]
    enroll_rate: Option<(f64, u32)>,
    /// The same for each client address (default: 1/10).
    #[arg(long, value_name = "RATE/BURST", value_parser = parse_rate)]
    enroll_rate_per_address: Option<(f64, u32)>,
    /// How many of each host's log records to keep (the newest), for
    /// `GET /v1/hosts/{id}/logs` and `weft control logs` (1 to 100000).
    #[arg(long, value_name = "RECORDS", default_value_t = serve::DEFAULT_LOGS_PER_HOST,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    logs_per_host: u32,
    /// Log filter (tracing's EnvFilter syntax).
    #[arg(long, env = "WEFT_LOG", default_value = "info")]
    log: String,
}

/// `RATE/BURST`: a positive rate per second and a burst of at least 1.
pub(super) fn parse_rate(text: &str) -> Result<(f64, u32), String> {
    let bad = || format!("{text:?}: expected RATE/BURST, e.g. 5/20");
    let (rate, burst) = text.split_once('/').ok_or_else(bad)?;
    let rate: f64 = rate.trim().parse().map_err(|_| bad())?;
    let burst: u32 = burst.trim().parse().map_err(|_| bad())?;
    if !(rate.is_finite() && rate > 0.0) || burst == 0 {
        return Err(format!("{text:?}: the rate and the burst must be positive"));
    }
    Ok((rate, burst))
}

/// `HOST:PORT` (an IPv6 address in brackets), as agents will dial it.
pub(super) fn host_port(text: &str) -> Result<String, String> {
    let bad = || format!("{text:?}: expected HOST:PORT ([ADDRESS]:PORT for IPv6)");
    let (host, port) = text.rsplit_once(':').ok_or_else(bad)?;
    let port_ok = port.parse::<u16>().is_ok_and(|p| p != 0);
    let host_ok = match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        Some(v6) => v6.parse::<std::net::Ipv6Addr>().is_ok(),
        None => !host.is_empty() && !host.contains([':', '/', '[', ']']),
    };
    if port_ok && host_ok {
        Ok(text.to_string())
    } else {
        Err(bad())
    }
}

fn default_server_names() -> Vec<String> {
    let mut names = vec!["localhost".to_string(), "127.0.0.1".into(), "::1".into()];
    if let Some(host) = nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .filter(|h| !h.is_empty() && h != "localhost")
    {
        names.push(host);
    }
    names
}

pub(super) fn serve_cmd(
    state_dir: PathBuf,
    store: deployment::StoreConfig,
    args: ServeArgs,
) -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_new(&args.log).context("--log")?)
        .with_writer(std::io::stderr)
        .init();
    let config = serve::ServeConfig {
        listen: args.listen,
        grpc: args.grpc,
        state_dir,
        server_names: if args.server_names.is_empty() {
            default_server_names()
        } else {
            args.server_names
        },
        tls_cert: args.tls_cert,
        tls_key: args.tls_key,
        ca_cert: args.ca_cert,
        ca_key: args.ca_key,
        enroll_rate: args.enroll_rate.unwrap_or(serve::DEFAULT_ENROLL_RATE),
        enroll_rate_per_address: args
            .enroll_rate_per_address
            .unwrap_or(serve::DEFAULT_ENROLL_RATE_PER_ADDRESS),
        advertise: args.advertise,
        store,
        logs_per_host: args.logs_per_host,
    };
    runtime()?.block_on(async {
        let running = serve::start(config, api::system_clock()).await?;
        if running.ca_created {
            println!("created the control plane's CA");
        }
        println!("CA fingerprint: {}", running.fingerprint);
        println!("REST API: https://{}/v1", running.rest_addr);
        println!("agents (gRPC): https://{}", running.grpc_addr);
        weft_agent::sd_notify::ready();
        let shutdown = async {
            use tokio::signal::unix::{SignalKind, signal};
            let mut term = signal(SignalKind::terminate()).expect("install SIGTERM handler");
            let mut int = signal(SignalKind::interrupt()).expect("install SIGINT handler");
            tokio::select! {
                _ = term.recv() => {},
                _ = int.recv() => {},
            }
        };
        tokio::select! {
            () = shutdown => tracing::info!("stopping"),
            () = running.wait() => anyhow::bail!("the REST server stopped"),
        }
        Ok(())
    })
}
