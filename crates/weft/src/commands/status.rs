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
}

pub fn exec(ctx: &Context, args: Args) -> Result<()> {
    let req = pb::GetStatusRequest {
        network: args.network.unwrap_or_default(),
    };
    let status = client::call(&ctx.socket, async |c| {
        Ok(c.get_status(req).await?.into_inner())
    })?;
    match ctx.output {
        Format::Json => output::json(&status),
        Format::Table => {
            print(&status);
            Ok(())
        }
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
    for n in &status.networks {
        println!();
        println!(
            "network {}: {} {} port {} key {} ({} workloads)",
            n.name,
            n.interface,
            n.addresses.join(","),
            n.listen_port,
            n.public_key,
            n.attachment_count
        );
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
                    p.public_key.clone(),
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
            ],
            &rows,
        );
    }
}
