//! Fuzz-style: arbitrary and mutated packets never panic the answer logic,
//! every answer is a well-formed DNS message for the same ID, and a live
//! server fed garbage keeps answering. Seeded, so a failure reproduces.

use crate::common;

use std::net::SocketAddr;
use std::sync::Arc;

use common::*;
use hickory_server::proto::op::{Message, MessageType};
use hickory_server::proto::rr::RecordType;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use weft_dns::fuzzing::answer_packet;
use weft_dns::{DnsServer, Zone};

fn zone() -> Arc<Zone> {
    zone_with("c1", &["10.42.1.2", "fd42::2"])
}

fn src() -> SocketAddr {
    "10.42.1.2:5353".parse().unwrap()
}

/// Valid queries of many shapes, the seeds that mutations start from.
fn seeds() -> Vec<Vec<u8>> {
    let mut seeds = Vec::new();
    for name in [
        "c1.mesh.local.",
        "nope.mesh.local.",
        "mesh.local.",
        "example.com.",
        ".",
    ] {
        for rtype in [
            RecordType::A,
            RecordType::AAAA,
            RecordType::ANY,
            RecordType::SOA,
            RecordType::MX,
        ] {
            seeds.push(query_bytes(name, rtype, 0x1234));
            seeds.push(query_bytes_edns(name, rtype, 0x4321));
        }
    }
    seeds
}

/// Checks an answer: decodes, is a response, keeps the query's ID.
fn check_answer(query: &[u8], answer: &[u8]) {
    let reply = Message::from_vec(answer)
        .unwrap_or_else(|e| panic!("answer to {query:02x?} does not decode: {e}"));
    assert_eq!(reply.metadata.message_type, MessageType::Response);
    assert_eq!(
        &answer[..2],
        &query[..2],
        "answer ID differs from the query's"
    );
}

#[tokio::test]
async fn random_bytes_never_panic() {
    let zone = zone();
    let mut rng = StdRng::seed_from_u64(0x5eed_0001);
    for _ in 0..20_000 {
        let len = rng.random_range(0..600);
        let packet: Vec<u8> = (0..len).map(|_| rng.random()).collect();
        if let Some(answer) = answer_packet(&zone, &packet, src()).await {
            check_answer(&packet, &answer);
        }
    }
}

#[tokio::test]
async fn mutated_queries_never_panic_and_answer_well_formed() {
    let zone = zone();
    let seeds = seeds();
    let mut rng = StdRng::seed_from_u64(0x5eed_0002);
    let mut answered = 0;
    for round in 0..30_000 {
        let mut packet = seeds[round % seeds.len()].clone();
        for _ in 0..rng.random_range(1..6) {
            match rng.random_range(0..4) {
                // Flip a byte (header flags, counts, label lengths, types…).
                0 | 1 => {
                    let i = rng.random_range(0..packet.len());
                    packet[i] = rng.random();
                }
                // Truncate.
                2 => packet.truncate(rng.random_range(0..=packet.len())),
                // Append junk.
                _ => packet.extend((0..rng.random_range(1..40)).map(|_| rng.random::<u8>())),
            }
            if packet.is_empty() {
                break;
            }
        }
        if let Some(answer) = answer_packet(&zone, &packet, src()).await {
            check_answer(&packet, &answer);
            answered += 1;
        }
    }
    // The mutations must leave many packets decodable, or this tests nothing
    // beyond the decoder.
    assert!(
        answered > 3_000,
        "only {answered} mutated packets reached the responder"
    );
}

#[tokio::test]
async fn a_live_server_fed_garbage_keeps_answering() {
    let server = DnsServer::start("127.0.0.1:0".parse().unwrap(), zone(), None)
        .await
        .unwrap();
    let addr = server.local_addr();
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut rng = StdRng::seed_from_u64(0x5eed_0003);
    for _ in 0..2_000 {
        let len = rng.random_range(0..300);
        let packet: Vec<u8> = (0..len).map(|_| rng.random()).collect();
        socket.send_to(&packet, addr).await.unwrap();
    }
    // Garbage over TCP too: a length prefix and random bytes, then close.
    for _ in 0..50 {
        use tokio::io::AsyncWriteExt;
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let body: Vec<u8> = (0..rng.random_range(0..100))
            .map(|_| rng.random())
            .collect();
        let _ = stream.write_all(&(body.len() as u16).to_be_bytes()).await;
        let _ = stream.write_all(&body).await;
    }
    assert_eq!(
        addresses(&udp(addr, "c1.mesh.local.", RecordType::A).await),
        ["10.42.1.2"]
    );
    assert_eq!(
        addresses(&tcp(addr, "c1.mesh.local.", RecordType::AAAA).await),
        ["fd42::2"]
    );
    server.stop().await;
}
