use super::*;

#[test]
fn underlays_read_back_as_written() {
    for underlay in [
        Underlay::Routed,
        Underlay::Local("192.0.2.1".parse().unwrap()),
        Underlay::Local("fd00::1".parse().unwrap()),
        Underlay::Device("u0".into()),
        Underlay::Over("blue".into()),
    ] {
        let text = underlay_text(&underlay);
        assert_eq!(underlay_from_text(&text).unwrap(), underlay, "{text}");
    }
    assert!(underlay_from_text("sideways").is_err());
}
