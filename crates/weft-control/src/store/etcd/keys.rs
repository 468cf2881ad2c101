//! Where each piece of state lives in etcd, under the store's prefix
//! (`/weft/v1/` by default):
//!
//! ```text
//! revision                   the desired-state revision (a counter)
//! horizon                    the oldest revision changes_since knows
//! ca                         the replicas' shared CA (certificate, key)
//! replicas/<replica>         a live replica's gRPC addresses (its lease)
//! elections/jobs/…           who runs the background jobs (etcd election)
//! tenant-names/<name>        → tenant id
//! tenants/<tenant>           a tenant
//! api-keys/<key id>          an API key (its hash only)
//! tokens/<token id>          an enrollment token (its hash only)
//! host-tenants/<host>        → tenant id (the gRPC side knows only the host)
//! t/<tenant>/hosts/<host>    a host, live or revoked
//! t/<tenant>/host-names/<n>  → host id, while the host lives
//! t/<tenant>/networks/<n>    a network
//! t/<tenant>/networks-version  moved by every network created or deleted
//! t/<tenant>/blocks/<n>/<s>  a network's blocks, shard s: {block: host id}
//! t/<tenant>/host-keys/<n>/<s>  hosts' keys there, shard s: {host id: key}
//! t/<tenant>/changed/<n>     → the revision the network last changed at
//! t/<tenant>/tombstones/<n>  → the revision the network was deleted at
//! t/<tenant>/sites/<site>    a site (rewritten by whatever puts a host
//!                            in it, so a racing deletion loses)
//! t/<tenant>/vms/<vm>        a VM: its host and NICs
//! vm-reports/<tenant>/<h>    what host h made of its VMs' NICs (not under
//!                            t/<tenant>/, which every change reads whole)
//! ```
//!
//! Names are labels and ids are hex (no `/`).
//!
//! A network's blocks and keys are kept in [`SHARDS`] values each, a host
//! in the shard its id hashes to: etcd allows 128 operations in a
//! transaction (`--max-txn-ops`) and 1.5 MiB in a request, and a
//! transaction may touch every host of a network (creating it: a block
//! each) or every network of a host (enrolling it). With 10,000 hosts a
//! shard's blocks are some 13 KiB and its keys some 30 KiB; creating a
//! network writes 32 values.

/// How many values a network's blocks (and its hosts' keys) are spread
/// over.
pub(super) const SHARDS: u32 = 32;

/// The shard a host's block and key are in (FNV-1a of its id).
pub(super) fn shard_of(host: &str) -> u32 {
    let hash = host.bytes().fold(0x811c_9dc5_u32, |hash, byte| {
        (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193)
    });
    hash % SHARDS
}

#[derive(Debug, Clone)]
pub(super) struct Keys {
    prefix: String,
}

impl Keys {
    pub fn new(prefix: &str) -> Keys {
        let mut prefix = prefix.to_string();
        if !prefix.ends_with('/') {
            prefix.push('/');
        }
        Keys { prefix }
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    fn key(&self, rest: std::fmt::Arguments<'_>) -> String {
        format!("{}{rest}", self.prefix)
    }

    pub fn revision(&self) -> String {
        self.key(format_args!("revision"))
    }
    pub fn horizon(&self) -> String {
        self.key(format_args!("horizon"))
    }
    pub fn ca(&self) -> String {
        self.key(format_args!("ca"))
    }
    pub fn replicas(&self) -> String {
        self.key(format_args!("replicas/"))
    }
    pub fn replica(&self, id: &str) -> String {
        self.key(format_args!("replicas/{id}"))
    }
    pub fn jobs_election(&self) -> String {
        self.key(format_args!("elections/jobs"))
    }
    pub fn tenant_name(&self, name: &str) -> String {
        self.key(format_args!("tenant-names/{name}"))
    }
    pub fn tenants(&self) -> String {
        self.key(format_args!("tenants/"))
    }
    pub fn tenant_record(&self, tenant: &str) -> String {
        self.key(format_args!("tenants/{tenant}"))
    }
    pub fn api_keys(&self) -> String {
        self.key(format_args!("api-keys/"))
    }
    pub fn api_key(&self, id: &str) -> String {
        self.key(format_args!("api-keys/{id}"))
    }
    pub fn tokens(&self) -> String {
        self.key(format_args!("tokens/"))
    }
    pub fn token(&self, id: &str) -> String {
        self.key(format_args!("tokens/{id}"))
    }
    pub fn host_tenant(&self, host: &str) -> String {
        self.key(format_args!("host-tenants/{host}"))
    }
    /// Everything of one tenant.
    pub fn tenant(&self, tenant: &str) -> String {
        self.key(format_args!("t/{tenant}/"))
    }
    pub fn host(&self, tenant: &str, host: &str) -> String {
        format!("{}hosts/{host}", self.tenant(tenant))
    }
    pub fn host_name(&self, tenant: &str, name: &str) -> String {
        format!("{}host-names/{name}", self.tenant(tenant))
    }
    pub fn network(&self, tenant: &str, name: &str) -> String {
        format!("{}networks/{name}", self.tenant(tenant))
    }
    pub fn networks_version(&self, tenant: &str) -> String {
        format!("{}networks-version", self.tenant(tenant))
    }
    /// Every shard of a network's blocks.
    pub fn blocks_of(&self, tenant: &str, network: &str) -> String {
        format!("{}blocks/{network}/", self.tenant(tenant))
    }
    pub fn blocks(&self, tenant: &str, network: &str, shard: u32) -> String {
        format!("{}{shard:02}", self.blocks_of(tenant, network))
    }
    /// Every shard of the keys hosts reported in a network.
    pub fn host_keys_of(&self, tenant: &str, network: &str) -> String {
        format!("{}host-keys/{network}/", self.tenant(tenant))
    }
    pub fn host_keys(&self, tenant: &str, network: &str, shard: u32) -> String {
        format!("{}{shard:02}", self.host_keys_of(tenant, network))
    }
    pub fn changed(&self, tenant: &str, network: &str) -> String {
        format!("{}changed/{network}", self.tenant(tenant))
    }
    pub fn tombstone(&self, tenant: &str, network: &str) -> String {
        format!("{}tombstones/{network}", self.tenant(tenant))
    }
    pub fn site(&self, tenant: &str, site: &str) -> String {
        format!("{}sites/{site}", self.tenant(tenant))
    }
    pub fn vm(&self, tenant: &str, vm: &str) -> String {
        format!("{}vms/{vm}", self.tenant(tenant))
    }
    /// Every host's report of its VMs' NICs, of one tenant.
    pub fn vm_reports(&self, tenant: &str) -> String {
        self.key(format_args!("vm-reports/{tenant}/"))
    }
    pub fn vm_report(&self, tenant: &str, host: &str) -> String {
        format!("{}{host}", self.vm_reports(tenant))
    }
}

/// A key of a tenant's prefix, parsed: what it holds and for what.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum TenantKey<'a> {
    Host(&'a str),
    HostName(&'a str),
    Network(&'a str),
    NetworksVersion,
    /// A shard of a network's blocks.
    Blocks(&'a str),
    /// A shard of a network's hosts' keys.
    HostKeys(&'a str),
    Changed(&'a str),
    Tombstone(&'a str),
    Site(&'a str),
    Vm(&'a str),
}

impl<'a> TenantKey<'a> {
    /// `rest`: the key less the tenant's prefix. `None` for a key this
    /// version does not know (a newer weft's): ignored.
    pub fn parse(rest: &'a str) -> Option<TenantKey<'a>> {
        let (kind, name) = rest.split_once('/').unwrap_or((rest, ""));
        Some(match kind {
            "hosts" => TenantKey::Host(name),
            "host-names" => TenantKey::HostName(name),
            "networks" => TenantKey::Network(name),
            "networks-version" => TenantKey::NetworksVersion,
            "blocks" => TenantKey::Blocks(name.split_once('/')?.0),
            "host-keys" => TenantKey::HostKeys(name.split_once('/')?.0),
            "changed" => TenantKey::Changed(name),
            "tombstones" => TenantKey::Tombstone(name),
            "sites" => TenantKey::Site(name),
            "vms" => TenantKey::Vm(name),
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests;
