//! The node connector driven by a fake clock and fake outcomes: the backoff
//! schedule, the retry limit, the overall timeout, a hub that shows up
//! late, and a DNS name looked up again after a failure.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use weft_mesh::{Address, Backoff, Connector, Event, GiveUp, JoinConfig, Step};

const S: fn(u64) -> Duration = Duration::from_secs;

/// A fake world: a clock that only moves when told, a resolver, and a hub
/// that answers from some attempt on.
struct World {
    now: Duration,
    /// Attempt number (1-based) from which handshakes succeed.
    hub_up_from: Option<u32>,
    /// Attempt number from which the probe answers too.
    probe_up_from: u32,
    /// Whether a failed handshake uses up the whole wait (a silent hub) or
    /// fails at once (an ICMP error).
    silent: bool,
    /// What each lookup returns, in turn (the last one repeats).
    lookups: Vec<Result<Vec<IpAddr>, String>>,
    /// Only this address answers, when set.
    answers_at: Option<IpAddr>,
    resolves: usize,
    attempt: u32,
    connected_to: Vec<SocketAddr>,
}

impl World {
    fn new() -> Self {
        World {
            now: S(1000), // any origin: only differences matter
            hub_up_from: None,
            probe_up_from: 0,
            silent: false,
            lookups: vec![],
            answers_at: None,
            resolves: 0,
            attempt: 0,
            connected_to: vec![],
        }
    }

    /// Run the connector to the end; the final step.
    fn drive(&mut self, connector: &mut Connector) -> Step {
        let mut step = connector.on(self.now, Event::Start);
        for _ in 0..1000 {
            let event = match &step {
                Step::Resolve { .. } => {
                    let i = self.resolves.min(self.lookups.len() - 1);
                    self.resolves += 1;
                    Event::Resolved(self.lookups[i].clone())
                }
                Step::Connect { endpoint, wait } => {
                    self.attempt += 1;
                    self.connected_to.push(*endpoint);
                    let up = self.hub_up_from.is_some_and(|n| self.attempt >= n)
                        && self.answers_at.is_none_or(|ip| ip == endpoint.ip());
                    if up {
                        self.now += S(1);
                        Event::Handshake(Ok(()))
                    } else {
                        if self.silent {
                            self.now += *wait;
                        }
                        Event::Handshake(Err(format!("no handshake within {}", wait.as_secs())))
                    }
                }
                Step::Probe { .. } => {
                    if self.attempt >= self.probe_up_from {
                        Event::Probed(Ok(()))
                    } else {
                        Event::Probed(Err("timeout".into()))
                    }
                }
                Step::Sleep { until } => {
                    self.now = *until;
                    Event::Woke
                }
                Step::Joined(_) | Step::Failed(_) => return step,
            };
            step = connector.on(self.now, event);
        }
        panic!("the connector never finished");
    }
}

fn config(hub: &str, backoff: Backoff) -> JoinConfig {
    JoinConfig::new(
        hub.parse::<Address>().unwrap(),
        51820,
        "10.42.0.1".parse().unwrap(),
        backoff,
    )
}

fn starts(c: &Connector) -> Vec<u64> {
    c.log().iter().map(|a| a.started.as_secs()).collect()
}

fn waits(c: &Connector) -> Vec<Option<u64>> {
    c.log()
        .iter()
        .map(|a| a.retry_in.map(|d| d.as_secs()))
        .collect()
}

#[test]
fn attempts_follow_the_schedule_and_stop_at_the_retry_limit() {
    let mut world = World::new();
    let mut c = Connector::new(config("192.0.2.1", Backoff::new(7, S(3600))));
    let Step::Failed(err) = world.drive(&mut c) else {
        panic!("joined a hub that never answers")
    };
    // Failures come at once here, so attempts start exactly on the schedule.
    assert_eq!(starts(&c), [0, 2, 6, 14, 30, 62, 122, 182]);
    assert_eq!(
        waits(&c),
        [
            Some(2),
            Some(4),
            Some(8),
            Some(16),
            Some(32),
            Some(60),
            Some(60),
            None
        ]
    );
    assert_eq!(err.attempts, 8);
    assert_eq!(err.reason, GiveUp::Retries(7));
    assert_eq!(
        err.to_string(),
        "gave up joining hub 192.0.2.1:51820 after 8 attempts over 182 s: last error: no handshake within 5 (all 7 retries used)"
    );
    assert_eq!(
        c.log()[1].to_string(),
        "attempt 2 at 2 s to 192.0.2.1:51820: no handshake within 5; retrying in 4 s"
    );
    assert!(c.log()[7].to_string().ends_with("; giving up"));
}

#[test]
fn a_silent_hub_costs_the_handshake_wait_on_every_attempt() {
    let mut world = World {
        silent: true,
        ..World::new()
    };
    let mut c = Connector::new(config("192.0.2.1", Backoff::new(4, S(3600))));
    let Step::Failed(err) = world.drive(&mut c) else {
        panic!("joined")
    };
    // 5 s waiting for a handshake, then 2, 4, 8, 16 s of backoff.
    assert_eq!(starts(&c), [0, 7, 16, 29, 50]);
    assert_eq!(err.elapsed, S(55));
    assert!(
        err.to_string()
            .starts_with("gave up joining hub 192.0.2.1:51820 after 5 attempts over 55 s: last error: no handshake within 5"),
        "{err}"
    );
}

#[test]
fn the_overall_timeout_stops_retrying() {
    let mut world = World::new();
    let mut c = Connector::new(config("192.0.2.1", Backoff::new(100, S(20))));
    let Step::Failed(err) = world.drive(&mut c) else {
        panic!("joined")
    };
    // 0, 2, 6, 14 — the next would start at 30 s, past 20 s.
    assert_eq!(starts(&c), [0, 2, 6, 14]);
    assert_eq!(err.reason, GiveUp::Timeout(S(20)));
    assert!(
        err.to_string()
            .ends_with("(the overall timeout of 20 s would pass)"),
        "{err}"
    );
    // The handshake wait never runs past the deadline either.
    let mut world = World {
        silent: true,
        ..World::new()
    };
    let mut c = Connector::new(config("192.0.2.1", Backoff::new(100, S(9))));
    world.drive(&mut c);
    // Attempt 2 starts at 7 s and waits 2 s, not 5: it ends on the deadline.
    assert_eq!(starts(&c), [0, 7]);
    assert_eq!(c.log().last().unwrap().ended, S(9));
}

#[test]
fn a_hub_that_appears_midway_is_joined() {
    let mut world = World {
        hub_up_from: Some(3),
        ..World::new()
    };
    let mut c = Connector::new(config("192.0.2.1", Backoff::new(5, S(300))));
    let Step::Joined(joined) = world.drive(&mut c) else {
        panic!("did not join: {:#?}", c.log())
    };
    assert_eq!(joined.attempts, 3);
    assert_eq!(
        joined.elapsed,
        S(7),
        "attempt 3 starts at 6 s, handshake 1 s later"
    );
    assert_eq!(joined.endpoint, "192.0.2.1:51820".parse().unwrap());
    assert_eq!(c.log().len(), 3);
    assert_eq!(c.log()[2].result, Ok(()));
    assert_eq!(
        c.log()[2].to_string(),
        "attempt 3 at 6 s to 192.0.2.1:51820: joined"
    );
}

#[test]
fn a_handshake_without_an_answering_probe_is_not_a_join() {
    let mut world = World {
        hub_up_from: Some(1),
        probe_up_from: 2,
        ..World::new()
    };
    let mut c = Connector::new(config("192.0.2.1", Backoff::new(5, S(300))));
    let Step::Joined(joined) = world.drive(&mut c) else {
        panic!("did not join")
    };
    assert_eq!(joined.attempts, 2);
    let first = c.log()[0].result.clone().unwrap_err();
    assert_eq!(
        first,
        "handshake seen but the probe to 10.42.0.1 failed: timeout"
    );
}

#[test]
fn a_dns_name_is_looked_up_again_after_a_failure() {
    let old: IpAddr = "192.0.2.1".parse().unwrap();
    let new: IpAddr = "192.0.2.2".parse().unwrap();
    let mut world = World {
        hub_up_from: Some(1),
        answers_at: Some(new),
        lookups: vec![
            Ok(vec![old]),
            Err("temporary failure in name resolution".into()),
            Ok(vec![new]),
        ],
        ..World::new()
    };
    let mut c = Connector::new(config("hub.example", Backoff::new(5, S(300))));
    let Step::Joined(joined) = world.drive(&mut c) else {
        panic!("did not join: {:#?}", c.log())
    };
    assert_eq!(world.resolves, 3, "one lookup per attempt");
    assert_eq!(joined.attempts, 3);
    assert_eq!(joined.endpoint.ip(), new);
    assert_eq!(
        world.connected_to,
        [
            "192.0.2.1:51820".parse().unwrap(),
            "192.0.2.2:51820".parse().unwrap()
        ]
    );
    let log: Vec<String> = c.log().iter().map(ToString::to_string).collect();
    assert_eq!(
        log[1],
        "attempt 2 at 2 s: resolve hub.example: temporary failure in name resolution; retrying in 4 s"
    );
    assert_eq!(c.hub(), "hub.example:51820");
}

#[test]
fn unexpected_events_change_nothing() {
    let mut c = Connector::new(config("192.0.2.1", Backoff::new(1, S(60))));
    let first = c.on(S(0), Event::Start);
    assert!(matches!(first, Step::Connect { .. }));
    assert_eq!(c.on(S(0), Event::Woke), first);
    assert_eq!(c.on(S(0), Event::Probed(Ok(()))), first);
    let sleep = c.on(S(1), Event::Handshake(Err("no".into())));
    assert_eq!(sleep, Step::Sleep { until: S(3) });
    assert_eq!(c.on(S(2), Event::Woke), sleep, "woken too early");
    assert!(matches!(c.on(S(3), Event::Woke), Step::Connect { .. }));
}
