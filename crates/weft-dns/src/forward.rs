//! Forwarding names outside the zone to the host's upstream resolvers.
//!
//! A plain stub forwarder, written here rather than taken from
//! hickory-resolver: the responder must relay the client's question as
//! asked (its flags, EDNS options, DO/CD bits) and the upstream's answer as
//! given (its response code, every section), not re-resolve it and rebuild
//! an answer from a cache, which is what a resolver does. Each forwarded
//! query gets its own UDP socket (a fresh random source port) and a fresh
//! random ID, and only a reply from the upstream's address with that ID
//! and the same question is accepted — the usual defences against spoofed
//! answers.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hickory_server::proto::op::{Message, MessageType, Query};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::Semaphore;
use tokio::time::{Instant, timeout_at};
use tracing::debug;

/// Largest UDP reply accepted from upstream (the most a datagram can be).
const MAX_UDP_REPLY: usize = 65_535;

/// Forwards queries to a list of upstream resolvers, first one first.
#[derive(Debug)]
pub(crate) struct Forwarder {
    upstreams: Vec<SocketAddr>,
    /// How long to wait for each upstream before trying the next.
    per_upstream: Duration,
    /// Bounds the queries in flight (each holds a socket): past it, clients
    /// get SERVFAIL at once instead of the host running out of sockets.
    in_flight: Arc<Semaphore>,
}

/// Why a query could not be forwarded (the client gets SERVFAIL).
#[derive(Debug, thiserror::Error)]
pub(crate) enum ForwardError {
    #[error("too many forwarded queries in flight")]
    Busy,
    #[error("query is not a valid DNS message")]
    BadQuery,
    #[error("no upstream answered ({0})")]
    NoAnswer(String),
}

impl Forwarder {
    pub(crate) fn new(
        upstreams: Vec<SocketAddr>,
        per_upstream: Duration,
        max_in_flight: usize,
    ) -> Self {
        Forwarder {
            upstreams,
            per_upstream,
            in_flight: Arc::new(Semaphore::new(max_in_flight)),
        }
    }

    /// Sends the client's query `raw` (as received) upstream and returns the
    /// first valid answer: over UDP, then over TCP to the same upstream when
    /// the UDP answer was truncated.
    pub(crate) async fn forward(&self, raw: &[u8]) -> Result<Message, ForwardError> {
        let _permit = self
            .in_flight
            .try_acquire()
            .map_err(|_| ForwardError::Busy)?;
        let question = Message::from_vec(raw)
            .map_err(|_| ForwardError::BadQuery)?
            .queries;
        let mut query = raw.to_vec();
        let id: u16 = rand::random();
        query[..2].copy_from_slice(&id.to_be_bytes());

        let mut failures = Vec::new();
        for &upstream in &self.upstreams {
            let deadline = Instant::now() + self.per_upstream;
            match self
                .exchange(upstream, &query, id, &question, deadline)
                .await
            {
                Ok(reply) => return Ok(reply),
                Err(why) => {
                    debug!(%upstream, %why, "upstream did not answer");
                    failures.push(format!("{upstream}: {why}"));
                }
            }
        }
        Err(ForwardError::NoAnswer(failures.join("; ")))
    }

    async fn exchange(
        &self,
        upstream: SocketAddr,
        query: &[u8],
        id: u16,
        question: &[Query],
        deadline: Instant,
    ) -> Result<Message, String> {
        let reply = timeout_at(deadline, udp_exchange(upstream, query, id, question))
            .await
            .map_err(|_| "timed out (udp)".to_string())??;
        if !reply.metadata.truncation {
            return Ok(reply);
        }
        debug!(%upstream, "truncated over udp; retrying over tcp");
        timeout_at(deadline, tcp_exchange(upstream, query, id, question))
            .await
            .map_err(|_| "timed out (tcp)".to_string())?
    }
}

fn unspecified_for(upstream: SocketAddr) -> SocketAddr {
    let ip = match upstream.ip() {
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    };
    SocketAddr::new(ip, 0)
}

/// Whether `reply` answers our query: a response, our ID, our question.
fn is_reply_to(reply: &Message, id: u16, question: &[Query]) -> bool {
    reply.metadata.message_type == MessageType::Response
        && reply.metadata.id == id
        && reply.queries == question
}

async fn udp_exchange(
    upstream: SocketAddr,
    query: &[u8],
    id: u16,
    question: &[Query],
) -> Result<Message, String> {
    let socket = UdpSocket::bind(unspecified_for(upstream))
        .await
        .map_err(|e| format!("bind udp socket: {e}"))?;
    // connect(): the kernel then drops datagrams from any other address.
    socket
        .connect(upstream)
        .await
        .map_err(|e| format!("connect udp: {e}"))?;
    socket
        .send(query)
        .await
        .map_err(|e| format!("send udp: {e}"))?;
    let mut buf = vec![0u8; MAX_UDP_REPLY];
    loop {
        let len = socket
            .recv(&mut buf)
            .await
            .map_err(|e| format!("receive udp: {e}"))?;
        match Message::from_vec(&buf[..len]) {
            Ok(reply) if is_reply_to(&reply, id, question) => return Ok(reply),
            // Not ours (a late or forged datagram): keep waiting until the
            // deadline for the real one.
            _ => continue,
        }
    }
}

async fn tcp_exchange(
    upstream: SocketAddr,
    query: &[u8],
    id: u16,
    question: &[Query],
) -> Result<Message, String> {
    let mut stream = TcpStream::connect(upstream)
        .await
        .map_err(|e| format!("connect tcp: {e}"))?;
    let len = u16::try_from(query.len()).map_err(|_| "query too long for tcp".to_string())?;
    let mut framed = Vec::with_capacity(query.len() + 2);
    framed.extend_from_slice(&len.to_be_bytes());
    framed.extend_from_slice(query);
    stream
        .write_all(&framed)
        .await
        .map_err(|e| format!("send tcp: {e}"))?;
    let mut len = [0u8; 2];
    stream
        .read_exact(&mut len)
        .await
        .map_err(|e| format!("receive tcp: {e}"))?;
    let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
    stream
        .read_exact(&mut buf)
        .await
        .map_err(|e| format!("receive tcp: {e}"))?;
    let reply = Message::from_vec(&buf).map_err(|e| format!("bad tcp reply: {e}"))?;
    if is_reply_to(&reply, id, question) {
        Ok(reply)
    } else {
        Err("tcp reply does not match the query".into())
    }
}
