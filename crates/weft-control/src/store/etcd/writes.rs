//! The changes of desired state, drafted against a tenant's state read
//! at one revision (see `draft.rs`): the same steps as the SQLite
//! store's, as writes and compares instead of SQL.

use super::draft::{Draft, HostEntry, RESUME_WINDOW};
use super::records::*;
use crate::model::{
    Host, HostId, HostReport, Network, NetworkHosts, NetworkKey, NetworkSpec, NewHost,
};
use crate::secret::{Secret, SecretHash};
use crate::store::{Result, StoreError, TokenRefusal};
use std::collections::BTreeSet;
use weft_etcd::{CmpOp, Compare, KeyValue};

/// Spend one use of the token (read as `token_kv`) and register `new`
/// with a block in each network open to all hosts.
pub(super) fn redeem(
    draft: &mut Draft<'_>,
    token_kv: Option<&KeyValue>,
    name_taken: bool,
    token: &Secret,
    new: &NewHost,
    now: i64,
) -> Result<Host> {
    let refused = |reason| StoreError::TokenRefused {
        id: token.id().to_string(),
        reason,
    };
    let Some(token_kv) = token_kv else {
        return Err(refused(TokenRefusal::Unknown));
    };
    let mut record: TokenRecord = decode("token", &token_kv.value)?;
    let stored = SecretHash::from_hex(&record.hash).ok_or_else(|| corrupt("token hash", "…"))?;
    if !stored.matches(token) || record.tenant != draft.state.tenant {
        return Err(refused(TokenRefusal::Unknown));
    }
    if record.expires_at <= now {
        return Err(refused(TokenRefusal::Expired));
    }
    if record.uses_left == 0 {
        return Err(refused(TokenRefusal::UsedUp));
    }
    // The spend: compared with the use count read, so of racing
    // redemptions of the last use exactly one commits.
    record.uses_left -= 1;
    let key = draft.keys.token(token.id());
    draft.compare(Compare::mod_revision(
        key.clone(),
        CmpOp::Equal,
        token_kv.mod_revision,
    ));
    draft.put(key, encode(&record));

    let tenant = draft.state.tenant.clone();
    // A live host's name key (read with the token; compared absent below).
    if name_taken {
        return Err(StoreError::HostNameTaken(new.name.clone()));
    }
    let site = record.site.clone();
    let hid = new.id.as_str();
    let name_key = draft.keys.host_name(&tenant, &new.name);
    let index_key = draft.keys.host_tenant(hid);
    draft.compare(Compare::absent(name_key.clone()));
    draft.compare(Compare::absent(index_key.clone()));
    draft.put(name_key, hid.as_bytes().to_vec());
    draft.put(index_key, tenant.as_bytes().to_vec());
    let record = HostRecord {
        id: hid.to_string(),
        tenant: tenant.clone(),
        name: new.name.clone(),
        created_at: now,
        revoked_at: None,
        endpoint: None,
        version: None,
        last_seen: None,
        peer_health: Default::default(),
        peer_links: vec![],
        site,
    };
    if let Some(site) = &record.site {
        draft.hold_site(site)?;
    }
    let host = record.model()?;
    // A new key: compared with mod_revision 0 (absent).
    let entry = HostEntry {
        record,
        created: i64::MAX,
        modified: 0,
    };
    draft.put_host(hid, entry);
    let open: Vec<String> = draft
        .state
        .networks
        .iter()
        .filter(|(_, n)| n.all_hosts || (n.site.is_some() && n.site == host.site))
        .map(|(name, _)| name.clone())
        .collect();
    for name in &open {
        draft.assign_block(name, hid)?;
        draft.touch(name);
    }
    draft.move_revision();
    Ok(host)
}

pub(super) fn delete_host(draft: &mut Draft<'_>, hid: &HostId, now: i64) -> Result<()> {
    let hid = hid.as_str();
    let live = draft
        .state
        .hosts
        .get(hid)
        .filter(|h| h.record.revoked_at.is_none());
    let Some(mut entry) = live.cloned() else {
        return Err(StoreError::NotFound {
            what: "host",
            name: hid.to_string(),
        });
    };
    let tenant = draft.state.tenant.clone();
    draft.delete(draft.keys.host_name(&tenant, &entry.record.name));
    entry.record.revoked_at = Some(now);
    draft.put_host(hid, entry);
    for name in draft.state.networks_of_host(hid) {
        draft.leave(&name, hid);
        draft.touch(&name);
    }
    let keyed: Vec<String> = draft.state.host_keys.keys().cloned().collect();
    for name in keyed {
        draft.drop_key(&name, hid);
    }
    draft.move_revision();
    Ok(())
}

/// Networks are created and deleted compared with the tenant's
/// networks-version, so name and subnet checks hold against a racing
/// creation (the counter's compare already does; this says why).
fn guard_networks(draft: &mut Draft<'_>) {
    let key = draft.keys.networks_version(&draft.state.tenant);
    let read = draft.state.networks_version;
    draft.compare(Compare::mod_revision(key.clone(), CmpOp::Equal, read));
    draft.put(key, Vec::new());
}

pub(super) fn create_network(
    draft: &mut Draft<'_>,
    spec: &NetworkSpec,
    now: i64,
) -> Result<Network> {
    draft.state.require_tenant()?;
    let tenant = draft.state.tenant.clone();
    let others = (draft.state.networks.values())
        .map(|n| n.model(&tenant))
        .collect::<Result<Vec<Network>>>()?;
    let mut spec = spec.clone();
    if let Some(vx) = &spec.vxlan {
        draft.hold_site(&vx.site)?;
    }
    crate::store::settle_vxlan(&mut spec, &others)?;
    let spec = &spec;
    for other in others {
        if other.spec.name == spec.name {
            return Err(StoreError::NetworkExists(spec.name.clone()));
        }
        if weft_model::addressing::overlaps(&other.spec.subnet, &spec.subnet) {
            return Err(StoreError::SubnetOverlap {
                subnet: spec.subnet.to_string(),
                other: other.spec.name,
                other_subnet: other.spec.subnet.to_string(),
            });
        }
    }
    guard_networks(draft);
    let record = NetworkRecord::new(spec, now);
    let network = record.model(&tenant)?;
    let key = draft.keys.network(&tenant, &spec.name);
    draft.compare(Compare::absent(key.clone()));
    draft.put(key, encode(&record));
    draft.state.networks.insert(spec.name.clone(), record);
    draft
        .state
        .blocks
        .insert(spec.name.clone(), Default::default());
    // Every live host, or those of the network's site.
    let site = spec.vxlan.as_ref().map(|v| v.site.as_str());
    let live: Vec<String> = (draft.state.live_hosts().iter())
        .filter(|h| site.is_none() || h.record.site.as_deref() == site)
        .map(|h| h.record.id.clone())
        .collect();
    for hid in live {
        draft.assign_block(&spec.name, &hid)?;
    }
    draft.touch(&spec.name);
    Ok(network)
}

pub(super) fn delete_network(draft: &mut Draft<'_>, name: &str) -> Result<()> {
    draft.state.network_record(name)?;
    let tenant = draft.state.tenant.clone();
    let networks = (draft.state.networks.values())
        .map(|n| n.model(&tenant))
        .collect::<Result<Vec<Network>>>()?;
    let by = crate::store::carried_by(name, &networks);
    if !by.is_empty() {
        return Err(StoreError::CarriesVxlan {
            network: name.to_string(),
            by,
        });
    }
    guard_networks(draft);
    let tenant = draft.state.tenant.clone();
    let keys = draft.keys;
    draft.delete(keys.network(&tenant, name));
    draft.delete_prefix(keys.blocks_of(&tenant, name));
    draft.delete_prefix(keys.host_keys_of(&tenant, name));
    draft.delete(keys.changed(&tenant, name));
    draft.state.networks.remove(name);
    draft.state.blocks.remove(name);
    draft.state.host_keys.remove(name);
    let next = draft.next_revision();
    draft.put(keys.tombstone(&tenant, name), next.to_string().into_bytes());
    // Deletions older than the window are forgotten; the horizon says
    // how far back changes_since can answer.
    if let Some(cutoff) = next.checked_sub(RESUME_WINDOW) {
        let forgotten: Vec<String> = draft
            .state
            .tombstones
            .iter()
            .filter(|(n, at)| **at <= cutoff && n.as_str() != name)
            .map(|(n, _)| n.clone())
            .collect();
        for gone in &forgotten {
            draft.delete(keys.tombstone(&tenant, gone));
        }
        if !forgotten.is_empty() && draft.state.horizon < cutoff {
            draft.put(keys.horizon(), cutoff.to_string().into_bytes());
        }
    }
    draft.move_revision();
    Ok(())
}

pub(super) fn set_network_hosts(
    draft: &mut Draft<'_>,
    name: &str,
    chosen: Option<&[HostId]>,
) -> Result<NetworkHosts> {
    let before = draft.state.network_hosts(name)?;
    if let Some(site) = &draft.state.network_record(name)?.site {
        return Err(StoreError::HostsOfSite {
            network: name.to_string(),
            site: site.clone(),
        });
    }
    let live: Vec<String> = draft
        .state
        .live_hosts()
        .iter()
        .map(|h| h.record.id.clone())
        .collect();
    let wanted: BTreeSet<String> = match chosen {
        None => live.iter().cloned().collect(),
        Some(hosts) => {
            let mut wanted = BTreeSet::new();
            for h in hosts {
                if !live.iter().any(|l| l == h.as_str()) {
                    return Err(StoreError::NotAMember(h.to_string()));
                }
                wanted.insert(h.to_string());
            }
            wanted
        }
    };
    let had: BTreeSet<String> = before.blocks.iter().map(|b| b.host.to_string()).collect();
    for gone in had.difference(&wanted) {
        draft.leave(name, gone);
    }
    // Joining in the order hosts enrolled, lowest free block first.
    for h in live
        .iter()
        .filter(|h| wanted.contains(*h) && !had.contains(*h))
    {
        draft.assign_block(name, h)?;
    }
    let all = chosen.is_none();
    let tenant = draft.state.tenant.clone();
    let mut record = draft.state.network_record(name)?.clone();
    if record.all_hosts != all {
        record.all_hosts = all;
        draft.put(draft.keys.network(&tenant, name), encode(&record));
        draft.state.networks.insert(name.to_string(), record);
    }
    let after = draft.state.network_hosts(name)?;
    if after != before {
        draft.touch(name);
    }
    Ok(after)
}

/// Record a host's report; the revision moves when its address or keys
/// changed.
pub(super) fn report(
    draft: &mut Draft<'_>,
    hid: &HostId,
    report: &HostReport,
    now: i64,
) -> Result<bool> {
    let hid = hid.as_str();
    let live = draft
        .state
        .hosts
        .get(hid)
        .filter(|h| h.record.revoked_at.is_none());
    let Some(mut entry) = live.cloned() else {
        return Err(StoreError::NotFound {
            what: "host",
            name: hid.to_string(),
        });
    };
    let endpoint_before = entry.record.endpoint.clone();
    entry.record.endpoint = Some(report.endpoint.clone());
    entry.record.version = Some(report.version.clone());
    entry.record.last_seen = Some(now);
    entry.record.peer_health = report.peer_health.clone();
    if let Some(links) = &report.peer_links {
        entry.record.peer_links = links.clone();
    }
    draft.put_host(hid, entry);

    let keys_of = |draft: &Draft<'_>| -> BTreeSet<NetworkKey> {
        let mut keys = BTreeSet::new();
        for (network, by_host) in &draft.state.host_keys {
            if let Some(k) = by_host.get(hid) {
                keys.insert(NetworkKey {
                    network: network.clone(),
                    public_key: k.public_key.clone(),
                    listen_port: k.listen_port,
                });
            }
        }
        keys
    };
    let before = keys_of(draft);
    // Keys of networks the tenant has; others (gone, or never ours) are
    // ignored; one key per network.
    let mut after: Vec<NetworkKey> = report
        .keys
        .iter()
        .filter(|k| draft.state.networks.contains_key(&k.network))
        .cloned()
        .collect();
    after.sort();
    after.dedup_by(|a, b| a.network == b.network);
    let after: BTreeSet<NetworkKey> = after.into_iter().collect();
    let same_endpoint = endpoint_before.as_deref() == Some(&report.endpoint);
    let changed = before != after || !same_endpoint;
    if before != after {
        // A key reported before keeps its age; a new one starts now.
        let since = |network: &str, key: &str| -> Option<i64> {
            match draft
                .state
                .host_keys
                .get(network)
                .and_then(|by| by.get(hid))
            {
                Some(old) if old.public_key == key => old.since,
                _ => Some(now),
            }
        };
        let since: Vec<Option<i64>> = after
            .iter()
            .map(|k| since(&k.network, &k.public_key))
            .collect();
        let networks: Vec<String> = draft.state.host_keys.keys().cloned().collect();
        for name in networks {
            draft.drop_key(&name, hid);
        }
        for (k, since) in after.iter().zip(since) {
            let record = HostKeyRecord {
                public_key: k.public_key.clone(),
                listen_port: k.listen_port,
                since,
            };
            draft.set_key(&k.network, hid, record);
        }
    }
    if changed {
        // Its peers' view of it changed where it has a block (a new
        // address) or a key (new or gone).
        let touched: BTreeSet<String> = if same_endpoint {
            before
                .symmetric_difference(&after)
                .map(|k| k.network.clone())
                .collect()
        } else {
            draft.state.networks_of_host(hid)
        };
        for name in &touched {
            draft.touch(name);
        }
        draft.move_revision();
    }
    Ok(changed)
}
