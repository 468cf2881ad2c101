//! One simulated agent: enrolls as `weft agent --control` does (its own key
//! pair, only a CSR sent), then holds one mutual-TLS connection (its own
//! tonic `Channel`) for its reports and its Watch stream, and folds every
//! message into its compact state.

use crate::probe::Probe;
use crate::state::{AgentState, peer_id};
use prost::Message as _;
use rcgen::{CertificateParams, KeyPair};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tonic::transport::Channel;
use weft_agent::control::ControlConfig;
use weft_agent::control::logs::BATCH_EVERY;
use weft_agent::control::tls::Trust;
use weft_proto::control as pb;
use weft_proto::control::agent_control_client::AgentControlClient;
use weft_proto::control::enrollment_client::EnrollmentClient;

/// A full-mesh snapshot at 10,000 hosts is over a megabyte; room to spare.
const MAX_MESSAGE: usize = 256 << 20;

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("make the key and CSR of {name}")]
    Csr {
        name: String,
        #[source]
        source: rcgen::Error,
    },
    #[error("connect {name} to {url}")]
    Connect {
        name: String,
        url: String,
        #[source]
        source: weft_agent::control::ControlError,
    },
    #[error("{what} of {name} refused: {}: {}", .status.code(), .status.message())]
    Refused {
        what: &'static str,
        name: String,
        status: tonic::Status,
    },
}

pub struct Agent {
    pub index: usize,
    pub name: String,
    /// [`peer_id`] of the host id it enrolled as.
    pub id: u64,
    pub listen_port: u16,
    public_key: String,
    client: AgentControlClient<Channel>,
    pub state: Arc<Mutex<AgentState>>,
}

/// Enroll with `token` through `control` (trusting its CA's fingerprint),
/// then connect with the new certificate. Retries while the server says
/// it is busy (its enrollment rate limit).
pub async fn enroll(
    index: usize,
    control: &ControlConfig,
    token: &str,
) -> Result<Agent, AgentError> {
    let name = format!("sim{index}");
    let csr_err = |source| AgentError::Csr {
        name: name.clone(),
        source,
    };
    let connect_err = |source| AgentError::Connect {
        name: name.clone(),
        url: control.url.clone(),
        source,
    };
    let key = KeyPair::generate().map_err(csr_err)?;
    let csr = CertificateParams::new(Vec::<String>::new())
        .and_then(|p| p.serialize_request(&key))
        .and_then(|r| r.pem())
        .map_err(csr_err)?;
    let trust = control
        .trust
        .clone()
        .expect("the bench gives every control config its CA fingerprint");
    let channel = control.channel(&trust, None).await.map_err(connect_err)?;
    let mut enrollment = EnrollmentClient::new(channel);
    let mut busy = 0;
    let reply = loop {
        let req = pb::EnrollRequest {
            token: token.to_string(),
            host_name: name.clone(),
            csr_pem: csr.clone(),
            ..Default::default()
        };
        match enrollment.enroll(req).await {
            Ok(reply) => break reply.into_inner(),
            Err(status) if status.code() == tonic::Code::ResourceExhausted && busy < 100 => {
                busy += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(status) => {
                return Err(AgentError::Refused {
                    what: "enrollment",
                    name,
                    status,
                });
            }
        }
    };
    let key_pem = key.serialize_pem();
    let channel = control
        .channel(
            &Trust::CaPem(reply.ca_pem),
            Some((&reply.certificate_pem, &key_pem)),
        )
        .await
        .map_err(connect_err)?;
    let client = AgentControlClient::new(channel).max_decoding_message_size(MAX_MESSAGE);
    let public_key = weft_model::PrivateKey::generate().public_key().to_base64();
    Ok(Agent {
        index,
        name,
        id: peer_id(&reply.host_id),
        listen_port: 20_000 + (index % 40_000) as u16,
        public_key,
        client,
        state: Arc::new(Mutex::new(AgentState::new(peer_id(&reply.host_id)))),
    })
}

impl Agent {
    /// Report this host's WireGuard key and listen port in `network`.
    pub async fn report(&mut self, network: &str) -> Result<(), AgentError> {
        let req = pb::ReportRequest {
            version: env!("CARGO_PKG_VERSION").to_string(),
            networks: vec![pb::NetworkReport {
                network: network.to_string(),
                public_key: self.public_key.clone(),
                listen_port: u32::from(self.listen_port),
                ..Default::default()
            }],
            ..Default::default()
        };
        self.client
            .report(req)
            .await
            .map(drop)
            .map_err(|status| AgentError::Refused {
                what: "report",
                name: self.name.clone(),
                status,
            })
    }

    /// Follow this host's desired state for as long as the bench runs:
    /// apply each message, tell `probe`; a broken stream is counted and
    /// opened again from the revision applied (as the agent resumes).
    pub fn follow(&self, probe: Arc<Probe>) -> tokio::task::JoinHandle<()> {
        let (mut client, state, index) = (self.client.clone(), Arc::clone(&self.state), self.index);
        let name = self.name.clone();
        tokio::spawn(async move {
            let mut first = true;
            loop {
                let revision = state
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .revision;
                let broke = match client
                    .watch(pb::WatchRequest {
                        revision,
                        ..Default::default()
                    })
                    .await
                {
                    Ok(stream) => {
                        let mut stream = stream.into_inner();
                        loop {
                            match stream.message().await {
                                Ok(Some(msg)) => {
                                    // The gRPC frame: 5 bytes, then the message.
                                    let len = msg.encoded_len() + 5;
                                    let mut state =
                                        state.lock().unwrap_or_else(PoisonError::into_inner);
                                    state.apply(&msg);
                                    drop(msg);
                                    // The first state counts once whole
                                    // (a large one comes in pieces).
                                    let whole = first && state.complete;
                                    probe.received(index, len, &state, whole);
                                    first &= !whole;
                                }
                                Ok(None) => break "the control plane ended the stream".to_string(),
                                Err(status) => {
                                    break format!("{}: {}", status.code(), status.message());
                                }
                            }
                        }
                    }
                    Err(status) => format!("{}: {}", status.code(), status.message()),
                };
                probe
                    .breaks
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                eprintln!("bench: the stream of {name} broke ({broke}); opening it again");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        })
    }

    /// Stream `rate` log records a second to the control plane for as long
    /// as the bench runs, as `weft agent` does: a batch every `BATCH_EVERY` (250 ms) on the
    /// same connection (`StreamLogs`), each record a typical line. A
    /// broken stream is opened again.
    pub fn stream_logs(&self, rate: u32) -> tokio::task::JoinHandle<()> {
        let (client, name) = (self.client.clone(), self.name.clone());
        tokio::spawn(async move {
            let mut seq: u64 = 0;
            loop {
                let (tx, rx) = tokio::sync::mpsc::channel::<pb::LogBatch>(1);
                let mut client = client.clone();
                let send = client.stream_logs(tokio_stream::wrappers::ReceiverStream::new(rx));
                let feed = async {
                    let mut tick = tokio::time::interval(BATCH_EVERY);
                    // Records owed, in thousandths, so rates under one a
                    // batch come too.
                    let every_ms = u64::try_from(BATCH_EVERY.as_millis()).unwrap_or(u64::MAX);
                    let mut owed: u64 = 0;
                    loop {
                        tick.tick().await;
                        owed += u64::from(rate) * every_ms;
                        let n = owed / 1000;
                        owed %= 1000;
                        let records = (0..n)
                            .map(|_| {
                                seq += 1;
                                pb::LogRecord {
                                    time_ms: unix_ms(),
                                    level: "info".into(),
                                    target: "weft_agent::control::follow".into(),
                                    message: format!(
                                        "desired state received revision={seq} snapshot=false networks=0 removed=0 patches=1"
                                    ),
                                    ..Default::default()
                                }
                            })
                            .collect();
                        let batch = pb::LogBatch {
                            records,
                            ..Default::default()
                        };
                        if tx.send(batch).await.is_err() {
                            return;
                        }
                    }
                };
                let broke = tokio::select! {
                    sent = send => match sent {
                        Ok(_) => "the control plane ended it".to_string(),
                        Err(status) => format!("{}: {}", status.code(), status.message()),
                    },
                    () = feed => "the stream closed".to_string(),
                };
                eprintln!("bench: the log stream of {name} broke ({broke}); opening it again");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        })
    }
}

fn unix_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
