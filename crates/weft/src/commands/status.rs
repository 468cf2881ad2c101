//! `weft status`: live state from the data plane.

use super::Context;
use crate::client;
use crate::output::{self, Format};
use anyhow::Result;
use std::time::{SystemTime, UNIX_EPOCH};
use weft_proto::agent as pb;

#[derive(clap::Args)]
pub struct Args {
    /// Only this network.
    network: Option<String>,
    /// The whole mesh of this file (brought up with `weft up`): every host's
    /// peers with their health, and the services.
    #[arg(long)]
    file: Option<std::path::PathBuf>,
    /// Probe every peer through the tunnel now (each answers or times out
    /// within 2 s) and show those answers, rather than the health watch's
    /// latest (as old as the agent's --probe-interval).
    #[arg(long)]
    probe: bool,
    /// Refresh every SECS seconds until interrupted.
    #[arg(long, value_name = "SECS", num_args = 0..=1, default_missing_value = "2")]
    watch: Option<f64>,
    /// With --file: serve the web dashboard of the mesh, read-only, on
    /// this loopback address (default 127.0.0.1:8080) until interrupted;
    /// it prints the link (docs/dashboard.md).
    #[arg(long, value_name = "ADDR", num_args = 0..=1, default_missing_value = "127.0.0.1:8080", requires = "file")]
    web: Option<String>,
}

mod web;

pub fn exec(ctx: &Context, args: Args) -> Result<()> {
    if let (Some(file), Some(addr)) = (&args.file, &args.web) {
        return web::serve(ctx, file, web::parse_addr(addr)?);
    }
    if let Some(file) = &args.file {
        return loop {
            let doc = mesh_status(ctx, file, args.network.as_deref(), args.probe)?;
            match (ctx.output, args.watch) {
                (Format::Json, None) => break output::json(&doc),
                (Format::Table, None) => {
                    print_mesh(&doc);
                    break Ok(());
                }
                (Format::Json, Some(_)) => println!("{}", serde_json::to_string(&doc)?),
                (Format::Table, Some(_)) => {
                    print!("\x1b[2J\x1b[H");
                    print_mesh(&doc);
                }
            }
            std::thread::sleep(std::time::Duration::from_secs_f64(
                args.watch.unwrap_or(2.0).max(0.2),
            ));
        };
    }
    let network = args.network.unwrap_or_default();
    loop {
        let req = pb::GetStatusRequest {
            network: network.clone(),
            probe: args.probe,
        };
        let status = client::call(&ctx.socket, async |c| {
            Ok(c.get_status(req).await?.into_inner())
        })?;
        match (ctx.output, args.watch) {
            (Format::Json, None) => return output::json(&status),
            (Format::Table, None) => {
                print(&status);
                return Ok(());
            }
            // Watching: one JSON document per line, or a redrawn table.
            (Format::Json, Some(_)) => println!("{}", serde_json::to_string(&status)?),
            (Format::Table, Some(_)) => {
                print!("\x1b[2J\x1b[H");
                print(&status);
            }
        }
        let every = args.watch.unwrap_or(2.0).max(0.2);
        std::thread::sleep(std::time::Duration::from_secs_f64(every));
    }
}

fn print(status: &pb::Status) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    println!(
        "weft agent {} ({} WireGuard)",
        status.version, status.backend
    );
    if let Some(c) = &status.control {
        let host = if c.host_id.is_empty() {
            String::new()
        } else {
            format!(", host {}", c.host_id)
        };
        let via = if c.replica.is_empty() {
            String::new()
        } else {
            format!(", replica {}", c.replica)
        };
        println!(
            "control plane {}: {} since {}{host}, revision {}{via}",
            c.url,
            c.state,
            output::age(c.since, now),
            c.revision
        );
        if !c.error.is_empty() {
            println!("  {}", c.error);
        }
    }
    for n in &status.networks {
        println!();
        if n.mode == "wireguard" {
            println!(
                "network {}: {} {} port {} key {} ({} workloads)",
                n.name,
                n.interface,
                n.addresses.join(","),
                n.listen_port,
                n.public_key,
                n.attachment_count
            );
        } else {
            println!(
                "network {} ({}): {} {} ({} workloads)",
                n.name,
                n.mode,
                n.interface,
                n.addresses.join(","),
                n.attachment_count
            );
        }
        if !n.error.is_empty() {
            println!("  error: {}", n.error);
            continue;
        }
        if n.peers.is_empty() {
            println!("  no peers");
            continue;
        }
        let rows: Vec<Vec<String>> = n
            .peers
            .iter()
            .map(|p| {
                vec![
                    if p.public_key.is_empty() {
                        "(vtep)".into()
                    } else {
                        p.public_key.clone()
                    },
                    if p.endpoint.is_empty() {
                        "-".into()
                    } else {
                        p.endpoint.clone()
                    },
                    p.allowed_ips.join(","),
                    output::age(p.latest_handshake, now),
                    output::bytes(p.rx_bytes),
                    output::bytes(p.tx_bytes),
                    if p.keepalive == 0 {
                        "off".into()
                    } else {
                        format!("{}s", p.keepalive)
                    },
                    p.health.clone(),
                    if p.probe.is_empty() {
                        "-".into()
                    } else {
                        p.probe.clone()
                    },
                ]
            })
            .collect();
        output::table(
            &[
                "PEER",
                "ENDPOINT",
                "ALLOWED IPS",
                "HANDSHAKE",
                "RX",
                "TX",
                "KEEPALIVE",
                "HEALTH",
                "PROBE",
            ],
            &rows,
        );
    }
}

/// Every host's status and the services, keyed for people: peers by host.
fn mesh_status(
    ctx: &Context,
    file: &std::path::Path,
    network: Option<&str>,
    probe: bool,
) -> Result<serde_json::Value> {
    use crate::mesh::{Mesh, observe};
    let mesh = Mesh::load(file)?;
    let Some(plan) = mesh.previous()? else {
        anyhow::bail!(
            "mesh {} is not up (run `weft up {}`)",
            mesh.name(),
            file.display()
        );
    };
    // Peers by key; a VXLAN network's VTEPs (no key) by address.
    let mut by_key: std::collections::BTreeMap<String, String> = plan
        .hosts
        .iter()
        .flat_map(|h| {
            h.networks
                .iter()
                .filter_map(move |n| Some((n.public_key?.to_base64(), h.name.clone())))
        })
        .collect();
    by_key.extend(
        plan.hosts
            .iter()
            .flat_map(|h| h.networks.iter().flat_map(|n| &n.vteps))
            .map(|v| (v.address.to_string(), v.host.clone())),
    );
    let mut args = vec!["status"];
    args.extend(network);
    if probe {
        args.push("--probe");
    }
    let conns = plan
        .hosts
        .iter()
        .map(|h| crate::mesh::conn_for(&ctx.socket, &plan, &mesh.dir, &h.name))
        .collect::<Result<Vec<_>>>()?;
    let hosts = crate::mesh::parallel::each(&conns, |conn| -> Result<serde_json::Value> {
        let status: serde_json::Value = match conn.weft(&args) {
            Ok(text) => serde_json::from_str(&text)?,
            Err(e) => serde_json::json!({ "error": e.to_string() }),
        };
        let services = observe::services(&mesh, conn.as_ref()).unwrap_or_default();
        Ok(serde_json::json!({ "host": conn.name(), "status": status, "services": services }))
    })
    .into_iter()
    .collect::<Result<Vec<_>>>()?;
    Ok(
        serde_json::json!({ "mesh": plan.mesh, "hosts": hosts, "peer_hosts": by_key, "services": plan.services }),
    )
}

fn print_mesh(doc: &serde_json::Value) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    println!("mesh {}", doc["mesh"].as_str().unwrap_or_default());
    let mut rows = vec![];
    for h in doc["hosts"].as_array().into_iter().flatten() {
        let host = h["host"].as_str().unwrap_or_default().to_string();
        if let Some(err) = h["status"]["error"].as_str() {
            rows.push(vec![
                host.clone(),
                "-".into(),
                format!("unreachable: {err}"),
                "".into(),
                "".into(),
                "".into(),
                "".into(),
                "".into(),
            ]);
            continue;
        }
        for n in h["status"]["networks"].as_array().into_iter().flatten() {
            for p in n["peers"].as_array().into_iter().flatten() {
                let key = match p["public_key"].as_str().unwrap_or_default() {
                    "" => p["endpoint"].as_str().unwrap_or_default(),
                    key => key,
                };
                let peer = doc["peer_hosts"][key].as_str().unwrap_or(key).to_string();
                rows.push(vec![
                    host.clone(),
                    n["name"].as_str().unwrap_or_default().to_string(),
                    peer,
                    p["endpoint"].as_str().unwrap_or("-").to_string(),
                    output::age(p["latest_handshake"].as_i64().unwrap_or(0), now),
                    output::bytes(p["rx_bytes"].as_u64().unwrap_or(0)),
                    output::bytes(p["tx_bytes"].as_u64().unwrap_or(0)),
                    p["health"].as_str().unwrap_or_default().to_string(),
                ]);
            }
        }
    }
    output::table(
        &[
            "HOST",
            "NETWORK",
            "PEER",
            "ENDPOINT",
            "HANDSHAKE",
            "RX",
            "TX",
            "HEALTH",
        ],
        &rows,
    );
    println!();
    let mut rows = vec![];
    for svc in doc["services"].as_array().into_iter().flatten() {
        let name = svc["name"].as_str().unwrap_or_default();
        let host = svc["host"].as_str().unwrap_or_default();
        let state = doc["hosts"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|h| h["host"] == host)
            .flat_map(|h| h["services"].as_array().into_iter().flatten())
            .find(|s| s["name"] == name)
            .map(|s| {
                match (
                    s["running"].as_bool(),
                    s["exit"].as_str(),
                    s["state"].as_str(),
                ) {
                    (Some(true), ..) => "running".to_string(),
                    (_, Some(exit), _) => exit.to_string(),
                    (_, _, Some(state)) => state.to_string(),
                    _ => "stopped".to_string(),
                }
            })
            .unwrap_or_else(|| "not started".into());
        let addresses: Vec<String> = svc["addresses"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|a| {
                format!(
                    "{}={}",
                    a["network"].as_str().unwrap_or_default(),
                    a["address"].as_str().unwrap_or_default()
                )
            })
            .collect();
        rows.push(vec![
            name.to_string(),
            host.to_string(),
            match (
                svc["container"]["image"].as_str(),
                svc["vm"]["hypervisor"].as_str(),
            ) {
                (Some(image), _) => format!(
                    "container {image} ({})",
                    svc["container"]["runtime"].as_str().unwrap_or("?")
                ),
                (_, Some(hypervisor)) => format!("vm ({hypervisor})"),
                _ => svc["kind"].as_str().unwrap_or_default().to_string(),
            },
            svc["network_type"].as_str().unwrap_or_default().to_string(),
            if addresses.is_empty() {
                "(host's)".into()
            } else {
                addresses.join(" ")
            },
            state,
        ]);
    }
    output::table(
        &["SERVICE", "HOST", "KIND", "NETWORK", "ADDRESSES", "STATE"],
        &rows,
    );
}
