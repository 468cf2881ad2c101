//! Sites drafted against a tenant's state (see `draft.rs`), as the
//! SQLite store's `sites.rs` does them: a host is in the networks of its
//! site and leaves them when it moves.

use super::draft::Draft;
use super::records::*;
use crate::model::{Host, HostId, Site, SiteSpec};
use crate::store::{Result, StoreError};
use weft_etcd::{CmpOp, Compare};

pub(super) fn create(draft: &mut Draft<'_>, spec: &SiteSpec, now: i64) -> Result<Site> {
    draft.state.require_tenant()?;
    if draft.state.sites.contains_key(&spec.name) {
        return Err(StoreError::SiteExists(spec.name.clone()));
    }
    let record = SiteRecord::new(spec, now);
    let key = draft.keys.site(&draft.state.tenant, &spec.name);
    draft.compare(Compare::absent(key.clone()));
    draft.put(key, encode(&record));
    record.model(&draft.state.tenant)
}

pub(super) fn delete(draft: &mut Draft<'_>, name: &str) -> Result<()> {
    let (_, modified) = *draft.state.site(name)?;
    let mut hosts: Vec<String> = (draft.state.live_hosts().into_iter())
        .filter(|h| h.record.site.as_deref() == Some(name))
        .map(|h| h.record.name.clone())
        .collect();
    hosts.sort();
    let networks: Vec<String> = draft.state.networks_of_site(name).into_iter().collect();
    if !hosts.is_empty() || !networks.is_empty() {
        return Err(StoreError::SiteNotEmpty {
            site: name.to_string(),
            hosts,
            networks,
        });
    }
    let key = draft.keys.site(&draft.state.tenant, name);
    // Whatever put a host or a network in the site since wrote it again.
    draft.compare(Compare::mod_revision(key.clone(), CmpOp::Equal, modified));
    draft.delete(key);
    Ok(())
}

pub(super) fn set_host_site(
    draft: &mut Draft<'_>,
    hid: &HostId,
    site: Option<&str>,
) -> Result<Host> {
    let live = (draft.state.hosts.get(hid.as_str())).filter(|h| h.record.revoked_at.is_none());
    let Some(mut entry) = live.cloned() else {
        return Err(StoreError::NotFound {
            what: "host",
            name: hid.to_string(),
        });
    };
    if let Some(site) = site {
        draft.hold_site(site)?;
    }
    if entry.record.site.as_deref() == site {
        return entry.record.model();
    }
    let in_site = |site: Option<&str>| site.map(|s| draft.state.networks_of_site(s));
    let left = in_site(entry.record.site.as_deref()).unwrap_or_default();
    let joined = in_site(site).unwrap_or_default();
    for name in &left {
        draft.leave(name, hid.as_str());
        draft.touch(name);
    }
    for name in &joined {
        draft.assign_block(name, hid.as_str())?;
        draft.touch(name);
    }
    entry.record.site = site.map(str::to_string);
    let host = entry.record.model()?;
    draft.put_host(hid.as_str(), entry);
    Ok(host)
}
