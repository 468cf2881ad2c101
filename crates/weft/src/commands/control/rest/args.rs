//! What the tenant's commands take: their arguments, as clap reads them.

use crate::api_client::ApiArgs;
use serde_json::{Value, json};

/// Only the API flags.
#[derive(clap::Args)]
pub struct Api {
    #[command(flatten)]
    pub(super) api: ApiArgs,
}

/// Options a network is created with, WireGuard or VXLAN.
#[derive(clap::Args)]
pub struct NetworkOptions {
    /// Its subnet (CIDR), e.g. 10.42.0.0/16; it must not overlap the
    /// tenant's other networks.
    #[arg(long)]
    pub(super) subnet: String,
    /// Isolated from the outside world too (no egress).
    #[arg(long)]
    pub(super) internal: bool,
    /// Its DNS domain (default: mesh.local).
    #[arg(long)]
    pub(super) domain: Option<String>,
    /// The prefix length of each host's block (default /24, /64 for IPv6).
    #[arg(long, value_name = "BITS")]
    pub(super) block_prefix: Option<u8>,
}

impl NetworkOptions {
    pub(super) fn body(&self, name: &str) -> Value {
        let mut body = json!({ "name": name, "subnet": self.subnet });
        if self.internal {
            body["internal"] = json!(true);
        }
        if let Some(domain) = &self.domain {
            body["domain"] = json!(domain);
        }
        if let Some(prefix) = self.block_prefix {
            body["block_prefix"] = json!(prefix);
        }
        body
    }
}

#[derive(clap::Subcommand)]
pub enum NetworkCommand {
    /// List the tenant's networks (`GET /v1/networks`).
    Ls(Api),
    /// Create a WireGuard network; every host of the tenant gets a block
    /// of it and the others as peers (`POST /v1/networks`).
    Create {
        /// Its name: lowercase letters, digits and '-'.
        name: String,
        #[command(flatten)]
        options: NetworkOptions,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// One network with its hosts' blocks (`GET /v1/networks/{name}`).
    Show {
        /// The network, by name.
        name: String,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Delete a network: every host removes it (`DELETE /v1/networks/{name}`).
    Rm {
        /// The network, by name.
        name: String,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Which hosts are in a network (`GET /v1/networks/{name}/hosts`).
    Hosts {
        /// The network, by name.
        name: String,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Choose a network's hosts: `--all` (those enrolled later too), or
    /// exactly the hosts named (`PUT /v1/networks/{name}/hosts`).
    SetHosts {
        /// The network, by name.
        name: String,
        /// The hosts, by name or id.
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        hosts: Vec<String>,
        /// Every host of the tenant, those enrolled later too.
        #[arg(long)]
        all: bool,
        #[command(flatten)]
        api: ApiArgs,
    },
}

#[derive(clap::Subcommand)]
pub enum HostCommand {
    /// List the tenant's hosts: state, site, endpoint, blocks
    /// (`GET /v1/hosts`).
    Ls(Api),
    /// One host (`GET /v1/hosts/{id}`).
    Show {
        /// The host: its name or its id.
        host: String,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Delete a host: its certificate is revoked, its blocks freed
    /// (`DELETE /v1/hosts/{id}`).
    Rm {
        /// The host: its name or its id.
        host: String,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Move a host into a site (or out of any, with --no-site): it leaves
    /// the old site's VXLAN networks and joins the new one's
    /// (`PUT /v1/hosts/{id}`).
    Move {
        /// The host: its name or its id.
        host: String,
        /// The site to move it into.
        #[arg(long, required_unless_present = "no_site", conflicts_with = "no_site")]
        site: Option<String>,
        /// Out of any site.
        #[arg(long)]
        no_site: bool,
        #[command(flatten)]
        api: ApiArgs,
    },
}

#[derive(clap::Subcommand)]
pub enum SiteCommand {
    /// List the tenant's sites (`GET /v1/sites`).
    Ls(Api),
    /// Create a site: a group of hosts, such as a data centre or an edge
    /// location (`POST /v1/sites`).
    Create {
        /// Its name: lowercase letters, digits and '-'.
        name: String,
        /// A label, KEY=VALUE; repeat for more.
        #[arg(long = "label", value_name = "KEY=VALUE", value_parser = label)]
        labels: Vec<(String, String)>,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// One site (`GET /v1/sites/{site}`).
    Show {
        /// The site, by name.
        site: String,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Delete a site; refused while hosts or networks are left in it,
    /// naming them (`DELETE /v1/sites/{site}`).
    Rm {
        /// The site, by name.
        site: String,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// The hosts of a site (`GET /v1/sites/{site}/hosts`).
    Hosts {
        /// The site, by name.
        site: String,
        #[command(flatten)]
        api: ApiArgs,
    },
}

#[derive(clap::Subcommand)]
pub enum VxlanCommand {
    /// The VXLAN networks of a site (`GET /v1/sites/{site}/vxlan-networks`).
    Ls {
        /// The site, by name.
        site: String,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Create a VXLAN network of a site: every host of the site gets its
    /// bridge, VXLAN device, block and one FDB entry per other host
    /// (`POST /v1/sites/{site}/vxlan-networks`).
    Create {
        /// The site whose hosts it spans.
        site: String,
        /// Its name: lowercase letters, digits and '-', unique among the
        /// tenant's networks.
        name: String,
        #[command(flatten)]
        options: NetworkOptions,
        /// Its VNI (default: the lowest free from 10000 among the networks
        /// that share a host).
        #[arg(long)]
        vni: Option<u32>,
        /// Its MTU (default: the largest the underlay carries).
        #[arg(long)]
        mtu: Option<u32>,
        /// A WireGuard network of the tenant to carry it, encrypted.
        #[arg(long, value_name = "NETWORK")]
        over: Option<String>,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// One VXLAN network with its hosts' blocks
    /// (`GET /v1/vxlan-networks/{id}`; the id is its name).
    Show {
        /// The VXLAN network, by name.
        name: String,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Delete a VXLAN network: every host of its site removes it
    /// (`DELETE /v1/vxlan-networks/{id}`).
    Rm {
        /// The VXLAN network, by name.
        name: String,
        #[command(flatten)]
        api: ApiArgs,
    },
}

/// `KEY=VALUE`.
pub(super) fn label(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err("expected KEY=VALUE".into()),
    }
}
