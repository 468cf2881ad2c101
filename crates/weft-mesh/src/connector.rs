//! The node connector: a spoke joining its hub, as a state machine that does
//! no I/O (gotatun's `Tunn` style). The driver feeds it events — the time,
//! what a DNS lookup gave, whether a handshake was seen, whether the probe
//! answered — and does what each returned [`Step`] says. Joined means a
//! handshake *and* a probe through the tunnel both succeeded; failures are
//! retried on the [`Backoff`] schedule, a DNS name is looked up again
//! before every retry, and every attempt is logged.
//!
//! Time is a `Duration` since an origin the driver picks (its clock's
//! reading at start, say); only differences matter.

use crate::backoff::{Backoff, GiveUp, secs};
use crate::plan::{Plan, Role};
use crate::values::Address;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// The hub to join, and how long one attempt waits for a handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinConfig {
    /// The hub's underlay address (an IP, or a DNS name looked up each try).
    pub hub: Address,
    pub port: u16,
    /// The hub's address on the network: what the probe reaches.
    pub probe_address: IpAddr,
    pub backoff: Backoff,
    /// How long one attempt waits for a handshake.
    pub handshake_timeout: Duration,
}

impl JoinConfig {
    pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

    pub fn new(hub: Address, port: u16, probe_address: IpAddr, backoff: Backoff) -> Self {
        Self {
            hub,
            port,
            probe_address,
            backoff,
            handshake_timeout: Self::DEFAULT_HANDSHAKE_TIMEOUT,
        }
    }

    /// What `spoke` joins on a hub-and-spoke `network` of the plan: the
    /// hub's underlay endpoint and port there, probing the hub's address on
    /// the network. `None` when `spoke` is not a spoke of that network.
    pub fn for_spoke(plan: &Plan, spoke: &str, network: &str, backoff: Backoff) -> Option<Self> {
        let mine = plan.host(spoke)?.network(network)?;
        if mine.role != Role::Spoke {
            return None;
        }
        let hub = plan.host(plan.network(network)?.hub.as_deref()?)?;
        let theirs = hub.network(network)?;
        Some(Self::new(
            hub.endpoint.clone()?,
            theirs.listen_port,
            theirs.address,
            backoff,
        ))
    }
}

/// What the driver tells the connector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Begin (the first attempt starts now).
    Start,
    /// The answer to [`Step::Resolve`].
    Resolved(Result<Vec<IpAddr>, String>),
    /// The answer to [`Step::Connect`]: `Ok` when a handshake was seen.
    Handshake(Result<(), String>),
    /// The answer to [`Step::Probe`].
    Probed(Result<(), String>),
    /// [`Step::Sleep`] is over.
    Woke,
}

/// What the driver must do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Look the name up; answer [`Event::Resolved`].
    Resolve {
        name: String,
    },
    /// Point the hub peer at `endpoint`, send something so a handshake
    /// starts, and wait at most `wait` for one; answer
    /// [`Event::Handshake`].
    Connect {
        endpoint: SocketAddr,
        wait: Duration,
    },
    /// Probe the hub through the tunnel; answer [`Event::Probed`].
    Probe {
        address: IpAddr,
    },
    /// Sleep until `until`, then answer [`Event::Woke`].
    Sleep {
        until: Duration,
    },
    Joined(Joined),
    Failed(JoinError),
}

/// A successful join.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Joined {
    pub attempts: u32,
    pub elapsed: Duration,
    pub endpoint: SocketAddr,
}

/// Joining failed for good.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "gave up joining hub {hub} after {attempts} attempts over {}: last error: {last_error} ({reason})",
    secs(*elapsed)
)]
pub struct JoinError {
    pub hub: String,
    pub attempts: u32,
    pub elapsed: Duration,
    pub reason: GiveUp,
    pub last_error: String,
}

/// One attempt, as logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// 1-based.
    pub number: u32,
    /// When it started and ended, since the first attempt started.
    pub started: Duration,
    pub ended: Duration,
    /// Where it sent to (none when the lookup failed).
    pub endpoint: Option<SocketAddr>,
    pub result: Result<(), String>,
    /// The wait before the next attempt, when there is one.
    pub retry_in: Option<Duration>,
}

impl fmt::Display for Attempt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "attempt {} at {}", self.number, secs(self.started))?;
        if let Some(endpoint) = self.endpoint {
            write!(f, " to {endpoint}")?;
        }
        match &self.result {
            Ok(()) => f.write_str(": joined"),
            Err(e) => {
                write!(f, ": {e}")?;
                match self.retry_in {
                    Some(wait) => write!(f, "; retrying in {}", secs(wait)),
                    None => f.write_str("; giving up"),
                }
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Idle,
    Resolving,
    Connecting,
    Probing,
    Sleeping(Duration),
    Done,
}

/// The connector for one hub.
#[derive(Debug, Clone)]
pub struct Connector {
    config: JoinConfig,
    state: State,
    origin: Duration,
    attempt: u32,
    attempt_started: Duration,
    endpoint: Option<SocketAddr>,
    log: Vec<Attempt>,
    last: Option<Step>,
}

impl Connector {
    pub fn new(config: JoinConfig) -> Self {
        Self {
            config,
            state: State::Idle,
            origin: Duration::ZERO,
            attempt: 0,
            attempt_started: Duration::ZERO,
            endpoint: None,
            log: Vec::new(),
            last: None,
        }
    }

    /// Every attempt so far.
    pub fn log(&self) -> &[Attempt] {
        &self.log
    }

    /// `hub:port` as written.
    pub fn hub(&self) -> String {
        self.config.hub.with_port(self.config.port)
    }

    /// Feed one event; get the next step. An event the connector is not
    /// waiting for changes nothing and repeats the pending step.
    pub fn on(&mut self, now: Duration, event: Event) -> Step {
        let step = match (self.state, event) {
            (State::Idle, Event::Start) => {
                self.origin = now;
                self.begin_attempt(now)
            }
            (State::Resolving, Event::Resolved(result)) => match result {
                Ok(addrs) if !addrs.is_empty() => {
                    let endpoint = SocketAddr::new(addrs[0], self.config.port);
                    if let Some(old) = self.endpoint.filter(|old| *old != endpoint) {
                        tracing::info!(hub = %self.hub(), %old, new = %endpoint, "hub address changed");
                    }
                    self.endpoint = Some(endpoint);
                    self.connect(now, endpoint)
                }
                Ok(_) => self.fail(now, format!("resolve {}: no addresses", self.config.hub)),
                Err(e) => {
                    self.endpoint = None;
                    self.fail(now, format!("resolve {}: {e}", self.config.hub))
                }
            },
            (State::Connecting, Event::Handshake(Ok(()))) => {
                self.state = State::Probing;
                Step::Probe {
                    address: self.config.probe_address,
                }
            }
            (State::Connecting, Event::Handshake(Err(e))) => self.fail(now, e),
            (State::Probing, Event::Probed(Ok(()))) => self.succeed(now),
            (State::Probing, Event::Probed(Err(e))) => self.fail(
                now,
                format!(
                    "handshake seen but the probe to {} failed: {e}",
                    self.config.probe_address
                ),
            ),
            (State::Sleeping(until), Event::Woke) if now >= until => self.begin_attempt(now),
            _ => return self.last.clone().unwrap_or(Step::Sleep { until: now }),
        };
        self.last = Some(step.clone());
        step
    }

    /// Time since the first attempt started (never negative, whatever the
    /// driver's clock does).
    fn since(&self, now: Duration) -> Duration {
        now.saturating_sub(self.origin)
    }

    fn begin_attempt(&mut self, now: Duration) -> Step {
        self.attempt += 1;
        self.attempt_started = self.since(now);
        match &self.config.hub {
            Address::Ip(ip) => {
                let endpoint = SocketAddr::new(*ip, self.config.port);
                self.endpoint = Some(endpoint);
                self.connect(now, endpoint)
            }
            Address::Dns(name) => {
                self.state = State::Resolving;
                Step::Resolve { name: name.clone() }
            }
        }
    }

    fn connect(&mut self, now: Duration, endpoint: SocketAddr) -> Step {
        self.state = State::Connecting;
        let left = self.config.backoff.timeout.saturating_sub(self.since(now));
        Step::Connect {
            endpoint,
            wait: self.config.handshake_timeout.min(left),
        }
    }

    fn succeed(&mut self, now: Duration) -> Step {
        self.state = State::Done;
        let endpoint = self.endpoint.expect("connected to an endpoint");
        let entry = self.record(now, Ok(()), None);
        tracing::info!(hub = %self.hub(), "{entry}");
        Step::Joined(Joined {
            attempts: self.attempt,
            elapsed: self.since(now),
            endpoint,
        })
    }

    fn fail(&mut self, now: Duration, error: String) -> Step {
        let elapsed = self.since(now);
        match self.config.backoff.next(self.attempt, elapsed) {
            Ok(wait) => {
                let entry = self.record(now, Err(error), Some(wait));
                tracing::warn!(hub = %self.hub(), "{entry}");
                let until = now + wait;
                self.state = State::Sleeping(until);
                Step::Sleep { until }
            }
            Err(reason) => {
                let entry = self.record(now, Err(error.clone()), None);
                tracing::warn!(hub = %self.hub(), "{entry}");
                self.state = State::Done;
                Step::Failed(JoinError {
                    hub: self.hub(),
                    attempts: self.attempt,
                    elapsed,
                    reason,
                    last_error: error,
                })
            }
        }
    }

    fn record(
        &mut self,
        now: Duration,
        result: Result<(), String>,
        retry_in: Option<Duration>,
    ) -> String {
        let attempt = Attempt {
            number: self.attempt,
            started: self.attempt_started,
            ended: self.since(now),
            endpoint: if matches!(self.state, State::Resolving) {
                None
            } else {
                self.endpoint
            },
            result,
            retry_in,
        };
        let line = attempt.to_string();
        self.log.push(attempt);
        line
    }
}
