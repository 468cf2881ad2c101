//! The embedded store: one SQLite file in the state directory.
//!
//! Several connections share the file (WAL), so concurrent requests really
//! do race here, as they would against etcd: every write runs in a `BEGIN
//! IMMEDIATE` transaction (one writer at a time, readers unblocked), and a
//! token is spent by a conditional `UPDATE … WHERE uses_left > 0 AND
//! expires_at > now` whose changed-row count must be exactly one. The UNIQUE
//! constraints on blocks and live host names are the last word on races
//! the checks above them might miss.
//!
//! SQLite calls block, so each runs on tokio's blocking pool.

mod hosts;
mod logs;
mod members;
mod networks;
mod pool;
mod resume;
mod revision;
mod rows;
mod schema;
mod sites;
mod tenants;
mod tokens;
mod vms;

use super::{NetworkChanges, Purged, Result, Store, StoreError, StoredApiKey, VmChange};
use crate::model::logs::{HostLogs, LogQuery, LogRecord};
use crate::model::{
    ApiKeyInfo, Host, HostBlock, HostId, HostKey, HostReport, Network, NetworkHosts, NetworkKey,
    NetworkSpec, NewHost, ReportedNic, Site, SiteSpec, Tenant, TenantId, TokenInfo, Vm,
};
use crate::secret::{Secret, SecretHash};
use async_trait::async_trait;
use revision::read_revision;
use rows::*;
use rusqlite::{Connection, OptionalExtension, params};
use schema::{migrate, open_connection};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

/// Idle connections kept open; more are opened under load and closed after.
const IDLE_CONNECTIONS: usize = 4;

pub struct SqliteStore {
    path: PathBuf,
    idle: Arc<Mutex<Vec<Connection>>>,
    /// The revision as last seen, for [`Store::revisions`].
    revision: Arc<tokio::sync::watch::Sender<u64>>,
    /// The poll for other writers runs once somebody listens.
    polling: std::sync::Once,
    /// This process's writers, in the order they came: one at a time
    /// reaches SQLite, so they queue here (woken the moment the one before
    /// commits) instead of in SQLite's busy handler, which sleeps in steps
    /// of up to 100 ms. Another process on the same file still meets the
    /// busy handler.
    writer: Arc<tokio::sync::Mutex<()>>,
}

/// SQLite failing means the store failed: an internal error, SQLite's
/// own as its source (a file another process holds waits out the busy
/// timeout first).
impl From<rusqlite::Error> for StoreError {
    fn from(source: rusqlite::Error) -> StoreError {
        StoreError::Internal {
            what: "control plane store".into(),
            source: Box::new(source),
        }
    }
}

impl SqliteStore {
    /// Open (or create) the store at `path`. Two stores may open one file.
    pub fn open(path: &Path) -> Result<SqliteStore> {
        let mut conn = open_connection(path)?;
        migrate(&mut conn)?;
        let revision = read_revision(&conn)?;
        Ok(SqliteStore {
            path: path.to_path_buf(),
            idle: Arc::new(Mutex::new(vec![conn])),
            revision: Arc::new(tokio::sync::watch::channel(revision).0),
            polling: std::sync::Once::new(),
            writer: Arc::default(),
        })
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn create_tenant(&self, name: &str, key: &Secret, now: i64) -> Result<Tenant> {
        let (name, key_id, hash) = (name.to_string(), key.id().to_string(), key.hash());
        self.write(move |tx| tenants::create(tx, name, key_id, hash, now))
            .await
    }

    async fn list_tenants(&self) -> Result<Vec<Tenant>> {
        self.run(|conn| tenants::list(conn)).await
    }

    async fn tenant_by_name(&self, name: &str) -> Result<Option<Tenant>> {
        let name = name.to_string();
        self.run(move |conn| tenants::by_name(conn, &name)).await
    }

    async fn add_api_key(&self, tenant: &TenantId, key: &Secret, now: i64) -> Result<ApiKeyInfo> {
        let (tenant, key_id, hash) = (tenant.clone(), key.id().to_string(), key.hash());
        self.write(move |tx| {
            tenant_exists(tx, tenant.as_str())?;
            tx.execute(
                "INSERT INTO api_keys (id, tenant, hash, created_at) VALUES (?1, ?2, ?3, ?4)",
                params![key_id, tenant.as_str(), hash.to_hex(), now],
            )?;
            Ok(ApiKeyInfo {
                id: key_id,
                tenant,
                created_at: now,
                revoked_at: None,
            })
        })
        .await
    }

    async fn api_key(&self, key_id: &str) -> Result<Option<StoredApiKey>> {
        let key_id = key_id.to_string();
        self.run(move |conn| {
            let row = conn
                .query_row(
                    &format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE id = ?1"),
                    [key_id],
                    key_row,
                )
                .optional()?;
            let Some(row) = row else { return Ok(None) };
            let hash = SecretHash::from_hex(&row.2).ok_or_else(|| corrupt("key hash", "…"))?;
            Ok(Some(StoredApiKey {
                info: key_info(row)?,
                hash,
            }))
        })
        .await
    }

    async fn list_api_keys(&self, tenant: &TenantId) -> Result<Vec<ApiKeyInfo>> {
        let tenant = tenant.clone();
        self.run(move |conn| {
            let mut stmt = conn.prepare(&format!(
                "SELECT {KEY_COLUMNS} FROM api_keys WHERE tenant = ?1 ORDER BY created_at, id"
            ))?;
            let rows = stmt.query_map([tenant.as_str()], key_row)?;
            rows.map(|r| key_info(r?)).collect()
        })
        .await
    }

    async fn revoke_api_key(&self, key_id: &str, now: i64) -> Result<ApiKeyInfo> {
        let key_id = key_id.to_string();
        self.write(move |tx| {
            tx.execute(
                "UPDATE api_keys SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
                params![key_id, now],
            )?;
            let row = tx
                .query_row(
                    &format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE id = ?1"),
                    [&key_id],
                    key_row,
                )
                .optional()?;
            let row = row.ok_or(StoreError::NotFound {
                what: "API key",
                name: key_id,
            })?;
            key_info(row)
        })
        .await
    }

    async fn create_site_token(
        &self,
        tenant: &TenantId,
        token: &Secret,
        expires_at: i64,
        uses: u32,
        site: Option<&str>,
        now: i64,
    ) -> Result<TokenInfo> {
        let (tenant, token_id, hash) = (tenant.clone(), token.id().to_string(), token.hash());
        let site = site.map(str::to_string);
        self.write(move |tx| {
            tenant_exists(tx, tenant.as_str())?;
            if let Some(site) = &site {
                sites::require(tx, tenant.as_str(), site)?;
            }
            tx.execute(
                "INSERT INTO tokens (id, tenant, hash, created_at, expires_at, uses_left, site)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    token_id,
                    tenant.as_str(),
                    hash.to_hex(),
                    now,
                    expires_at,
                    uses,
                    site
                ],
            )?;
            Ok(TokenInfo {
                id: token_id,
                tenant,
                created_at: now,
                expires_at,
                uses_left: uses,
                site,
            })
        })
        .await
    }

    async fn list_tokens(&self, tenant: &TenantId) -> Result<Vec<TokenInfo>> {
        let tenant = tenant.clone();
        self.run(move |conn| tokens::list(conn, &tenant)).await
    }

    async fn revoke_token(&self, tenant: &TenantId, id: &str) -> Result<()> {
        let (tenant, id) = (tenant.clone(), id.to_string());
        self.write(move |tx| tokens::revoke(tx, &tenant, id)).await
    }

    async fn redeem_token(&self, token: &Secret, new: &NewHost, now: i64) -> Result<Host> {
        let (token, new) = (token.clone(), new.clone());
        self.write(move |tx| hosts::redeem(tx, token, new, now))
            .await
    }

    async fn create_site(&self, tenant: &TenantId, spec: &SiteSpec, now: i64) -> Result<Site> {
        let (tenant, spec) = (tenant.clone(), spec.clone());
        self.write(move |tx| sites::create(tx, tenant, spec, now))
            .await
    }

    async fn list_sites(&self, tenant: &TenantId) -> Result<Vec<Site>> {
        let tenant = tenant.clone();
        self.run(move |conn| {
            let tx = conn.transaction()?;
            sites::list(&tx, &tenant)
        })
        .await
    }

    async fn delete_site(&self, tenant: &TenantId, name: &str) -> Result<()> {
        let (tenant, name) = (tenant.clone(), name.to_string());
        self.write(move |tx| sites::delete(tx, &tenant, &name))
            .await
    }

    async fn set_host_site(
        &self,
        tenant: &TenantId,
        hid: &HostId,
        site: Option<&str>,
    ) -> Result<Host> {
        let (tenant, hid, site) = (tenant.clone(), hid.clone(), site.map(str::to_string));
        self.write(move |tx| sites::set_host_site(tx, &tenant, &hid, site))
            .await
    }

    async fn list_hosts(&self, tenant: &TenantId) -> Result<Vec<Host>> {
        let tenant = tenant.clone();
        self.run(move |conn| {
            let mut stmt = conn.prepare(&format!(
                "SELECT {HOST_COLUMNS} FROM hosts WHERE tenant = ?1 AND revoked_at IS NULL
                 ORDER BY name"
            ))?;
            let rows = stmt.query_map([tenant.as_str()], host_row)?;
            rows.map(|r| host(r?)).collect()
        })
        .await
    }

    async fn revoked_hosts(&self, tenant: &TenantId) -> Result<Vec<Host>> {
        let tenant = tenant.clone();
        self.run(move |conn| {
            let mut stmt = conn.prepare(&format!(
                "SELECT {HOST_COLUMNS} FROM hosts WHERE tenant = ?1 AND revoked_at IS NOT NULL
                 ORDER BY name"
            ))?;
            let rows = stmt.query_map([tenant.as_str()], host_row)?;
            rows.map(|r| host(r?)).collect()
        })
        .await
    }

    async fn host(&self, hid: &HostId) -> Result<Option<Host>> {
        let hid = hid.clone();
        self.run(move |conn| {
            let row = conn
                .query_row(
                    &format!("SELECT {HOST_COLUMNS} FROM hosts WHERE id = ?1"),
                    [hid.as_str()],
                    host_row,
                )
                .optional()?;
            row.map(host).transpose()
        })
        .await
    }

    async fn delete_host(&self, tenant: &TenantId, hid: &HostId, now: i64) -> Result<()> {
        let (tenant, hid) = (tenant.clone(), hid.clone());
        self.write(move |tx| {
            let revoked = tx.execute(
                "UPDATE hosts SET revoked_at = ?3
                 WHERE tenant = ?1 AND id = ?2 AND revoked_at IS NULL",
                params![tenant.as_str(), hid.as_str(), now],
            )?;
            if revoked != 1 {
                return Err(StoreError::NotFound {
                    what: "host",
                    name: hid.to_string(),
                });
            }
            let left = networks_of_host(tx, hid.as_str())?;
            tx.execute("DELETE FROM blocks WHERE host = ?1", [hid.as_str()])?;
            tx.execute("DELETE FROM host_keys WHERE host = ?1", [hid.as_str()])?;
            tx.execute("DELETE FROM host_logs WHERE host = ?1", [hid.as_str()])?;
            let revision = bump_revision(tx)?;
            touch(tx, tenant.as_str(), &left, revision)?;
            Ok(())
        })
        .await
    }

    async fn create_network(
        &self,
        tenant: &TenantId,
        spec: &NetworkSpec,
        now: i64,
    ) -> Result<Network> {
        let (tenant, spec) = (tenant.clone(), spec.clone());
        self.write(move |tx| networks::create(tx, tenant, spec, now))
            .await
    }

    async fn list_networks(&self, tenant: &TenantId) -> Result<Vec<Network>> {
        let tenant = tenant.clone();
        self.run(move |conn| {
            let tx = conn.transaction()?;
            networks_of(&tx, tenant.as_str())
        })
        .await
    }

    async fn delete_network(&self, tenant: &TenantId, name: &str) -> Result<()> {
        let (tenant, name) = (tenant.clone(), name.to_string());
        self.write(move |tx| networks::delete(tx, tenant, name))
            .await
    }

    async fn blocks(&self, tenant: &TenantId) -> Result<Vec<HostBlock>> {
        let tenant = tenant.clone();
        self.run(move |conn| blocks_of_tenant(conn, tenant.as_str()))
            .await
    }

    async fn set_network_hosts(
        &self,
        tenant: &TenantId,
        network: &str,
        hosts: Option<&[HostId]>,
    ) -> Result<NetworkHosts> {
        let (tenant, network) = (tenant.clone(), network.to_string());
        let hosts = hosts.map(<[HostId]>::to_vec);
        self.write(move |tx| members::set(tx, &tenant, &network, hosts))
            .await
    }

    async fn network_hosts(&self, tenant: &TenantId, network: &str) -> Result<NetworkHosts> {
        let (tenant, network) = (tenant.clone(), network.to_string());
        self.run(move |conn| {
            let tx = conn.transaction()?;
            members::get(&tx, &tenant, &network)
        })
        .await
    }

    async fn report(&self, hid: &HostId, report: &HostReport, now: i64) -> Result<bool> {
        let (hid, report) = (hid.clone(), report.clone());
        self.write(move |tx| hosts::report(tx, hid, report, now))
            .await
    }

    async fn host_keys(&self, tenant: &TenantId) -> Result<Vec<HostKey>> {
        let tenant = tenant.clone();
        self.run(move |conn| {
            let mut stmt = conn.prepare(
                "SELECT host, network, public_key, listen_port, since FROM host_keys
                 WHERE tenant = ?1 ORDER BY network, host",
            )?;
            let rows = stmt.query_map([tenant.as_str()], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                ))
            })?;
            rows.map(|r| {
                let (h, network, public_key, listen_port, since) = r?;
                Ok(HostKey {
                    host: host_id(h)?,
                    key: NetworkKey {
                        network,
                        public_key,
                        listen_port,
                    },
                    since,
                })
            })
            .collect()
        })
        .await
    }

    async fn changes_since(&self, tenant: &TenantId, since: u64) -> Result<Option<NetworkChanges>> {
        let tenant = tenant.clone();
        self.run(move |conn| {
            let tx = conn.transaction()?;
            resume::changes_since(&tx, tenant.as_str(), since)
        })
        .await
    }

    async fn revision(&self) -> Result<u64> {
        self.run(|conn| read_revision(conn)).await
    }

    async fn purge(&self, before: i64, revoked_before: i64) -> Result<Purged> {
        self.write(move |tx| hosts::purge(tx, before, revoked_before))
            .await
    }

    async fn append_logs(&self, logs: &[HostLogs], keep: u32) -> Result<()> {
        let logs = logs.to_vec();
        self.write(move |tx| logs::append(tx, &logs, keep)).await
    }

    async fn logs(
        &self,
        tenant: &TenantId,
        host: &HostId,
        query: &LogQuery,
    ) -> Result<Vec<LogRecord>> {
        let (tenant, host, query) = (tenant.clone(), host.clone(), query.clone());
        self.run(move |conn| logs::read(conn, &tenant, &host, &query))
            .await
    }

    async fn change_vm(&self, tenant: &TenantId, change: VmChange, now: i64) -> Result<Option<Vm>> {
        let tenant = tenant.clone();
        self.write(move |tx| vms::change(tx, &tenant, change, now))
            .await
    }

    async fn list_vms(&self, tenant: &TenantId) -> Result<Vec<Vm>> {
        let tenant = tenant.clone();
        self.run(move |conn| vms::list(conn, &tenant)).await
    }

    async fn report_vm_nics(&self, hid: &HostId, nics: &[ReportedNic]) -> Result<()> {
        let (hid, nics) = (hid.clone(), nics.to_vec());
        self.write(move |tx| vms::report(tx, &hid, &nics)).await
    }

    async fn reported_vm_nics(&self, tenant: &TenantId) -> Result<Vec<(HostId, ReportedNic)>> {
        let tenant = tenant.clone();
        self.run(move |conn| vms::reported(conn, &tenant)).await
    }

    fn revisions(&self) -> tokio::sync::watch::Receiver<u64> {
        self.polling.call_once(|| self.start_polling());
        self.revision.subscribe()
    }
}

#[cfg(test)]
mod tests;
