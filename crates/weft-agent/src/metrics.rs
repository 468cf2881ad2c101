//! Prometheus metrics (`weft agent --metrics ADDR:PORT`): per peer its
//! handshake age, bytes and health (a VXLAN network's VTEPs: health, by
//! address); per network its attachments; the
//! reconcile runs and errors; the repairs of drift, by kind; log records
//! dropped before reaching the control plane. Rendered
//! afresh from live state on every scrape with prometheus-client's
//! encoder, served by [`http`] (hardened against its clients) as
//! Prometheus text or OpenMetrics, see [`exposition`].

mod exposition;
mod http;
#[cfg(test)]
mod tests;

use crate::agent::Agent;
use crate::dataplane::Dataplane;
use crate::health::{Health, Probe};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PeerLabels {
    network: String,
    peer: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HealthLabels {
    network: String,
    peer: String,
    state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct NetworkLabels {
    network: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DriftLabels {
    kind: String,
}

const STATES: [Health; 4] = [
    Health::Healthy,
    Health::Degraded,
    Health::Unhealthy,
    Health::Disconnected,
];

/// Probe states as metric labels (pending: no sample yet).
const PROBES: [(Probe, &str); 3] = [
    (Probe::Ok, "ok"),
    (Probe::Failed, "failed"),
    (Probe::NotApplicable, "not_applicable"),
];

/// The metrics document of this agent now, in OpenMetrics.
pub fn render<D: Dataplane>(agent: &Agent<D>) -> Result<String, crate::error::AgentError> {
    let mut registry = Registry::with_prefix("weft");
    let age = Family::<PeerLabels, Gauge<f64, AtomicU64>>::default();
    let rx = Family::<PeerLabels, Counter>::default();
    let tx = Family::<PeerLabels, Counter>::default();
    let health = Family::<HealthLabels, Gauge>::default();
    let probe = Family::<HealthLabels, Gauge>::default();
    let attachments = Family::<NetworkLabels, Gauge>::default();
    let runs = Counter::<u64>::default();
    let errors = Counter::<u64>::default();

    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64();
    for status in agent.status(None)? {
        let network = status.network.record.name.clone();
        attachments
            .get_or_create(&NetworkLabels {
                network: network.clone(),
            })
            .set(status.network.attachment_count as i64);
        // A VXLAN network's VTEPs: health from the probe alone, the peer
        // named by its address.
        for vtep in &status.vteps {
            for state in STATES {
                health
                    .get_or_create(&HealthLabels {
                        network: network.clone(),
                        peer: vtep.record.address.to_string(),
                        state: state.to_string(),
                    })
                    .set(i64::from(state == vtep.health));
            }
        }
        let Ok(Some(device)) = &status.device else {
            continue;
        };
        for p in &device.peers {
            let labels = PeerLabels {
                network: network.clone(),
                peer: p.public_key.to_base64(),
            };
            if let Some(t) = p
                .last_handshake
                .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            {
                age.get_or_create(&labels)
                    .set((now - t.as_secs_f64()).max(0.0));
            }
            rx.get_or_create(&labels).inc_by(p.rx_bytes);
            tx.get_or_create(&labels).inc_by(p.tx_bytes);
            let (current, current_probe) = status
                .health
                .get(&p.public_key)
                .copied()
                .unwrap_or((Health::Disconnected, Probe::Pending));
            if current_probe != Probe::Pending {
                for (state, word) in PROBES {
                    probe
                        .get_or_create(&HealthLabels {
                            network: network.clone(),
                            peer: labels.peer.clone(),
                            state: word.to_string(),
                        })
                        .set(i64::from(state == current_probe));
                }
            }
            for state in STATES {
                health
                    .get_or_create(&HealthLabels {
                        network: network.clone(),
                        peer: labels.peer.clone(),
                        state: state.to_string(),
                    })
                    .set(i64::from(state == current));
            }
        }
    }
    let book = agent.health_book();
    runs.inc_by(book.reconcile_runs.load(Ordering::Relaxed));
    errors.inc_by(book.reconcile_errors.load(Ordering::Relaxed));

    registry.register(
        "peer_handshake_age_seconds",
        "Seconds since the latest handshake with the peer",
        age,
    );
    registry.register("peer_rx_bytes", "Bytes received from the peer", rx);
    registry.register("peer_tx_bytes", "Bytes sent to the peer", tx);
    registry.register(
        "peer_health",
        "1 for the peer's current health state",
        health,
    );
    registry.register(
        "peer_probe",
        "1 for what the probe through the tunnel says of the peer (not_applicable: it never answered, so the peer does not run weft and its health comes from the handshake alone)",
        probe,
    );
    registry.register(
        "network_attachments",
        "Workloads attached to the network on this host",
        attachments,
    );
    registry.register(
        "reconcile_runs",
        "Reconcile passes since the agent started",
        runs,
    );
    registry.register("reconcile_errors", "Errors met by reconcile passes", errors);
    let repairs = Family::<DriftLabels, Counter>::default();
    let counted = book.drift_repairs();
    for kind in crate::drift::Drift::KINDS {
        repairs
            .get_or_create(&DriftLabels { kind: kind.into() })
            .inc_by(counted.get(kind).copied().unwrap_or(0));
    }
    registry.register(
        "drift_repairs",
        "Drift of weft's kernel state found and repaired by the periodic reconcile, by what had drifted",
        repairs,
    );
    let repair_errors = Counter::<u64>::default();
    repair_errors.inc_by(book.drift_errors.load(Ordering::Relaxed));
    registry.register(
        "drift_repair_errors",
        "Repairs of drift that the kernel refused",
        repair_errors,
    );
    let log_drops = Counter::<u64>::default();
    log_drops.inc_by(book.control_log_drops.load(Ordering::Relaxed));
    registry.register(
        "control_log_records_dropped",
        "Log records dropped before reaching the control plane (the buffer full while it was slow or away)",
        log_drops,
    );
    let mut text = String::new();
    encode(&mut text, &registry).expect("writing to a String does not fail");
    Ok(text)
}

/// Serve the metrics over HTTP on `addr`; returns the address bound.
pub async fn serve<D: Dataplane + 'static>(
    addr: SocketAddr,
    agent: Arc<Mutex<Agent<D>>>,
) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let document: http::Render = Arc::new(move || {
        let agent = agent.lock().unwrap_or_else(PoisonError::into_inner);
        render(&agent)
            .map_err(|e| tracing::warn!("metrics: render the document: {e}"))
            .ok()
    });
    http::spawn(listener, document, http::Limits::default());
    tracing::info!(addr = %local, "metrics listening");
    Ok(local)
}
