use super::*;

#[test]
fn flooding_entries_are_permanent_self_entries_with_a_zero_mac() {
    let m = fdb_message(7, FLOOD_MAC, "192.0.2.2".parse().unwrap());
    assert_eq!(m.header.family, AddressFamily::Bridge);
    assert_eq!(m.header.ifindex, 7);
    assert_eq!(m.header.state, NeighbourState::Permanent);
    assert_eq!(m.header.flags, NeighbourFlags::Own);
    assert!(
        m.attributes
            .contains(&NeighbourAttribute::LinkLayerAddress(vec![0; 6]))
    );
}

#[test]
fn dumped_entries_read_raw_destinations() {
    let mut m = NeighbourMessage::default();
    m.attributes
        .push(NeighbourAttribute::LinkLayerAddress(vec![0; 6]));
    m.attributes
        .push(NeighbourAttribute::Destination(NeighbourAddress::Other(
            vec![192, 0, 2, 3],
        )));
    assert_eq!(
        fdb_entry(m),
        Some(FdbEntry {
            mac: FLOOD_MAC,
            dst: "192.0.2.3".parse().unwrap()
        })
    );
    // No destination: a local entry, not one of ours.
    let mut local = NeighbourMessage::default();
    local
        .attributes
        .push(NeighbourAttribute::LinkLayerAddress(vec![2, 0, 0, 0, 0, 1]));
    assert_eq!(fdb_entry(local), None);
}
