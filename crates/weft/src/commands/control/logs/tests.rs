use super::*;

#[test]
fn times_print_as_utc() {
    assert_eq!(utc(0), "1970-01-01T00:00:00.000Z");
    assert_eq!(utc(1_765_137_961_123), "2025-12-07T20:06:01.123Z");
    assert_eq!(utc(951_782_400_000), "2000-02-29T00:00:00.000Z");
}

#[test]
fn a_record_prints_as_one_line_for_people() {
    let line = r#"{"seq":3,"time_ms":0,"level":"warn","target":"weft_agent::control","message":"disconnected"}"#;
    assert_eq!(
        human(line),
        "1970-01-01T00:00:00.000Z WARN  weft_agent::control: disconnected"
    );
    assert_eq!(human("not json"), "not json");
}
