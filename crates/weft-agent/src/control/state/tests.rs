use super::*;

#[test]
fn a_state_keeps_its_time_until_it_changes() {
    let s = ControlState::new("https://cp:1");
    s.set("connected", None);
    let since = s.get().since;
    s.set("connected", None);
    assert_eq!(s.get().since, since);
    s.set("disconnected", Some("refused".into()));
    let got = s.get();
    assert_eq!(
        (got.state.as_str(), got.error.as_str(), got.url.as_str()),
        ("disconnected", "refused", "https://cp:1")
    );
}
