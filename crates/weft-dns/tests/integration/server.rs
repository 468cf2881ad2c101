//! The responder over real sockets on 127.0.0.1: answers from the zone,
//! forwarding, TCP, stop/rebind.

use crate::common;

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use hickory_server::proto::op::{Message, ResponseCode};
use hickory_server::proto::rr::{RData, RecordType};
use tokio::net::TcpStream;
use weft_dns::{DnsHandle, DnsServer, Zone};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn any_port() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// blue's zone: two workloads (one dual-stack) and a host, from two sources.
fn blue_zone() -> Arc<Zone> {
    let zone = Zone::new("mesh.local").unwrap();
    zone.set_source(
        "local",
        BTreeMap::from([
            ("c1".to_string(), vec![ip("10.42.1.2")]),
            ("h1".to_string(), vec![ip("10.42.1.1")]),
        ]),
    )
    .unwrap();
    zone.set_source(
        "peer:h2",
        BTreeMap::from([("c2".to_string(), vec![ip("10.42.2.2"), ip("fd42::2:2")])]),
    )
    .unwrap();
    zone
}

async fn start(zone: Arc<Zone>, upstream: Option<Vec<SocketAddr>>) -> DnsHandle {
    DnsServer::start(any_port(), zone, upstream).await.unwrap()
}

fn assert_authoritative(reply: &Message, code: ResponseCode) {
    assert_eq!(reply.metadata.response_code, code);
    assert!(
        reply.metadata.authoritative,
        "answers from the zone are authoritative"
    );
}

#[tokio::test]
async fn answers_a_and_aaaa_for_names_of_every_source() {
    let server = start(blue_zone(), None).await;
    let addr = server.local_addr();

    let reply = udp(addr, "c1.mesh.local.", RecordType::A).await;
    assert_authoritative(&reply, ResponseCode::NoError);
    assert_eq!(addresses(&reply), ["10.42.1.2"]);
    assert_eq!(reply.answers[0].ttl, 5);

    let reply = udp(addr, "c2.mesh.local.", RecordType::A).await;
    assert_eq!(addresses(&reply), ["10.42.2.2"]);
    let reply = udp(addr, "c2.mesh.local.", RecordType::AAAA).await;
    assert_authoritative(&reply, ResponseCode::NoError);
    assert_eq!(addresses(&reply), ["fd42::2:2"]);
    let reply = udp(addr, "h1.mesh.local.", RecordType::A).await;
    assert_eq!(addresses(&reply), ["10.42.1.1"]);

    server.stop().await;
}

#[tokio::test]
async fn names_are_case_insensitive_and_the_asked_case_is_kept() {
    let server = start(blue_zone(), None).await;
    let reply = udp(server.local_addr(), "C1.Mesh.LOCAL.", RecordType::A).await;
    assert_eq!(addresses(&reply), ["10.42.1.2"]);
    // 0x20-style clients compare the case of the answer's name.
    assert_eq!(reply.answers[0].name.to_string(), "C1.Mesh.LOCAL.");
    server.stop().await;
}

#[tokio::test]
async fn unknown_names_are_nxdomain_and_missing_types_are_nodata() {
    let server = start(blue_zone(), None).await;
    let addr = server.local_addr();

    let reply = udp(addr, "nope.mesh.local.", RecordType::A).await;
    assert_authoritative(&reply, ResponseCode::NXDomain);
    assert!(reply.answers.is_empty());
    assert!(
        matches!(
            reply.authorities.first().map(|r| &r.data),
            Some(RData::SOA(_))
        ),
        "NXDOMAIN carries the SOA for negative caching: {reply:?}"
    );
    let reply = udp(addr, "x.c1.mesh.local.", RecordType::A).await;
    assert_authoritative(&reply, ResponseCode::NXDomain);

    // c1 has no IPv6 address; MX exists for nobody.
    for rtype in [RecordType::AAAA, RecordType::MX, RecordType::TXT] {
        let reply = udp(addr, "c1.mesh.local.", rtype).await;
        assert_authoritative(&reply, ResponseCode::NoError);
        assert!(reply.answers.is_empty(), "{rtype}: {reply:?}");
        assert!(matches!(
            reply.authorities.first().map(|r| &r.data),
            Some(RData::SOA(_))
        ));
    }

    // The apex exists: SOA answered, A is no data.
    let reply = udp(addr, "mesh.local.", RecordType::SOA).await;
    assert_authoritative(&reply, ResponseCode::NoError);
    assert!(matches!(
        reply.answers.first().map(|r| &r.data),
        Some(RData::SOA(_))
    ));
    let reply = udp(addr, "mesh.local.", RecordType::A).await;
    assert_authoritative(&reply, ResponseCode::NoError);
    assert!(reply.answers.is_empty());
    server.stop().await;
}

#[tokio::test]
async fn changes_to_the_zone_are_answered_at_once_and_sources_stay_apart() {
    let zone = blue_zone();
    let server = start(Arc::clone(&zone), None).await;
    let addr = server.local_addr();

    // peer:h2 now reports only c3: c2 goes, the local names stay.
    zone.set_source(
        "peer:h2",
        BTreeMap::from([("c3".to_string(), vec![ip("10.42.2.3")])]),
    )
    .unwrap();
    assert_eq!(
        addresses(&udp(addr, "c3.mesh.local.", RecordType::A).await),
        ["10.42.2.3"]
    );
    assert_eq!(
        udp(addr, "c2.mesh.local.", RecordType::A)
            .await
            .metadata
            .response_code,
        ResponseCode::NXDomain
    );
    assert_eq!(
        addresses(&udp(addr, "c1.mesh.local.", RecordType::A).await),
        ["10.42.1.2"]
    );
    assert_eq!(
        addresses(&udp(addr, "h1.mesh.local.", RecordType::A).await),
        ["10.42.1.1"]
    );

    zone.upsert("local", "c1", vec![ip("10.42.1.9")]).unwrap();
    assert_eq!(
        addresses(&udp(addr, "c1.mesh.local.", RecordType::A).await),
        ["10.42.1.9"]
    );
    zone.remove("local", "c1");
    assert_eq!(
        udp(addr, "c1.mesh.local.", RecordType::A)
            .await
            .metadata
            .response_code,
        ResponseCode::NXDomain
    );
    server.stop().await;
}

#[tokio::test]
async fn outside_names_are_forwarded_over_udp_and_tcp() {
    let upstream = FakeUpstream::start(UpstreamMode::Answer).await;
    let server = start(blue_zone(), Some(vec![upstream.addr])).await;
    let addr = server.local_addr();

    let reply = udp(addr, "example.com.", RecordType::A).await;
    assert_eq!(reply.metadata.response_code, ResponseCode::NoError);
    assert!(!reply.metadata.authoritative);
    assert!(reply.metadata.recursion_available);
    assert_eq!(addresses(&reply), [UPSTREAM_ANSWER.to_string()]);
    assert_eq!(upstream.queries(), 1);

    let reply = tcp(addr, "Example.Org.", RecordType::A).await;
    assert_eq!(addresses(&reply), [UPSTREAM_ANSWER.to_string()]);
    assert_eq!(reply.answers[0].name.to_string(), "Example.Org.");
    assert_eq!(upstream.queries(), 2);

    // Names of the zone never go upstream, even unknown ones.
    udp(addr, "c1.mesh.local.", RecordType::A).await;
    udp(addr, "nope.mesh.local.", RecordType::A).await;
    tcp(addr, "nope.mesh.local.", RecordType::AAAA).await;
    assert_eq!(upstream.queries(), 2);
    server.stop().await;
}

#[tokio::test]
async fn bare_single_labels_are_answered_like_their_domain_form_and_address_queries_never_forwarded()
 {
    let upstream = FakeUpstream::start(UpstreamMode::Answer).await;
    let server = start(blue_zone(), Some(vec![upstream.addr])).await;
    let addr = server.local_addr();

    let reply = udp(addr, "c1.", RecordType::A).await;
    assert_authoritative(&reply, ResponseCode::NoError);
    assert_eq!(addresses(&reply), ["10.42.1.2"]);
    assert_eq!(reply.answers[0].name.to_string(), "c1.");
    let reply = tcp(addr, "C2.", RecordType::AAAA).await;
    assert_authoritative(&reply, ResponseCode::NoError);
    assert_eq!(addresses(&reply), ["fd42::2:2"]);
    assert_eq!(reply.answers[0].name.to_string(), "C2.");
    // Known, but not of this type: no data, like c1.mesh.local.
    let reply = udp(addr, "c1.", RecordType::AAAA).await;
    assert_authoritative(&reply, ResponseCode::NoError);
    assert!(reply.answers.is_empty());

    // Unknown bare names are NXDOMAIN from here, over both transports.
    for reply in [
        udp(addr, "nope.", RecordType::A).await,
        tcp(addr, "nope.", RecordType::AAAA).await,
        udp(addr, "wpad.", RecordType::A).await,
    ] {
        assert_authoritative(&reply, ResponseCode::NXDomain);
        assert!(reply.answers.is_empty());
    }
    // ANY is an address query too.
    assert_authoritative(
        &udp(addr, "nope.", RecordType::ANY).await,
        ResponseCode::NXDomain,
    );
    // A known bare name is ours whatever the type: no data, not forwarded.
    assert_authoritative(
        &udp(addr, "c1.", RecordType::NS).await,
        ResponseCode::NoError,
    );
    assert_eq!(upstream.queries(), 0, "a bare address query went upstream");
    // Names with a dot still go upstream.
    let reply = udp(addr, "example.com.", RecordType::A).await;
    assert_eq!(addresses(&reply), [UPSTREAM_ANSWER.to_string()]);
    assert_eq!(upstream.queries(), 1);
    // Other types for unknown bare names are forwarded as before: the DS,
    // NS and SOA of a TLD a validating resolver asks for.
    for (n, qtype) in [RecordType::DS, RecordType::NS, RecordType::SOA]
        .into_iter()
        .enumerate()
    {
        let reply = udp(addr, "com.", qtype).await;
        assert!(
            !reply.metadata.authoritative,
            "{qtype} of com. answered here"
        );
        assert_eq!(upstream.queries(), 2 + n, "{qtype} of com. not forwarded");
    }
    server.stop().await;

    // An internal network answers them the same (not REFUSED).
    let server = start(blue_zone(), None).await;
    let addr = server.local_addr();
    assert_eq!(
        addresses(&udp(addr, "h1.", RecordType::A).await),
        ["10.42.1.1"]
    );
    assert_authoritative(
        &udp(addr, "nope.", RecordType::A).await,
        ResponseCode::NXDomain,
    );
    // ...and never forwards the other types: REFUSED, as for other names.
    assert_eq!(
        udp(addr, "com.", RecordType::DS)
            .await
            .metadata
            .response_code,
        ResponseCode::Refused
    );
    server.stop().await;
}

#[tokio::test]
async fn upstream_answers_are_relayed_as_given() {
    let upstream = FakeUpstream::start(UpstreamMode::NxDomain).await;
    let server = start(blue_zone(), Some(vec![upstream.addr])).await;
    let reply = udp(server.local_addr(), "no-such.example.", RecordType::A).await;
    assert_eq!(reply.metadata.response_code, ResponseCode::NXDomain);
    assert!(!reply.metadata.authoritative);
    server.stop().await;
}

#[tokio::test]
async fn a_truncated_upstream_answer_is_fetched_again_over_tcp() {
    let upstream = FakeUpstream::start(UpstreamMode::TruncateUdp).await;
    let server = start(blue_zone(), Some(vec![upstream.addr])).await;
    let reply = udp(server.local_addr(), "big.example.", RecordType::A).await;
    assert_eq!(addresses(&reply), [UPSTREAM_ANSWER.to_string()]);
    assert!(!reply.metadata.truncation);
    assert_eq!(
        upstream
            .udp_queries
            .load(std::sync::atomic::Ordering::SeqCst),
        1
    );
    assert_eq!(
        upstream
            .tcp_queries
            .load(std::sync::atomic::Ordering::SeqCst),
        1
    );
    server.stop().await;
}

#[tokio::test]
async fn the_next_upstream_is_tried_and_silence_is_servfail() {
    // A port where nobody answers: take one and free it.
    let dead = {
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        socket.local_addr().unwrap()
    };
    let upstream = FakeUpstream::start(UpstreamMode::Answer).await;
    let server = start(blue_zone(), Some(vec![dead, upstream.addr])).await;
    let reply = udp(server.local_addr(), "example.com.", RecordType::A).await;
    assert_eq!(addresses(&reply), [UPSTREAM_ANSWER.to_string()]);
    server.stop().await;

    let server = start(blue_zone(), Some(vec![dead])).await;
    let started = Instant::now();
    let reply = udp(server.local_addr(), "example.com.", RecordType::A).await;
    assert_eq!(reply.metadata.response_code, ResponseCode::ServFail);
    assert!(started.elapsed() < Duration::from_secs(3));
    server.stop().await;
}

#[tokio::test]
async fn internal_networks_never_forward() {
    let upstream = FakeUpstream::start(UpstreamMode::Answer).await;
    // No upstream given: the internal network's server.
    let server = start(blue_zone(), None).await;
    let addr = server.local_addr();
    for reply in [
        udp(addr, "example.com.", RecordType::A).await,
        tcp(addr, "example.com.", RecordType::A).await,
    ] {
        assert_eq!(reply.metadata.response_code, ResponseCode::Refused);
        assert!(reply.answers.is_empty());
        assert!(!reply.metadata.recursion_available);
    }
    // Its own names still answer, over both transports.
    assert_eq!(
        addresses(&tcp(addr, "c2.mesh.local.", RecordType::AAAA).await),
        ["fd42::2:2"]
    );
    assert_eq!(upstream.queries(), 0);
    server.stop().await;
}

#[tokio::test]
async fn the_server_never_forwards_to_itself() {
    // Bind a fixed free port, then name that very address as the upstream.
    let probe = DnsServer::start(any_port(), blue_zone(), None)
        .await
        .unwrap();
    let addr = probe.local_addr();
    probe.stop().await;
    let server = DnsServer::start(addr, blue_zone(), Some(vec![addr]))
        .await
        .unwrap();
    let started = Instant::now();
    let reply = udp(addr, "example.com.", RecordType::A).await;
    assert_eq!(reply.metadata.response_code, ResponseCode::ServFail);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "no loop, no wait"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_holding_tcp_open_delays_no_one() {
    let upstream = FakeUpstream::start(UpstreamMode::Answer).await;
    let server = start(blue_zone(), Some(vec![upstream.addr])).await;
    let addr = server.local_addr();

    // CVE-2024-8418: connect and send nothing (and a second one that sends
    // half a length prefix), then hold on.
    let idle = TcpStream::connect(addr).await.unwrap();
    let mut half = TcpStream::connect(addr).await.unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut half, &[0])
        .await
        .unwrap();

    let started = Instant::now();
    let mut queries = tokio::task::JoinSet::new();
    for i in 0..50 {
        queries.spawn(async move {
            let (name, expected) = if i % 2 == 0 {
                ("c1.mesh.local.", "10.42.1.2".to_string())
            } else {
                ("example.com.", UPSTREAM_ANSWER.to_string())
            };
            let reply = if i % 4 < 2 {
                udp(addr, name, RecordType::A).await
            } else {
                tcp(addr, name, RecordType::A).await
            };
            assert_eq!(addresses(&reply), [expected]);
        });
    }
    while let Some(done) = queries.join_next().await {
        done.unwrap();
    }
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(2),
        "50 queries took {took:?} while a client held TCP open"
    );
    drop((idle, half));
    server.stop().await;
}

#[tokio::test]
async fn one_tcp_connection_carries_several_queries() {
    let server = start(blue_zone(), None).await;
    let mut stream = TcpStream::connect(server.local_addr()).await.unwrap();
    for (name, expected) in [
        ("c1.mesh.local.", "10.42.1.2"),
        ("h1.mesh.local.", "10.42.1.1"),
    ] {
        let reply = tcp_exchange(&mut stream, &query_bytes(name, RecordType::A, 7)).await;
        assert_eq!(addresses(&reply), [expected]);
    }
    server.stop().await;
}

#[tokio::test]
async fn stop_releases_both_sockets_for_an_immediate_rebind() {
    let server = start(blue_zone(), None).await;
    let addr = server.local_addr();
    // An open TCP connection at stop time must not keep the port.
    let mut held = TcpStream::connect(addr).await.unwrap();
    tcp_exchange(&mut held, &query_bytes("c1.mesh.local.", RecordType::A, 1)).await;
    server.stop().await;

    // Nothing answers any more.
    assert!(
        udp_raw(addr, &query_bytes("c1.mesh.local.", RecordType::A, 2))
            .await
            .is_none()
    );
    assert!(
        std::net::UdpSocket::bind(addr).is_ok(),
        "udp port still taken"
    );

    let again = DnsServer::start(addr, blue_zone(), None)
        .await
        .expect("rebind right after stop");
    assert_eq!(again.local_addr(), addr);
    assert_eq!(
        addresses(&udp(addr, "c1.mesh.local.", RecordType::A).await),
        ["10.42.1.2"]
    );
    assert_eq!(
        addresses(&tcp(addr, "c1.mesh.local.", RecordType::A).await),
        ["10.42.1.2"]
    );
    again.stop().await;
}

#[tokio::test]
async fn binding_a_busy_or_missing_address_is_an_error_naming_it() {
    let server = start(blue_zone(), None).await;
    let err = DnsServer::start(server.local_addr(), blue_zone(), None)
        .await
        .unwrap_err();
    // What and where; the OS error is the source, not repeated.
    assert_eq!(err.to_string(), format!("bind udp {}", server.local_addr()));
    let source = std::error::Error::source(&err).expect("the OS error");
    assert!(source.to_string().contains("in use"), "{source}");
    server.stop().await;

    // 192.0.2.1 (TEST-NET-1) is on no interface here.
    let missing: SocketAddr = "192.0.2.1:0".parse().unwrap();
    let err = DnsServer::start(missing, blue_zone(), None)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("192.0.2.1"), "{err}");
    let options = weft_dns::DnsOptions {
        freebind: true,
        ..Default::default()
    };
    let freebound = DnsServer::start_with(missing, blue_zone(), None, options)
        .await
        .expect("freebind binds an address that is not there yet");
    freebound.stop().await;
}

#[tokio::test]
async fn edns_queries_get_edns_answers_and_large_answers_are_truncated_for_udp() {
    let zone = Zone::new("mesh.local").unwrap();
    // 100 addresses: over 512 bytes, and over 1232.
    let many: Vec<IpAddr> = (0..100u8).map(|i| ip(&format!("10.42.3.{i}"))).collect();
    zone.upsert("local", "many", many).unwrap();
    let server = start(zone, None).await;
    let addr = server.local_addr();

    let plain = udp_raw(addr, &query_bytes("many.mesh.local.", RecordType::A, 3))
        .await
        .unwrap();
    assert!(plain.len() <= 512);
    assert!(Message::from_vec(&plain).unwrap().metadata.truncation);

    // With EDNS the client's larger buffer is used, up to 1232 bytes.
    let with_edns = udp_raw(
        addr,
        &query_bytes_edns("many.mesh.local.", RecordType::A, 4),
    )
    .await
    .unwrap();
    let reply = Message::from_vec(&with_edns).unwrap();
    assert!(
        with_edns.len() > 512 && with_edns.len() <= 1232,
        "{}",
        with_edns.len()
    );
    assert!(reply.metadata.truncation);
    let small = udp_raw(addr, &query_bytes_edns("mesh.local.", RecordType::SOA, 5))
        .await
        .unwrap();
    let reply = Message::from_vec(&small).unwrap();
    assert_eq!(
        reply.edns.map(|e| e.max_payload()),
        Some(1232),
        "an EDNS query gets an OPT record back"
    );

    let reply = tcp(addr, "many.mesh.local.", RecordType::A).await;
    assert_eq!(addresses(&reply).len(), 100);
    assert!(!reply.metadata.truncation);
    server.stop().await;
}
