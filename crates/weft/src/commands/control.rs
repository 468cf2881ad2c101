//! `weft control`: the optional control plane. `serve` runs it; `tenant`
//! and `token create --tenant` are the operator's commands, run against the
//! server's store (its state directory's SQLite file, or its etcd with
//! `--store`), which is shared safely with running servers. The others
//! (`status`, `network`, `host`, `site`, `vxlan`, `vm`, `logs`, `token create`
//! without `--tenant`, `openapi`) are a tenant's: each calls the REST API
//! with the tenant's key ([`rest`], `logs`).

use crate::output::{self, Format};
use anyhow::{Context as _, Result};
use serde::Serialize;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use weft_control::store::Store;
use weft_control::{admin, api, deployment, serve};

mod logs;
mod rest;

#[derive(clap::Args)]
pub struct Args {
    /// The control plane's state: its store, CA and server certificate.
    #[arg(long, global = true, env = "WEFT_CONTROL_STATE_DIR", default_value = serve::DEFAULT_STATE_DIR)]
    state_dir: PathBuf,
    /// Where the state is kept: `sqlite` (control.db in the state
    /// directory, one replica) or `etcd://HOST:PORT[,HOST:PORT…]` (several
    /// replicas; an optional key prefix may follow, default /weft/v1/).
    #[arg(long, global = true, env = "WEFT_CONTROL_STORE", default_value = "sqlite", value_parser = deployment::StoreConfig::parse)]
    store: deployment::StoreConfig,
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Serve the REST API (TLS) for tenants and the gRPC port for agents.
    Serve(Box<ServeArgs>),
    /// Tenants and their API keys.
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Enrollment tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// The tenant's networks, hosts and blocks, how many hosts are revoked,
    /// and the revision (`GET /v1/status`, as a tenant: --api, --api-key, --ca).
    Status(rest::Api),
    /// The tenant's WireGuard networks (REST, as a tenant).
    #[command(subcommand)]
    Network(rest::NetworkCommand),
    /// The tenant's hosts: list, show, delete, move between sites (REST, as
    /// a tenant).
    #[command(subcommand)]
    Host(rest::HostCommand),
    /// The tenant's sites: groups of hosts (REST, as a tenant).
    #[command(subcommand)]
    Site(rest::SiteCommand),
    /// The VXLAN networks of the tenant's sites (REST, as a tenant).
    #[command(subcommand)]
    Vxlan(rest::VxlanCommand),
    /// The tenant's VMs and their NICs (REST, as a tenant).
    #[command(subcommand)]
    Vm(rest::VmCommand),
    /// Print the REST API's OpenAPI document (`GET /v1/openapi.json`).
    Openapi(rest::Api),
    /// A host's log records, as its agent streamed them
    /// (`GET /v1/hosts/{id}/logs`, as a tenant: --api, --api-key, --ca).
    Logs(logs::Args),
}

#[derive(clap::Args)]
struct ServeArgs {
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
fn parse_rate(text: &str) -> Result<(f64, u32), String> {
    let bad = || format!("{text:?}: expected RATE/BURST, e.g. 5/20");
    let (rate, burst) = text.split_once('/').ok_or_else(bad)?;
    let rate: f64 = rate.trim().parse().map_err(|_| bad())?;
    let burst: u32 = burst.trim().parse().map_err(|_| bad())?;
    if !(rate.is_finite() && rate > 0.0) || burst == 0 {
        return Err(format!("{text:?}: the rate and the burst must be positive"));
    }
    Ok((rate, burst))
}

#[derive(clap::Subcommand)]
enum TenantCommand {
    /// Create a tenant and print its API key (shown this once).
    Create {
        /// The tenant's name.
        name: String,
        /// Print only the API key, for `export WEFT_API_KEY=$(…)`.
        #[arg(short, long)]
        quiet: bool,
    },
    /// List tenants and their API keys (ids only).
    Ls,
    /// Add an API key to a tenant and print it (shown this once).
    AddKey {
        /// The tenant's name.
        tenant: String,
    },
    /// Revoke an API key, by its id (`wak_<id>_…`).
    RevokeKey {
        /// The key's id: the part between `wak_` and the next `_`.
        key_id: String,
    },
}

#[derive(clap::Subcommand)]
enum TokenCommand {
    /// Make an enrollment token for a tenant's hosts (shown this once):
    /// with --tenant as the operator, against the store; without, as the
    /// tenant whose API key is given (`POST /v1/tokens`: --api, --api-key,
    /// --ca).
    Create {
        /// The tenant whose hosts enroll with it (the operator's way).
        #[arg(long)]
        tenant: Option<String>,
        /// How long it may be redeemed: 90s, 30m, 1h, 7d.
        #[arg(long, default_value = "1h")]
        ttl: String,
        /// How many hosts may enroll with it.
        #[arg(long, default_value_t = 1)]
        uses: u32,
        /// The site (of the tenant) the hosts it enrolls join; it must
        /// exist (`POST /v1/sites`). Hosts move later with
        /// `PUT /v1/hosts/{id}`.
        #[arg(long)]
        site: Option<String>,
        /// Print only the token, for `export WEFT_ENROLL_TOKEN=$(…)`.
        #[arg(short, long)]
        quiet: bool,
        #[command(flatten)]
        api: crate::api_client::ApiArgs,
    },
    /// List the tenant's enrollment tokens (`GET /v1/tokens`): id, site,
    /// uses left, expiry and state; never a secret.
    Ls {
        #[command(flatten)]
        api: crate::api_client::ApiArgs,
    },
    /// Revoke one of the tenant's enrollment tokens by id
    /// (`DELETE /v1/tokens/{id}`): no host enrolls with it from then on.
    Rm {
        /// The token's id: the part between `wet_` and the next `_`.
        id: String,
        #[command(flatten)]
        api: crate::api_client::ApiArgs,
    },
}

fn unix_now() -> i64 {
    (api::system_clock())()
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("start the async runtime")
}

/// The store the server uses: SQLite in the state directory (which must
/// exist: the server made it), or etcd.
async fn open_store(
    state_dir: &std::path::Path,
    store: &deployment::StoreConfig,
) -> Result<Arc<dyn Store>> {
    let path = state_dir.join("control.db");
    if *store == deployment::StoreConfig::Sqlite && !path.exists() {
        anyhow::bail!(
            "no control plane store at {} (run `weft control serve` first, or pass --state-dir)",
            path.display()
        );
    }
    Ok(store.open(state_dir).await?)
}

pub fn exec(format: Format, args: Args) -> Result<()> {
    match args.command {
        Command::Serve(serve_args) => serve_cmd(args.state_dir, args.store, *serve_args),
        Command::Tenant(cmd) => runtime()?.block_on(async {
            let store = open_store(&args.state_dir, &args.store).await?;
            tenant(format, store, cmd).await
        }),
        Command::Token(cmd) => {
            runtime()?.block_on(token(format, (&args.state_dir, &args.store), &cmd))
        }
        Command::Status(cmd) => runtime()?.block_on(rest::status(format, cmd)),
        Command::Network(cmd) => runtime()?.block_on(rest::network(format, cmd)),
        Command::Host(cmd) => runtime()?.block_on(rest::host(format, cmd)),
        Command::Site(cmd) => runtime()?.block_on(rest::site(format, cmd)),
        Command::Vxlan(cmd) => runtime()?.block_on(rest::vxlan(format, cmd)),
        Command::Vm(cmd) => runtime()?.block_on(rest::vm(format, cmd)),
        Command::Openapi(cmd) => runtime()?.block_on(rest::openapi(cmd)),
        Command::Logs(cmd) => runtime()?.block_on(logs::exec(format, cmd)),
    }
}

/// `HOST:PORT` (an IPv6 address in brackets), as agents will dial it.
fn host_port(text: &str) -> Result<String, String> {
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

fn serve_cmd(state_dir: PathBuf, store: deployment::StoreConfig, args: ServeArgs) -> Result<()> {
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

#[derive(Serialize)]
struct SecretShown<'a, T: Serialize> {
    #[serde(flatten)]
    what: T,
    /// Shown this once; the control plane keeps only its hash.
    secret: &'a str,
}

async fn tenant(format: Format, store: Arc<dyn Store>, cmd: TenantCommand) -> Result<()> {
    let now = unix_now();
    match cmd {
        TenantCommand::Create { name, quiet } => {
            let (tenant, key) = admin::create_tenant(store.as_ref(), &name, now).await?;
            if quiet {
                println!("{}", key.expose());
                return Ok(());
            }
            match format {
                Format::Json => output::json(&SecretShown {
                    what: &tenant,
                    secret: key.expose(),
                }),
                Format::Table => {
                    output::table(
                        &["TENANT", "ID"],
                        &[vec![tenant.name, tenant.id.to_string()]],
                    );
                    println!("\nAPI key (shown once, keep it safe):\n{}", key.expose());
                    Ok(())
                }
            }
        }
        TenantCommand::AddKey { tenant } => {
            let (info, key) = admin::add_key(store.as_ref(), &tenant, now).await?;
            match format {
                Format::Json => output::json(&SecretShown {
                    what: &info,
                    secret: key.expose(),
                }),
                Format::Table => {
                    println!(
                        "API key {} (shown once, keep it safe):\n{}",
                        info.id,
                        key.expose()
                    );
                    Ok(())
                }
            }
        }
        TenantCommand::Ls => {
            let tenants = admin::list(store.as_ref()).await?;
            match format {
                Format::Json => {
                    #[derive(Serialize)]
                    struct Row<'a> {
                        #[serde(flatten)]
                        tenant: &'a weft_control::model::Tenant,
                        keys: &'a [weft_control::model::ApiKeyInfo],
                    }
                    let rows: Vec<Row> = tenants
                        .iter()
                        .map(|(tenant, keys)| Row { tenant, keys })
                        .collect();
                    output::json(&rows)
                }
                Format::Table => {
                    let mut rows = Vec::new();
                    for (t, keys) in &tenants {
                        let live: Vec<String> = keys
                            .iter()
                            .filter(|k| k.revoked_at.is_none())
                            .map(|k| format!("wak_{}_…", k.id))
                            .collect();
                        let revoked = keys.len() - live.len();
                        rows.push(vec![
                            t.name.clone(),
                            t.id.to_string(),
                            if live.is_empty() {
                                "-".into()
                            } else {
                                live.join(",")
                            },
                            revoked.to_string(),
                        ]);
                    }
                    output::table(&["TENANT", "ID", "KEYS", "REVOKED"], &rows);
                    Ok(())
                }
            }
        }
        TenantCommand::RevokeKey { key_id } => {
            let info = admin::revoke_key(store.as_ref(), &key_id, now).await?;
            match format {
                Format::Json => output::json(&info),
                Format::Table => {
                    println!("revoked API key wak_{}_…", info.id);
                    Ok(())
                }
            }
        }
    }
}

async fn token(
    format: Format,
    (state_dir, store): (&std::path::Path, &deployment::StoreConfig),
    cmd: &TokenCommand,
) -> Result<()> {
    let (tenant, ttl, uses, site, quiet, api) = match cmd {
        TokenCommand::Create {
            tenant,
            ttl,
            uses,
            site,
            quiet,
            api,
        } => (tenant, ttl, uses, site, quiet, api),
        TokenCommand::Ls { api } => return rest::list_tokens(format, api).await,
        TokenCommand::Rm { id, api } => return rest::revoke_token(format, api, id).await,
    };
    let ttl = admin::parse_duration("--ttl", ttl)?;
    let Some(tenant) = tenant else {
        // As the tenant, through the REST API.
        if api.url.is_none() {
            anyhow::bail!(
                "give --tenant TENANT (the operator's way, against the store), or the REST API \
                 and the tenant's key to make it as the tenant (--api or WEFT_API, WEFT_API_KEY)"
            );
        }
        let made = rest::create_token(api, ttl.as_secs(), *uses, site.as_deref()).await?;
        let secret = made["token"].as_str().unwrap_or_default();
        if *quiet {
            println!("{secret}");
            return Ok(());
        }
        return match format {
            Format::Json => output::json(&made),
            Format::Table => {
                output::table(
                    &["TOKEN ID", "SITE", "USES", "EXPIRES AT"],
                    &[vec![
                        made["id"].as_str().unwrap_or("-").into(),
                        made["site"].as_str().unwrap_or("-").into(),
                        made["uses"].to_string(),
                        made["expires_at"].to_string(),
                    ]],
                );
                println!("\nenrollment token (shown once):\n{secret}");
                Ok(())
            }
        };
    };
    let store = open_store(state_dir, store).await?;
    let grant = admin::TokenGrant {
        ttl,
        uses: *uses,
        site: site.as_deref(),
    };
    let (info, token) = admin::create_site_token(store.as_ref(), tenant, grant, unix_now()).await?;
    if *quiet {
        println!("{}", token.expose());
        return Ok(());
    }
    match format {
        Format::Json => output::json(&SecretShown {
            what: &info,
            secret: token.expose(),
        }),
        Format::Table => {
            output::table(
                &["TOKEN ID", "TENANT", "SITE", "USES", "EXPIRES IN"],
                &[vec![
                    info.id.clone(),
                    tenant.clone(),
                    info.site.clone().unwrap_or_else(|| "-".into()),
                    info.uses_left.to_string(),
                    format!("{}s", info.expires_at - info.created_at),
                ]],
            );
            println!("\nenrollment token (shown once):\n{}", token.expose());
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests;
