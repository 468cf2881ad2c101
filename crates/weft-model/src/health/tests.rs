use super::*;

const T: Duration = DEFAULT_DEGRADED_AFTER;
const S: fn(u64) -> Duration = Duration::from_secs;

#[test]
fn every_state_and_its_boundaries() {
    let cases = [
        (None, None, Health::Disconnected),
        (None, Some(true), Health::Disconnected),
        (None, Some(false), Health::Disconnected),
        (Some(S(0)), Some(true), Health::Healthy),
        (Some(S(0)), None, Health::Healthy),
        (Some(S(180)), Some(true), Health::Healthy),
        (
            Some(S(180) + Duration::from_millis(1)),
            Some(true),
            Health::Degraded,
        ),
        (Some(S(181)), None, Health::Degraded),
        (Some(S(3600)), Some(true), Health::Degraded),
        (Some(S(5)), Some(false), Health::Unhealthy),
        (Some(S(500)), Some(false), Health::Unhealthy),
    ];
    for (age, probe, want) in cases {
        assert_eq!(health(age, probe, T), want, "age {age:?}, probe {probe:?}");
    }
}

#[test]
fn a_peer_the_probe_never_answered_is_judged_by_its_handshake() {
    assert_eq!(Probe::from_results(true, true), Probe::Ok);
    assert_eq!(Probe::from_results(false, true), Probe::Failed);
    assert_eq!(Probe::from_results(false, false), Probe::NotApplicable);
    let na = Probe::NotApplicable.verdict();
    assert_eq!(health(Some(S(5)), na, T), Health::Healthy);
    assert_eq!(health(Some(S(500)), na, T), Health::Degraded);
    assert_eq!(health(None, na, T), Health::Disconnected);
    // A weft peer that stopped answering is still unhealthy.
    assert_eq!(
        health(Some(S(5)), Probe::Failed.verdict(), T),
        Health::Unhealthy
    );
    for (probe, word) in [
        (Probe::Pending, ""),
        (Probe::Ok, "ok"),
        (Probe::Failed, "failed"),
        (Probe::NotApplicable, "n/a"),
    ] {
        assert_eq!(probe.as_str(), word);
    }
}

#[test]
fn the_threshold_is_configurable() {
    assert_eq!(health(Some(S(31)), Some(true), S(30)), Health::Degraded);
    assert_eq!(health(Some(S(30)), Some(true), S(30)), Health::Healthy);
}

#[test]
fn shown_and_serialized_as_lowercase_words() {
    for (h, word) in [
        (Health::Healthy, "healthy"),
        (Health::Degraded, "degraded"),
        (Health::Unhealthy, "unhealthy"),
        (Health::Disconnected, "disconnected"),
    ] {
        assert_eq!(h.to_string(), word);
        assert_eq!(serde_json::to_string(&h).unwrap(), format!("\"{word}\""));
        let back: Health = serde_json::from_str(&format!("\"{word}\"")).unwrap();
        assert_eq!(back, h);
    }
}
