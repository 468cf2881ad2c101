use super::*;
use weft_model::PrivateKey;

#[test]
fn a_peer_is_weft_once_its_probe_answered() {
    let book = HealthBook::default();
    let settings = HealthSettings::default();
    let fresh = Some(Duration::from_secs(3));
    let peer = PrivateKey::generate().public_key();
    assert_eq!(book.probe("blue", peer), Probe::Pending);
    // Never answered (wireguard-go): judged by the handshake alone.
    book.record("blue", peer, false);
    book.record("blue", peer, false);
    assert_eq!(book.probe("blue", peer), Probe::NotApplicable);
    assert_eq!(
        peer_health(fresh, book.probe("blue", peer), &settings),
        Health::Healthy
    );
    // Answered once: a weft peer, and a failure from then on counts.
    book.record("blue", peer, true);
    assert_eq!(book.probe("blue", peer), Probe::Ok);
    book.record("blue", peer, false);
    assert_eq!(book.probe("blue", peer), Probe::Failed);
    assert_eq!(
        peer_health(fresh, book.probe("blue", peer), &settings),
        Health::Unhealthy
    );
    // Per network.
    assert_eq!(book.probe("red", peer), Probe::Pending);
}

#[test]
fn a_vtep_is_as_healthy_as_its_probe() {
    let book = HealthBook::default();
    let vtep = PeerRef::Vtep("192.0.2.2".parse().unwrap());
    assert_eq!(vtep_health(book.probe("red", vtep)), Health::Disconnected);
    book.record("red", vtep, false);
    assert_eq!(vtep_health(book.probe("red", vtep)), Health::Unhealthy);
    book.record("red", vtep, true);
    assert_eq!(vtep_health(book.probe("red", vtep)), Health::Healthy);
    book.record("red", vtep, false);
    assert_eq!(vtep_health(book.probe("red", vtep)), Health::Unhealthy);
    book.retain(&[]);
    assert_eq!(book.probe("red", vtep), Probe::Pending);
}
