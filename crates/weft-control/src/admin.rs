//! What the operator's commands do (`weft control tenant …`, `weft control
//! token create`): they run on the control plane's machine against its
//! store directly, as the owner of its state directory. The binary parses
//! and prints; this module does the work.

use crate::model::{ApiKeyInfo, Tenant, TokenInfo, validate_label};
use crate::secret::{Secret, SecretKind};
use crate::store::{Store, StoreError};
use std::time::Duration;
use weft_model::ModelError;

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error(transparent)]
    Invalid(#[from] ModelError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("tenant {0:?} not found")]
    NoTenant(String),
}

pub type Result<T> = std::result::Result<T, AdminError>;

/// Create a tenant; the API key is returned once, to be shown once.
pub async fn create_tenant(store: &dyn Store, name: &str, now: i64) -> Result<(Tenant, Secret)> {
    validate_label("tenant name", name)?;
    let key = Secret::generate(SecretKind::ApiKey);
    let tenant = store.create_tenant(name, &key, now).await?;
    tracing::info!(tenant = %tenant.name, key = %key, "tenant created");
    Ok((tenant, key))
}

async fn tenant_named(store: &dyn Store, name: &str) -> Result<Tenant> {
    store
        .tenant_by_name(name)
        .await?
        .ok_or_else(|| AdminError::NoTenant(name.to_string()))
}

/// Another key for a tenant (to rotate: add one, then revoke the old).
pub async fn add_key(store: &dyn Store, tenant: &str, now: i64) -> Result<(ApiKeyInfo, Secret)> {
    let tenant = tenant_named(store, tenant).await?;
    let key = Secret::generate(SecretKind::ApiKey);
    let info = store.add_api_key(&tenant.id, &key, now).await?;
    tracing::info!(tenant = %tenant.name, key = %key, "API key added");
    Ok((info, key))
}

/// Every tenant with its keys (ids only).
pub async fn list(store: &dyn Store) -> Result<Vec<(Tenant, Vec<ApiKeyInfo>)>> {
    let mut out = Vec::new();
    for tenant in store.list_tenants().await? {
        let keys = store.list_api_keys(&tenant.id).await?;
        out.push((tenant, keys));
    }
    Ok(out)
}

/// Revoke a key by its id (`wak_<id>_…`: the id alone, or the whole key).
pub async fn revoke_key(store: &dyn Store, key: &str, now: i64) -> Result<ApiKeyInfo> {
    let id = match Secret::parse(SecretKind::ApiKey, key) {
        Ok(whole) => whole.id().to_string(),
        Err(_) => key
            .strip_prefix("wak_")
            .unwrap_or(key)
            .trim_end_matches(['_', '…'])
            .to_string(),
    };
    if id.len() != 12 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ModelError::invalid("key id", &id, "expected 12 hex digits").into());
    }
    let info = store.revoke_api_key(&id, now).await?;
    tracing::info!(key = %id, "API key revoked");
    Ok(info)
}

/// What an enrollment token allows: for how long, how many hosts, and
/// the site they join (none: no site).
#[derive(Debug, Clone, Copy)]
pub struct TokenGrant<'a> {
    pub ttl: Duration,
    pub uses: u32,
    pub site: Option<&'a str>,
}

/// An enrollment token for `tenant`, its hosts in no site; returned
/// once, stored hashed.
pub async fn create_token(
    store: &dyn Store,
    tenant: &str,
    ttl: Duration,
    uses: u32,
    now: i64,
) -> Result<(TokenInfo, Secret)> {
    let grant = TokenGrant {
        ttl,
        uses,
        site: None,
    };
    create_site_token(store, tenant, grant, now).await
}

/// An enrollment token for `tenant` as `grant` says; returned once,
/// stored hashed.
pub async fn create_site_token(
    store: &dyn Store,
    tenant: &str,
    grant: TokenGrant<'_>,
    now: i64,
) -> Result<(TokenInfo, Secret)> {
    let TokenGrant { ttl, uses, site } = grant;
    if uses == 0 {
        return Err(ModelError::invalid("uses", uses, "must be at least 1").into());
    }
    if let Some(site) = site {
        crate::model::validate_site_name(site)?;
    }
    let tenant = tenant_named(store, tenant).await?;
    let token = Secret::generate(SecretKind::EnrollToken);
    let expires_at = now.saturating_add(ttl.as_secs().min(i64::MAX as u64) as i64);
    let info = store
        .create_site_token(&tenant.id, &token, expires_at, uses, site, now)
        .await?;
    tracing::info!(tenant = %tenant.name, token = %token, uses, site, "enrollment token created");
    Ok((info, token))
}

/// `90s`, `30m`, `1h`, `7d` (a bare number is seconds).
pub fn parse_duration(
    field: &'static str,
    text: &str,
) -> std::result::Result<Duration, ModelError> {
    let bad = || {
        ModelError::invalid(
            field,
            text,
            "expected a duration such as 90s, 30m, 1h or 7d",
        )
    };
    let (digits, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => text.split_at(i),
        None => (text, "s"),
    };
    let n: u64 = digits.parse().map_err(|_| bad())?;
    let secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(bad()),
    };
    let total = n.checked_mul(secs).ok_or_else(bad)?;
    if total == 0 {
        return Err(ModelError::invalid(field, text, "must be longer than zero"));
    }
    Ok(Duration::from_secs(total))
}

#[cfg(test)]
mod tests;
