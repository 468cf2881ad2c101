use super::*;
use crate::userspace::io::is_shutdown;

#[test]
fn loopback_v4_through_a_dual_stack_socket() {
    let binder = HostUdp::for_current_netns().unwrap();
    let a = binder.bind(0, 0).unwrap();
    let b = binder.bind(0, 0).unwrap();
    assert_ne!(a.local_port(), 0);
    assert!(binder.bind(a.local_port(), 0).is_err(), "port in use");
    let to_b = SocketAddr::from(([127, 0, 0, 1], b.local_port()));
    a.send_to(b"ping", to_b).unwrap();
    // A run of equal datagrams (one GSO send) and a shorter last one.
    let sent: Vec<Vec<u8>> = (0..7u8)
        .map(|i| vec![i; if i == 6 { 300 } else { 1000 }])
        .collect();
    let slices: Vec<&[u8]> = sent.iter().map(|p| &p[..]).collect();
    a.send_batch(&slices, to_b).unwrap();

    let mut got = Vec::new();
    let mut batch = RecvBatch::new(1 << 20, 0);
    while got.len() < 8 {
        batch.clear();
        b.wait_readable().unwrap();
        b.recv_batch(&mut batch).unwrap();
        for (packet, from) in batch.drain() {
            assert_eq!(
                from,
                SocketAddr::from(([127, 0, 0, 1], a.local_port())),
                "plain IPv4"
            );
            got.push(packet.to_vec());
        }
    }
    assert_eq!(got[0], b"ping");
    assert_eq!(got[1..], sent[..], "every datagram, whole and in order");
    assert_eq!(
        a.counters().udp_gso_sends,
        1,
        "the run went as one GSO send"
    );

    let reader = {
        let b = Arc::clone(&b);
        std::thread::spawn(move || b.wait_readable())
    };
    std::thread::sleep(Duration::from_millis(20));
    b.shutdown();
    assert!(is_shutdown(&reader.join().unwrap().unwrap_err()));
}
