//! Where each piece of state lives in etcd, under the store's prefix
//! (`/weft/v1/` by default):
//!
//! ```text
//! revision                   the desired-state revision (a counter)
//! horizon                    the oldest revision changes_since knows
//! tenant-names/<name>        → tenant id
//! tenants/<tenant>           a tenant
//! api-keys/<key id>          an API key (its hash only)
//! tokens/<token id>          an enrollment token (its hash only)
//! host-tenants/<host>        → tenant id (the gRPC side knows only the host)
//! t/<tenant>/hosts/<host>    a host, live or revoked
//! t/<tenant>/host-names/<n>  → host id, while the host lives
//! t/<tenant>/networks/<n>    a network
//! t/<tenant>/networks-version  moved by every network created or deleted
//! t/<tenant>/blocks/<n>      a network's blocks: {block: host id}
//! t/<tenant>/host-keys/<n>   the keys hosts reported there: {host id: key}
//! t/<tenant>/changed/<n>     → the revision the network last changed at
//! t/<tenant>/tombstones/<n>  → the revision the network was deleted at
//! ```
//!
//! Names are labels and ids are hex (no `/`).
//!
//! A network's blocks and keys are one value each, not a key per host:
//! etcd allows 128 operations in a transaction (`--max-txn-ops`), and
//! creating a network gives every host a block at once. A value of 10,000
//! hosts' blocks is some 400 KiB, within etcd's 1.5 MiB request limit.

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
    pub fn blocks(&self, tenant: &str, network: &str) -> String {
        format!("{}blocks/{network}", self.tenant(tenant))
    }
    pub fn host_keys(&self, tenant: &str, network: &str) -> String {
        format!("{}host-keys/{network}", self.tenant(tenant))
    }
    pub fn changed(&self, tenant: &str, network: &str) -> String {
        format!("{}changed/{network}", self.tenant(tenant))
    }
    pub fn tombstone(&self, tenant: &str, network: &str) -> String {
        format!("{}tombstones/{network}", self.tenant(tenant))
    }
}

/// A key of a tenant's prefix, parsed: what it holds and for what.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum TenantKey<'a> {
    Host(&'a str),
    HostName(&'a str),
    Network(&'a str),
    NetworksVersion,
    Blocks(&'a str),
    HostKeys(&'a str),
    Changed(&'a str),
    Tombstone(&'a str),
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
            "blocks" => TenantKey::Blocks(name),
            "host-keys" => TenantKey::HostKeys(name),
            "changed" => TenantKey::Changed(name),
            "tombstones" => TenantKey::Tombstone(name),
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_keys_parse_back() {
        let keys = Keys::new("/weft/v1");
        let t = keys.tenant("aa");
        let cases = [
            (keys.host("aa", "h1"), TenantKey::Host("h1")),
            (keys.host_name("aa", "web"), TenantKey::HostName("web")),
            (keys.network("aa", "blue"), TenantKey::Network("blue")),
            (keys.networks_version("aa"), TenantKey::NetworksVersion),
            (keys.blocks("aa", "blue"), TenantKey::Blocks("blue")),
            (keys.host_keys("aa", "blue"), TenantKey::HostKeys("blue")),
            (keys.changed("aa", "blue"), TenantKey::Changed("blue")),
            (keys.tombstone("aa", "blue"), TenantKey::Tombstone("blue")),
        ];
        for (key, parsed) in cases {
            assert_eq!(
                TenantKey::parse(key.strip_prefix(&t).unwrap()),
                Some(parsed)
            );
        }
        assert_eq!(TenantKey::parse("later-feature/x"), None);
        assert!(t.starts_with("/weft/v1/t/aa/"));
    }
}
