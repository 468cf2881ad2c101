//! `weft names`: DNS names given to a network by an outside source (the mesh
//! file, a control plane…). The agent's own sources — its workloads and its
//! peers' — are kept by the agent itself.

use super::Context;
use crate::client;
use crate::output::{self, Format};
use anyhow::{Context as _, Result};
use weft_proto::agent as pb;

#[derive(clap::Subcommand)]
pub enum Command {
    /// Replace the names SOURCE gives NETWORK: NAME=IP[,IP…] each.
    Set {
        /// The network whose DNS zone gets the names.
        network: String,
        /// Who gives the names (a word of your choice, e.g. `consul`; `weft
        /// up` uses `mesh`): each source's names are replaced on their own.
        #[arg(long)]
        source: String,
        /// NAME=IP[,IP…]; none clears the source.
        names: Vec<String>,
    },
    /// Show the names SOURCE gives NETWORK.
    Get {
        /// The network whose names are shown.
        network: String,
        /// The source whose names are shown.
        #[arg(long)]
        source: String,
    },
}

pub fn exec(ctx: &Context, cmd: Command) -> Result<()> {
    match cmd {
        Command::Set {
            network,
            source,
            names,
        } => {
            let names = names
                .iter()
                .map(|item| {
                    let (name, addrs) = item
                        .split_once('=')
                        .with_context(|| format!("{item:?}: expected NAME=IP[,IP…]"))?;
                    Ok(pb::Name {
                        name: name.to_string(),
                        addresses: addrs.split(',').map(str::to_string).collect(),
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            let req = pb::SetNamesRequest {
                network,
                source,
                names,
            };
            client::call(&ctx.socket, async |c| {
                Ok(c.set_names(req).await?.into_inner())
            })?;
            Ok(())
        }
        Command::Get { network, source } => {
            let req = pb::GetNamesRequest { network, source };
            let names = client::call(&ctx.socket, async |c| {
                Ok(c.get_names(req).await?.into_inner().names)
            })?;
            match ctx.output {
                Format::Json => output::json(&names),
                Format::Table => {
                    let rows: Vec<Vec<String>> = names
                        .iter()
                        .map(|n| vec![n.name.clone(), n.addresses.join(",")])
                        .collect();
                    output::table(&["NAME", "ADDRESSES"], &rows);
                    Ok(())
                }
            }
        }
    }
}
