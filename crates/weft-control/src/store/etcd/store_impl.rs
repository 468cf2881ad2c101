//! [`Store`] for [`EtcdStore`]: reads, and writes through `change` (the
//! tenant's desired state) or a single compared transaction (tenants,
//! keys, tokens).

use super::*;
use crate::model::logs::{HostLogs, LogQuery, LogRecord};

#[async_trait]
impl Store for EtcdStore {
    async fn create_tenant(&self, name: &str, key: &Secret, now: i64) -> Result<Tenant> {
        let k = &self.keys;
        let record = TenantRecord {
            id: TenantId::generate().to_string(),
            name: name.to_string(),
            created_at: now,
        };
        let api_key = ApiKeyRecord {
            id: key.id().to_string(),
            tenant: record.id.clone(),
            hash: key.hash().to_hex(),
            created_at: now,
            revoked_at: None,
        };
        let txn = Txn::new()
            .when([Compare::absent(k.tenant_name(name))])
            .and_then([
                Op::put(k.tenant_name(name), record.id.clone()),
                Op::put(k.tenant_record(&record.id), encode(&record)),
                Op::put(k.api_key(&api_key.id), encode(&api_key)),
            ]);
        if !self.txn(txn).await?.succeeded {
            return Err(StoreError::TenantExists(name.to_string()));
        }
        record.model()
    }

    async fn list_tenants(&self) -> Result<Vec<Tenant>> {
        let mut tenants = Vec::new();
        for kv in self.scan(self.keys.tenants()).await? {
            tenants.push(decode::<TenantRecord>("tenant", &kv.value)?.model()?);
        }
        tenants.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(tenants)
    }

    async fn tenant_by_name(&self, name: &str) -> Result<Option<Tenant>> {
        let Some(tid) = self.get(self.keys.tenant_name(name)).await? else {
            return Ok(None);
        };
        let tid = String::from_utf8_lossy(&tid.value).into_owned();
        let Some(kv) = self.get(self.keys.tenant_record(&tid)).await? else {
            return Ok(None);
        };
        Ok(Some(decode::<TenantRecord>("tenant", &kv.value)?.model()?))
    }

    async fn add_api_key(&self, tenant: &TenantId, key: &Secret, now: i64) -> Result<ApiKeyInfo> {
        let record = ApiKeyRecord {
            id: key.id().to_string(),
            tenant: tenant.to_string(),
            hash: key.hash().to_hex(),
            created_at: now,
            revoked_at: None,
        };
        let at = self.keys.api_key(&record.id);
        self.put_in_tenant(tenant, at, encode(&record)).await?;
        record.model()
    }

    async fn api_key(&self, key_id: &str) -> Result<Option<StoredApiKey>> {
        let Some(kv) = self.get(self.keys.api_key(key_id)).await? else {
            return Ok(None);
        };
        let record: ApiKeyRecord = decode("API key", &kv.value)?;
        let hash = SecretHash::from_hex(&record.hash).ok_or_else(|| corrupt("key hash", "…"))?;
        Ok(Some(StoredApiKey {
            info: record.model()?,
            hash,
        }))
    }

    async fn list_api_keys(&self, tenant: &TenantId) -> Result<Vec<ApiKeyInfo>> {
        let mut keys = Vec::new();
        for kv in self.scan(self.keys.api_keys()).await? {
            let record: ApiKeyRecord = decode("API key", &kv.value)?;
            if record.tenant == tenant.as_str() {
                keys.push(record.model()?);
            }
        }
        keys.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(keys)
    }

    async fn revoke_api_key(&self, key_id: &str, now: i64) -> Result<ApiKeyInfo> {
        let at = self.keys.api_key(key_id);
        loop {
            let Some(kv) = self.get(at.clone()).await? else {
                return Err(StoreError::NotFound {
                    what: "API key",
                    name: key_id.to_string(),
                });
            };
            let mut record: ApiKeyRecord = decode("API key", &kv.value)?;
            if record.revoked_at.is_some() {
                return record.model();
            }
            record.revoked_at = Some(now);
            let txn = Txn::new()
                .when([Compare::mod_revision(
                    at.clone(),
                    CmpOp::Equal,
                    kv.mod_revision,
                )])
                .and_then([Op::put(at.clone(), encode(&record))]);
            if self.txn(txn).await?.succeeded {
                return record.model();
            }
        }
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
        let record = TokenRecord {
            id: token.id().to_string(),
            tenant: tenant.to_string(),
            hash: token.hash().to_hex(),
            created_at: now,
            expires_at,
            uses_left: uses,
            site: site.map(str::to_string),
        };
        let at = self.keys.token(&record.id);
        let Some(site) = site else {
            self.put_in_tenant(tenant, at, encode(&record)).await?;
            return record.model();
        };
        // The site is checked when the token is made and again when it
        // is redeemed (it may be deleted in between).
        let sites = self.tenant_parts(tenant.as_str(), &["sites/"]).await?;
        sites.require_tenant()?;
        sites.site(site)?;
        self.put_in_tenant(tenant, at, encode(&record)).await?;
        record.model()
    }

    async fn list_tokens(&self, tenant: &TenantId) -> Result<Vec<TokenInfo>> {
        let mut tokens = Vec::new();
        for kv in self.scan(self.keys.tokens()).await? {
            let record: TokenRecord = decode("token", &kv.value)?;
            if record.tenant == tenant.as_str() {
                tokens.push(record.model()?);
            }
        }
        tokens.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(tokens)
    }

    async fn revoke_token(&self, tenant: &TenantId, id: &str) -> Result<()> {
        let at = self.keys.token(id);
        let not_found = || StoreError::NotFound {
            what: "token",
            name: id.to_string(),
        };
        loop {
            let Some(kv) = self.get(at.clone()).await? else {
                return Err(not_found());
            };
            let record: TokenRecord = decode("token", &kv.value)?;
            if record.tenant != tenant.as_str() {
                return Err(not_found());
            }
            // Compared, so a redemption racing it either lands first (and
            // the host is enrolled) or finds no token.
            let txn = Txn::new()
                .when([Compare::mod_revision(
                    at.clone(),
                    CmpOp::Equal,
                    kv.mod_revision,
                )])
                .and_then([Op::delete(at.clone())]);
            if self.txn(txn).await?.succeeded {
                return Ok(());
            }
        }
    }

    async fn redeem_token(&self, token: &Secret, new: &NewHost, now: i64) -> Result<Host> {
        // The token says which tenant; its use count is read again with
        // the tenant's state and compared at commit.
        let at = self.keys.token(token.id());
        let Some(kv) = self.get(at.clone()).await? else {
            return Err(StoreError::TokenRefused {
                id: token.id().to_string(),
                reason: crate::store::TokenRefusal::Unknown,
            });
        };
        let tenant = decode::<TokenRecord>("token", &kv.value)?.tenant;
        // An enrollment reads only what it depends on — the networks and
        // their blocks, the token, the name — not every host's record and
        // keys: its cost grows with the blocks, not with the whole tenant.
        let name = self.keys.host_name(&tenant, &new.name);
        let parts = ["networks/", "blocks/", "sites/"];
        let extra = [at, name];
        let redeemed = self.change_committed(&tenant, &parts, &extra, |draft, read| {
            writes::redeem(draft, read[0].as_ref(), read[1].is_some(), token, new, now)
        });
        Ok(redeemed.await?.0)
    }

    async fn create_site(&self, tenant: &TenantId, spec: &SiteSpec, now: i64) -> Result<Site> {
        let parts = ["sites/"];
        let created = self.change_committed(tenant.as_str(), &parts, &[], |draft, _| {
            sites::create(draft, spec, now)
        });
        Ok(created.await?.0)
    }

    async fn list_sites(&self, tenant: &TenantId) -> Result<Vec<Site>> {
        let state = self.tenant_parts(tenant.as_str(), &["sites/"]).await?;
        let sites = state.sites.values();
        sites.map(|(s, _)| s.model(tenant.as_str())).collect()
    }

    async fn delete_site(&self, tenant: &TenantId, name: &str) -> Result<()> {
        self.change(tenant.as_str(), &[], |draft, _| sites::delete(draft, name))
            .await
    }

    async fn set_host_site(
        &self,
        tenant: &TenantId,
        hid: &HostId,
        site: Option<&str>,
    ) -> Result<Host> {
        self.change(tenant.as_str(), &[], |draft, _| {
            sites::set_host_site(draft, hid, site)
        })
        .await
    }

    async fn list_hosts(&self, tenant: &TenantId) -> Result<Vec<Host>> {
        let state = self.tenant_parts(tenant.as_str(), &["hosts/"]).await?;
        let mut hosts = Vec::new();
        for entry in state.live_hosts() {
            hosts.push(entry.record.model()?);
        }
        hosts.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(hosts)
    }

    async fn revoked_hosts(&self, tenant: &TenantId) -> Result<Vec<Host>> {
        let state = self.tenant_parts(tenant.as_str(), &["hosts/"]).await?;
        let mut hosts = Vec::new();
        for entry in (state.hosts.values()).filter(|h| h.record.revoked_at.is_some()) {
            hosts.push(entry.record.model()?);
        }
        hosts.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(hosts)
    }

    async fn host(&self, hid: &HostId) -> Result<Option<Host>> {
        let Some(tenant) = self.tenant_of(hid.as_str()).await? else {
            return Ok(None);
        };
        let Some(kv) = self.get(self.keys.host(&tenant, hid.as_str())).await? else {
            return Ok(None);
        };
        Ok(Some(decode::<HostRecord>("host", &kv.value)?.model()?))
    }

    async fn delete_host(&self, tenant: &TenantId, hid: &HostId, now: i64) -> Result<()> {
        self.change(tenant.as_str(), &[], |draft, _| {
            writes::delete_host(draft, hid, now)
        })
        .await?;
        self.delete_logs(hid).await
    }

    async fn create_network(
        &self,
        tenant: &TenantId,
        spec: &NetworkSpec,
        now: i64,
    ) -> Result<Network> {
        self.change(tenant.as_str(), &[], |draft, _| {
            writes::create_network(draft, spec, now)
        })
        .await
    }

    async fn list_networks(&self, tenant: &TenantId) -> Result<Vec<Network>> {
        let state = self.tenant_parts(tenant.as_str(), &["networks/"]).await?;
        let networks = state.networks.values();
        networks.map(|n| n.model(tenant.as_str())).collect()
    }

    async fn delete_network(&self, tenant: &TenantId, name: &str) -> Result<()> {
        self.change(tenant.as_str(), &[], |draft, _| {
            writes::delete_network(draft, name)
        })
        .await
    }

    async fn blocks(&self, tenant: &TenantId) -> Result<Vec<HostBlock>> {
        let state = self
            .tenant_parts(tenant.as_str(), &["networks/", "blocks/"])
            .await?;
        let mut blocks = Vec::new();
        for name in state.networks.keys() {
            blocks.extend(state.network_hosts(name)?.blocks);
        }
        Ok(blocks)
    }

    async fn set_network_hosts(
        &self,
        tenant: &TenantId,
        network: &str,
        hosts: Option<&[HostId]>,
    ) -> Result<NetworkHosts> {
        self.change(tenant.as_str(), &[], |draft, _| {
            writes::set_network_hosts(draft, network, hosts)
        })
        .await
    }

    async fn network_hosts(&self, tenant: &TenantId, network: &str) -> Result<NetworkHosts> {
        let state = self
            .tenant_parts(tenant.as_str(), &["networks/", "blocks/"])
            .await?;
        state.network_hosts(network)
    }

    async fn report(&self, hid: &HostId, report: &HostReport, now: i64) -> Result<bool> {
        self.report_host(hid, report, now).await
    }

    async fn host_keys(&self, tenant: &TenantId) -> Result<Vec<HostKey>> {
        let state = self.tenant_parts(tenant.as_str(), &["host-keys/"]).await?;
        let mut keys = Vec::new();
        for (network, by_host) in &state.host_keys {
            for (hid, key) in by_host {
                keys.push(HostKey {
                    host: host_id(hid)?,
                    key: NetworkKey {
                        network: network.clone(),
                        public_key: key.public_key.clone(),
                        listen_port: key.listen_port,
                    },
                    since: key.since,
                });
            }
        }
        Ok(keys)
    }

    async fn changes_since(&self, tenant: &TenantId, since: u64) -> Result<Option<NetworkChanges>> {
        let state = self
            .tenant_parts(tenant.as_str(), &["networks/", "changed/", "tombstones/"])
            .await?;
        if since < state.horizon || since > state.counter.value {
            return Ok(None);
        }
        let after = |marks: &std::collections::BTreeMap<String, u64>| {
            marks
                .iter()
                .filter(|(_, at)| **at > since)
                .map(|(name, _)| name.clone())
                .collect()
        };
        let mut changed: std::collections::BTreeSet<String> = after(&state.changed);
        changed.retain(|name| state.networks.contains_key(name));
        Ok(Some(NetworkChanges {
            changed,
            deleted: after(&state.tombstones),
        }))
    }

    async fn revision(&self) -> Result<u64> {
        let kv = self.get(self.keys.revision()).await?;
        Ok(draft::Counter::read(kv.as_ref())?.value)
    }

    async fn purge(&self, before: i64, revoked_before: i64) -> Result<crate::store::Purged> {
        self.purge_dead(before, revoked_before).await
    }

    async fn compact(&self) -> Result<()> {
        self.compact_history().await
    }

    async fn append_logs(&self, logs: &[HostLogs], keep: u32) -> Result<()> {
        self.append_all_logs(logs, keep).await
    }

    async fn logs(
        &self,
        tenant: &TenantId,
        host: &HostId,
        query: &LogQuery,
    ) -> Result<Vec<LogRecord>> {
        self.read_logs(tenant, host, query).await
    }

    async fn change_vm(
        &self,
        tenant: &TenantId,
        change: crate::store::VmChange,
        now: i64,
    ) -> Result<Option<crate::model::Vm>> {
        self.change_vm_of(tenant, change, now).await
    }

    async fn list_vms(&self, tenant: &TenantId) -> Result<Vec<crate::model::Vm>> {
        self.vms_of(tenant).await
    }

    async fn report_vm_nics(&self, hid: &HostId, nics: &[crate::model::ReportedNic]) -> Result<()> {
        self.put_vm_report(hid, nics).await
    }

    async fn reported_vm_nics(
        &self,
        tenant: &TenantId,
    ) -> Result<Vec<(HostId, crate::model::ReportedNic)>> {
        self.vm_reports_of(tenant).await
    }

    fn revisions(&self) -> watch::Receiver<u64> {
        self.revision.subscribe()
    }
}
