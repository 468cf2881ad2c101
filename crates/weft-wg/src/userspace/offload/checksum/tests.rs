use super::*;

/// The obvious 16-bit-word version, to check the fast one against.
fn reference(data: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for pair in data.chunks(2) {
        let word = u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)]);
        sum += u32::from(word);
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

#[test]
fn matches_the_word_by_word_sum_for_every_length_and_alignment() {
    let data: Vec<u8> = (0..600u32).map(|i| (i * 7919 % 251) as u8).collect();
    for start in 0..8 {
        for len in 0..300 {
            let slice = &data[start..start + len];
            assert_eq!(
                Sum::default().add_bytes(slice).finish(),
                reference(slice),
                "start {start} len {len}"
            );
        }
    }
    let ones = vec![0xffu8; 70_000];
    assert_eq!(Sum::default().add_bytes(&ones).finish(), reference(&ones));
}

#[test]
fn known_ipv4_header() {
    // RFC 1071-style example: a real header whose checksum is 0xb861.
    let mut header = [
        0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8, 0x00,
        0x01, 0xc0, 0xa8, 0x00, 0xc7,
    ];
    assert_eq!(ipv4_header(&header), 0xb861);
    header[10..12].copy_from_slice(&0xb861u16.to_be_bytes());
    assert_eq!(
        Sum::default().add_bytes(&header).finish(),
        0,
        "verifies to zero"
    );
}

#[test]
fn sums_can_be_split_at_even_offsets() {
    let data: Vec<u8> = (0..999u32).map(|i| (i * 31) as u8).collect();
    let whole = Sum::default().add_bytes(&data).fold();
    let split = Sum::default()
        .add_bytes(&data[..402])
        .add_bytes(&data[402..])
        .fold();
    assert_eq!(whole, split);
}
