use super::*;

#[test]
fn messages_name_the_interface_and_the_os_error() {
    let err = WgError::Tun {
        ifname: "wg0".into(),
        source: io::Error::from_raw_os_error(libc::EBUSY),
    };
    // The message says what and where; the OS error is the source, once.
    assert_eq!(err.to_string(), "create TUN wg0");
    let source = std::error::Error::source(&err).expect("source kept");
    assert_eq!(source.to_string(), "Device or resource busy (os error 16)");
    assert_eq!(err.errno(), libc::EBUSY);
}

#[test]
fn interface_names_are_checked_like_the_kernel() {
    assert!(check_ifname("wg0").is_ok());
    assert!(check_ifname("weft-123456789a").is_ok());
    assert!(check_ifname("weft-123456789ab").is_err(), "16 bytes");
    assert!(check_ifname("").is_err());
    assert!(check_ifname("a/b").is_err());
    assert!(check_ifname("a b").is_err());
}
