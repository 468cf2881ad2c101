use super::*;

fn list(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[test]
fn without_a_list_the_configured_address_is_all_and_failures_back_off() {
    let mut r = Replicas::new("cp:1".into(), vec![]);
    assert_eq!(r.current(), "cp:1");
    assert!(r.learned().is_empty());
    for round in 1..4 {
        let retry = r.failed();
        assert_eq!(retry.next, "cp:1");
        assert_eq!(retry.round, Some(round));
    }
    r.connected();
    assert_eq!(r.failed().round, Some(1), "counted from the connection");
}

#[test]
fn a_failure_moves_to_the_next_replica_then_backs_off_after_a_round() {
    let mut r = Replicas::new("cp:1".into(), vec![]);
    assert!(r.learn(list(&["cp:1", "cp2:1", "cp3:1"])));
    assert!(!r.learn(list(&["cp:1", "cp2:1", "cp3:1"])), "no change");
    assert_eq!(r.current(), "cp:1");
    let first = r.failed();
    assert_eq!((first.next.as_str(), first.round), ("cp2:1", None));
    assert!(first.wait() < Duration::from_secs(1));
    assert_eq!(r.failed().next, "cp3:1");
    // All three failed in a row: a round, backed off.
    let third = r.failed();
    assert_eq!((third.next.as_str(), third.round), ("cp:1", Some(1)));
    assert!(third.wait() >= Duration::from_millis(1600));
    r.connected();
    assert_eq!(r.failed().round, None);
}

#[test]
fn a_new_list_keeps_the_current_replica_and_the_configured_address() {
    let mut r = Replicas::new("lb:1".into(), list(&["a:1", "b:1"]));
    assert_eq!(r.current(), "a:1");
    r.failed();
    assert_eq!(r.current(), "b:1");
    // b is still in the list (elsewhere): stay on it.
    r.learn(list(&["c:1", "b:1"]));
    assert_eq!(r.current(), "b:1");
    assert_eq!(r.learned(), list(&["c:1", "b:1"]));
    // --control's address is tried after the learned ones.
    assert_eq!(r.failed().next, "lb:1");
    assert_eq!(r.failed().next, "c:1");
    // The current one gone from the list: start at its head.
    r.learn(list(&["d:1"]));
    assert_eq!(r.current(), "d:1");
    assert_eq!(r.learned(), list(&["d:1"]));
    // A list naming --control's address keeps it where it is.
    let r = Replicas::new("b:1".into(), list(&["a:1", "b:1"]));
    assert_eq!(r.learned(), list(&["a:1", "b:1"]));
    let r = Replicas::new("b:1".into(), list(&["b:1"]));
    assert_eq!(r.learned(), list(&["b:1"]));
}

#[test]
fn addresses_split_into_host_and_port() {
    assert_eq!(split("cp.example:50051"), Some(("cp.example", 50051)));
    assert_eq!(split("[2001:db8::1]:9"), Some(("2001:db8::1", 9)));
    for bad in ["cp", ":1", "cp:0", "cp:x"] {
        assert_eq!(split(bad), None, "{bad}");
    }
}
