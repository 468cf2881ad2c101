//! `weft peer`: other hosts of a network.

use super::Context;
use crate::client;
use crate::output::{self, Format};
use anyhow::{Result, bail};
use weft_proto::agent as pb;

#[derive(clap::Subcommand)]
pub enum Command {
    /// Add a peer, or replace the one with this public key.
    ///
    /// On a VXLAN network a peer has no key: `--endpoint IP` is its tunnel
    /// endpoint (an FDB entry), and `--allowed-ips` its block, where it is
    /// probed.
    Add {
        /// The network the peer joins.
        network: String,
        /// The peer's public key (base64); none for a VXLAN network's peer.
        #[arg(long, default_value = "", hide_default_value = true)]
        public_key: String,
        /// Where the peer listens: HOST:PORT (IPv6 as [ADDR]:PORT); on a
        /// VXLAN network its tunnel endpoint's IP address.
        #[arg(long)]
        endpoint: String,
        /// What the peer carries, e.g. its host block: CIDR[,CIDR…]
        /// (required for WireGuard peers).
        #[arg(long, value_delimiter = ',')]
        allowed_ips: Vec<String>,
        /// Send a keepalive every SECS seconds (0 = off), for peers behind NAT.
        #[arg(long, default_value_t = 0)]
        keepalive: u32,
        /// The key of a peer this one replaces in the same change: a host
        /// that rotated its key (`weft network rotate-key`) keeps its blocks
        /// under its new key, with no moment without a peer for them.
        #[arg(long, default_value = "", hide_default_value = true)]
        replaces: String,
    },
    /// List a network's peers as configured (`weft status` shows them live).
    Ls {
        /// The network whose peers are listed.
        network: String,
    },
    /// Remove a peer: by its key, or on a VXLAN network by its endpoint.
    Rm {
        /// The network the peer leaves.
        network: String,
        /// The peer's public key (base64).
        #[arg(
            long,
            default_value = "",
            hide_default_value = true,
            required_unless_present = "endpoint"
        )]
        public_key: String,
        /// A VXLAN network's peer: its tunnel endpoint's IP address.
        #[arg(
            long,
            default_value = "",
            hide_default_value = true,
            conflicts_with = "public_key"
        )]
        endpoint: String,
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
                                if p.public_key.is_empty() {
                                    "(vtep)".into()
                                } else {
                                    p.public_key.clone()
                                },
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
            replaces,
        } => {
            if !public_key.is_empty() && allowed_ips.is_empty() {
                bail!("--allowed-ips is required for a WireGuard peer (--public-key)");
            }
            let req = pb::AddPeerRequest {
                network,
                public_key,
                endpoint,
                allowed_ips,
                keepalive,
                replaces,
            };
            let peer = client::call(&ctx.socket, async |c| {
                Ok(c.add_peer(req).await?.into_inner())
            })?;
            match ctx.output {
                Format::Json => output::json(&peer),
                Format::Table => {
                    let who = if peer.public_key.is_empty() {
                        "VTEP".to_string()
                    } else {
                        peer.public_key.clone()
                    };
                    println!(
                        "peer {who} on {}: endpoint {}, allowed-ips {}",
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
            endpoint,
        } => {
            let req = pb::RemovePeerRequest {
                network,
                public_key,
                endpoint,
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
