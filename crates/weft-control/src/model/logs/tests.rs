use super::*;

#[test]
fn levels_parse_and_order_by_severity() {
    assert_eq!(LogLevel::parse("level", "warn").unwrap(), LogLevel::Warn);
    let err = LogLevel::parse("level", "loud").unwrap_err().to_string();
    assert!(err.contains("level") && err.contains("debug"), "{err}");
    assert!(LogLevel::Error < LogLevel::Info);
    for l in LogLevel::ALL {
        assert_eq!(LogLevel::from_number(l.number()), Some(l));
    }
    assert_eq!(LogLevel::from_number(9), None);
}

#[test]
fn records_from_agents_are_cut_and_redacted() {
    let token = format!("wet_0123456789ab_{}", "e".repeat(64));
    let r = NewLogRecord::from_agent(5, "info", "weft_agent", &format!("token {token}")).unwrap();
    assert_eq!(r.message, "token wet_0123456789ab_…");
    let long = "x".repeat(MAX_MESSAGE + 10);
    let r = NewLogRecord::from_agent(5, "info", "t", &long).unwrap();
    assert_eq!(r.message.chars().count(), MAX_MESSAGE + 1);
    let err = NewLogRecord::from_agent(5, "LOUD", "t", "m").unwrap_err();
    assert!(err.to_string().contains("records.level"), "{err}");
}

#[test]
fn a_query_matches_by_cursor_time_and_level() {
    let r = |seq, time_ms, level| LogRecord {
        seq,
        time_ms,
        level,
        target: "t".into(),
        message: "m".into(),
    };
    let q = LogQuery {
        after: 1,
        since_ms: Some(100),
        level: LogLevel::Info,
        limit: 10,
    };
    assert!(q.matches(&r(2, 100, LogLevel::Warn)));
    assert!(!q.matches(&r(1, 100, LogLevel::Warn)), "at the cursor");
    assert!(!q.matches(&r(2, 99, LogLevel::Warn)), "too old");
    assert!(!q.matches(&r(2, 100, LogLevel::Debug)), "too chatty");
}
