//! The tenant's commands: each one calls one route of the control plane's
//! REST API, as the tenant whose key it is given (`--api`, `--api-key`,
//! `--ca`, or `WEFT_API`, `WEFT_API_KEY`, `WEFT_CA`), and prints a table
//! (or, with `-o json`, the API's own JSON).
//!
//! Every command names its route in [`ENDPOINTS`]; a test walks the
//! control plane's route table and fails on a route no command calls.

use crate::api_client::{ApiArgs, ApiClient};
use crate::output::{self, Format};
use anyhow::{Result, bail};
use hyper::Method;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// One route of the API and the `weft` command that calls it.
pub struct Endpoint {
    pub method: &'static str,
    /// The route's template, as in the route table (`{name}` for a part).
    pub path: &'static str,
    #[cfg_attr(not(test), allow(dead_code))] // read by the test of the route table
    pub command: &'static str,
}

macro_rules! endpoints {
    ($($id:ident = $method:literal $path:literal => $command:literal;)*) => {
        $(pub const $id: Endpoint = Endpoint { method: $method, path: $path, command: $command };)*
        /// Every route a command calls.
        #[cfg_attr(not(test), allow(dead_code))] // read by the test of the route table
        pub const ENDPOINTS: &[Endpoint] = &[$($id),*];
    };
}

endpoints! {
    OPENAPI = "GET" "/v1/openapi.json" => "weft control openapi";
    STATUS = "GET" "/v1/status" => "weft control status";
    NETWORK_LS = "GET" "/v1/networks" => "weft control network ls";
    NETWORK_CREATE = "POST" "/v1/networks" => "weft control network create";
    NETWORK_SHOW = "GET" "/v1/networks/{name}" => "weft control network show";
    NETWORK_RM = "DELETE" "/v1/networks/{name}" => "weft control network rm";
    NETWORK_HOSTS = "GET" "/v1/networks/{name}/hosts" => "weft control network hosts";
    NETWORK_SET_HOSTS = "PUT" "/v1/networks/{name}/hosts" => "weft control network set-hosts";
    HOST_LS = "GET" "/v1/hosts" => "weft control host ls";
    HOST_SHOW = "GET" "/v1/hosts/{id}" => "weft control host show";
    HOST_RM = "DELETE" "/v1/hosts/{id}" => "weft control host rm";
    HOST_MOVE = "PUT" "/v1/hosts/{id}" => "weft control host move";
    LOGS = "GET" "/v1/hosts/{id}/logs" => "weft control logs";
    SITE_LS = "GET" "/v1/sites" => "weft control site ls";
    SITE_CREATE = "POST" "/v1/sites" => "weft control site create";
    SITE_SHOW = "GET" "/v1/sites/{site}" => "weft control site show";
    SITE_RM = "DELETE" "/v1/sites/{site}" => "weft control site rm";
    SITE_HOSTS = "GET" "/v1/sites/{site}/hosts" => "weft control site hosts";
    VXLAN_LS = "GET" "/v1/sites/{site}/vxlan-networks" => "weft control vxlan ls";
    VXLAN_CREATE = "POST" "/v1/sites/{site}/vxlan-networks" => "weft control vxlan create";
    VXLAN_SHOW = "GET" "/v1/vxlan-networks/{id}" => "weft control vxlan show";
    VXLAN_RM = "DELETE" "/v1/vxlan-networks/{id}" => "weft control vxlan rm";
    TOKEN_CREATE = "POST" "/v1/tokens" => "weft control token create";
}

impl Endpoint {
    /// The path with its `{…}` parts filled by `parts`, in order, each
    /// percent-encoded (a value can never reach another route).
    pub fn path_with(&self, parts: &[&str]) -> String {
        let mut out = String::new();
        let mut parts = parts.iter();
        let mut rest = self.path;
        while let Some(open) = rest.find('{') {
            out.push_str(&rest[..open]);
            let close = rest[open..].find('}').map_or(rest.len(), |c| open + c + 1);
            let part = parts.next().expect("a value for each part of the path");
            for b in part.bytes() {
                if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                    out.push(b as char);
                } else {
                    out.push_str(&format!("%{b:02X}"));
                }
            }
            rest = &rest[close..];
        }
        out.push_str(rest);
        out
    }

    async fn call(&self, client: &ApiClient, parts: &[&str], body: Option<Value>) -> Result<Value> {
        let method = Method::from_bytes(self.method.as_bytes()).expect("a standard method");
        client
            .json(method, &self.path_with(parts), body.as_ref())
            .await
    }
}

/// The API's answer as JSON for scripts, or `table` of it for people.
fn print(format: Format, value: &Value, table: impl FnOnce(&Value)) -> Result<()> {
    match format {
        Format::Json => output::json(value),
        Format::Table => {
            table(value);
            Ok(())
        }
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => if *b { "yes" } else { "no" }.into(),
        other => other.to_string(),
    }
}

fn rows(list: &Value, fields: &[&str]) -> Vec<Vec<String>> {
    let items = list.as_array().map(Vec::as_slice).unwrap_or_default();
    items
        .iter()
        .map(|item| fields.iter().map(|f| text(&item[*f])).collect())
        .collect()
}

fn blocks(v: &Value, key: &str) -> String {
    let items = v["blocks"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    if items.is_empty() {
        return "-".into();
    }
    let shown: Vec<String> = items
        .iter()
        .map(|b| format!("{}={}", text(&b[key]), text(&b["block"])))
        .collect();
    shown.join(",")
}

fn networks_table(list: &Value) {
    let mut table = rows(list, &["name", "subnet", "mode", "internal"]);
    let items = list.as_array().map(Vec::as_slice).unwrap_or_default();
    for (row, n) in table.iter_mut().zip(items) {
        row.push(blocks(n, "host"));
    }
    output::table(&["NETWORK", "SUBNET", "MODE", "INTERNAL", "BLOCKS"], &table);
}

fn hosts_table(list: &Value) {
    let mut table = rows(list, &["name", "id", "state", "site", "endpoint"]);
    let items = list.as_array().map(Vec::as_slice).unwrap_or_default();
    for (row, h) in table.iter_mut().zip(items) {
        row.push(blocks(h, "network"));
    }
    output::table(
        &["HOST", "ID", "STATE", "SITE", "ENDPOINT", "BLOCKS"],
        &table,
    );
}

fn sites_table(list: &Value) {
    let mut table = rows(list, &["name"]);
    let items = list.as_array().map(Vec::as_slice).unwrap_or_default();
    for (row, s) in table.iter_mut().zip(items) {
        let labels = s["labels"].as_object();
        let shown: Vec<String> = labels
            .into_iter()
            .flatten()
            .map(|(k, v)| format!("{k}={}", text(v)))
            .collect();
        row.push(if shown.is_empty() {
            "-".into()
        } else {
            shown.join(",")
        });
    }
    output::table(&["SITE", "LABELS"], &table);
}

fn vxlan_table(list: &Value) {
    let mut table = rows(
        list,
        &["name", "site", "subnet", "vni", "mtu", "over", "internal"],
    );
    let items = list.as_array().map(Vec::as_slice).unwrap_or_default();
    for (row, n) in table.iter_mut().zip(items) {
        row.push(blocks(n, "host"));
    }
    output::table(
        &[
            "NETWORK", "SITE", "SUBNET", "VNI", "MTU", "OVER", "INTERNAL", "BLOCKS",
        ],
        &table,
    );
}

/// The id of the tenant's host `host`: `host` itself when it is an id
/// (16 hex digits), else the id of the host of that name.
pub async fn host_id(client: &ApiClient, host: &str) -> Result<String> {
    if host.len() == 16 && host.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(host.to_string());
    }
    let hosts = HOST_LS.call(client, &[], None).await?;
    let found = hosts
        .as_array()
        .into_iter()
        .flatten()
        .find(|h| h["name"] == host);
    match found.and_then(|h| h["id"].as_str()) {
        Some(id) => Ok(id.to_string()),
        None => bail!(
            "no host named {} in this tenant (see `weft control host ls`)",
            weft_model::error::shown(host)
        ),
    }
}

/// For people: `value` with every `host` id replaced by that host's name
/// (the API names hosts by id in blocks). JSON keeps the ids.
async fn with_host_names(format: Format, client: &ApiClient, value: Value) -> Result<Value> {
    fn rename(v: &mut Value, names: &BTreeMap<String, String>) {
        match v {
            Value::Array(items) => items.iter_mut().for_each(|i| rename(i, names)),
            Value::Object(map) => {
                for (k, field) in map.iter_mut() {
                    match field.as_str().and_then(|id| names.get(id)) {
                        Some(name) if k == "host" => *field = json!(name),
                        _ => rename(field, names),
                    }
                }
            }
            _ => {}
        }
    }
    if format == Format::Json {
        return Ok(value);
    }
    let hosts = HOST_LS.call(client, &[], None).await?;
    let names: BTreeMap<String, String> = hosts
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|h| Some((h["id"].as_str()?.into(), h["name"].as_str()?.into())))
        .collect();
    let mut value = value;
    rename(&mut value, &names);
    Ok(value)
}

/// Only the API flags.
#[derive(clap::Args)]
pub struct Api {
    #[command(flatten)]
    api: ApiArgs,
}

/// Options a network is created with, WireGuard or VXLAN.
#[derive(clap::Args)]
pub struct NetworkOptions {
    /// Its subnet (CIDR), e.g. 10.42.0.0/16; it must not overlap the
    /// tenant's other networks.
    #[arg(long)]
    subnet: String,
    /// Isolated from the outside world too (no egress).
    #[arg(long)]
    internal: bool,
    /// Its DNS domain (default: mesh.local).
    #[arg(long)]
    domain: Option<String>,
    /// The prefix length of each host's block (default /24, /64 for IPv6).
    #[arg(long, value_name = "BITS")]
    block_prefix: Option<u8>,
}

impl NetworkOptions {
    fn body(&self, name: &str) -> Value {
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
fn label(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err("expected KEY=VALUE".into()),
    }
}

fn deleted(format: Format, what: &str) -> Result<()> {
    if format == Format::Table {
        println!("deleted {what}");
    }
    Ok(())
}

pub async fn status(format: Format, args: Api) -> Result<()> {
    let client = ApiClient::new(&args.api)?;
    let status = STATUS.call(&client, &[], None).await?;
    print(format, &status, |s| {
        println!(
            "tenant {} at revision {}\n",
            text(&s["tenant"]),
            text(&s["revision"])
        );
        networks_table(&s["networks"]);
        println!();
        hosts_table(&s["hosts"]);
    })
}

pub async fn openapi(args: Api) -> Result<()> {
    let client = ApiClient::new(&args.api)?;
    output::json(&OPENAPI.call(&client, &[], None).await?)
}

pub async fn network(format: Format, cmd: NetworkCommand) -> Result<()> {
    match cmd {
        NetworkCommand::Ls(Api { api }) => {
            let client = ApiClient::new(&api)?;
            let list = NETWORK_LS.call(&client, &[], None).await?;
            let list = with_host_names(format, &client, list).await?;
            print(format, &list, networks_table)
        }
        NetworkCommand::Create { name, options, api } => {
            let client = ApiClient::new(&api)?;
            let body = options.body(&name);
            let made = NETWORK_CREATE.call(&client, &[], Some(body)).await?;
            let made = with_host_names(format, &client, made).await?;
            print(format, &made, |n| networks_table(&json!([n])))
        }
        NetworkCommand::Show { name, api } => {
            let client = ApiClient::new(&api)?;
            let network = NETWORK_SHOW.call(&client, &[&name], None).await?;
            let network = with_host_names(format, &client, network).await?;
            print(format, &network, |n| networks_table(&json!([n])))
        }
        NetworkCommand::Rm { name, api } => {
            NETWORK_RM
                .call(&ApiClient::new(&api)?, &[&name], None)
                .await?;
            deleted(format, &format!("network {name}"))
        }
        NetworkCommand::Hosts { name, api } => {
            let client = ApiClient::new(&api)?;
            let hosts = NETWORK_HOSTS.call(&client, &[&name], None).await?;
            let hosts = with_host_names(format, &client, hosts).await?;
            print(format, &hosts, network_hosts_table)
        }
        NetworkCommand::SetHosts {
            name,
            hosts,
            all,
            api,
        } => {
            let client = ApiClient::new(&api)?;
            let body = if all {
                json!({ "all": true })
            } else {
                let mut ids = Vec::new();
                for host in &hosts {
                    ids.push(host_id(&client, host).await?);
                }
                json!({ "hosts": ids })
            };
            let set = NETWORK_SET_HOSTS
                .call(&client, &[&name], Some(body))
                .await?;
            let set = with_host_names(format, &client, set).await?;
            print(format, &set, network_hosts_table)
        }
    }
}

fn network_hosts_table(v: &Value) {
    if v["all"] == true {
        println!(
            "{}: every host of the tenant (those enrolled later too)",
            text(&v["network"])
        );
    } else {
        println!("{}: only the hosts below", text(&v["network"]));
    }
    output::table(&["HOST", "BLOCK"], &rows(&v["hosts"], &["host", "block"]));
}

pub async fn host(format: Format, cmd: HostCommand) -> Result<()> {
    match cmd {
        HostCommand::Ls(Api { api }) => {
            let list = HOST_LS.call(&ApiClient::new(&api)?, &[], None).await?;
            print(format, &list, hosts_table)
        }
        HostCommand::Show { host, api } => {
            let client = ApiClient::new(&api)?;
            let id = host_id(&client, &host).await?;
            let found = HOST_SHOW.call(&client, &[&id], None).await?;
            print(format, &found, |h| hosts_table(&json!([h])))
        }
        HostCommand::Rm { host, api } => {
            let client = ApiClient::new(&api)?;
            let id = host_id(&client, &host).await?;
            HOST_RM.call(&client, &[&id], None).await?;
            deleted(format, &format!("host {host}"))
        }
        HostCommand::Move {
            host,
            site,
            no_site: _,
            api,
        } => {
            let client = ApiClient::new(&api)?;
            let id = host_id(&client, &host).await?;
            let body = json!({ "site": site });
            let moved = HOST_MOVE.call(&client, &[&id], Some(body)).await?;
            print(format, &moved, |h| hosts_table(&json!([h])))
        }
    }
}

pub async fn site(format: Format, cmd: SiteCommand) -> Result<()> {
    match cmd {
        SiteCommand::Ls(Api { api }) => {
            let list = SITE_LS.call(&ApiClient::new(&api)?, &[], None).await?;
            print(format, &list, sites_table)
        }
        SiteCommand::Create { name, labels, api } => {
            let labels: BTreeMap<String, String> = labels.into_iter().collect();
            let body = json!({ "name": name, "labels": labels });
            let made = SITE_CREATE
                .call(&ApiClient::new(&api)?, &[], Some(body))
                .await?;
            print(format, &made, |s| sites_table(&json!([s])))
        }
        SiteCommand::Show { site, api } => {
            let found = SITE_SHOW
                .call(&ApiClient::new(&api)?, &[&site], None)
                .await?;
            print(format, &found, |s| sites_table(&json!([s])))
        }
        SiteCommand::Rm { site, api } => {
            SITE_RM.call(&ApiClient::new(&api)?, &[&site], None).await?;
            deleted(format, &format!("site {site}"))
        }
        SiteCommand::Hosts { site, api } => {
            let list = SITE_HOSTS
                .call(&ApiClient::new(&api)?, &[&site], None)
                .await?;
            print(format, &list, hosts_table)
        }
    }
}

pub async fn vxlan(format: Format, cmd: VxlanCommand) -> Result<()> {
    match cmd {
        VxlanCommand::Ls { site, api } => {
            let client = ApiClient::new(&api)?;
            let list = VXLAN_LS.call(&client, &[&site], None).await?;
            let list = with_host_names(format, &client, list).await?;
            print(format, &list, vxlan_table)
        }
        VxlanCommand::Create {
            site,
            name,
            options,
            vni,
            mtu,
            over,
            api,
        } => {
            let mut body = options.body(&name);
            if let Some(vni) = vni {
                body["vni"] = json!(vni);
            }
            if let Some(mtu) = mtu {
                body["mtu"] = json!(mtu);
            }
            if let Some(over) = over {
                body["over"] = json!(over);
            }
            let client = ApiClient::new(&api)?;
            let made = VXLAN_CREATE.call(&client, &[&site], Some(body)).await?;
            let made = with_host_names(format, &client, made).await?;
            print(format, &made, |n| vxlan_table(&json!([n])))
        }
        VxlanCommand::Show { name, api } => {
            let client = ApiClient::new(&api)?;
            let found = VXLAN_SHOW.call(&client, &[&name], None).await?;
            let found = with_host_names(format, &client, found).await?;
            print(format, &found, |n| vxlan_table(&json!([n])))
        }
        VxlanCommand::Rm { name, api } => {
            VXLAN_RM
                .call(&ApiClient::new(&api)?, &[&name], None)
                .await?;
            deleted(format, &format!("VXLAN network {name}"))
        }
    }
}

/// `POST /v1/tokens` as the tenant: the token's JSON (with `token`).
pub async fn create_token(
    api: &ApiArgs,
    ttl_seconds: u64,
    uses: u32,
    site: Option<&str>,
) -> Result<Value> {
    let mut body = json!({ "ttl_seconds": ttl_seconds, "uses": uses });
    if let Some(site) = site {
        body["site"] = json!(site);
    }
    TOKEN_CREATE
        .call(&ApiClient::new(api)?, &[], Some(body))
        .await
}

#[cfg(test)]
mod tests;
