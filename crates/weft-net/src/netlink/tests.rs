use super::*;

#[test]
fn extracts_ext_ack_text_from_capped_error() {
    // Echoed 16-byte request header, then NLMSGERR_ATTR_MSG "bad\0".
    let mut payload = vec![0u8; 16];
    payload.extend_from_slice(&8u16.to_ne_bytes());
    payload.extend_from_slice(&NLMSGERR_ATTR_MSG.to_ne_bytes());
    payload.extend_from_slice(b"bad\0");
    assert_eq!(
        ext_ack_message(NLM_F_ACK_TLVS | NLM_F_CAPPED, &payload).as_deref(),
        Some("bad")
    );
    assert_eq!(ext_ack_message(NLM_F_CAPPED, &payload), None);
}
