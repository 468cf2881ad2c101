//! Prometheus metrics (`weft agent --metrics ADDR:PORT`): per peer its
//! handshake age, bytes and health; per network its attachments; the
//! reconcile runs and errors. Rendered afresh from live state on every
//! scrape with prometheus-client's text encoder.

use crate::agent::Agent;
use crate::dataplane::Dataplane;
use crate::health::Health;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

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

const STATES: [Health; 4] = [
    Health::Healthy,
    Health::Degraded,
    Health::Unhealthy,
    Health::Disconnected,
];

/// The metrics document of this agent now.
pub fn render<D: Dataplane>(agent: &Agent<D>) -> Result<String, crate::error::AgentError> {
    let mut registry = Registry::with_prefix("weft");
    let age = Family::<PeerLabels, Gauge<f64, AtomicU64>>::default();
    let rx = Family::<PeerLabels, Counter>::default();
    let tx = Family::<PeerLabels, Counter>::default();
    let health = Family::<HealthLabels, Gauge>::default();
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
            let current = status
                .health
                .get(&p.public_key)
                .map(|h| h.0)
                .unwrap_or(Health::Disconnected);
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
    let mut text = String::new();
    encode(&mut text, &registry).expect("writing to a String does not fail");
    Ok(text)
}

/// Serve the metrics over HTTP on `addr`. The answer is one fixed document
/// whatever the request, so a few lines of HTTP/1.1 do instead of an HTTP
/// stack.
pub async fn serve<D: Dataplane + 'static>(
    addr: SocketAddr,
    agent: Arc<Mutex<Agent<D>>>,
) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!(%addr, "metrics listening");
    tokio::spawn(async move {
        loop {
            let Ok((mut conn, _)) = listener.accept().await else {
                continue;
            };
            let agent = agent.clone();
            tokio::spawn(async move {
                // Read the request head (and ignore it).
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
                    match conn.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let body = tokio::task::spawn_blocking(move || {
                    render(&agent.lock().unwrap_or_else(|p| p.into_inner()))
                })
                .await
                .ok()
                .and_then(Result::ok);
                let (status, body) = match body {
                    Some(body) => ("200 OK", body),
                    None => (
                        "500 Internal Server Error",
                        "metrics unavailable\n".to_string(),
                    ),
                };
                let response = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: application/openmetrics-text; version=1.0.0; charset=utf-8\r\n\
                     Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = conn.write_all(response.as_bytes()).await;
                let _ = conn.shutdown().await;
            });
        }
    });
    Ok(())
}
