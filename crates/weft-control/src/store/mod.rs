//! The control plane's state behind one trait, [`Store`]: SQLite
//! ([`sqlite::SqliteStore`]) on one machine; etcd ([`etcd::EtcdStore`])
//! for several replicas. Both must pass the same suite, `conformance.rs`,
//! written against the trait alone.
//!
//! What the trait promises, whatever the backend:
//! - a token redemption is atomic: of N concurrent redemptions of a
//!   single-use token exactly one succeeds, and the host it registers is
//!   created in the same step (no token spent without a host, no host
//!   without a token);
//! - blocks are unique within a network; a host is in a network exactly
//!   when it has a block there: every live host of the tenant, by default,
//!   or the hosts the tenant chose ([`Store::set_network_hosts`]);
//! - a tenant's subnets never overlap;
//! - every change of desired state (networks, hosts, blocks) moves the
//!   revision forward, once per change, and marks the networks it touched
//!   (what [`Store::changes_since`] answers, across restarts too).
//!
//! - a host's log records are numbered 1, 2, … in the order they were
//!   appended, only the newest are kept, and they go with their host
//!   (deleted, or purged).
//!
//! Every query of tenant objects takes the tenant: there is no call that
//! reaches another tenant's network or host by name or id.

pub(crate) mod etcd;
pub mod sqlite;
mod vms;

pub use vms::VmChange;
pub(crate) use vms::{VmRows, change_vm};

#[cfg(test)]
pub(crate) mod conformance;

use crate::model::logs::{HostLogs, LogQuery, LogRecord};
use crate::model::{
    ApiKeyInfo, Host, HostBlock, HostId, HostKey, HostReport, Network, NetworkHosts, NetworkSpec,
    NewHost, ReportedNic, Site, SiteSpec, Tenant, TenantId, TokenInfo, Vm,
};
use crate::secret::{Secret, SecretHash};
use async_trait::async_trait;

/// Why a token was not accepted. The API answers all of them alike
/// ("enrollment token refused"); the reason is for the server's log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenRefusal {
    Unknown,
    Expired,
    UsedUp,
}

impl TokenRefusal {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenRefusal::Unknown => "unknown",
            TokenRefusal::Expired => "expired",
            TokenRefusal::UsedUp => "used up",
        }
    }
}

/// What went wrong, by meaning: first what was asked that cannot be done
/// (exists already, not found, refused, …: the caller's answer), then the
/// store itself failing (unavailable, internal, corrupt), the backend's
/// own error kept as the source. No backend's type appears here: each
/// backend says what its errors mean.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("tenant {0:?} exists already")]
    TenantExists(String),
    #[error("{what} {name:?} not found")]
    NotFound { what: &'static str, name: String },
    #[error("network {0:?} exists already")]
    NetworkExists(String),
    #[error("invalid subnet {subnet}: overlaps network {other:?} ({other_subnet})")]
    SubnetOverlap {
        subnet: String,
        other: String,
        other_subnet: String,
    },
    #[error("network {network:?} has no free block of its subnet left for host {host}")]
    NoFreeBlock { network: String, host: String },
    #[error("enrollment token {id} refused: {}", .reason.as_str())]
    TokenRefused { id: String, reason: TokenRefusal },
    #[error("invalid field hosts: {0} is not a live host of this tenant")]
    NotAMember(String),
    #[error("host name {0:?} is taken in this tenant")]
    HostNameTaken(String),
    #[error("site {0:?} exists already")]
    SiteExists(String),
    #[error("invalid vni {vni}: network {network:?} of the same site has it")]
    VniTaken { vni: u32, network: String },
    #[error("invalid over {0:?}: not a WireGuard network of this tenant")]
    NotWireguard(String),
    #[error(
        "network {network:?} belongs to site {site:?}: its hosts are the site's (move hosts with PUT /v1/hosts/{{id}})"
    )]
    HostsOfSite { network: String, site: String },
    #[error("network {network:?} carries VXLAN networks {}: delete them first", quoted(.by))]
    CarriesVxlan { network: String, by: Vec<String> },
    /// A site is deleted only once nothing is left in it.
    #[error("site {site:?} still has {}", what_is_left(.hosts, .networks))]
    SiteNotEmpty {
        site: String,
        /// Names of its live hosts.
        hosts: Vec<String>,
        /// Names of its networks.
        networks: Vec<String>,
    },
    #[error("VM {0:?} exists already")]
    VmExists(String),
    #[error("VM {vm:?} has a NIC on network {network:?} already")]
    VmNicExists { vm: String, network: String },
    /// A VM's host or NICs that cannot be had (the field named).
    #[error(transparent)]
    VmRefused(crate::model::VmError),
    /// The store could not be opened (SQLite: its file).
    #[error("open the control plane's store {path}")]
    Open {
        path: String,
        #[source]
        source: BackendError,
    },
    /// The store could not be reached or did not answer in time (etcd
    /// unreachable, or without quorum): worth retrying, here or at another
    /// replica. `store` names it (`etcd at …`).
    #[error("the control plane's store ({store}) could not be reached or did not answer")]
    Unavailable {
        store: String,
        #[source]
        source: BackendError,
    },
    /// The store failed, or refused the request: retrying will not help
    /// (a bug of ours, a broken disk). `what` says which store and how.
    #[error("{what}")]
    Internal {
        what: String,
        #[source]
        source: BackendError,
    },
    #[error("control plane store holds a malformed {what} {value:?}")]
    Corrupt { what: &'static str, value: String },
    #[error("control plane store: a worker thread stopped")]
    Worker,
}

fn quoted(names: &[String]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("{n:?}")).collect();
    quoted.join(", ")
}

fn what_is_left(hosts: &[String], networks: &[String]) -> String {
    let list = |what: &str, names: &[String]| format!("{what} {}", quoted(names));
    match (hosts.is_empty(), networks.is_empty()) {
        (false, false) => format!(
            "{} and {}",
            list("hosts", hosts),
            list("networks", networks)
        ),
        (false, true) => list("hosts", hosts),
        _ => list("networks", networks),
    }
}

/// Check a new VXLAN network against the tenant's `others` and settle
/// its VNI (both backends, inside their write): `over` must be one of
/// the tenant's WireGuard networks, and the VNI unique among the networks
/// of its site — the networks that share a host with it.
pub(crate) fn settle_vxlan(spec: &mut NetworkSpec, others: &[Network]) -> Result<()> {
    let Some(vx) = spec.vxlan.as_mut() else {
        return Ok(());
    };
    if let Some(over) = &vx.over {
        let carrier = others.iter().find(|n| &n.spec.name == over);
        if !carrier.is_some_and(|n| n.spec.mode == crate::model::Mode::Wireguard) {
            return Err(StoreError::NotWireguard(over.clone()));
        }
    }
    let taken: Vec<(String, u32)> = others
        .iter()
        .filter_map(|n| {
            let other = n.spec.vxlan.as_ref()?;
            (other.site == vx.site).then_some((n.spec.name.clone(), other.vni?))
        })
        .collect();
    let vni = crate::model::assign_vni(vx.vni, &taken).map_err(|network| StoreError::VniTaken {
        vni: vx.vni.unwrap_or_default(),
        network,
    })?;
    vx.vni = Some(vni);
    Ok(())
}

/// The VXLAN networks of `networks` that ride inside network `name`.
pub(crate) fn carried_by(name: &str, networks: &[Network]) -> Vec<String> {
    networks
        .iter()
        .filter(|n| {
            n.spec
                .vxlan
                .as_ref()
                .is_some_and(|v| v.over.as_deref() == Some(name))
        })
        .map(|n| n.spec.name.clone())
        .collect()
}

/// A backend's own error (SQLite's, the etcd client's), kept as the
/// source of what it meant to the store's callers.
pub type BackendError = Box<dyn std::error::Error + Send + Sync + 'static>;

pub type Result<T> = std::result::Result<T, StoreError>;

impl StoreError {
    /// The store could not be reached or did not answer: worth retrying,
    /// here or at another replica.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, StoreError::Unavailable { .. })
    }
}

/// A tenant's networks changed (created, settings, blocks, their hosts'
/// keys or addresses) or deleted after some revision.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetworkChanges {
    pub changed: std::collections::BTreeSet<String>,
    pub deleted: std::collections::BTreeSet<String>,
}

/// What [`Store::purge`] removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Purged {
    pub tokens: usize,
    pub hosts: usize,
}

/// A stored API key: what authentication needs.
#[derive(Debug, Clone)]
pub struct StoredApiKey {
    pub info: ApiKeyInfo,
    pub hash: SecretHash,
}

/// All of the control plane's state. `now` is always the caller's (Unix
/// seconds), so expiry is testable without waiting.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Create a tenant with its first API key (hashed by the caller).
    async fn create_tenant(&self, name: &str, key: &Secret, now: i64) -> Result<Tenant>;
    async fn list_tenants(&self) -> Result<Vec<Tenant>>;
    async fn tenant_by_name(&self, name: &str) -> Result<Option<Tenant>>;

    async fn add_api_key(&self, tenant: &TenantId, key: &Secret, now: i64) -> Result<ApiKeyInfo>;
    /// The key with this id, revoked or not; authentication compares its hash.
    async fn api_key(&self, key_id: &str) -> Result<Option<StoredApiKey>>;
    async fn list_api_keys(&self, tenant: &TenantId) -> Result<Vec<ApiKeyInfo>>;
    /// Revoke a key by id; revoking a revoked key changes nothing.
    async fn revoke_api_key(&self, key_id: &str, now: i64) -> Result<ApiKeyInfo>;

    /// A token whose hosts join no site.
    async fn create_token(
        &self,
        tenant: &TenantId,
        token: &Secret,
        expires_at: i64,
        uses: u32,
        now: i64,
    ) -> Result<TokenInfo> {
        self.create_site_token(tenant, token, expires_at, uses, None, now)
            .await
    }
    /// A token whose hosts join `site` (which must exist).
    async fn create_site_token(
        &self,
        tenant: &TenantId,
        token: &Secret,
        expires_at: i64,
        uses: u32,
        site: Option<&str>,
        now: i64,
    ) -> Result<TokenInfo>;
    /// The tenant's enrollment tokens the store still holds (spent and
    /// expired ones too, until purged), oldest first. Never a hash.
    async fn list_tokens(&self, tenant: &TenantId) -> Result<Vec<TokenInfo>>;
    /// Revoke one of the tenant's tokens: it is deleted, and enrolls no
    /// host from then on. Another tenant's token, or none, is NotFound.
    async fn revoke_token(&self, tenant: &TenantId, id: &str) -> Result<()>;
    /// Spend one use of the token and register `host` in its tenant (and
    /// its site), in one atomic step; blocks in every network of the
    /// tenant open to it are assigned too. A token whose site was deleted
    /// since is refused (the site is not found).
    async fn redeem_token(&self, token: &Secret, host: &NewHost, now: i64) -> Result<Host>;

    async fn create_site(&self, tenant: &TenantId, spec: &SiteSpec, now: i64) -> Result<Site>;
    async fn list_sites(&self, tenant: &TenantId) -> Result<Vec<Site>>;
    /// Delete a site with no live host and no network left in it
    /// ([`StoreError::SiteNotEmpty`] names them otherwise).
    async fn delete_site(&self, tenant: &TenantId, name: &str) -> Result<()>;
    /// Move a live host into `site` (`None`: out of any site). It leaves
    /// the networks of its old site and joins those of the new one; the
    /// revision moves when it joined or left a network.
    async fn set_host_site(
        &self,
        tenant: &TenantId,
        host: &HostId,
        site: Option<&str>,
    ) -> Result<Host>;

    async fn list_hosts(&self, tenant: &TenantId) -> Result<Vec<Host>>;
    /// The tenant's revoked hosts not yet purged, by name (their
    /// `revoked_at` set): deleted hosts the overview counts as revoked.
    async fn revoked_hosts(&self, tenant: &TenantId) -> Result<Vec<Host>>;
    /// A host by id in any tenant: the gRPC side knows a host only by the
    /// id in its certificate.
    async fn host(&self, id: &HostId) -> Result<Option<Host>>;
    /// Revoke the host (its certificate is refused from now on) and free
    /// its blocks.
    async fn delete_host(&self, tenant: &TenantId, id: &HostId, now: i64) -> Result<()>;

    /// Create a network and give every live host of the tenant a block,
    /// lowest first in the order the hosts enrolled; a VXLAN network
    /// (`spec.vxlan`) only the live hosts of its site, its VNI settled
    /// ([`settle_vxlan`]). A network another rides in is not deleted
    /// ([`StoreError::CarriesVxlan`]).
    async fn create_network(
        &self,
        tenant: &TenantId,
        spec: &NetworkSpec,
        now: i64,
    ) -> Result<Network>;
    async fn list_networks(&self, tenant: &TenantId) -> Result<Vec<Network>>;
    async fn delete_network(&self, tenant: &TenantId, name: &str) -> Result<()>;
    /// The blocks of a tenant's networks, by network then block.
    async fn blocks(&self, tenant: &TenantId) -> Result<Vec<HostBlock>>;
    /// Choose which hosts are in a network: `None` every live host of the
    /// tenant, those enrolled later too (what a network starts with);
    /// `Some` exactly these. Hosts that join get a block, hosts that leave
    /// lose theirs (and their key there). Moves the revision when a host
    /// joined or left.
    async fn set_network_hosts(
        &self,
        tenant: &TenantId,
        network: &str,
        hosts: Option<&[HostId]>,
    ) -> Result<NetworkHosts>;
    /// Which hosts are in a network, and whether that is all of them.
    async fn network_hosts(&self, tenant: &TenantId, network: &str) -> Result<NetworkHosts>;

    /// Record a host's report (also its heartbeat). Moves the revision,
    /// and says so, only when its address or keys changed.
    async fn report(&self, host: &HostId, report: &HostReport, now: i64) -> Result<bool>;
    /// The keys hosts of the tenant reported, by network then host.
    async fn host_keys(&self, tenant: &TenantId) -> Result<Vec<HostKey>>;

    /// What changed in the tenant's networks after revision `since` (for a
    /// host resuming from it): `None` when the store no longer knows, the
    /// revision being older than it keeps or newer than its own (then the
    /// host gets a snapshot). Kept in the store, so it survives a restart.
    async fn changes_since(&self, tenant: &TenantId, since: u64) -> Result<Option<NetworkChanges>>;

    /// The revision of the last change of desired state.
    async fn revision(&self) -> Result<u64>;

    /// Forget what can no longer matter: tokens that expired, or were
    /// used up and made, before `before`; hosts revoked before
    /// `revoked_before` (their certificates have expired by then, so the
    /// revocation has nothing left to refuse). Desired state is untouched:
    /// the revision does not move. One replica runs this (the elected one).
    async fn purge(&self, before: i64, revoked_before: i64) -> Result<Purged>;

    /// Let the backend drop history nobody can ask for any more (etcd:
    /// compact its revisions). Nothing to do by default.
    async fn compact(&self) -> Result<()> {
        Ok(())
    }

    /// Append hosts' log records, each numbered one after the host's last,
    /// and keep only the newest `keep` of each host. Records of a host
    /// that is not a live host of the tenant named with them are dropped.
    /// Not desired state: the revision does not move.
    async fn append_logs(&self, logs: &[HostLogs], keep: u32) -> Result<()>;
    /// The records of the tenant's live host `host` that `query` wants,
    /// oldest first; NotFound for a host of another tenant (or none).
    async fn logs(
        &self,
        tenant: &TenantId,
        host: &HostId,
        query: &LogQuery,
    ) -> Result<Vec<LogRecord>>;

    /// Create, change or delete one of the tenant's VMs ([`VmChange`]):
    /// its host must be a live host of the tenant and each NIC's network
    /// one the host has a block in (an address asked for in that block).
    /// Moves the revision once, marking the networks of the NICs it
    /// changed; `None` when it deleted the VM.
    async fn change_vm(&self, tenant: &TenantId, change: VmChange, now: i64) -> Result<Option<Vm>>;
    /// The tenant's VMs, by id.
    async fn list_vms(&self, tenant: &TenantId) -> Result<Vec<Vm>>;
    /// What `host` made of its VMs' NICs, replacing what it reported
    /// before. Not desired state: the revision does not move.
    async fn report_vm_nics(&self, host: &HostId, nics: &[ReportedNic]) -> Result<()>;
    /// What the tenant's live hosts last reported of their VMs' NICs.
    async fn reported_vm_nics(&self, tenant: &TenantId) -> Result<Vec<(HostId, ReportedNic)>>;

    /// The store's revision as it moves: by this process's writes at once,
    /// and by other writers (another replica, another process on the same
    /// file) as the backend learns of them (etcd: its watch; SQLite: a
    /// poll). Every agent stream of a replica waits on this one channel,
    /// so the store is read once per change, not once per stream.
    fn revisions(&self) -> tokio::sync::watch::Receiver<u64>;
}
