use super::*;

fn peer(id: &str) -> pb::DesiredPeer {
    pb::DesiredPeer {
        host_id: id.into(),
        public_key: format!("key-{id}"),
        allowed_ips: vec!["10.42.1.0/24".into()],
        ..Default::default()
    }
}

#[test]
fn the_bytes_decode_as_the_message() {
    let msg = pb::DesiredState {
        revision: 7,
        snapshot: true,
        networks: vec![pb::DesiredNetwork {
            name: "blue".into(),
            ..Default::default()
        }],
        removed: vec!["red".into()],
        patches: vec![],
        more: false,
    };
    let encoded = EncodedDesiredState::encode(&msg);
    let framed = prost::Message::encode_to_vec(&encoded);
    assert_eq!(framed, prost::Message::encode_to_vec(&msg));
    let back: pb::DesiredState = prost::Message::decode(framed.as_slice()).unwrap();
    assert_eq!(back, msg);
}

fn decode_all(msgs: &[EncodedDesiredState]) -> Vec<pb::DesiredState> {
    msgs.iter()
        .map(|m| prost::Message::decode(m.to_bytes()).unwrap())
        .collect()
}

#[test]
fn pieces_put_together_decode_as_the_whole_and_stay_shared() {
    let peers = vec![peer("a"), peer("b")];
    let list = PeerList::encode(&peers);
    let patch = pb::NetworkPatch {
        network: "red".into(),
        peers: vec![peer("c")],
        removed_peers: vec!["d".into()],
    };
    let encoded_patch = EncodedPatch::encode(&patch);
    let settings = |block: &str| pb::DesiredNetwork {
        name: "blue".into(),
        subnet: "10.42.0.0/16".into(),
        block: block.into(),
        internal: true,
        domain: "mesh.local".into(),
        peers: vec![],
        // A VXLAN network's settings travel the same way.
        mode: "vxlan".into(),
        vni: 10_000,
        mtu: 1370,
        over: "wg-blue".into(),
        // And this host's VMs' NICs there.
        vm_nics: vec![pb::DesiredVmNic {
            vm: "web".into(),
            ip: "10.42.1.9".into(),
            index: 1,
            run: None,
        }],
    };
    let mut built = EncodedStateBuilder::new(9, false);
    built
        .network(&settings("10.42.0.0/24"), &list)
        .removed("green")
        .patch(&encoded_patch);
    let built = built.finish();
    assert_eq!(built.len(), 1, "small: one message");
    let want = pb::DesiredState {
        revision: 9,
        snapshot: false,
        networks: vec![pb::DesiredNetwork {
            peers: peers.clone(),
            ..settings("10.42.0.0/24")
        }],
        removed: vec!["green".into()],
        patches: vec![patch],
        more: false,
    };
    assert_eq!(decode_all(&built), std::slice::from_ref(&want));
    assert_eq!(built[0].len(), want.encoded_len());
    // The peer list and the patch are the very buffers given.
    let shares = |b: &Bytes| built[0].chunks().iter().any(|c| c.as_ptr() == b.as_ptr());
    assert!(shares(&list.pieces[0]) && shares(&encoded_patch.pieces[0]));
    // Another host's copy of the network shares the same peer list.
    let mut other = EncodedStateBuilder::new(9, true);
    other.network(&settings("10.42.1.0/24"), &list);
    let other = other.finish();
    assert!(
        other[0]
            .chunks()
            .iter()
            .any(|c| c.as_ptr() == list.pieces[0].as_ptr())
    );
    let back = &decode_all(&other)[0];
    assert_eq!(back.networks[0].peers, peers);
    assert_eq!(back.networks[0].block, "10.42.1.0/24");
}

#[test]
fn a_large_state_goes_in_bounded_messages_that_add_up_to_it() {
    let peers: Vec<pb::DesiredPeer> = (0..3000).map(|i| peer(&format!("{i:016x}"))).collect();
    let list = PeerList::encode(&peers);
    assert_eq!(list.pieces.len(), 3000usize.div_ceil(PEERS_PER_PIECE));
    let big_patch = pb::NetworkPatch {
        network: "blue".into(),
        peers: peers[..1000].to_vec(),
        removed_peers: (0..2000).map(|i| format!("gone{i}")).collect(),
    };
    let patch = EncodedPatch::encode(&big_patch);
    let settings = pb::DesiredNetwork {
        name: "blue".into(),
        block: "10.42.0.0/24".into(),
        ..Default::default()
    };
    let mut built = EncodedStateBuilder::new(4, true);
    built.network(&settings, &list).patch(&patch);
    let built = built.finish();
    let msgs = decode_all(&built);
    assert!(msgs.len() > 3, "{}", msgs.len());
    for (i, (msg, bytes)) in msgs.iter().zip(&built).enumerate() {
        assert!(bytes.len() <= MESSAGE_TARGET + 1024, "{i}: {}", bytes.len());
        assert_eq!(msg.more, i + 1 < msgs.len(), "{i}");
        assert_eq!(msg.revision, 4);
        assert_eq!(msg.snapshot, i == 0, "{i}");
    }
    // Applied in order (a patch upserts by host id): the whole.
    let mut net = msgs[0].networks[0].clone();
    let mut removed = Vec::new();
    for msg in &msgs {
        for p in msg.patches.iter().filter(|p| p.network == "blue") {
            net.peers.extend(p.peers.iter().cloned());
            removed.extend(p.removed_peers.iter().cloned());
        }
    }
    assert_eq!(net.peers.len(), 4000);
    assert_eq!(removed.len(), 2000);
    let mut ids: Vec<_> = net.peers.iter().map(|p| p.host_id.clone()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 3000);
}
