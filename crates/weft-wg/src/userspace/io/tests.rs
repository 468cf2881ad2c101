use super::*;

#[test]
fn shutdown_errors_are_recognised() {
    assert!(is_shutdown(&shutdown_error()));
    assert!(!is_shutdown(&io::Error::from(
        io::ErrorKind::ConnectionAborted
    )));
    assert!(!is_shutdown(&io::Error::from_raw_os_error(libc::EAGAIN)));
}

#[test]
fn reads_ip_addresses() {
    let mut v4 = [0u8; 20];
    v4[0] = 0x45;
    v4[12..16].copy_from_slice(&[10, 0, 0, 1]);
    v4[16..20].copy_from_slice(&[10, 0, 0, 2]);
    let (src, dst) = ip_addresses(&v4).unwrap();
    assert_eq!(
        (src.to_string(), dst.to_string()),
        ("10.0.0.1".into(), "10.0.0.2".into())
    );
    assert!(ip_addresses(&v4[..19]).is_none());

    let mut v6 = [0u8; 40];
    v6[0] = 0x60;
    v6[23] = 1;
    v6[39] = 2;
    let (src, dst) = ip_addresses(&v6).unwrap();
    assert_eq!(
        (src.to_string(), dst.to_string()),
        ("::1".into(), "::2".into())
    );
    assert!(ip_addresses(&[0x10; 40]).is_none());
}

#[test]
fn reads_ip_packet_lengths() {
    let mut v4 = [0u8; 32];
    v4[0] = 0x45;
    v4[3] = 28;
    assert_eq!(ip_packet_len(&v4), Some(28), "padding after the packet");
    v4[3] = 33;
    assert_eq!(ip_packet_len(&v4), None, "claims more than there is");
    let mut v6 = [0u8; 48];
    v6[0] = 0x60;
    v6[5] = 8;
    assert_eq!(ip_packet_len(&v6), Some(48));
}
