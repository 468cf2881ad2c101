use super::*;

#[test]
fn vnet_header_round_trips() {
    let hdr = VnetHdr {
        flags: VIRTIO_NET_HDR_F_NEEDS_CSUM,
        gso_type: GSO_TCPV4 | GSO_ECN,
        hdr_len: 52,
        gso_size: 1368,
        csum_start: 20,
        csum_offset: 16,
    };
    assert_eq!(VnetHdr::decode(&hdr.encode()), Some(hdr));
    assert_eq!(VnetHdr::decode(&[0; 9]), None);
}

#[test]
fn completes_a_partial_checksum() {
    let mut packet = testing::tcp4(1000, testing::TcpOpts::default(), &[7u8; 333]);
    let valid = packet.clone();
    // What the kernel hands over: the pseudo-header sum, not complemented.
    let header = IpHeader::parse(&packet).unwrap();
    let (src, dst) = header.addresses(&packet);
    let partial = checksum::pseudo_header(src, dst, IPPROTO_TCP, packet.len() - 20).fold();
    packet[36..38].copy_from_slice(&partial.to_be_bytes());
    let hdr = VnetHdr {
        flags: VIRTIO_NET_HDR_F_NEEDS_CSUM,
        csum_start: 20,
        csum_offset: 16,
        ..Default::default()
    };
    assert!(complete_checksum(&hdr, &mut packet));
    assert_eq!(packet, valid);
    let bad = VnetHdr {
        csum_start: 2000,
        ..hdr
    };
    assert!(!complete_checksum(&bad, &mut packet));
}
