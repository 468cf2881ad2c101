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
use tables::{
    hosts_table, network_hosts_table, networks_table, print, sites_table, text, vxlan_table,
};

mod args;
mod tables;
mod vm;

pub use args::*;
pub use vm::{VmCommand, vm};

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
    VM_LS = "GET" "/v1/vms" => "weft control vm ls";
    VM_CREATE = "POST" "/v1/vms" => "weft control vm create";
    VM_SHOW = "GET" "/v1/vms/{vm}" => "weft control vm show";
    VM_RM = "DELETE" "/v1/vms/{vm}" => "weft control vm rm";
    VM_ATTACH = "POST" "/v1/vms/{vm}/networks" => "weft control vm attach";
    VM_DETACH = "DELETE" "/v1/vms/{vm}/networks/{network}" => "weft control vm detach";
    TOKEN_LS = "GET" "/v1/tokens" => "weft control token ls";
    TOKEN_RM = "DELETE" "/v1/tokens/{id}" => "weft control token rm";
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
        if let Some(n) = s["revoked_hosts"].as_u64().filter(|n| *n > 0) {
            println!("\n{n} revoked host(s) not yet purged");
        }
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

/// `GET /v1/tokens`: the tenant's tokens, as a table or the API's JSON.
pub async fn list_tokens(format: Format, api: &ApiArgs) -> Result<()> {
    let tokens = TOKEN_LS.call(&ApiClient::new(api)?, &[], None).await?;
    print(format, &tokens, |list| {
        output::table(
            &["TOKEN ID", "SITE", "USES LEFT", "EXPIRES AT", "STATE"],
            &tables::rows(list, &["id", "site", "uses_left", "expires_at", "state"]),
        );
    })
}

/// `DELETE /v1/tokens/{id}`.
pub async fn revoke_token(format: Format, api: &ApiArgs, id: &str) -> Result<()> {
    TOKEN_RM.call(&ApiClient::new(api)?, &[id], None).await?;
    deleted(format, &format!("enrollment token {id}"))
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
