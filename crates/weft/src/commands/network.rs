//! `weft network`: create, list and remove networks, rotate their keys.

use super::Context;
use crate::client;
use crate::output::{self, Format};
use anyhow::{Context as _, Result, bail};
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use weft_proto::agent as pb;

#[derive(clap::Subcommand)]
pub enum Command {
    /// Create a network on this host.
    ///
    /// `wireguard` (default): a WireGuard interface (wg0, wg1, …), its key
    /// pair, listen port and this host's address (its block's first). `bridge`:
    /// a Linux bridge (weft-br0, …) with the gateway address, for one host.
    /// `vxlan`: one L2 segment across hosts — a bridge (weft-vbr0, …) with the
    /// network's gateway (the subnet's last address, the same on every host)
    /// and this host's address, and a VXLAN device (weft-vx0, …) on it; add the
    /// other hosts with `weft peer add NAME --endpoint IP`.
    Create {
        /// The network's name, as every other command and host calls it.
        name: String,
        /// The whole network, e.g. 10.42.0.0/16.
        #[arg(long)]
        subnet: String,
        /// This host's block of the subnet, e.g. 10.42.1.0/24 (default: the
        /// subnet's first /24; a bridge uses the whole subnet).
        #[arg(long, default_value = "", hide_default_value = true)]
        block: String,
        /// wireguard, bridge or vxlan.
        #[arg(long, default_value = "wireguard")]
        mode: String,
        /// No egress to the outside world (no masquerade) and no upstream DNS.
        #[arg(long)]
        internal: bool,
        /// DNS domain of the network's names (default mesh.local).
        #[arg(long, default_value = "", hide_default_value = true)]
        domain: String,
        /// WireGuard UDP port (default: the first free one from 51820).
        #[arg(long, default_value_t = 0, hide_default_value = true)]
        listen_port: u32,
        /// Use this private key (base64, mode 0600) instead of generating one.
        #[arg(long)]
        private_key_file: Option<PathBuf>,
        #[command(flatten)]
        vxlan: Box<VxlanArgs>,
    },
    /// List networks.
    Ls,
    /// Give a WireGuard network a new key pair, without dropping traffic.
    ///
    /// The new key is used at once. Peers learn the new public key the way
    /// they learnt the old one: from the control plane within moments, or
    /// at the mesh file's next `weft up`. Until every peer has shown it
    /// knows the new key, the old one still answers them (userspace
    /// engine) and the sessions made under it carry traffic; then the old
    /// private key is deleted from the host. On the kernel module, which
    /// holds one key, the old key goes at once and each peer's traffic
    /// waits for it to learn the new one (see docs/networks.md).
    #[command(name = "rotate-key")]
    RotateKey {
        /// The WireGuard network whose key to rotate.
        name: String,
    },
    /// Remove a network and its interface.
    Rm {
        /// The network to remove.
        name: String,
        /// Detach every workload still attached first.
        #[arg(long)]
        force: bool,
    },
}

/// The settings of a VXLAN network (`--mode vxlan`).
#[derive(clap::Args)]
pub struct VxlanArgs {
    /// VXLAN network identifier, 1–16777215 (required for vxlan).
    #[arg(long, default_value_t = 0, hide_default_value = true)]
    vni: u32,
    /// VXLAN UDP port (default 4789).
    #[arg(long, default_value_t = 0, hide_default_value = true)]
    port: u32,
    /// MTU of the network (default: the underlay's minus 50 — 1450, or 1370
    /// over a WireGuard network).
    #[arg(long, default_value_t = 0, hide_default_value = true)]
    mtu: u32,
    /// This host's tunnel endpoint address.
    #[arg(long, default_value = "", hide_default_value = true, conflicts_with_all = ["underlay", "over"])]
    local: String,
    /// The interface tunnel packets leave through.
    #[arg(
        long,
        default_value = "",
        hide_default_value = true,
        conflicts_with = "over"
    )]
    underlay: String,
    /// Carry the segment inside this WireGuard network of this host: the
    /// tunnel endpoints are the hosts' addresses on it, so every frame is
    /// encrypted.
    #[arg(long, default_value = "", hide_default_value = true)]
    over: String,
}

/// Read a private key file, refusing one that others can read.
fn read_private_key(path: &Path) -> Result<String> {
    let meta = std::fs::metadata(path)
        .with_context(|| format!("--private-key-file {}", path.display()))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        bail!(
            "--private-key-file {}: readable by group or others (mode {mode:04o}); run chmod 600 on it",
            path.display()
        );
    }
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("--private-key-file {}", path.display()))?;
    weft_model::PrivateKey::from_base64(&text)
        .with_context(|| format!("--private-key-file {}", path.display()))?;
    Ok(text.trim().to_string())
}

pub fn exec(ctx: &Context, cmd: Command) -> Result<()> {
    match cmd {
        Command::Create {
            name,
            subnet,
            block,
            mode,
            internal,
            domain,
            listen_port,
            private_key_file,
            vxlan,
        } => {
            let private_key = match &private_key_file {
                Some(path) => read_private_key(path)?,
                None => String::new(),
            };
            let req = pb::AddNetworkRequest {
                name,
                subnet,
                block,
                listen_port,
                private_key,
                mode,
                internal,
                domain,
                vni: vxlan.vni,
                vxlan_port: vxlan.port,
                mtu: vxlan.mtu,
                local: vxlan.local,
                underlay: vxlan.underlay,
                over: vxlan.over,
            };
            let net = client::call(&ctx.socket, async |c| {
                Ok(c.add_network(req).await?.into_inner())
            })?;
            match ctx.output {
                Format::Json => output::json(&net),
                Format::Table => {
                    print_networks(std::slice::from_ref(&net));
                    Ok(())
                }
            }
        }
        Command::Ls => {
            let nets = client::call(&ctx.socket, async |c| {
                Ok(c.list_networks(pb::ListNetworksRequest {})
                    .await?
                    .into_inner()
                    .networks)
            })?;
            match ctx.output {
                Format::Json => output::json(&nets),
                Format::Table => {
                    print_networks(&nets);
                    Ok(())
                }
            }
        }
        Command::RotateKey { name } => {
            let req = pb::RotateKeyRequest {
                network: name.clone(),
            };
            let net = client::call(&ctx.socket, async |c| {
                Ok(c.rotate_key(req).await?.into_inner())
            })?;
            match ctx.output {
                Format::Json => output::json(&net),
                Format::Table => {
                    println!("network {name}: new public key {}", net.public_key);
                    if net.retiring_public_key.is_empty() {
                        println!("the old key is gone (no peer needed it)");
                    } else {
                        println!(
                            "the old key {} answers until every peer knows the new one",
                            net.retiring_public_key
                        );
                    }
                    Ok(())
                }
            }
        }
        Command::Rm { name, force } => {
            let req = pb::RemoveNetworkRequest {
                name: name.clone(),
                force,
            };
            let res = client::call(&ctx.socket, async |c| {
                Ok(c.remove_network(req).await?.into_inner())
            })?;
            match ctx.output {
                Format::Json => output::json(&res),
                Format::Table => {
                    println!(
                        "removed network {name} (detached {} workloads)",
                        res.detached
                    );
                    Ok(())
                }
            }
        }
    }
}

fn print_networks(nets: &[pb::Network]) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    let rows: Vec<Vec<String>> = nets
        .iter()
        .map(|n| {
            vec![
                n.name.clone(),
                if n.internal {
                    format!("{},internal", n.mode)
                } else {
                    n.mode.clone()
                },
                n.interface.clone(),
                n.subnet.clone(),
                n.addresses.join(","),
                match (n.listen_port, n.vni) {
                    (0, 0) => "-".into(),
                    (0, vni) => format!("vni {vni}/{}", n.vxlan_port),
                    (port, _) => port.to_string(),
                },
                if n.public_key.is_empty() {
                    "-".into()
                } else {
                    n.public_key.clone()
                },
                match (n.public_key.is_empty(), n.key_since) {
                    (true, _) => "-".into(),
                    (false, 0) => "unknown".into(),
                    (false, since) => output::age(since, now).replace(" ago", ""),
                },
                n.peer_count.to_string(),
                format!("{}/{}", n.allocated, n.capacity),
            ]
        })
        .collect();
    output::table(
        &[
            "NAME",
            "MODE",
            "INTERFACE",
            "SUBNET",
            "ADDRESS",
            "PORT",
            "PUBLIC KEY",
            "KEY AGE",
            "PEERS",
            "ADDRESSES USED",
        ],
        &rows,
    );
}
