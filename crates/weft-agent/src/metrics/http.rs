//! The metrics endpoint's HTTP/1.1 server, built to be reachable by any
//! local user without letting them starve the agent:
//!
//! - a fixed number of connections is served at once; one more is closed as
//!   soon as it is accepted, so idle clients cannot eat the agent's
//!   descriptors (which the gRPC API, netlink and the store need);
//! - a client has [`Limits::header_timeout`] to send its request head and
//!   [`Limits::connection_deadline`] for everything, so idle or slow clients
//!   give their slot back;
//! - a failed accept (EMFILE, ENFILE, ENOBUFS…) is retried after a growing
//!   pause, not at once: the condition lasts until something else lets go
//!   of a descriptor, and retrying in a loop only burns a CPU;
//! - one document is rendered at a time, on one blocking thread: each
//!   render holds the agent's lock, and queued scrapes must not line up in
//!   front of the API's requests.
//!
//! Only `GET /metrics` answers 200: other paths 404, other methods 405.

use super::exposition::{Format, negotiate, to_prometheus_text};
use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{ACCEPT, ALLOW, CONTENT_TYPE, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::convert::Infallible;
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Mutex as AsyncMutex, Semaphore};

/// Renders the OpenMetrics document on a blocking thread; None when that
/// failed (the renderer logs why).
pub type Render = Arc<dyn Fn() -> Option<String> + Send + Sync>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Connections served at once; more are closed as soon as accepted.
    pub max_connections: usize,
    /// A client must have sent its whole request head within this.
    pub header_timeout: Duration,
    /// No connection (slow render, slow reader) lives longer than this.
    pub connection_deadline: Duration,
}

impl Default for Limits {
    /// A scraper or two, and room for a person with curl: far below the
    /// 1,024 descriptors of a default soft limit.
    fn default() -> Self {
        Self {
            max_connections: 32,
            header_timeout: Duration::from_secs(5),
            connection_deadline: Duration::from_secs(30),
        }
    }
}

const FIRST_ACCEPT_BACKOFF: Duration = Duration::from_millis(5);
const MAX_ACCEPT_BACKOFF: Duration = Duration::from_secs(1);

/// The pause before retrying accept after `previous` (None: the first
/// failure in a row): doubling from 5 ms up to 1 s.
pub fn accept_backoff(previous: Option<Duration>) -> Duration {
    previous.map_or(FIRST_ACCEPT_BACKOFF, |d| (d * 2).min(MAX_ACCEPT_BACKOFF))
}

/// Errors that concern only the connection being accepted (its client gave
/// up): the next accept can go ahead at once.
fn concerns_one_connection(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
    )
}

struct Shared {
    render: Render,
    /// Held for the whole of a render, on the blocking thread doing it.
    rendering: Arc<AsyncMutex<()>>,
    limits: Limits,
}

/// Serve `listener` in a task of the current runtime until the runtime
/// stops.
pub fn spawn(listener: TcpListener, render: Render, limits: Limits) {
    let shared = Arc::new(Shared {
        render,
        rendering: Arc::new(AsyncMutex::new(())),
        limits,
    });
    tokio::spawn(accept_loop(listener, shared));
}

/// At most one log line a minute for a condition a client can cause at
/// will, with how often it happened since the last line.
#[derive(Default)]
pub struct Throttle {
    last: Option<Instant>,
    since: u64,
}

impl Throttle {
    const EVERY: Duration = Duration::from_secs(60);

    /// Some(times it happened since the last line) when a line is due.
    pub fn happened(&mut self) -> Option<u64> {
        self.since += 1;
        if self.last.is_some_and(|t| t.elapsed() < Self::EVERY) {
            return None;
        }
        self.last = Some(Instant::now());
        Some(std::mem::take(&mut self.since))
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let slots = Arc::new(Semaphore::new(shared.limits.max_connections));
    let mut backoff = None;
    let (mut failed, mut turned_away) = (Throttle::default(), Throttle::default());
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => {
                backoff = None;
                stream
            }
            Err(e) if concerns_one_connection(&e) => continue,
            Err(e) => {
                if let Some(times) = failed.happened() {
                    tracing::warn!(
                        times,
                        "metrics: accept a connection: {e}; retrying with backoff"
                    );
                }
                let pause = accept_backoff(backoff);
                backoff = Some(pause);
                tokio::time::sleep(pause).await;
                continue;
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            if let Some(times) = turned_away.happened() {
                tracing::warn!(
                    limit = shared.limits.max_connections,
                    times,
                    "metrics: connection limit reached; closed new connections at once"
                );
            }
            drop(stream);
            continue;
        };
        let shared = shared.clone();
        tokio::spawn(async move {
            serve_connection(stream, shared).await;
            drop(slot);
        });
    }
}

async fn serve_connection(stream: TcpStream, shared: Arc<Shared>) {
    let deadline = shared.limits.connection_deadline;
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(shared.limits.header_timeout)
        // One request per connection: no idle keep-alive to police.
        .keep_alive(false)
        .max_buf_size(16 * 1024);
    let service = service_fn(move |request| {
        let shared = shared.clone();
        async move { Ok::<_, Infallible>(respond(&request, &shared).await) }
    });
    match tokio::time::timeout(
        deadline,
        http.serve_connection(TokioIo::new(stream), service),
    )
    .await
    {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::debug!("metrics: connection: {e}"),
        Err(_) => tracing::debug!("metrics: connection closed at its {deadline:?} deadline"),
    }
}

fn plain(status: StatusCode, text: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

async fn respond<B>(request: &Request<B>, shared: &Shared) -> Response<Full<Bytes>> {
    if request.uri().path() != "/metrics" {
        return plain(
            StatusCode::NOT_FOUND,
            "not found: metrics are at /metrics\n",
        );
    }
    if request.method() != Method::GET {
        let mut response = plain(
            StatusCode::METHOD_NOT_ALLOWED,
            "method not allowed: only GET\n",
        );
        response
            .headers_mut()
            .insert(ALLOW, HeaderValue::from_static("GET"));
        return response;
    }
    let accept = request.headers().get(ACCEPT).and_then(|v| v.to_str().ok());
    let format = negotiate(accept);
    let Some(document) = render(shared).await else {
        return plain(StatusCode::INTERNAL_SERVER_ERROR, "metrics unavailable\n");
    };
    let body = match format {
        Format::OpenMetrics => document,
        Format::Prometheus => to_prometheus_text(&document),
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    response
}

/// One render at a time. The turn moves onto the blocking thread, so a
/// client that goes away mid-render does not let the next render start
/// beside the one still running.
async fn render(shared: &Shared) -> Option<String> {
    let turn = shared.rendering.clone().lock_owned().await;
    let render = shared.render.clone();
    tokio::task::spawn_blocking(move || {
        let _turn = turn;
        render()
    })
    .await
    .ok()
    .flatten()
}
