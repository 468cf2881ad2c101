//! `weft attach` / `weft detach` / `weft attachments`: namespaces (veths)
//! and VMs (TAPs) alike.

use super::Context;
use crate::client;
use crate::output::{self, Format};
use anyhow::Result;
use weft_proto::agent as pb;

#[derive(clap::Args)]
pub struct AttachArgs {
    /// The network to attach the workload to.
    network: String,
    /// The workload's network namespace, e.g. /run/netns/c1 or /proc/PID/ns/net.
    #[arg(long, required_unless_present = "vm", conflicts_with = "vm")]
    netns: Option<String>,
    /// The workload's id, unique on this host.
    #[arg(long, required_unless_present = "vm", conflicts_with = "vm")]
    id: Option<String>,
    /// Attach a VM (this is its id): the NIC is a persistent TAP for its
    /// hypervisor (`weft vm config` prints the hypervisor's arguments), eth0,
    /// eth1, … in the guest in attach order, with a MAC derived from the id.
    #[arg(long, value_name = "ID")]
    vm: Option<String>,
    /// The TAP's name instead of the derived one (VMs; it must start like the
    /// network's: w<index>- routed, fn- on a bridge).
    #[arg(long, requires = "vm", default_value = "", hide_default_value = true)]
    tap: String,
    /// Queue pairs of the VM's NIC; more than 1 makes a multi-queue TAP.
    #[arg(long, requires = "vm", default_value_t = 1)]
    queues: u32,
    /// The workload's name (a DNS label).
    #[arg(long, default_value = "", hide_default_value = true)]
    name: String,
    /// Interface name inside the namespace (default eth0, eth1, … in attach order).
    #[arg(
        long,
        default_value = "",
        hide_default_value = true,
        conflicts_with = "vm"
    )]
    ifname: String,
    /// Address to use (default: the next free one of this host's block).
    #[arg(long, default_value = "", hide_default_value = true)]
    ip: String,
}

#[derive(clap::Args)]
pub struct DetachArgs {
    /// The network to detach the workload from.
    network: String,
    /// The workload's id (a VM's id for a VM), as given to `weft attach`.
    #[arg(long)]
    id: String,
}

#[derive(clap::Args)]
pub struct ListArgs {
    /// Only this network.
    network: Option<String>,
}

pub fn exec_attach(ctx: &Context, a: AttachArgs) -> Result<()> {
    let vm = a.vm.is_some();
    let req = pb::AttachRequest {
        network: a.network,
        netns: a.netns.unwrap_or_default(),
        id: a.vm.or(a.id).unwrap_or_default(),
        name: a.name,
        ifname: a.ifname,
        ip: a.ip,
        vm,
        tap: if vm { a.tap } else { String::new() },
        queues: if vm { a.queues } else { 0 },
    };
    let att = client::call(&ctx.socket, async |c| Ok(c.attach(req).await?.into_inner()))?;
    match ctx.output {
        Format::Json => output::json(&att),
        Format::Table => {
            print_attachments(std::slice::from_ref(&att));
            Ok(())
        }
    }
}

pub fn exec_detach(ctx: &Context, a: DetachArgs) -> Result<()> {
    let req = pb::DetachRequest {
        network: a.network.clone(),
        id: a.id.clone(),
    };
    let res = client::call(&ctx.socket, async |c| Ok(c.detach(req).await?.into_inner()))?;
    match ctx.output {
        Format::Json => output::json(&res),
        Format::Table => {
            if res.detached {
                println!("detached {} from {}", a.id, a.network);
            } else {
                println!("{} was not attached to {}", a.id, a.network);
            }
            Ok(())
        }
    }
}

pub fn exec_list(ctx: &Context, a: ListArgs) -> Result<()> {
    let req = pb::ListAttachmentsRequest {
        network: a.network.unwrap_or_default(),
    };
    let list = client::call(&ctx.socket, async |c| {
        Ok(c.list_attachments(req).await?.into_inner().attachments)
    })?;
    match ctx.output {
        Format::Json => output::json(&list),
        Format::Table => {
            print_attachments(&list);
            Ok(())
        }
    }
}

fn print_attachments(list: &[pb::Attachment]) {
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|a| {
            vec![
                a.network.clone(),
                a.id.clone(),
                a.name.clone(),
                a.kind.clone(),
                a.ifname.clone(),
                a.address.clone(),
                a.gateway.clone(),
                a.mac.clone(),
                a.host_ifname.clone(),
                a.netns.clone(),
            ]
        })
        .collect();
    output::table(
        &[
            "NETWORK",
            "ID",
            "NAME",
            "KIND",
            "IFNAME",
            "ADDRESS",
            "GATEWAY",
            "MAC",
            "HOST IF / TAP",
            "NETNS",
        ],
        &rows,
    );
}
