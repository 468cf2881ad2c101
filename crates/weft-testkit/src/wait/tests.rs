use super::*;

#[test]
fn returns_the_value_once_the_condition_holds() {
    let mut calls = 0;
    let got = wait_until("three calls", Duration::from_secs(5), || {
        calls += 1;
        (calls == 3).then_some(calls * 10)
    });
    assert_eq!(got, 30);
}

#[test]
#[should_panic(expected = "waiting for the impossible")]
fn panics_at_the_deadline_naming_what() {
    wait_for("the impossible", Duration::from_millis(120), || false);
}

#[test]
#[should_panic(expected = "waiting for seven; last seen: 3")]
fn the_last_value_is_named_at_the_deadline() {
    wait_for_value("seven", Duration::from_millis(120), || 3, |v| *v == 7);
}

#[test]
fn poll_until_gives_up_quietly() {
    let start = Instant::now();
    assert!(!poll_until(
        Duration::from_millis(60),
        Duration::from_millis(10),
        || false
    ));
    assert!(start.elapsed() >= Duration::from_millis(60));
    assert!(poll_until(
        Duration::ZERO,
        Duration::from_millis(10),
        || true
    ));
}
