//! `GET /v1/events`: one server-sent-events stream per dashboard page.
//!
//! The page needs to know *that* something of its tenant changed, not
//! what: it then reads `/v1/status` again. So the stream sends a `change`
//! event (its data `{"revision": N}`) first, then whenever the tenant's
//! view moved — its networks, sites, hosts, VMs and what their hosts made
//! of them, a host's state (online → offline is a matter of time, not of
//! a write) or a peer link's health.
//! The store's revision feed wakes it at once for desired-state changes;
//! a poll every [`POLL`] catches health and heartbeats, which move no
//! revision. What is compared is a digest of the tenant's own objects, so
//! another tenant's changes send nothing (and so reveal nothing).
//!
//! A comment line every [`KEEP_ALIVE`] of quiet keeps proxies from closing
//! the stream; the page reconnects by itself when it ends.

use super::error::{ApiError, ApiResult};
use super::handlers::host_state;
use super::{AppState, Caller};
use crate::model::TenantId;
use axum::Extension;
use axum::body::Body;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::Response;
use std::hash::{Hash as _, Hasher as _};
use std::time::Duration;

/// How often health and host states are looked at.
pub const POLL: Duration = Duration::from_secs(1);
/// A comment after this much quiet.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// One event in the stream's wire format.
fn change_event(revision: u64) -> String {
    format!("event: change\ndata: {{\"revision\":{revision}}}\n\n")
}

/// A digest of what the tenant's pages show, so an unchanged tenant sends
/// nothing.
async fn digest(state: &AppState, tenant: &TenantId) -> ApiResult<u64> {
    let store = &state.store;
    let now = (state.clock)();
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for host in store.list_hosts(tenant).await? {
        host.id.as_str().hash(&mut h);
        host.name.hash(&mut h);
        host.site.hash(&mut h);
        host.endpoint.hash(&mut h);
        host.version.hash(&mut h);
        host_state(host.last_seen, now).hash(&mut h);
        host.peer_health.hash(&mut h);
        for link in &host.peer_links {
            (
                &link.network,
                &link.public_key,
                &link.health,
                &link.endpoint,
            )
                .hash(&mut h);
        }
    }
    for net in store.list_networks(tenant).await? {
        net.spec.name.hash(&mut h);
    }
    for block in store.blocks(tenant).await? {
        (&block.network, block.host.as_str(), block.block.to_string()).hash(&mut h);
    }
    for key in store.host_keys(tenant).await? {
        (&key.key.network, key.host.as_str(), &key.key.public_key).hash(&mut h);
    }
    for site in store.list_sites(tenant).await? {
        site.spec.name.hash(&mut h);
    }
    for vm in store.list_vms(tenant).await? {
        (&vm.spec.id, vm.spec.host.as_str()).hash(&mut h);
        for nic in &vm.spec.nics {
            nic.network.hash(&mut h);
        }
    }
    for (host, nic) in store.reported_vm_nics(tenant).await? {
        (host.as_str(), &nic.vm, &nic.network, &nic.tap, &nic.mac).hash(&mut h);
        nic.address.to_string().hash(&mut h);
        nic.run.as_ref().map(|r| &r.state).hash(&mut h);
    }
    Ok(h.finish())
}

async fn follow(
    state: AppState,
    tenant: TenantId,
    tx: tokio::sync::mpsc::Sender<Result<String, std::convert::Infallible>>,
) {
    let mut revisions = state.store.revisions();
    let mut feed_open = true;
    let mut poll = tokio::time::interval(POLL);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last = None;
    let mut quiet = Duration::ZERO;
    loop {
        tokio::select! {
            changed = revisions.changed(), if feed_open => feed_open = changed.is_ok(),
            _ = poll.tick() => quiet += POLL,
            () = tx.closed() => return,
        }
        let now = match digest(&state, &tenant).await {
            Ok(d) => d,
            Err(err) => {
                tracing::debug!(error = ?err, "events: could not read the tenant's state");
                continue;
            }
        };
        let message = if last != Some(now) {
            last = Some(now);
            let revision = state.store.revision().await.unwrap_or_default();
            change_event(revision)
        } else if quiet >= KEEP_ALIVE {
            ": keep-alive\n\n".to_string()
        } else {
            continue;
        };
        quiet = Duration::ZERO;
        if tx.send(Ok(message)).await.is_err() {
            return;
        }
    }
}

pub async fn events(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> ApiResult<Response> {
    // Read once before answering, so a store that fails says so with a
    // status, not with a stream that stays empty.
    digest(&state, &caller.tenant).await?;
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    tokio::spawn(follow(state, caller.tenant, tx));
    Response::builder()
        .header(header::CONTENT_TYPE, "text/event-stream")
        .header(header::CACHE_CONTROL, "no-store")
        .body(Body::from_stream(
            tokio_stream::wrappers::ReceiverStream::new(rx),
        ))
        .map_err(|_| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error"))
}

#[cfg(test)]
mod tests;
