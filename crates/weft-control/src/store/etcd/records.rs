//! The values stored in etcd: JSON with explicit field names, to and from
//! the model. Secrets are stored as their SHA-256 only.

use crate::model::{
    ApiKeyInfo, Host, HostId, Mode, Network, NetworkSpec, Site, SiteSpec, Tenant, TenantId,
    TokenInfo, VxlanSpec,
};
use crate::store::{Result, StoreError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub(super) fn corrupt(what: &'static str, value: impl ToString) -> StoreError {
    StoreError::Corrupt {
        what,
        value: value.to_string(),
    }
}

pub(super) fn decode<T: for<'de> Deserialize<'de>>(what: &'static str, bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|_| corrupt(what, String::from_utf8_lossy(bytes)))
}

pub(super) fn encode<T: Serialize>(record: &T) -> Vec<u8> {
    // Plain structs of strings and numbers: serializing cannot fail.
    serde_json::to_vec(record).unwrap_or_default()
}

pub(super) fn tenant_id(text: &str) -> Result<TenantId> {
    TenantId::parse("tenant id", text).map_err(|_| corrupt("tenant id", text))
}

pub(super) fn host_id(text: &str) -> Result<HostId> {
    HostId::parse("host id", text).map_err(|_| corrupt("host id", text))
}

/// A decimal number stored as text (the revision, a change marker).
pub(super) fn number(what: &'static str, bytes: &[u8]) -> Result<u64> {
    let text = String::from_utf8_lossy(bytes);
    text.parse().map_err(|_| corrupt(what, text))
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TenantRecord {
    pub id: String,
    pub name: String,
    pub created_at: i64,
}

impl TenantRecord {
    pub fn model(&self) -> Result<Tenant> {
        Ok(Tenant {
            id: tenant_id(&self.id)?,
            name: self.name.clone(),
            created_at: self.created_at,
        })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ApiKeyRecord {
    pub id: String,
    pub tenant: String,
    pub hash: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

impl ApiKeyRecord {
    pub fn model(&self) -> Result<ApiKeyInfo> {
        Ok(ApiKeyInfo {
            id: self.id.clone(),
            tenant: tenant_id(&self.tenant)?,
            created_at: self.created_at,
            revoked_at: self.revoked_at,
        })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TokenRecord {
    pub id: String,
    pub tenant: String,
    pub hash: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub uses_left: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site: Option<String>,
}

impl TokenRecord {
    pub fn model(&self) -> Result<TokenInfo> {
        Ok(TokenInfo {
            id: self.id.clone(),
            tenant: tenant_id(&self.tenant)?,
            created_at: self.created_at,
            expires_at: self.expires_at,
            uses_left: self.uses_left,
            site: self.site.clone(),
        })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct HostRecord {
    pub id: String,
    pub tenant: String,
    pub name: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
    pub endpoint: Option<String>,
    pub version: Option<String>,
    pub last_seen: Option<i64>,
    pub peer_health: BTreeMap<String, u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub peer_links: Vec<crate::model::PeerLink>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site: Option<String>,
}

impl HostRecord {
    pub fn model(&self) -> Result<Host> {
        Ok(Host {
            id: host_id(&self.id)?,
            tenant: tenant_id(&self.tenant)?,
            name: self.name.clone(),
            created_at: self.created_at,
            revoked_at: self.revoked_at,
            endpoint: self.endpoint.clone(),
            version: self.version.clone(),
            last_seen: self.last_seen,
            peer_health: self.peer_health.clone(),
            peer_links: self.peer_links.clone(),
            site: self.site.clone(),
        })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NetworkRecord {
    pub name: String,
    pub subnet: String,
    pub mode: String,
    pub internal: bool,
    pub domain: String,
    pub block_prefix: u8,
    pub created_at: i64,
    /// Every live host of the tenant is in it (those enrolled later too).
    pub all_hosts: bool,
    /// The site it belongs to: its hosts are the site's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site: Option<String>,
    /// A VXLAN network's VNI, MTU and the WireGuard network it rides in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vni: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtu: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub over: Option<String>,
}

impl NetworkRecord {
    pub fn new(spec: &NetworkSpec, created_at: i64) -> NetworkRecord {
        let vx = spec.vxlan.as_ref();
        NetworkRecord {
            name: spec.name.clone(),
            subnet: spec.subnet.to_string(),
            mode: spec.mode.as_str().to_string(),
            internal: spec.internal,
            domain: spec.domain.clone(),
            block_prefix: spec.block_prefix,
            created_at,
            all_hosts: vx.is_none(),
            site: vx.map(|v| v.site.clone()),
            vni: vx.and_then(|v| v.vni),
            mtu: vx.and_then(|v| v.mtu),
            over: vx.and_then(|v| v.over.clone()),
        }
    }

    pub fn model(&self, tenant: &str) -> Result<Network> {
        let mode = Mode::from_stored(&self.mode).ok_or_else(|| corrupt("mode", &self.mode))?;
        let vxlan = match (mode, &self.site) {
            (Mode::Vxlan, Some(site)) => Some(VxlanSpec {
                site: site.clone(),
                vni: Some(self.vni.ok_or_else(|| corrupt("vni", "none"))?),
                mtu: self.mtu,
                over: self.over.clone(),
            }),
            (Mode::Vxlan, None) => return Err(corrupt("VXLAN network without a site", &self.name)),
            _ => None,
        };
        Ok(Network {
            tenant: tenant_id(tenant)?,
            spec: NetworkSpec {
                name: self.name.clone(),
                subnet: self
                    .subnet
                    .parse()
                    .map_err(|_| corrupt("subnet", &self.subnet))?,
                mode,
                internal: self.internal,
                domain: self.domain.clone(),
                block_prefix: self.block_prefix,
                vxlan,
            },
            created_at: self.created_at,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct HostKeyRecord {
    pub public_key: String,
    pub listen_port: u16,
    /// When the host first reported this key (absent in records written
    /// before ages were kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SiteRecord {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub created_at: i64,
}

impl SiteRecord {
    pub fn new(spec: &SiteSpec, created_at: i64) -> SiteRecord {
        SiteRecord {
            name: spec.name.clone(),
            labels: spec.labels.clone(),
            created_at,
        }
    }

    pub fn model(&self, tenant: &str) -> Result<Site> {
        Ok(Site {
            tenant: tenant_id(tenant)?,
            spec: SiteSpec {
                name: self.name.clone(),
                labels: self.labels.clone(),
            },
            created_at: self.created_at,
        })
    }
}

/// A VM: its host and NICs in guest order.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct VmRecord {
    pub id: String,
    pub host: String,
    pub nics: Vec<crate::model::VmNicSpec>,
    pub created_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<crate::model::VmRun>,
}

impl VmRecord {
    pub fn new(vm: &crate::model::Vm) -> VmRecord {
        VmRecord {
            id: vm.spec.id.clone(),
            host: vm.spec.host.to_string(),
            nics: vm.spec.nics.clone(),
            created_at: vm.created_at,
            run: vm.spec.run.clone(),
        }
    }

    pub fn model(&self, tenant: &str) -> Result<crate::model::Vm> {
        Ok(crate::model::Vm {
            tenant: tenant_id(tenant)?,
            spec: crate::model::VmSpec {
                id: self.id.clone(),
                host: host_id(&self.host)?,
                nics: self.nics.clone(),
                run: self.run.clone(),
            },
            created_at: self.created_at,
        })
    }
}
