use super::*;

fn host(id: &str) -> Host {
    Host {
        id: HostId::parse("host", id).unwrap(),
        tenant: TenantId::parse("tenant", "00000000000000aa").unwrap(),
        name: "h".into(),
        created_at: 0,
        revoked_at: None,
        endpoint: None,
        version: None,
        last_seen: None,
        peer_health: Default::default(),
        peer_links: vec![],
        site: None,
    }
}

fn record(message: &str) -> pb::LogRecord {
    pb::LogRecord {
        time_ms: 7,
        level: "info".into(),
        target: "weft_agent".into(),
        message: message.into(),
    }
}

#[test]
fn a_batch_is_checked_redacted_and_its_drops_recorded() {
    let key = "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=";
    let batch = pb::LogBatch {
        records: vec![record(&format!("made key {key}"))],
        dropped: 42,
    };
    let got = parse_batch(batch, 99).unwrap();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].time_ms, 99);
    assert!(got[0].message.contains("dropped 42 log records"), "{got:?}");
    assert_eq!(got[1].message, "made key [base64]");

    let bad = pb::LogBatch {
        records: vec![pb::LogRecord {
            level: "shout".into(),
            ..record("x")
        }],
        dropped: 0,
    };
    let err = parse_batch(bad, 0).unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert!(err.message().contains("records.level"), "{err:?}");
    let big = pb::LogBatch {
        records: vec![record("x"); MAX_BATCH + 1],
        dropped: 0,
    };
    assert!(
        parse_batch(big, 0)
            .unwrap_err()
            .message()
            .contains("records")
    );
}

#[test]
fn the_sink_holds_at_most_keep_records_per_host_the_newest() {
    let sink = LogSink::new(3);
    let (a, b) = (host("000000000000000a"), host("000000000000000b"));
    for i in 0..5 {
        let r = NewLogRecord::from_agent(i, "info", "t", &format!("a{i}")).unwrap();
        sink.push(&a, vec![r]);
    }
    sink.push(
        &b,
        vec![NewLogRecord::from_agent(0, "warn", "t", "b0").unwrap()],
    );
    let mut taken = sink.take();
    taken.sort_by(|x, y| x.host.cmp(&y.host));
    let messages: Vec<&str> = taken[0]
        .records
        .iter()
        .map(|r| r.message.as_str())
        .collect();
    assert_eq!(messages, ["a2", "a3", "a4"]);
    assert_eq!(taken[1].records.len(), 1);
    assert!(sink.take().is_empty(), "taken means gone");
}
