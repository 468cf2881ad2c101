use super::*;

#[test]
fn a_peer_giving_a_local_name_does_not_make_it_ambiguous() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let services = NetworkServices::new(rt.handle().clone(), vec![]);
    let zone = services.zone("blue", "mesh.local").unwrap();
    let ip = |s: &str| -> IpAddr { s.parse().unwrap() };
    let one = |name: &str, addr: &str| Records::from([(name.to_owned(), vec![ip(addr)])]);
    services
        .set_records("blue", LOCAL_SOURCE, one("web", "10.42.1.2"))
        .unwrap();
    // A host that joins later and calls itself `web`.
    services
        .set_records("blue", "peer:k2", one("web", "10.42.2.1"))
        .unwrap();
    assert_eq!(zone.lookup("web"), Some(vec![ip("10.42.1.2")]));
}

#[test]
fn probe_messages_round_trip_and_an_answer_is_no_larger_than_the_ask() {
    for m in [
        ProbeMessage::Ask { nonce: 7 },
        ProbeMessage::Answer {
            nonce: 7,
            digest: u64::MAX,
        },
        ProbeMessage::Changed,
    ] {
        let bytes = m.encode();
        assert_eq!(bytes.len(), PROBE_LEN);
        assert_eq!(ProbeMessage::parse(&bytes), Some(m));
    }
}

#[test]
fn anything_but_one_well_formed_probe_message_is_ignored() {
    let ask = ProbeMessage::Ask { nonce: 1 }.encode();
    // Short, long, wrong magic, unknown kind, stray bytes in the padding.
    assert_eq!(ProbeMessage::parse(&ask[..PROBE_LEN - 1]), None);
    let mut long = ask.to_vec();
    long.push(0);
    assert_eq!(ProbeMessage::parse(&long), None);
    let mut bad = ask;
    bad[0] ^= 1;
    assert_eq!(ProbeMessage::parse(&bad), None);
    let mut bad = ask;
    bad[8] = 9;
    assert_eq!(ProbeMessage::parse(&bad), None);
    let mut bad = ask;
    bad[12] = 1;
    assert_eq!(ProbeMessage::parse(&bad), None);
}

#[test]
fn the_digest_follows_the_names() {
    let mut records = Records::new();
    let empty = records_digest(&records);
    records.insert("web".into(), vec!["10.42.1.2".parse().unwrap()]);
    let one = records_digest(&records);
    assert_ne!(empty, one);
    assert_eq!(one, records_digest(&records.clone()));
}
