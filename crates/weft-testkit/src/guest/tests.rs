use super::*;

#[test]
fn results_are_found_anywhere_in_a_line() {
    let text = "\x1b[2J\x1b[01;01H@@weft-guest boot pass 6.1.0-56-cloud-amd64\r\n\
                    noise\n\
                    @@weft-guest ping:c1-c2 fail 100% packet loss\n\
                    @@weft-guest status data {\"a\": 1}\n\
                    @@weft-guest done pass\n";
    let results = parse_results(text);
    assert_eq!(results.len(), 4);
    assert_eq!(results[0].name, "boot");
    assert_eq!(results[0].detail, "6.1.0-56-cloud-amd64");
    assert_eq!(results[1].outcome, Outcome::Fail);
    assert_eq!(results[1].detail, "100% packet loss");
    assert_eq!(results[2].outcome, Outcome::Data);
    assert_eq!(results[2].detail, "{\"a\": 1}");
    assert_eq!(
        results[3],
        GuestResult {
            name: "done".into(),
            outcome: Outcome::Pass,
            detail: String::new()
        }
    );
}
