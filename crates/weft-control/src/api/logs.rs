//! `GET /v1/hosts/{id}/logs`: a host's log records as JSON lines
//! (`application/x-ndjson`), one [`LogRecord`] a line, oldest first.
//!
//! Query parameters, each optional:
//! - `since`: records stamped at or after it — Unix seconds (`1765135000`)
//!   or a duration ago (`90s`, `30m`, `1h`, `7d`);
//! - `level`: this level or more severe (`error` … `trace`; default all);
//! - `after`: records after this sequence number (a reader's cursor);
//! - `tail`: only the last N of those (default all that are kept);
//! - `follow=true`: then keep the answer open and send new records as they
//!   come (polling the store, so records another replica took come too),
//!   until the client goes or the host is deleted.
//!
//! The host is the caller's tenant's or "not found", as everywhere.

use super::error::{ApiError, ApiResult};
use super::{AppState, Caller, handlers::host_id};
use crate::model::logs::{LogLevel, LogQuery, LogRecord};
use crate::model::{HostId, TenantId};
use crate::store::{Store, StoreError};
use axum::Extension;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::Response;
use std::sync::Arc;
use std::time::Duration;

/// How often a follower asks the store for new records.
pub const FOLLOW_POLL: Duration = Duration::from_millis(200);
/// Records a follower reads from the store at once.
const PAGE: usize = 1000;

/// A request's parameters, checked.
#[derive(Debug, PartialEq, Eq)]
pub struct LogParams {
    pub query: LogQuery,
    pub tail: Option<usize>,
    pub follow: bool,
}

fn bad(field: &str, why: &str) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        format!("invalid query parameter {field}: {why}"),
    )
}

/// Parse the query string; `now` (Unix seconds) for `since=30m`. Every
/// error names the parameter; values are never echoed.
pub fn parse_params(raw: Option<&str>, now: i64) -> ApiResult<LogParams> {
    let mut params = LogParams {
        query: LogQuery::default(),
        tail: None,
        follow: false,
    };
    for pair in raw.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        match name {
            "since" => {
                let since = if value.bytes().all(|b| b.is_ascii_digit()) && !value.is_empty() {
                    value
                        .parse::<i64>()
                        .map_err(|_| bad("since", "not a time"))?
                } else {
                    let ago = crate::admin::parse_duration("since", value).map_err(|_| {
                        bad(
                            "since",
                            "expected Unix seconds or a duration such as 90s, 30m, 1h or 7d",
                        )
                    })?;
                    now.saturating_sub(i64::try_from(ago.as_secs()).unwrap_or(i64::MAX))
                };
                params.query.since_ms = Some(since.saturating_mul(1000));
            }
            "level" => {
                params.query.level = LogLevel::parse("level", value)
                    .map_err(|_| bad("level", "must be error, warn, info, debug or trace"))?;
            }
            "after" => {
                params.query.after = value
                    .parse()
                    .map_err(|_| bad("after", "expected a record's seq"))?;
            }
            "tail" => {
                let n: usize = value
                    .parse()
                    .map_err(|_| bad("tail", "expected a number of records"))?;
                params.tail = Some(n);
            }
            "follow" => {
                params.follow = match value {
                    "true" | "1" | "" => true,
                    "false" | "0" => false,
                    _ => return Err(bad("follow", "expected true or false")),
                };
            }
            _ => {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    format!(
                        "unknown query parameter {}: use since, level, after, tail or follow",
                        weft_model::error::shown(name)
                    ),
                ));
            }
        }
    }
    Ok(params)
}

fn line(record: &LogRecord) -> String {
    let mut text = serde_json::to_string(record).unwrap_or_default();
    text.push('\n');
    text
}

/// What the store holds for the query now, the last `tail` of it.
async fn backlog(
    store: &dyn Store,
    tenant: &TenantId,
    host: &HostId,
    params: &LogParams,
) -> Result<Vec<LogRecord>, StoreError> {
    let mut records = store.logs(tenant, host, &params.query).await?;
    if let Some(tail) = params.tail {
        records.drain(..records.len().saturating_sub(tail));
    }
    Ok(records)
}

/// Send new records to `tx` until the client goes or the host does.
async fn follow(
    store: Arc<dyn Store>,
    tenant: TenantId,
    host: HostId,
    mut query: LogQuery,
    tx: tokio::sync::mpsc::Sender<Result<String, std::io::Error>>,
) {
    query.limit = PAGE;
    loop {
        let records = match store.logs(&tenant, &host, &query).await {
            Ok(records) => records,
            Err(StoreError::NotFound { .. }) => return,
            Err(err) => {
                tracing::warn!(error = %weft_model::error::chain(&err), %host, "following a host's logs");
                Vec::new()
            }
        };
        let full = records.len() == PAGE;
        for r in &records {
            query.after = r.seq;
            if tx.send(Ok(line(r))).await.is_err() {
                return;
            }
        }
        if full {
            continue;
        }
        tokio::select! {
            () = tokio::time::sleep(FOLLOW_POLL) => {}
            () = tx.closed() => return,
        }
    }
}

pub async fn host_logs(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let host = host_id(&id)?;
    let params = parse_params(raw.as_deref(), (state.clock)())?;
    let records = backlog(state.store.as_ref(), &caller.tenant, &host, &params)
        .await
        .map_err(|err| match err {
            StoreError::NotFound { .. } => ApiError::not_found("host", host.as_str()),
            err => err.into(),
        })?;
    let ndjson = |body| {
        Response::builder()
            .header(header::CONTENT_TYPE, "application/x-ndjson")
            .header(header::CACHE_CONTROL, "no-store")
            .body(body)
            .map_err(|_| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error"))
    };
    if !params.follow {
        return ndjson(Body::from(records.iter().map(line).collect::<String>()));
    }
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    let mut query = params.query;
    if let Some(last) = records.last() {
        query.after = last.seq;
    }
    tokio::spawn(async move {
        for r in &records {
            if tx.send(Ok(line(r))).await.is_err() {
                return;
            }
        }
        follow(state.store, caller.tenant, host, query, tx).await;
    });
    ndjson(Body::from_stream(
        tokio_stream::wrappers::ReceiverStream::new(rx),
    ))
}

#[cfg(test)]
mod tests;
