//! The tenants' REST API under `/v1`.
//!
//! Every route is one row of [`routes`]: method, path, who may call it
//! ([`Policy`]) and what it does. The router, the OpenAPI document and
//! the authorization tests are all made from that table, so a route cannot
//! exist without a policy, be missing from the document, or escape the
//! test that calls it without credentials and with another tenant's key.
//!
//! Tenants authenticate with `Authorization: Bearer wak_…`. A tenant's
//! objects are reached only through the tenant its key belongs to: another
//! tenant's network or host is "not found", never "forbidden", so names
//! and ids of other tenants cannot be probed. Nothing here reads
//! `X-Forwarded-For` or any other client-supplied address header.

mod body;
pub mod dashboard;
pub(crate) mod error;
mod events;
pub(crate) mod grpc;
mod handlers;
pub mod logs;
mod openapi;
pub mod read_only;
mod sites;
mod tokens;
mod vms;
mod vxlan;

use crate::model::TenantId;
use crate::secret::{Secret, SecretKind};
use crate::store::Store;
use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::handler::Handler;
use axum::http::{HeaderMap, Method, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{MethodFilter, MethodRouter, on};
use error::{ApiError, ApiResult};
use std::sync::Arc;

/// Unix seconds; a field so tests can move time.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

pub fn system_clock() -> Clock {
    Arc::new(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0)
    })
}

#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub clock: Clock,
}

/// Who may call a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    /// Anyone: only the OpenAPI document.
    Public,
    /// A tenant's valid API key; the handler sees only that tenant.
    Tenant,
}

/// The authenticated caller of a [`Policy::Tenant`] route.
#[derive(Clone, Debug)]
pub struct Caller {
    pub tenant: TenantId,
}

pub struct Route {
    pub method: Method,
    pub path: &'static str,
    pub policy: Policy,
    pub summary: &'static str,
    /// Name of the request body's schema in the OpenAPI document.
    pub request: Option<&'static str>,
    /// Name of the success response's schema, and its status.
    pub response: (&'static str, u16),
    /// The success response's media type.
    pub content: &'static str,
    /// Query parameters it takes: name and what it means.
    pub query: &'static [(&'static str, &'static str)],
    handler: MethodRouter<AppState>,
}

impl Route {
    /// A route answering `content` (e.g. JSON lines) instead of JSON.
    fn answers(self, content: &'static str) -> Route {
        Route { content, ..self }
    }

    fn with_query(self, query: &'static [(&'static str, &'static str)]) -> Route {
        Route { query, ..self }
    }
}

fn route<H, T>(
    method: Method,
    path: &'static str,
    policy: Policy,
    summary: &'static str,
    request: Option<&'static str>,
    response: (&'static str, u16),
    handler: H,
) -> Route
where
    H: Handler<T, AppState>,
    T: 'static,
{
    let filter = MethodFilter::try_from(method.clone()).expect("the table uses standard methods");
    Route {
        method,
        path,
        policy,
        summary,
        request,
        response,
        content: "application/json",
        query: &[],
        handler: on(filter, handler),
    }
}

/// The route table: every route of the API, with its policy.
pub fn routes() -> Vec<Route> {
    use Policy::{Public, Tenant};
    use handlers as h;
    vec![
        route(
            Method::GET,
            "/",
            Public,
            "The web dashboard's page (it signs in with an API key; docs/dashboard.md)",
            None,
            ("Html", 200),
            dashboard::index,
        )
        .answers("text/html"),
        route(
            Method::GET,
            "/assets/{file}",
            Public,
            "The dashboard's scripts (ES modules) and style sheet, embedded in the binary",
            None,
            ("Asset", 200),
            dashboard::asset,
        )
        .answers("text/javascript"),
        route(
            Method::GET,
            "/v1/events",
            Tenant,
            "Server-sent events: `change` (data: the revision) first, then whenever the tenant's networks, hosts, sites, VMs or peer health change",
            None,
            ("Event", 200),
            events::events,
        )
        .answers("text/event-stream"),
        route(
            Method::GET,
            "/v1/openapi.json",
            Public,
            "This API's OpenAPI document",
            None,
            ("OpenApi", 200),
            openapi::document,
        ),
        route(
            Method::GET,
            "/v1/status",
            Tenant,
            "The tenant's networks, hosts and blocks, how many hosts are revoked (deleted, not yet purged), and the revision",
            None,
            ("Status", 200),
            h::status,
        ),
        route(
            Method::GET,
            "/v1/networks",
            Tenant,
            "List the tenant's networks",
            None,
            ("NetworkList", 200),
            h::list_networks,
        ),
        route(
            Method::POST,
            "/v1/networks",
            Tenant,
            "Create a network; every host of the tenant gets a block",
            Some("CreateNetwork"),
            ("Network", 201),
            h::create_network,
        ),
        route(
            Method::GET,
            "/v1/networks/{name}",
            Tenant,
            "One network with its hosts' blocks",
            None,
            ("Network", 200),
            h::get_network,
        ),
        route(
            Method::DELETE,
            "/v1/networks/{name}",
            Tenant,
            "Delete a network",
            None,
            ("Empty", 204),
            h::delete_network,
        ),
        route(
            Method::GET,
            "/v1/networks/{name}/hosts",
            Tenant,
            "Which hosts are in a network (all of the tenant's, by default)",
            None,
            ("NetworkHosts", 200),
            h::get_network_hosts,
        ),
        route(
            Method::PUT,
            "/v1/networks/{name}/hosts",
            Tenant,
            "Choose a network's hosts: all (those enrolled later too) or a list",
            Some("SetNetworkHosts"),
            ("NetworkHosts", 200),
            h::set_network_hosts,
        ),
        route(
            Method::GET,
            "/v1/hosts",
            Tenant,
            "List the tenant's hosts",
            None,
            ("HostList", 200),
            h::list_hosts,
        ),
        route(
            Method::GET,
            "/v1/hosts/{id}",
            Tenant,
            "One host with its blocks",
            None,
            ("Host", 200),
            h::get_host,
        ),
        route(
            Method::DELETE,
            "/v1/hosts/{id}",
            Tenant,
            "Delete a host: its certificate is revoked, its blocks freed",
            None,
            ("Empty", 204),
            h::delete_host,
        ),
        route(
            Method::PUT,
            "/v1/hosts/{id}",
            Tenant,
            "Move a host into a site (or out of any, with null): it leaves the old site's networks and joins the new one's",
            Some("UpdateHost"),
            ("Host", 200),
            sites::update_host,
        ),
        route(
            Method::GET,
            "/v1/sites",
            Tenant,
            "List the tenant's sites",
            None,
            ("SiteList", 200),
            sites::list_sites,
        ),
        route(
            Method::POST,
            "/v1/sites",
            Tenant,
            "Create a site (a group of hosts: a data centre, an edge location)",
            Some("CreateSite"),
            ("Site", 201),
            sites::create_site,
        ),
        route(
            Method::GET,
            "/v1/sites/{site}",
            Tenant,
            "One site",
            None,
            ("Site", 200),
            sites::get_site,
        ),
        route(
            Method::DELETE,
            "/v1/sites/{site}",
            Tenant,
            "Delete a site; refused (409, naming them) while hosts or networks are left in it",
            None,
            ("Empty", 204),
            sites::delete_site,
        ),
        route(
            Method::GET,
            "/v1/sites/{site}/hosts",
            Tenant,
            "The hosts of a site",
            None,
            ("HostList", 200),
            sites::site_hosts,
        ),
        route(
            Method::GET,
            "/v1/sites/{site}/vxlan-networks",
            Tenant,
            "The VXLAN networks of a site",
            None,
            ("VxlanNetworkList", 200),
            vxlan::list,
        ),
        route(
            Method::POST,
            "/v1/sites/{site}/vxlan-networks",
            Tenant,
            "Create a VXLAN network of a site: every host of the site gets its bridge, VXLAN device, block and one FDB entry per other host",
            Some("CreateVxlanNetwork"),
            ("VxlanNetwork", 201),
            vxlan::create,
        ),
        route(
            Method::GET,
            "/v1/vxlan-networks/{id}",
            Tenant,
            "One VXLAN network with its hosts' blocks (id: its name)",
            None,
            ("VxlanNetwork", 200),
            vxlan::get,
        ),
        route(
            Method::DELETE,
            "/v1/vxlan-networks/{id}",
            Tenant,
            "Delete a VXLAN network: every host of its site removes it",
            None,
            ("Empty", 204),
            vxlan::delete,
        ),
        route(
            Method::GET,
            "/v1/vms",
            Tenant,
            "List the tenant's VMs with their NICs as their hosts made them",
            None,
            ("VmList", 200),
            vms::list,
        ),
        route(
            Method::POST,
            "/v1/vms",
            Tenant,
            "Place a VM on a host with a NIC per network: the host makes the TAPs as weft attach --vm does (names, MACs, DHCP, isolation)",
            Some("CreateVm"),
            ("Vm", 201),
            vms::create,
        ),
        route(
            Method::GET,
            "/v1/vms/{vm}",
            Tenant,
            "One VM: its NICs (TAP, MAC, address) and the NIC configuration of Cloud Hypervisor, Firecracker, QEMU and the guest",
            None,
            ("Vm", 200),
            vms::get,
        ),
        route(
            Method::DELETE,
            "/v1/vms/{vm}",
            Tenant,
            "Delete a VM: its host removes its TAPs",
            None,
            ("Empty", 204),
            vms::delete,
        ),
        route(
            Method::POST,
            "/v1/vms/{vm}/networks",
            Tenant,
            "Attach one more NIC to a VM (the next ethN in the guest)",
            Some("AttachVmNic"),
            ("Vm", 201),
            vms::attach,
        ),
        route(
            Method::DELETE,
            "/v1/vms/{vm}/networks/{network}",
            Tenant,
            "Detach a VM's NIC on a network: its host removes the TAP",
            None,
            ("Vm", 200),
            vms::detach,
        ),
        route(
            Method::GET,
            "/v1/hosts/{id}/logs",
            Tenant,
            "A host's log records as JSON lines, oldest first; follow=true keeps sending new ones",
            None,
            ("LogRecord", 200),
            logs::host_logs,
        )
        .answers("application/x-ndjson")
        .with_query(&[
            (
                "since",
                "records stamped at or after: Unix seconds, or a duration ago (90s, 30m, 1h, 7d)",
            ),
            (
                "level",
                "this level or more severe: error, warn, info, debug or trace (default: all)",
            ),
            ("after", "records after this seq (a reader's cursor)"),
            ("tail", "only the last N records of those"),
            (
                "follow",
                "true: keep the answer open and send new records as they come",
            ),
        ]),
        route(
            Method::POST,
            "/v1/tokens",
            Tenant,
            "Create an enrollment token (shown once)",
            Some("CreateToken"),
            ("TokenCreated", 201),
            tokens::create_token,
        ),
        route(
            Method::GET,
            "/v1/tokens",
            Tenant,
            "List the tenant's enrollment tokens (never their secrets): uses left, expiry, state",
            None,
            ("TokenList", 200),
            tokens::list_tokens,
        ),
        route(
            Method::DELETE,
            "/v1/tokens/{id}",
            Tenant,
            "Revoke an enrollment token: it enrolls no host from then on",
            None,
            ("Empty", 204),
            tokens::revoke_token,
        ),
    ]
}

/// The API as an axum router, with each route's policy applied.
pub fn router(state: AppState) -> Router {
    let mut router = Router::new();
    for r in routes() {
        let handler = match r.policy {
            Policy::Public => r.handler,
            Policy::Tenant => r.handler.route_layer(middleware::from_fn_with_state(
                state.clone(),
                require_tenant,
            )),
        };
        router = router.route(r.path, handler);
    }
    router
        .fallback(|| async { ApiError::new(axum::http::StatusCode::NOT_FOUND, "no such route") })
        .layer(middleware::from_fn(log_request))
        .with_state(state)
}

async fn require_tenant(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> ApiResult<Response> {
    let caller = authenticate(&state, req.headers()).await?;
    req.extensions_mut().insert(caller);
    Ok(next.run(req).await)
}

/// The tenant of the request's API key. Every failure looks the same to
/// the caller; the log says which one it was, by key id only.
async fn authenticate(state: &AppState, headers: &HeaderMap) -> ApiResult<Caller> {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(ApiError::unauthorized)?;
    let key = Secret::parse(SecretKind::ApiKey, presented.trim()).map_err(|_| {
        tracing::debug!("refused a malformed API key");
        ApiError::unauthorized()
    })?;
    let Some(stored) = state.store.api_key(key.id()).await? else {
        tracing::debug!(key = %key, "refused an unknown API key");
        return Err(ApiError::unauthorized());
    };
    if !stored.hash.matches(&key) {
        tracing::debug!(key = %key, "refused an API key whose secret does not match");
        return Err(ApiError::unauthorized());
    }
    if stored.info.revoked_at.is_some() {
        tracing::debug!(key = %key, "refused a revoked API key");
        return Err(ApiError::unauthorized());
    }
    Ok(Caller {
        tenant: stored.info.tenant,
    })
}

/// One debug line per request: the route's template (never the path as
/// sent, which may hold anything), the method and the status.
async fn log_request(req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "(no route)".into());
    let response = next.run(req).await;
    tracing::debug!(%method, %route, status = response.status().as_u16(), "request");
    response
}

#[cfg(test)]
mod tests;
