use std::error::Error as _;

use super::*;

fn os_error(errno: i32) -> NetError {
    NetError::os(
        "create veth a (peer b)",
        io::Error::from_raw_os_error(errno),
    )
}

#[test]
fn classifies_errnos() {
    assert!(os_error(libc::EEXIST).is_exists());
    assert!(!os_error(libc::EEXIST).is_not_found());
    for errno in [libc::ENODEV, libc::ENOENT, libc::ESRCH] {
        assert!(os_error(errno).is_not_found(), "errno {errno}");
    }
    assert!(os_error(libc::EOPNOTSUPP).is_not_supported());
    assert!(!os_error(libc::EPERM).is_not_supported());
    assert_eq!(os_error(libc::EPERM).errno(), Some(libc::EPERM));
}

#[test]
fn unknown_link_kind_message_counts_as_not_supported() {
    let err = NetError::Os {
        op: "create wireguard wg0".into(),
        ext_ack: Some("Unknown device type".into()),
        source: io::Error::from_raw_os_error(libc::EINVAL),
    };
    assert!(err.is_not_supported());
    assert_eq!(
        err.to_string(),
        "create wireguard wg0 (kernel says: Unknown device type)"
    );
}

#[test]
fn invalid_has_no_errno_and_classifies_as_nothing() {
    let err = NetError::invalid("open netns /tmp/x", "not a network namespace");
    assert_eq!(err.errno(), None);
    assert!(!err.is_exists() && !err.is_not_found() && !err.is_not_supported());
    assert_eq!(
        err.to_string(),
        "open netns /tmp/x: not a network namespace"
    );
}

#[test]
fn display_names_the_operation_and_source_keeps_the_errno() {
    let err = os_error(libc::EEXIST);
    assert_eq!(err.to_string(), "create veth a (peer b)");
    let source = err.source().expect("source kept");
    assert!(source.to_string().contains("os error 17"), "{source}");
}
