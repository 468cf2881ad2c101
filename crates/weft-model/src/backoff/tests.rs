use super::*;

const S: fn(u64) -> Duration = Duration::from_secs;

#[test]
fn doubles_from_two_seconds_and_caps_at_sixty() {
    let b = Backoff::new(8, S(3600));
    let got: Vec<u64> = b.delays().map(|d| d.as_secs()).collect();
    assert_eq!(got, [2, 4, 8, 16, 32, 60, 60, 60]);
    assert_eq!(b.delay(1000), S(60), "no overflow far out");
}

#[test]
fn stops_after_the_retry_limit() {
    let b = Backoff::new(3, S(3600));
    assert_eq!(b.next(1, S(0)), Ok(S(2)));
    assert_eq!(b.next(3, S(14)), Ok(S(8)));
    assert_eq!(b.next(4, S(30)), Err(GiveUp::Retries(3)));
    assert_eq!(
        Backoff::new(0, S(10)).next(1, S(0)),
        Err(GiveUp::Retries(0))
    );
}

#[test]
fn stops_when_the_next_attempt_would_start_too_late() {
    let b = Backoff::new(10, S(20));
    assert_eq!(b.next(1, S(1)), Ok(S(2)));
    assert_eq!(b.next(3, S(11)), Ok(S(8)), "starts at 19 s, before 20 s");
    assert_eq!(
        b.next(3, S(12)),
        Err(GiveUp::Timeout(S(20))),
        "would start at 20 s"
    );
    let err = b.next(4, S(19)).unwrap_err().to_string();
    assert_eq!(err, "the overall timeout of 20 s would pass");
}

#[test]
fn seconds_read_well() {
    assert_eq!(secs(S(62)), "62 s");
    assert_eq!(secs(Duration::from_millis(2500)), "2.5 s");
}
