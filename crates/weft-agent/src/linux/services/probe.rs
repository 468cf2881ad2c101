//! The probe's datagrams (UDP [`RECORDS_PORT`], beside the records
//! endpoint): one 32-byte message asked, one of the same size answered with
//! the digest of the names this host serves there, and the note that those
//! names changed.

use crate::dataplane::{RECORDS_PORT, Records};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

/// The size of every probe datagram, asked and answered alike (an answer
/// is never larger than what asked for it).
pub const PROBE_LEN: usize = 32;
const PROBE_MAGIC: &[u8; 8] = b"weftprb1";

/// A probe datagram: magic (8 bytes), kind (1), zeros (7), nonce (8),
/// digest (8); integers big-endian.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProbeMessage {
    /// Are you there, and what are your names' digest?
    Ask { nonce: u64 },
    /// Here, with the digest of the names the records endpoint serves.
    Answer { nonce: u64, digest: u64 },
    /// My names changed: fetch them.
    Changed,
}

impl ProbeMessage {
    pub fn encode(self) -> [u8; PROBE_LEN] {
        let (kind, nonce, digest) = match self {
            ProbeMessage::Ask { nonce } => (1, nonce, 0),
            ProbeMessage::Answer { nonce, digest } => (2, nonce, digest),
            ProbeMessage::Changed => (3, 0, 0),
        };
        let mut out = [0u8; PROBE_LEN];
        out[..8].copy_from_slice(PROBE_MAGIC);
        out[8] = kind;
        out[16..24].copy_from_slice(&u64::to_be_bytes(nonce));
        out[24..32].copy_from_slice(&u64::to_be_bytes(digest));
        out
    }

    /// `None` for anything that is not exactly one well-formed message.
    pub fn parse(bytes: &[u8]) -> Option<Self> {
        if bytes.len() != PROBE_LEN || &bytes[..8] != PROBE_MAGIC || bytes[9..16] != [0; 7] {
            return None;
        }
        let u64_at = |at: usize| u64::from_be_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
        match bytes[8] {
            1 => Some(ProbeMessage::Ask { nonce: u64_at(16) }),
            2 => Some(ProbeMessage::Answer {
                nonce: u64_at(16),
                digest: u64_at(24),
            }),
            3 => Some(ProbeMessage::Changed),
            _ => None,
        }
    }
}

/// The digest of a records document, as probes carry it.
pub fn records_digest(records: &Records) -> u64 {
    weft_model::naming::fnv1a(&serde_json::to_vec(records).unwrap_or_default())
}

/// Probe a peer's agent at its address in a network: the digest of its
/// names, or an error when it did not answer within `timeout`.
pub async fn probe_peer(peer: IpAddr, timeout: std::time::Duration) -> std::io::Result<u64> {
    let addr = SocketAddr::new(peer, RECORDS_PORT);
    let probe = async {
        let socket = tokio::net::UdpSocket::bind(unspecified(peer)).await?;
        socket.connect(addr).await?;
        let nonce: u64 = rand::random();
        socket.send(&ProbeMessage::Ask { nonce }.encode()).await?;
        let mut buf = [0u8; PROBE_LEN + 1];
        loop {
            let len = socket.recv(&mut buf).await?;
            if let Some(ProbeMessage::Answer { nonce: n, digest }) =
                ProbeMessage::parse(&buf[..len])
                && n == nonce
            {
                return Ok(digest);
            }
        }
    };
    tokio::time::timeout(timeout, probe).await.map_err(|_| {
        std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!("{addr} did not answer the probe"),
        )
    })?
}

/// Tell peers' agents (their addresses in a network) that this host's
/// names changed there; best effort, one datagram each.
pub async fn tell_changed(peers: &[IpAddr]) {
    let message = ProbeMessage::Changed.encode();
    // One socket per address family.
    let mut sockets: HashMap<bool, tokio::net::UdpSocket> = HashMap::new();
    for peer in peers {
        let socket = match sockets.entry(peer.is_ipv4()) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                match tokio::net::UdpSocket::bind(unspecified(*peer)).await {
                    Ok(socket) => e.insert(socket),
                    Err(_) => continue,
                }
            }
        };
        let _ = socket
            .send_to(&message, SocketAddr::new(*peer, RECORDS_PORT))
            .await;
    }
}

/// Any local address of `peer`'s family, any port.
fn unspecified(peer: IpAddr) -> SocketAddr {
    let ip: IpAddr = match peer {
        IpAddr::V4(_) => std::net::Ipv4Addr::UNSPECIFIED.into(),
        IpAddr::V6(_) => std::net::Ipv6Addr::UNSPECIFIED.into(),
    };
    SocketAddr::new(ip, 0)
}
