//! `weft vm config ID`: a VM's NICs as its hypervisor and its guest take
//! them, from the agent's attachments of that VM (in guest order).
//! `weft vm hypervisors`: what this host offers, and which hypervisor
//! `auto` picks here and why.

use super::Context;
use crate::client;
use crate::output::{self, Format};
use anyhow::{Context as _, Result, anyhow, bail};
use serde_json::json;
use weft_model::naming;
use weft_model::vm::{self, GuestNic, Hypervisor};
use weft_proto::agent as pb;

#[derive(clap::Subcommand)]
pub enum Command {
    /// Print the NIC configuration of a VM's attachments, in order.
    ///
    /// The hypervisor's arguments (Cloud Hypervisor `--net`, QEMU `-netdev` /
    /// `-device`) or requests (Firecracker `PUT /network-interfaces/…`), or the
    /// guest's own (`ip=`, cloud-init) for images without DHCP.
    Config(ConfigArgs),
    /// Show the hypervisors found on this host, whether KVM is usable, and
    /// which one `hypervisor: auto` picks and why.
    ///
    /// Cloud Hypervisor when found and KVM is usable, else Firecracker
    /// under the same test, else QEMU (with KVM when usable, else TCG).
    /// KVM is usable when /dev/kvm answers and the CPU offers vmx or svm;
    /// WEFT_KVM=yes or WEFT_KVM=no overrides that probe.
    Hypervisors,
}

#[derive(clap::Args)]
pub struct ConfigArgs {
    /// The VM's id, as given to `weft attach --vm`.
    id: String,
    /// The hypervisor whose arguments to print: cloud-hypervisor, qemu or
    /// firecracker.
    #[arg(long, value_parser = parse_hypervisor)]
    hypervisor: Option<Hypervisor>,
    /// The guest's configuration instead: the kernel's `ip=` argument, or a
    /// cloud-init network-config (version 2).
    #[arg(long, value_enum)]
    guest: Option<GuestFormat>,
    /// QEMU: `vhost=on` on each tap (needs /dev/vhost-net).
    #[arg(long)]
    vhost: bool,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum GuestFormat {
    KernelIp,
    CloudInit,
}

fn parse_hypervisor(text: &str) -> Result<Hypervisor, String> {
    text.parse().map_err(|e: vm::VmConfigError| e.to_string())
}

pub fn exec(ctx: &Context, cmd: Command) -> Result<()> {
    match cmd {
        Command::Config(args) => config(ctx, args),
        Command::Hypervisors => hypervisors(ctx),
    }
}

/// The VM's NICs from the agent, eth0 first; an id with none is an error.
pub fn guest_nics(ctx: &Context, id: &str) -> Result<(Vec<GuestNic>, String)> {
    let req = pb::ListAttachmentsRequest::default();
    let all = client::call(&ctx.socket, async |c| {
        Ok(c.list_attachments(req).await?.into_inner().attachments)
    })?;
    nics_of(&all, id)
}

/// The NICs of VM `id` among `attachments`, in guest order, and its name.
pub fn nics_of(attachments: &[pb::Attachment], id: &str) -> Result<(Vec<GuestNic>, String)> {
    let mut mine: Vec<&pb::Attachment> = attachments
        .iter()
        .filter(|a| a.id == id && a.kind == "vm")
        .collect();
    if mine.is_empty() {
        bail!("no VM {id:?} is attached on this host (weft attach NETWORK --vm {id})");
    }
    mine.sort_by_key(|a| naming::nic_index(&a.ifname).unwrap_or(u32::MAX));
    let name = mine
        .iter()
        .map(|a| a.name.clone())
        .find(|n| !n.is_empty())
        .unwrap_or_default();
    let nics = mine
        .into_iter()
        .map(|a| {
            let what = || format!("the agent's attachment {}/{}", a.network, a.id);
            let dns = a.dns.clone().unwrap_or_default();
            Ok(GuestNic {
                ifname: a.ifname.clone(),
                tap: a.host_ifname.clone(),
                mac: naming::parse_mac(&a.mac)
                    .ok_or_else(|| anyhow!("MAC {:?} unreadable", a.mac))
                    .with_context(what)?,
                queues: u16::try_from(a.queues.max(1)).unwrap_or(u16::MAX),
                address: a.address.parse().with_context(what)?,
                gateway: a.gateway.parse().with_context(what)?,
                subnet: a.subnet.parse().with_context(what)?,
                default_route: a.default_route,
                mtu: a.mtu,
                dns: dns
                    .nameservers
                    .iter()
                    .filter_map(|s| s.parse().ok())
                    .collect(),
                domain: dns.domain,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok((nics, name))
}

fn config(ctx: &Context, a: ConfigArgs) -> Result<()> {
    if a.hypervisor.is_none() && a.guest.is_none() {
        bail!(
            "say what to print: --hypervisor cloud-hypervisor|firecracker|qemu, or --guest kernel-ip|cloud-init"
        );
    }
    let (nics, name) = guest_nics(ctx, &a.id)?;
    let hostname = if name.is_empty() { &a.id } else { &name };
    let kernel_ip = vm::kernel_ip_arg(&nics, hostname);
    let cloud_init = vm::cloud_init_network_config(&nics);
    let mut args: Vec<String> = vec![];
    let mut requests = vec![];
    match a.hypervisor {
        Some(Hypervisor::CloudHypervisor) => args = vm::cloud_hypervisor_args(&nics),
        Some(Hypervisor::Qemu) => args = vm::qemu_args(&nics, a.vhost),
        Some(Hypervisor::Firecracker) => requests = vm::firecracker_interfaces(&nics)?,
        None => {}
    }
    match ctx.output {
        Format::Json => output::json(&json!({
            "vm": a.id,
            "hypervisor": a.hypervisor,
            "args": args,
            "requests": requests.iter().cloned().map(vm::FirecrackerRequest::from).collect::<Vec<_>>(),
            "kernel_ip": kernel_ip,
            "cloud_init": cloud_init,
        })),
        Format::Table => {
            if a.hypervisor.is_some() {
                if !args.is_empty() {
                    println!("{}", shell_words(&args));
                }
                for r in &requests {
                    println!("PUT {} {}", r.path(), serde_json::to_string(r)?);
                }
            }
            match a.guest {
                Some(GuestFormat::KernelIp) => println!(
                    "{}",
                    kernel_ip.ok_or_else(|| anyhow!("VM {:?} has no IPv4 NIC for ip=", a.id))?
                ),
                Some(GuestFormat::CloudInit) => print!("{cloud_init}"),
                None => {}
            }
            Ok(())
        }
    }
}

fn hypervisors(ctx: &Context) -> Result<()> {
    let choice = vm::choose(&weft_agent::hypervisors::probe());
    match ctx.output {
        Format::Json => output::json(&choice),
        Format::Table => {
            let rows: Vec<Vec<String>> = choice
                .considered
                .iter()
                .map(|h| {
                    vec![
                        h.hypervisor.to_string(),
                        h.path.clone().unwrap_or_else(|| "-".into()),
                        if h.chosen { "yes" } else { "no" }.into(),
                        h.why.clone(),
                    ]
                })
                .collect();
            output::table(&["HYPERVISOR", "PATH", "CHOSEN", "WHY"], &rows);
            println!(
                "KVM: {} ({})",
                if choice.kvm { "usable" } else { "not usable" },
                choice.kvm_why
            );
            println!("auto: {}", choice.summary());
            Ok(())
        }
    }
}

/// The arguments as one shell line (every value weft makes is quote-free
/// but commas and equals signs, which shells leave alone).
fn shell_words(args: &[String]) -> String {
    args.iter()
        .map(|a| {
            if a.chars()
                .all(|c| c.is_ascii_alphanumeric() || ",=:._-/".contains(c))
            {
                a.clone()
            } else {
                format!("'{}'", a.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests;
