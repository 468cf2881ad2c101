//! Status: what the data plane says, not what the store says.

use super::*;

#[test]
fn status_reads_the_data_plane() {
    let mut a = agent();
    a.add_network_pb(blue()).unwrap();
    let k1 = PrivateKey::generate().public_key().to_base64();
    a.add_peer_pb(peer_req(&k1, "10.42.2.0/24")).unwrap();
    let status = a.status(None).unwrap();
    let device = status[0].device.as_ref().unwrap();
    assert_eq!(device.as_ref().unwrap().peers[0].public_key.to_base64(), k1);
    a.dataplane().lock().networks.clear();
    let status = a.status(Some("blue")).unwrap();
    assert!(
        status[0].device.is_err(),
        "a missing interface shows as an error"
    );
    assert!(a.status(Some("nope")).is_err());
}
