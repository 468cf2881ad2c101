use super::*;

fn answer(kind: u16, body: &[u8]) -> Vec<u8> {
    let mut message = Vec::new();
    let len = (NLMSG_HDRLEN + body.len()) as u32;
    message.extend_from_slice(&len.to_ne_bytes());
    message.extend_from_slice(&kind.to_ne_bytes());
    message.extend_from_slice(&0u16.to_ne_bytes());
    message.extend_from_slice(&1u32.to_ne_bytes());
    message.extend_from_slice(&0u32.to_ne_bytes());
    message.extend_from_slice(body);
    message
}

fn attr(kind: u16, value: &[u8]) -> Vec<u8> {
    let mut attr = Vec::new();
    attr.extend_from_slice(&((4 + value.len()) as u16).to_ne_bytes());
    attr.extend_from_slice(&kind.to_ne_bytes());
    attr.extend_from_slice(value);
    while attr.len() % 4 != 0 {
        attr.push(0);
    }
    attr
}

#[test]
fn request_is_a_getgen_to_the_kernel() {
    let r = request(7);
    assert_eq!(u32::from_ne_bytes(r[0..4].try_into().unwrap()), 20);
    assert_eq!(u16::from_ne_bytes(r[4..6].try_into().unwrap()), 0x0a10);
    assert_eq!(u16::from_ne_bytes(r[6..8].try_into().unwrap()), 1);
    assert_eq!(u32::from_ne_bytes(r[8..12].try_into().unwrap()), 7);
    assert_eq!(r[12..], [0; 8]);
}

#[test]
fn reads_the_generation_after_other_attributes() {
    let mut body = vec![0u8; 4];
    body.extend(attr(3, b"nft\0\0")); // NFTA_GEN_PROC_NAME, padded
    body.extend(attr(NFTA_GEN_ID, &4242u32.to_be_bytes()));
    assert_eq!(parse_reply(&answer(0x0a0f, &body)).unwrap(), 4242);
}

#[test]
fn errors_and_nonsense_are_errors() {
    let mut body = (-1i32).to_ne_bytes().to_vec();
    body.extend_from_slice(&request(1)[..16]);
    let err = parse_reply(&answer(NLMSG_ERROR, &body)).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(1), "EPERM");
    assert!(parse_reply(&[1, 2, 3]).is_err());
    assert!(
        parse_reply(&answer(0x0a0f, &[0; 4])).is_err(),
        "no attribute"
    );
    assert!(parse_reply(&answer(0x0a03, &[0; 4])).is_err(), "not NEWGEN");
    let mut short = answer(0x0a0f, &[0; 4]);
    short[0] = 200;
    assert!(parse_reply(&short).is_err(), "length beyond the datagram");
}
