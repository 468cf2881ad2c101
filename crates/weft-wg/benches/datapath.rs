//! The per-packet work of the userspace data plane, to catch regressions:
//! - encrypt: pad an IP packet and seal it in an established session (what
//!   the TUN path does per packet);
//! - decrypt: parse a datagram and open it (what the UDP path does);
//! - segment a 64 KiB TCP super-packet from the TUN, and coalesce the
//!   decrypted segments back into one;
//! - the Internet checksum over a full-size segment.
//!
//! `cargo bench -p weft-wg --bench datapath`; throughput is in bytes of
//! IP packet per second.

use std::hint::black_box;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::BytesMut;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use gotatun::noise::index_table::IndexTable;
use gotatun::noise::rate_limiter::RateLimiter;
use gotatun::noise::{Tunn, TunnResult};
use gotatun::packet::{Packet, WgKind};
use gotatun::x25519;
use weft_wg::PrivateKey;
use weft_wg::userspace::offload::checksum::Sum;
use weft_wg::userspace::offload::gro::Coalescer;
use weft_wg::userspace::offload::{GSO_TCPV4, VIRTIO_NET_HDR_F_NEEDS_CSUM, VnetHdr, gso};

const MTU: usize = 1420;
/// TCP payload per segment at MTU 1420 with timestamps.
const MSS: usize = MTU - 20 - 32;

fn tunn(own: &PrivateKey, peer: &PrivateKey) -> Tunn {
    let secret = x25519::StaticSecret::from(*own.as_bytes());
    let public = x25519::PublicKey::from(&secret);
    Tunn::new(
        secret,
        x25519::PublicKey::from(peer.public_key().0),
        None,
        None,
        IndexTable::from_os_rng(),
        Arc::new(RateLimiter::new(&public, 100)),
    )
}

/// Two tunnels with a completed handshake: (initiator, responder).
fn session() -> (Tunn, Tunn) {
    let (ka, kb) = (PrivateKey::generate(), PrivateKey::generate());
    let (mut a, mut b) = (tunn(&ka, &kb), tunn(&kb, &ka));
    let init = a.format_handshake_initiation(false).expect("initiation");
    let TunnResult::WriteToNetwork(resp) = b.handle_incoming_packet(WgKind::HandshakeInit(init))
    else {
        panic!("no handshake response");
    };
    let TunnResult::WriteToNetwork(keepalive) = a.handle_incoming_packet(resp) else {
        panic!("no keepalive");
    };
    assert!(matches!(
        b.handle_incoming_packet(keepalive),
        TunnResult::WriteToTunnel(_)
    ));
    (a, b)
}

/// An IPv4/TCP packet with `payload` bytes (checksums do not matter here).
fn tcp_packet(payload: usize) -> Vec<u8> {
    let total = 20 + 32 + payload;
    let mut p = vec![0u8; total];
    p[0] = 0x45;
    p[2..4].copy_from_slice(&(total as u16).to_be_bytes());
    p[8] = 64;
    p[9] = 6;
    p[12..16].copy_from_slice(&[10, 0, 0, 1]);
    p[16..20].copy_from_slice(&[10, 0, 0, 2]);
    p[32] = 8 << 4; // data offset: 32 bytes
    p[33] = 0x10; // ACK
    p
}

fn pad(packet: &mut BytesMut) {
    let len = packet.len();
    packet.resize(len.next_multiple_of(16).min(MTU).max(len), 0);
}

fn encrypt_decrypt(c: &mut Criterion) {
    let (mut a, mut b) = session();
    let source: SocketAddr = "192.0.2.1:51820".parse().unwrap();
    let limiter = RateLimiter::new(&x25519::PublicKey::from([9; 32]), 100);
    for size in [64, 512, MTU] {
        let template = tcp_packet(size - 52);
        let mut group = c.benchmark_group("datapath");
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_function(format!("encrypt/{size}"), |bench| {
            bench.iter(|| {
                let mut packet = BytesMut::with_capacity(size + 16);
                packet.extend_from_slice(&template);
                pad(&mut packet);
                let sealed = a.encapsulate_with_session(Packet::from_bytes(packet));
                black_box(sealed.expect("session"));
            })
        });
        group.bench_function(format!("decrypt/{size}"), |bench| {
            bench.iter_batched(
                || {
                    let mut packet = BytesMut::from(&template[..]);
                    pad(&mut packet);
                    let sealed = a.encapsulate_with_session(Packet::from_bytes(packet));
                    BytesMut::from(&Packet::<[u8]>::from(sealed.expect("session"))[..])
                },
                |datagram| {
                    let parsed = limiter
                        .verify_packet(source, Packet::from_bytes(datagram))
                        .expect("a data packet");
                    let TunnResult::WriteToTunnel(inner) = b.handle_incoming_packet(parsed) else {
                        panic!("not decrypted");
                    };
                    black_box(inner);
                },
                BatchSize::SmallInput,
            )
        });
        group.finish();
    }
}

fn offloads(c: &mut Criterion) {
    let segments = 65000 / MSS;
    let super_packet = tcp_packet(segments * MSS);
    let hdr = VnetHdr {
        flags: VIRTIO_NET_HDR_F_NEEDS_CSUM,
        gso_type: GSO_TCPV4,
        hdr_len: 52,
        gso_size: MSS as u16,
        csum_start: 20,
        csum_offset: 16,
    };
    let mut group = c.benchmark_group("offload");
    group.throughput(Throughput::Bytes(super_packet.len() as u64));
    let mut out = vec![0u8; 2 * super_packet.len()];
    group.bench_function("segment 64KiB TCP", |bench| {
        let mut packet = super_packet.clone();
        bench.iter(|| {
            let mut at = 0;
            gso::split(&hdr, &mut packet, &mut |h, p| {
                out[at..at + h.len()].copy_from_slice(h);
                out[at + h.len()..at + h.len() + p.len()].copy_from_slice(p);
                at += h.len() + p.len();
            })
            .unwrap();
            black_box(&out);
        })
    });

    let mut cut = Vec::new();
    let mut raw = super_packet.clone();
    gso::split(&hdr, &mut raw, &mut |h, p| {
        let mut v = h.to_vec();
        v.extend_from_slice(p);
        cut.push(v);
    })
    .unwrap();
    let mut coalescer = Coalescer::new(false);
    group.bench_function("coalesce 64KiB TCP", |bench| {
        bench.iter_batched_ref(
            || cut.clone(),
            |packets| {
                coalescer.plan(packets);
                let group = coalescer.groups()[0];
                black_box(coalescer.finish(&group, &mut packets[group.head]));
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();

    let mut group = c.benchmark_group("checksum");
    let data = vec![0xa5u8; MTU];
    group.throughput(Throughput::Bytes(MTU as u64));
    group.bench_function("1420 bytes", |bench| {
        bench.iter(|| black_box(Sum::default().add_bytes(black_box(&data)).finish()))
    });
    group.finish();
}

criterion_group!(benches, encrypt_decrypt, offloads);
criterion_main!(benches);
