//! `weft status --file F --web ADDR`: the web dashboard, read-only, for a
//! mesh file's hosts — the control plane's page over a snapshot of
//! `weft status --file F` refreshed every 2 s (`weft_control::api::read_only`).
//!
//! Plain HTTP with no sign-in, so only on loopback: the page shows every
//! host, key and address of the mesh to whoever reaches it.

use super::{Context, mesh_status};
use anyhow::{Context as _, Result, bail};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

/// How often the snapshot is read again.
const REFRESH: Duration = Duration::from_secs(2);

/// The address to serve on: loopback only.
pub fn parse_addr(text: &str) -> Result<SocketAddr> {
    let addr: SocketAddr = text
        .parse()
        .with_context(|| format!("--web {text:?}: expected ADDRESS:PORT, e.g. 127.0.0.1:8080"))?;
    if !addr.ip().is_loopback() {
        bail!(
            "--web {addr}: only a loopback address (127.0.0.1, ::1): the page has no sign-in and \
             shows the whole mesh"
        );
    }
    Ok(addr)
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// `weft status --file -o json`'s document in the shape of the control
/// plane's `GET /v1/status`, hosts named (and identified) by their names.
pub fn dashboard_status(doc: &Value, now: i64) -> Value {
    let mut networks: BTreeMap<String, Value> = BTreeMap::new();
    let mut hosts = vec![];
    for h in doc["hosts"].as_array().into_iter().flatten() {
        let name = h["host"].as_str().unwrap_or_default();
        let reachable = h["status"]["error"].is_null();
        let mut blocks = vec![];
        let mut links = vec![];
        let mut counts: BTreeMap<String, u64> = BTreeMap::new();
        for n in h["status"]["networks"].as_array().into_iter().flatten() {
            let net = n["name"].as_str().unwrap_or_default();
            let address = n["addresses"][0].as_str().unwrap_or_default();
            let entry = networks.entry(net.to_string()).or_insert_with(|| {
                json!({
                    "name": net, "subnet": "-", "mode": n["mode"].as_str().unwrap_or("wireguard"),
                    "internal": false, "domain": "-",
                    "block_prefix": address.rsplit_once('/').and_then(|(_, p)| p.parse::<u8>().ok()),
                    "blocks": []
                })
            });
            if let Some(list) = entry["blocks"].as_array_mut() {
                list.push(json!({ "host": name, "block": address }));
            }
            blocks.push(json!({ "network": net, "block": address }));
            for p in n["peers"].as_array().into_iter().flatten() {
                let health = p["health"].as_str().unwrap_or("disconnected");
                *counts.entry(health.to_string()).or_insert(0) += 1;
                let key = p["public_key"].as_str().unwrap_or_default();
                let handshake = p["latest_handshake"].as_i64().filter(|t| *t > 0);
                links.push(json!({
                    "network": net,
                    "peer": doc["peer_hosts"][key],
                    "public_key": key,
                    "health": health,
                    "last_handshake": handshake,
                    "rx_bytes": p["rx_bytes"],
                    "tx_bytes": p["tx_bytes"],
                    "endpoint": p["endpoint"].as_str().filter(|e| !e.is_empty()),
                }));
            }
        }
        hosts.push(json!({
            "id": name, "name": name, "created_at": 0,
            "state": if reachable { "online" } else { "offline" },
            "endpoint": null, "version": null,
            "last_seen": if reachable { Some(now) } else { None },
            "peer_health": counts, "site": null,
            "blocks": blocks, "links": links,
        }));
    }
    json!({
        "tenant": format!("mesh {}", doc["mesh"].as_str().unwrap_or_default()),
        "revision": 0,
        "networks": networks.into_values().collect::<Vec<_>>(),
        "hosts": hosts,
    })
}

pub fn serve(ctx: &Context, file: &Path, addr: SocketAddr) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("start the async runtime")?;
    let (tx, rx) = tokio::sync::watch::channel(Err("reading the mesh's status…".to_string()));
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind(addr))
        .with_context(|| format!("listen on {addr}"))?;
    let bound = listener.local_addr()?;
    println!("the mesh's dashboard (read-only): http://{bound}/");
    runtime.spawn(weft_control::api::read_only::serve(
        listener,
        weft_control::api::read_only::router(rx),
    ));
    // The snapshot is read here, on this thread: it talks to every host
    // (their agents, or over SSH) with blocking calls.
    loop {
        let snapshot = mesh_status(ctx, file, None, false)
            .map(|doc| dashboard_status(&doc, unix_now()))
            .map_err(|e| format!("{e:#}"));
        if tx.send(snapshot).is_err() {
            return Ok(());
        }
        std::thread::sleep(REFRESH);
    }
}

#[cfg(test)]
mod tests;
