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
use std::path::PathBuf;
use std::sync::Arc;
use weft_control::store::Store;
use weft_control::{admin, api, deployment, serve};

mod logs;
mod rest;
mod serving;

use serving::{ServeArgs, serve_cmd};
#[cfg(test)]
use serving::{host_port, parse_rate};

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
