//! Helpers for the DNS tests: a zone with one name, a client over UDP and
//! TCP, and a fake upstream resolver. Everything listens on 127.0.0.1 with a port the
//! kernel picks, so tests run in parallel without root.

#![allow(dead_code)] // each test binary uses a different subset

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use hickory_server::proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_server::proto::rr::rdata::A;
use hickory_server::proto::rr::{Name, RData, Record, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::task::JoinHandle;
use tokio::time::timeout;
use weft_dns::Zone;

pub const LIMIT: Duration = Duration::from_secs(5);

/// Zone `mesh.local` holding `name` (from source "local") with `addresses`.
pub fn zone_with(name: &str, addresses: &[&str]) -> Arc<Zone> {
    let zone = Zone::new("mesh.local").unwrap();
    let addresses = addresses.iter().map(|a| a.parse().unwrap()).collect();
    zone.upsert("local", name, addresses).unwrap();
    zone
}

pub fn query_bytes(name: &str, rtype: RecordType, id: u16) -> Vec<u8> {
    let mut message = Message::query();
    message.metadata.id = id;
    message.metadata.recursion_desired = true;
    message.add_query(Query::query(Name::from_ascii(name).unwrap(), rtype));
    message.to_vec().unwrap()
}

pub fn query_bytes_edns(name: &str, rtype: RecordType, id: u16) -> Vec<u8> {
    let mut message = Message::query();
    message.metadata.id = id;
    message.metadata.recursion_desired = true;
    message.add_query(Query::query(Name::from_ascii(name).unwrap(), rtype));
    let mut edns = Edns::new();
    edns.set_max_payload(1232);
    message.set_edns(edns);
    message.to_vec().unwrap()
}

/// One query over UDP; the parsed reply.
pub async fn udp(server: SocketAddr, name: &str, rtype: RecordType) -> Message {
    let id = rand::random();
    let reply = udp_raw(server, &query_bytes(name, rtype, id))
        .await
        .expect("udp reply");
    let reply = Message::from_vec(&reply).unwrap();
    assert_eq!(reply.metadata.id, id);
    reply
}

/// Sends `packet` over UDP and waits (up to 2 s) for one datagram back.
pub async fn udp_raw(server: SocketAddr, packet: &[u8]) -> Option<Vec<u8>> {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    socket.send_to(packet, server).await.unwrap();
    let mut buf = vec![0u8; 65535];
    let (len, _) = timeout(Duration::from_secs(2), socket.recv_from(&mut buf))
        .await
        .ok()?
        .unwrap();
    Some(buf[..len].to_vec())
}

/// One query over a new TCP connection; the parsed reply.
pub async fn tcp(server: SocketAddr, name: &str, rtype: RecordType) -> Message {
    let mut stream = timeout(LIMIT, TcpStream::connect(server))
        .await
        .unwrap()
        .unwrap();
    let id = rand::random();
    let reply = timeout(
        LIMIT,
        tcp_exchange(&mut stream, &query_bytes(name, rtype, id)),
    )
    .await
    .expect("tcp reply in time");
    assert_eq!(reply.metadata.id, id);
    reply
}

pub async fn tcp_exchange(stream: &mut TcpStream, query: &[u8]) -> Message {
    let mut framed = (query.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(query);
    stream.write_all(&framed).await.unwrap();
    let mut len = [0u8; 2];
    stream.read_exact(&mut len).await.unwrap();
    let mut buf = vec![0u8; u16::from_be_bytes(len) as usize];
    stream.read_exact(&mut buf).await.unwrap();
    Message::from_vec(&buf).unwrap()
}

/// The A/AAAA addresses in a reply's answer section, as text.
pub fn addresses(reply: &Message) -> Vec<String> {
    reply
        .answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::A(a) => Some(a.0.to_string()),
            RData::AAAA(a) => Some(a.0.to_string()),
            _ => None,
        })
        .collect()
}

/// What the fake upstream answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UpstreamMode {
    /// A 192.0.2.77 for every name, over UDP and TCP.
    Answer,
    /// Over UDP: an empty answer with TC set; over TCP: the full answer.
    TruncateUdp,
    /// NXDOMAIN for every name.
    NxDomain,
}

/// A resolver standing in for the host's: UDP and TCP on one port,
/// counting the queries it gets.
pub struct FakeUpstream {
    pub addr: SocketAddr,
    pub udp_queries: Arc<AtomicUsize>,
    pub tcp_queries: Arc<AtomicUsize>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for FakeUpstream {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

pub const UPSTREAM_ANSWER: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 77);

fn upstream_reply(query: &[u8], mode: UpstreamMode, over_udp: bool) -> Vec<u8> {
    let query = Message::from_vec(query).unwrap();
    let mut reply = Message::new(query.metadata.id, MessageType::Response, OpCode::Query);
    reply.metadata.recursion_desired = query.metadata.recursion_desired;
    reply.metadata.recursion_available = true;
    reply.add_queries(query.queries.clone());
    match mode {
        UpstreamMode::NxDomain => reply.metadata.response_code = ResponseCode::NXDomain,
        UpstreamMode::TruncateUdp if over_udp => reply.metadata.truncation = true,
        _ => {
            let name = query.queries[0].name().clone();
            reply.add_answer(Record::from_rdata(name, 60, RData::A(A(UPSTREAM_ANSWER))));
        }
    }
    reply.to_vec().unwrap()
}

impl FakeUpstream {
    pub async fn start(mode: UpstreamMode) -> FakeUpstream {
        let (udp, tcp) = loop {
            let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            if let Ok(tcp) = TcpListener::bind(udp.local_addr().unwrap()).await {
                break (udp, tcp);
            }
        };
        let addr = udp.local_addr().unwrap();
        let udp_queries = Arc::new(AtomicUsize::new(0));
        let tcp_queries = Arc::new(AtomicUsize::new(0));
        let udp_count = Arc::clone(&udp_queries);
        let udp_task = tokio::spawn(async move {
            let mut buf = vec![0u8; 65535];
            while let Ok((len, from)) = udp.recv_from(&mut buf).await {
                udp_count.fetch_add(1, Ordering::SeqCst);
                let reply = upstream_reply(&buf[..len], mode, true);
                let _ = udp.send_to(&reply, from).await;
            }
        });
        let tcp_count = Arc::clone(&tcp_queries);
        let tcp_task = tokio::spawn(async move {
            while let Ok((mut stream, _)) = tcp.accept().await {
                let count = Arc::clone(&tcp_count);
                tokio::spawn(async move {
                    let mut len = [0u8; 2];
                    while stream.read_exact(&mut len).await.is_ok() {
                        let mut buf = vec![0u8; u16::from_be_bytes(len) as usize];
                        if stream.read_exact(&mut buf).await.is_err() {
                            return;
                        }
                        count.fetch_add(1, Ordering::SeqCst);
                        let reply = upstream_reply(&buf, mode, false);
                        let mut framed = (reply.len() as u16).to_be_bytes().to_vec();
                        framed.extend_from_slice(&reply);
                        if stream.write_all(&framed).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        FakeUpstream {
            addr,
            udp_queries,
            tcp_queries,
            tasks: vec![udp_task, tcp_task],
        }
    }

    pub fn queries(&self) -> usize {
        self.udp_queries.load(Ordering::SeqCst) + self.tcp_queries.load(Ordering::SeqCst)
    }
}
