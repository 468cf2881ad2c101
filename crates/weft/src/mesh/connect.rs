//! Driving `weft-mesh`'s node connector for a spoke: resolve the hub, point
//! the hub peer at it, wait for a handshake, probe through the tunnel — with
//! the connector's backoff between attempts, each attempt logged.

use super::host::HostConn;
use anyhow::{Result, anyhow};
use std::net::ToSocketAddrs;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use weft_mesh::plan::PeerPlan;
use weft_mesh::{Connector, Event, JoinConfig, Joined, Step};

/// Is there a recent handshake with `peer` on the host's `network`?
fn handshake_seen(host: &dyn HostConn, network: &str, peer: &str, since: i64) -> bool {
    let Ok(text) = host.weft(&["status", network]) else {
        return false;
    };
    let Ok(status) = serde_json::from_str::<serde_json::Value>(&text) else {
        return false;
    };
    status["networks"][0]["peers"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|p| p["public_key"] == peer && p["latest_handshake"].as_i64().unwrap_or(0) >= since)
}

fn ping(host: &dyn HostConn, address: &str) -> Result<(), String> {
    host.sh_net(&format!("ping -c1 -W2 {address} >/dev/null"))
        .map(|_| ())
        .map_err(|e| format!("{e:#}"))
}

/// Join the hub of `network` from `host`; `log` gets one line per attempt.
pub fn join(
    host: &dyn HostConn,
    network: &str,
    hub: &PeerPlan,
    config: JoinConfig,
    log: &mut dyn FnMut(&str),
) -> Result<Joined> {
    let key = hub.public_key.to_base64();
    let probe_to = config.probe_address.to_string();
    let mut connector = Connector::new(config);
    let start = Instant::now();
    let mut step = connector.on(Duration::ZERO, Event::Start);
    loop {
        let event = match &step {
            Step::Resolve { name } => Event::Resolved(
                (name.as_str(), 0)
                    .to_socket_addrs()
                    .map(|a| a.map(|s| s.ip()).collect())
                    .map_err(|e| format!("resolve {name}: {e}")),
            ),
            Step::Connect { endpoint, wait } => {
                let allowed = hub
                    .allowed_ips
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(",");
                let keepalive = hub.keepalive.unwrap_or(0).to_string();
                let endpoint_text = endpoint.to_string();
                let set = host.weft(&[
                    "peer",
                    "add",
                    network,
                    "--public-key",
                    &key,
                    "--endpoint",
                    &endpoint_text,
                    "--allowed-ips",
                    &allowed,
                    "--keepalive",
                    &keepalive,
                ]);
                let since = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map(|d| d.as_secs() as i64)
                    .unwrap_or(0)
                    - 180;
                let deadline = Instant::now() + *wait;
                let seen = set.is_ok()
                    && loop {
                        // Traffic makes WireGuard start a handshake.
                        let _ = ping(host, &probe_to);
                        if handshake_seen(host, network, &key, since) {
                            break true;
                        }
                        if Instant::now() >= deadline {
                            break false;
                        }
                        std::thread::sleep(Duration::from_millis(250));
                    };
                Event::Handshake(if seen {
                    Ok(())
                } else {
                    Err(match set {
                        Err(e) => e.to_string(),
                        Ok(_) => format!("no handshake with {endpoint} within {wait:?}"),
                    })
                })
            }
            Step::Probe { address } => Event::Probed(ping(host, &address.to_string())),
            Step::Sleep { until } => {
                std::thread::sleep(until.saturating_sub(start.elapsed()));
                Event::Woke
            }
            Step::Joined(joined) => {
                log(&format!(
                    "joined hub {} after {} attempt(s)",
                    joined.endpoint, joined.attempts
                ));
                return Ok(joined.clone());
            }
            Step::Failed(e) => return Err(anyhow!("{e}")),
        };
        let before = connector.log().len();
        step = connector.on(start.elapsed(), event);
        for attempt in &connector.log()[before..] {
            let result = match &attempt.result {
                Ok(()) => "ok".to_string(),
                Err(e) => e.clone(),
            };
            let retry = attempt
                .retry_in
                .map(|d| format!(", next in {}s", d.as_secs()))
                .unwrap_or_default();
            log(&format!("join attempt {}: {result}{retry}", attempt.number));
        }
    }
}
