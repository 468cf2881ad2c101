//! The two writes about hosts that do the most: redeeming a token into a
//! host (with its blocks in the networks open to all), and recording a host's report.

use super::rows::*;
use crate::model::{Host, HostReport, NetworkKey, NewHost};
use crate::secret::{Secret, SecretHash};
use crate::store::{Result, StoreError, TokenRefusal};
use rusqlite::{OptionalExtension, Transaction, params};

/// Spend one use of `token` and register `new` with a block in each of its
/// tenant's networks; see [`crate::store::Store::redeem_token`].
pub(super) fn redeem(tx: &Transaction<'_>, token: Secret, new: NewHost, now: i64) -> Result<Host> {
    let refused = |reason| StoreError::TokenRefused {
        id: token.id().to_string(),
        reason,
    };
    let row: Option<(String, String, i64, u32, Option<String>)> = tx
        .query_row(
            "SELECT tenant, hash, expires_at, uses_left, site FROM tokens WHERE id = ?1",
            [token.id()],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .optional()?;
    let Some((tenant, hash, expires_at, uses_left, site)) = row else {
        return Err(refused(TokenRefusal::Unknown));
    };
    let stored = SecretHash::from_hex(&hash).ok_or_else(|| corrupt("token hash", "…"))?;
    if !stored.matches(&token) {
        return Err(refused(TokenRefusal::Unknown));
    }
    if expires_at <= now {
        return Err(refused(TokenRefusal::Expired));
    }
    if uses_left == 0 {
        return Err(refused(TokenRefusal::UsedUp));
    }
    // The spend itself is conditional: it is what makes redemption
    // single-use even if the checks above raced (they cannot under
    // BEGIN IMMEDIATE, but the etcd store has no such lock).
    let spent = tx.execute(
        "UPDATE tokens SET uses_left = uses_left - 1
             WHERE id = ?1 AND uses_left > 0 AND expires_at > ?2",
        params![token.id(), now],
    )?;
    if spent != 1 {
        return Err(refused(TokenRefusal::UsedUp));
    }
    let taken: Option<String> = tx
        .query_row(
            "SELECT id FROM hosts WHERE tenant = ?1 AND name = ?2 AND revoked_at IS NULL",
            params![tenant, new.name],
            |r| r.get(0),
        )
        .optional()?;
    if taken.is_some() {
        return Err(StoreError::HostNameTaken(new.name));
    }
    if let Some(site) = &site {
        super::sites::require(tx, &tenant, site)?;
    }
    tx.execute(
        "INSERT INTO hosts (id, tenant, name, created_at, site) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![new.id.as_str(), tenant, new.name, now, site],
    )?;
    let mut open = super::members::networks_open_to_all(tx, &tenant)?;
    if let Some(site) = &site {
        open.extend(super::sites::networks_of_site(tx, &tenant, site)?);
    }
    for net in networks_of(tx, &tenant)? {
        if open.contains(&net.spec.name) {
            assign_block(tx, &net, new.id.as_str())?;
        }
    }
    let revision = bump_revision(tx)?;
    touch(tx, &tenant, &open, revision)?;
    Ok(Host {
        id: new.id,
        tenant: tenant_id(tenant)?,
        name: new.name,
        created_at: now,
        revoked_at: None,
        endpoint: None,
        version: None,
        last_seen: None,
        peer_health: Default::default(),
        peer_links: vec![],
        site,
    })
}

/// Record a host's report; see [`crate::store::Store::report`].
pub(super) fn report(
    tx: &Transaction<'_>,
    hid: crate::model::HostId,
    report: HostReport,
    now: i64,
) -> Result<bool> {
    let row: Option<(String, Option<String>)> = tx
        .query_row(
            "SELECT tenant, endpoint FROM hosts WHERE id = ?1 AND revoked_at IS NULL",
            [hid.as_str()],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let Some((tenant, endpoint)) = row else {
        return Err(StoreError::NotFound {
            what: "host",
            name: hid.to_string(),
        });
    };
    tx.execute(
        "UPDATE hosts SET endpoint = ?2, version = ?3, last_seen = ?4, peer_health = ?5
         WHERE id = ?1",
        params![
            hid.as_str(),
            report.endpoint,
            report.version,
            now,
            serde_json::to_string(&report.peer_health).unwrap_or_else(|_| "{}".into())
        ],
    )?;
    if let Some(links) = &report.peer_links {
        tx.execute(
            "UPDATE hosts SET peer_links = ?2 WHERE id = ?1",
            params![
                hid.as_str(),
                serde_json::to_string(links).unwrap_or_else(|_| "[]".into())
            ],
        )?;
    }
    let before = keys_of_host(tx, &tenant, hid.as_str())?;
    // Keys of networks the tenant has; others (gone, or never
    // ours) are ignored.
    let known: std::collections::BTreeSet<String> = networks_of(tx, &tenant)?
        .into_iter()
        .map(|n| n.spec.name)
        .collect();
    let mut after: Vec<NetworkKey> = report
        .keys
        .into_iter()
        .filter(|k| known.contains(&k.network))
        .collect();
    after.sort();
    after.dedup_by(|a, b| a.network == b.network);
    let changed = before != after || endpoint.as_deref() != Some(&report.endpoint);
    if before != after {
        // A key reported before keeps its age; a new one starts now.
        let since = key_since(tx, hid.as_str())?;
        tx.execute("DELETE FROM host_keys WHERE host = ?1", [hid.as_str()])?;
        for k in &after {
            let kept = since.get(&(k.network.clone(), k.public_key.clone()));
            tx.execute(
                "INSERT INTO host_keys (tenant, network, host, public_key, listen_port, since)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    tenant,
                    k.network,
                    hid.as_str(),
                    k.public_key,
                    k.listen_port,
                    // Unknown age (reported before ages were kept) stays unknown.
                    kept.map_or(Some(now), |since| *since)
                ],
            )?;
        }
    }
    if changed {
        // Its peers' view of it changed where it has a block (a new
        // address) or a key (new or gone).
        let mut touched = networks_of_host(tx, hid.as_str())?;
        let keyed = |keys: &[NetworkKey]| -> std::collections::BTreeSet<NetworkKey> {
            keys.iter().cloned().collect()
        };
        if endpoint.as_deref() == Some(&report.endpoint) {
            let (before, after) = (keyed(&before), keyed(&after));
            touched = before
                .symmetric_difference(&after)
                .map(|k| k.network.clone())
                .collect();
        }
        let revision = bump_revision(tx)?;
        touch(tx, &tenant, &touched, revision)?;
    }
    Ok(changed)
}

/// When host `host` first reported each of its keys, by (network, key).
fn key_since(
    tx: &Transaction<'_>,
    host: &str,
) -> Result<std::collections::BTreeMap<(String, String), Option<i64>>> {
    let mut stmt =
        tx.prepare("SELECT network, public_key, since FROM host_keys WHERE host = ?1")?;
    let rows = stmt.query_map([host], |r| Ok(((r.get(0)?, r.get(1)?), r.get(2)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// [`crate::store::Store::purge`]: dead tokens, long-revoked hosts (their
/// blocks and keys went when they were revoked; any left go with them).
pub(super) fn purge(
    tx: &Transaction<'_>,
    before: i64,
    revoked_before: i64,
) -> Result<crate::store::Purged> {
    let tokens = tx.execute(
        "DELETE FROM tokens WHERE expires_at < ?1 OR (uses_left = 0 AND created_at < ?1)",
        [before],
    )?;
    let gone = "SELECT id FROM hosts WHERE revoked_at IS NOT NULL AND revoked_at < ?1";
    for table in ["host_keys", "blocks", "host_logs", "vm_reports"] {
        tx.execute(
            &format!("DELETE FROM {table} WHERE host IN ({gone})"),
            [revoked_before],
        )?;
    }
    let hosts = tx.execute(
        "DELETE FROM hosts WHERE revoked_at IS NOT NULL AND revoked_at < ?1",
        [revoked_before],
    )?;
    Ok(crate::store::Purged { tokens, hosts })
}
