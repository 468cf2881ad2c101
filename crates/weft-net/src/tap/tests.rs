use super::*;

#[test]
fn flags_are_what_hypervisors_open_with() {
    let single = TapOptions::default().flags();
    assert_eq!(single, libc::IFF_TAP | libc::IFF_NO_PI | libc::IFF_VNET_HDR);
    assert_eq!(single & libc::IFF_MULTI_QUEUE, 0);
    let multi = TapOptions { multi_queue: true }.flags();
    assert_eq!(multi, single | libc::IFF_MULTI_QUEUE);
}

#[test]
fn bad_names_are_refused_before_the_kernel() {
    for name in ["", "a-name-that-is-too-long", "a/b"] {
        let err = create_tap(name, TapOptions::default()).unwrap_err();
        assert!(
            err.to_string().contains("not a valid interface name"),
            "{name:?}: {err}"
        );
    }
}
