//! `weft peer`: other hosts of a network.

use super::Context;
use crate::client;
use crate::output::{self, Format};
use anyhow::Result;
use weft_proto::agent as pb;

#[derive(clap::Subcommand)]
pub enum Command {
    /// Add a peer, or replace the one with this public key.
    Add {
        network: String,
        /// The peer's public key (base64).
        #[arg(long)]
        public_key: String,
        /// Where the peer listens: HOST:PORT (IPv6 as [ADDR]:PORT).
        #[arg(long)]
        endpoint: String,
        /// What the peer carries, e.g. its host block: CIDR[,CIDR…].
        #[arg(long, required = true, value_delimiter = ',')]
        allowed_ips: Vec<String>,
        /// Send a keepalive every SECS seconds (0 = off), for peers behind NAT.
        #[arg(long, default_value_t = 0)]
        keepalive: u32,
    },
    /// List a network's peers as configured (`weft status` shows them live).
    Ls { network: String },
    /// Remove a peer.
    Rm {
        network: String,
        #[arg(long)]
        public_key: String,
    },
}

pub fn exec(ctx: &Context, cmd: Command) -> Result<()> {
    match cmd {
        Command::Ls { network } => {
            let req = pb::ListPeersRequest { network };
            let peers = client::call(&ctx.socket, async |c| {
                Ok(c.list_peers(req).await?.into_inner().peers)
            })?;
            match ctx.output {
                Format::Json => output::json(&peers),
                Format::Table => {
                    let rows: Vec<Vec<String>> = peers
                        .iter()
                        .map(|p| {
                            vec![
                                p.public_key.clone(),
                                p.endpoint.clone(),
                                p.allowed_ips.join(","),
                                if p.keepalive == 0 {
                                    "off".into()
                                } else {
                                    format!("{}s", p.keepalive)
                                },
                            ]
                        })
                        .collect();
                    output::table(&["PEER", "ENDPOINT", "ALLOWED IPS", "KEEPALIVE"], &rows);
                    Ok(())
                }
            }
        }
        Command::Add {
            network,
            public_key,
            endpoint,
            allowed_ips,
            keepalive,
        } => {
            let req = pb::AddPeerRequest {
                network,
                public_key,
                endpoint,
                allowed_ips,
                keepalive,
            };
            let peer = client::call(&ctx.socket, async |c| {
                Ok(c.add_peer(req).await?.into_inner())
            })?;
            match ctx.output {
                Format::Json => output::json(&peer),
                Format::Table => {
                    println!(
                        "peer {} on {}: endpoint {}, allowed-ips {}",
                        peer.public_key,
                        peer.network,
                        peer.endpoint,
                        peer.allowed_ips.join(",")
                    );
                    Ok(())
                }
            }
        }
        Command::Rm {
            network,
            public_key,
        } => {
            let req = pb::RemovePeerRequest {
                network,
                public_key,
            };
            let res = client::call(&ctx.socket, async |c| {
                Ok(c.remove_peer(req).await?.into_inner())
            })?;
            match ctx.output {
                Format::Json => output::json(&res),
                Format::Table => {
                    println!(
                        "{}",
                        if res.removed {
                            "peer removed"
                        } else {
                            "no such peer"
                        }
                    );
                    Ok(())
                }
            }
        }
    }
}
