//! Traffic through a tunnel between two test namespaces, checked end to
//! end: TCP streams compared by SHA-256, and UDP datagrams of every size
//! compared byte for byte.

use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use ring::digest::{Context, SHA256};
use weft_testkit::netns::spawn_in;

/// What a TCP transfer saw at both ends.
#[derive(Debug)]
pub struct Transfer {
    pub sent: u64,
    pub received: u64,
    pub sent_sha256: Vec<u8>,
    pub received_sha256: Vec<u8>,
    pub elapsed: Duration,
}

impl Transfer {
    #[track_caller]
    pub fn assert_intact(&self) {
        assert_eq!(self.received, self.sent, "{self:?}");
        assert_eq!(self.received_sha256, self.sent_sha256, "checksums differ");
    }

    pub fn gbit_per_s(&self) -> f64 {
        self.received as f64 * 8.0 / self.elapsed.as_secs_f64() / 1e9
    }
}

const CHUNK: usize = 1 << 20;

/// One MiB of random bytes; each chunk sent is this with its number in the
/// first 8 bytes, so lost, repeated or reordered chunks change the digest.
fn pattern() -> Vec<u8> {
    let mut block = vec![0u8; CHUNK];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut block).unwrap();
    block
}

/// Send `bytes` over one TCP connection from namespace `from` to
/// `to_addr:port` (an address in namespace `to`), hashing both ends.
pub fn tcp_transfer(from: &Path, to: &Path, to_addr: IpAddr, port: u16, bytes: u64) -> Transfer {
    let (ready_tx, ready_rx) = mpsc::channel();
    let receiver = spawn_in(to, move || {
        let listener = TcpListener::bind(SocketAddr::new(to_addr, port)).expect("listen");
        ready_tx.send(()).unwrap();
        let (mut stream, _) = listener.accept().expect("accept");
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let mut digest = Context::new(&SHA256);
        let mut buf = vec![0u8; CHUNK];
        let mut received = 0u64;
        loop {
            match stream.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    digest.update(&buf[..n]);
                    received += n as u64;
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => panic!("receive after {received} bytes: {e}"),
            }
        }
        (received, digest.finish().as_ref().to_vec())
    });
    ready_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("receiver listening");
    let sender = spawn_in(from, move || {
        let block = pattern();
        let mut stream =
            TcpStream::connect_timeout(&SocketAddr::new(to_addr, port), Duration::from_secs(10))
                .expect("connect");
        let mut digest = Context::new(&SHA256);
        let mut chunk = block.clone();
        let mut sent = 0u64;
        let mut index = 0u64;
        while sent < bytes {
            let len = (bytes - sent).min(CHUNK as u64) as usize;
            chunk[..8].copy_from_slice(&index.to_le_bytes());
            stream.write_all(&chunk[..len]).expect("send");
            digest.update(&chunk[..len]);
            sent += len as u64;
            index += 1;
        }
        stream.shutdown(std::net::Shutdown::Write).unwrap();
        (sent, digest.finish().as_ref().to_vec())
    });
    let start = Instant::now();
    let (sent, sent_sha256) = sender.join().expect("sender");
    let (received, received_sha256) = receiver.join().expect("receiver");
    Transfer {
        sent,
        received,
        sent_sha256,
        received_sha256,
        elapsed: start.elapsed(),
    }
}

/// Send one UDP datagram of each size from `from` to `to_addr:port` (in
/// `to`), one at a time, each answered before the next; returns the sizes
/// that did not arrive whole and unchanged.
pub fn udp_sizes(
    from: &Path,
    to: &Path,
    to_addr: IpAddr,
    port: u16,
    sizes: Vec<usize>,
) -> Vec<usize> {
    let (ready_tx, ready_rx) = mpsc::channel();
    let count = sizes.len();
    let receiver = spawn_in(to, move || {
        let socket = UdpSocket::bind(SocketAddr::new(to_addr, port)).expect("bind");
        socket
            .set_read_timeout(Some(Duration::from_secs(2)))
            .unwrap();
        ready_tx.send(()).unwrap();
        let mut buf = vec![0u8; 70_000];
        let mut got = Vec::new();
        for _ in 0..count {
            match socket.recv_from(&mut buf) {
                Ok((n, from)) => {
                    // Echo the length back so the sender can go on.
                    got.push(buf[..n].to_vec());
                    socket.send_to(&(n as u32).to_be_bytes(), from).unwrap();
                }
                Err(_) => break,
            }
        }
        got
    });
    ready_rx.recv().unwrap();
    let sender = spawn_in(from, move || {
        let local = if to_addr.is_ipv4() {
            "0.0.0.0:0"
        } else {
            "[::]:0"
        };
        let socket = UdpSocket::bind(local).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_secs(2)))
            .unwrap();
        let mut failed = Vec::new();
        let mut ack = [0u8; 4];
        for size in sizes {
            let datagram = datagram(size);
            socket
                .send_to(&datagram, SocketAddr::new(to_addr, port))
                .unwrap_or_else(|e| panic!("send {size} bytes: {e}"));
            match socket.recv(&mut ack) {
                Ok(4) if u32::from_be_bytes(ack) as usize == size => {}
                _ => failed.push(size),
            }
        }
        failed
    });
    let mut failed = sender.join().expect("sender");
    let received = receiver.join().expect("receiver");
    for payload in received {
        if payload != datagram(payload.len()) {
            failed.push(payload.len());
        }
    }
    failed
}

/// Recognisable content for a datagram of `size` bytes.
fn datagram(size: usize) -> Vec<u8> {
    (0..size)
        .map(|i| (i as u8).wrapping_mul(7) ^ (size as u8))
        .collect()
}
