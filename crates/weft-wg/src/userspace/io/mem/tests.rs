use super::*;
use crate::userspace::io::is_shutdown;

#[test]
fn sockets_reach_each_other_and_shut_down() {
    let net = MemNetwork::new();
    let a = net.host("192.0.2.1".parse().unwrap()).bind(0, 0).unwrap();
    let b = net
        .host("192.0.2.2".parse().unwrap())
        .bind(51820, 0)
        .unwrap();
    assert_ne!(a.local_port(), 0);
    assert!(
        net.host("192.0.2.2".parse().unwrap())
            .bind(51820, 0)
            .is_err(),
        "port taken"
    );
    a.send_to(b"hi", "192.0.2.2:51820".parse().unwrap())
        .unwrap();
    a.send_batch(&[b"one", b"two"], "192.0.2.2:51820".parse().unwrap())
        .unwrap();
    let mut batch = RecvBatch::new(4096, 0);
    b.wait_readable().unwrap();
    b.recv_batch(&mut batch).unwrap();
    let from = SocketAddr::new("192.0.2.1".parse().unwrap(), a.local_port());
    let got: Vec<(&[u8], SocketAddr)> = batch.packets().iter().map(|(p, s)| (&p[..], *s)).collect();
    assert_eq!(got, [(&b"hi"[..], from), (b"one", from), (b"two", from)]);

    let b2 = Arc::clone(&b);
    let reader = std::thread::spawn(move || b2.wait_readable());
    std::thread::sleep(Duration::from_millis(20));
    b.shutdown();
    assert!(is_shutdown(&reader.join().unwrap().unwrap_err()));
}
