//! The endpoints and the fail-over every request goes through.

use crate::error::{Error, Result};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Status};

/// Answers may be large (a range over a whole prefix); tonic's default
/// limit is 4 MiB.
pub(crate) const MAX_MESSAGE: usize = 256 << 20;

#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// How long connecting to one endpoint may take.
    pub connect_timeout: Duration,
    /// How long one endpoint may take to answer a unary request (or to
    /// open a stream) before the next one is tried.
    pub request_timeout: Duration,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            connect_timeout: Duration::from_secs(2),
            request_timeout: Duration::from_secs(5),
        }
    }
}

/// A client of one etcd cluster; cheap to clone (clones share the
/// connections).
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    endpoints: Vec<String>,
    channels: Vec<Channel>,
    /// The endpoint that answered last: requests start there.
    preferred: AtomicUsize,
    options: Options,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("endpoints", &self.inner.endpoints)
            .finish()
    }
}

/// One endpoint's answer: the endpoint's address and what it said.
pub(crate) struct Answered<T> {
    pub endpoint: String,
    pub value: T,
}

impl Client {
    /// A client of the cluster at `endpoints` (`http://host:port`, or
    /// `host:port`). Connects lazily: nothing is sent until the first
    /// request, and an endpoint that is down now may answer later.
    pub fn new<S: AsRef<str>>(endpoints: &[S], options: Options) -> Result<Client> {
        if endpoints.is_empty() {
            return Err(Error::NoEndpoints);
        }
        let mut names = Vec::new();
        let mut channels = Vec::new();
        for endpoint in endpoints {
            let endpoint = endpoint.as_ref();
            let url = if endpoint.contains("://") {
                endpoint.to_string()
            } else {
                format!("http://{endpoint}")
            };
            let channel = Endpoint::from_shared(url.clone())
                .map_err(|source| Error::Endpoint {
                    endpoint: endpoint.to_string(),
                    source,
                })?
                .connect_timeout(options.connect_timeout)
                .tcp_nodelay(true)
                // A member that vanished without closing its connections
                // (a partition) is noticed by the streams watching it.
                .http2_keep_alive_interval(Duration::from_secs(5))
                .keep_alive_timeout(Duration::from_secs(5))
                .keep_alive_while_idle(true)
                .connect_lazy();
            names.push(url);
            channels.push(channel);
        }
        Ok(Client {
            inner: Arc::new(Inner {
                endpoints: names,
                channels,
                preferred: AtomicUsize::new(0),
                options,
            }),
        })
    }

    /// [`Client::new`], then one request to make sure some endpoint
    /// answers.
    pub async fn connect<S: AsRef<str>>(endpoints: &[S], options: Options) -> Result<Client> {
        let client = Client::new(endpoints, options)?;
        client.revision().await?;
        Ok(client)
    }

    pub fn endpoints(&self) -> &[String] {
        &self.inner.endpoints
    }

    pub fn options(&self) -> Options {
        self.inner.options
    }

    /// Send a unary request (or open a stream) with fail-over: `call` is
    /// tried on each endpoint in turn, from the one that answered last,
    /// until one answers. `timed` bounds each attempt by the request
    /// timeout (a campaign, which waits for leadership, is not bounded).
    pub(crate) async fn failover<T, F, Fut>(
        &self,
        what: &(dyn Fn() -> String + Sync),
        timed: bool,
        mut call: F,
    ) -> Result<Answered<T>>
    where
        F: FnMut(Channel) -> Fut,
        Fut: Future<Output = std::result::Result<T, Status>>,
    {
        let inner = &self.inner;
        let count = inner.channels.len();
        let mut last = None;
        let mut timeouts = 0;
        // Members answering "unavailable" at once (a leader election under
        // way: "leader changed", "no leader") are asked again after a
        // pause, for as long as the request timeout allows; a pass in
        // which a member timed out ends it (the cluster may have lost
        // quorum: say so without waiting longer).
        let started = tokio::time::Instant::now();
        for round in 0.. {
            let timeouts_before = timeouts;
            let first = inner.preferred.load(Ordering::Relaxed) % count;
            let passed = self
                .failover_pass(what, timed, first, &mut call, &mut last, &mut timeouts)
                .await;
            if let Some(answer) = passed {
                return answer;
            }
            let again = timeouts == timeouts_before
                && if timed {
                    started.elapsed() + RETRY_PAUSE < inner.options.request_timeout
                } else {
                    round < 2
                };
            if !again {
                break;
            }
            tokio::time::sleep(RETRY_PAUSE).await;
        }
        let tried = inner.endpoints.join(", ");
        match last {
            Some(source) if timeouts < count => Err(Error::Unreachable {
                what: what(),
                tried,
                timed_out: timeouts,
                source,
            }),
            _ => Err(Error::TimedOut {
                what: what(),
                tried,
            }),
        }
    }

    /// One pass over the endpoints: `Some` with the answer (or a refusal),
    /// `None` when every endpoint failed over (`last` the last status,
    /// `timeouts` counting those that timed out).
    async fn failover_pass<T, F, Fut>(
        &self,
        what: &(dyn Fn() -> String + Sync),
        timed: bool,
        first: usize,
        call: &mut F,
        last: &mut Option<Status>,
        timeouts: &mut usize,
    ) -> Option<Result<Answered<T>>>
    where
        F: FnMut(Channel) -> Fut,
        Fut: Future<Output = std::result::Result<T, Status>>,
    {
        let inner = &self.inner;
        let count = inner.channels.len();
        for step in 0..count {
            let at = (first + step) % count;
            let attempt = call(inner.channels[at].clone());
            let answer = if timed {
                match tokio::time::timeout(inner.options.request_timeout, attempt).await {
                    Ok(answer) => answer,
                    Err(_) => {
                        tracing::debug!(endpoint = %inner.endpoints[at], what = %what(), "etcd timed out");
                        *timeouts += 1;
                        continue;
                    }
                }
            } else {
                attempt.await
            };
            match answer {
                Ok(value) => {
                    inner.preferred.store(at, Ordering::Relaxed);
                    return Some(Ok(Answered {
                        endpoint: inner.endpoints[at].clone(),
                        value,
                    }));
                }
                Err(status) if fails_over(&status) => {
                    tracing::debug!(endpoint = %inner.endpoints[at], what = %what(), %status, "etcd unavailable");
                    *last = Some(status);
                }
                Err(source) => {
                    return Some(Err(Error::Refused {
                        what: what(),
                        endpoint: inner.endpoints[at].clone(),
                        source,
                    }));
                }
            }
        }
        None
    }
}

/// The pause before asking every member again when all answered
/// "unavailable" at once.
const RETRY_PAUSE: std::time::Duration = std::time::Duration::from_millis(200);

/// Statuses another member may answer differently: this one is down,
/// unreachable, without a leader, or too slow.
fn fails_over(status: &Status) -> bool {
    match status.code() {
        Code::Unavailable | Code::DeadlineExceeded | Code::Cancelled => true,
        // A connection that broke under the request (a member killed).
        Code::Unknown => std::error::Error::source(status)
            .is_some_and(|source| source.is::<tonic::transport::Error>()),
        _ => false,
    }
}
