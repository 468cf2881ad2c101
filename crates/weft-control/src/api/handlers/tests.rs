use super::*;

#[test]
fn hosts_are_online_while_they_report() {
    assert_eq!(host_state(None, 100), "never");
    assert_eq!(host_state(Some(100), 100 + ONLINE_WITHIN_SECS), "online");
    assert_eq!(host_state(Some(100), 101 + ONLINE_WITHIN_SECS), "offline");
}
