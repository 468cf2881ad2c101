//! `weft attach` / `weft detach` / `weft attachments`.

use super::Context;
use crate::client;
use crate::output::{self, Format};
use anyhow::Result;
use weft_proto::agent as pb;

#[derive(clap::Args)]
pub struct AttachArgs {
    network: String,
    /// The workload's network namespace, e.g. /run/netns/c1 or /proc/PID/ns/net.
    #[arg(long)]
    netns: String,
    /// The workload's id, unique on this host.
    #[arg(long)]
    id: String,
    /// The workload's name (a DNS label).
    #[arg(long, default_value = "")]
    name: String,
    /// Interface name inside the namespace (default eth0, eth1, … in attach order).
    #[arg(long, default_value = "")]
    ifname: String,
    /// Address to use (default: the next free one of this host's block).
    #[arg(long, default_value = "")]
    ip: String,
}

#[derive(clap::Args)]
pub struct DetachArgs {
    network: String,
    #[arg(long)]
    id: String,
}

#[derive(clap::Args)]
pub struct ListArgs {
    /// Only this network.
    network: Option<String>,
}

pub fn exec_attach(ctx: &Context, a: AttachArgs) -> Result<()> {
    let req = pb::AttachRequest {
        network: a.network,
        netns: a.netns,
        id: a.id,
        name: a.name,
        ifname: a.ifname,
        ip: a.ip,
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
                a.ifname.clone(),
                a.address.clone(),
                a.gateway.clone(),
                a.host_ifname.clone(),
                a.netns.clone(),
            ]
        })
        .collect();
    output::table(
        &[
            "NETWORK", "ID", "NAME", "IFNAME", "ADDRESS", "GATEWAY", "HOST IF", "NETNS",
        ],
        &rows,
    );
}
