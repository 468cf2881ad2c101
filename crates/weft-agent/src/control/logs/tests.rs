use super::*;
use tracing_subscriber::layer::SubscriberExt as _;

fn record(message: &str) -> pb::LogRecord {
    pb::LogRecord {
        time_ms: 1,
        level: "info".into(),
        target: "weft_agent".into(),
        message: message.into(),
    }
}

#[test]
fn a_full_buffer_drops_the_oldest_and_counts_them() {
    let buffer = LogBuffer::new(3, MAX_BYTES);
    for i in 0..5 {
        buffer.push(record(&format!("r{i}")));
    }
    assert_eq!(buffer.held().0, 3);
    assert_eq!(buffer.dropped_counter().load(Ordering::Relaxed), 2);
    let batch = buffer.take_batch().unwrap();
    let messages: Vec<&str> = batch.records.iter().map(|r| r.message.as_str()).collect();
    assert_eq!(messages, ["r2", "r3", "r4"]);
    assert_eq!(batch.dropped, 2);
    assert_eq!(buffer.held(), (0, 0));
    assert!(buffer.take_batch().is_none(), "nothing to say");
    // Drops alone are worth a batch; the count restarts after it.
    buffer.push(record("a"));
    buffer.push(record("b"));
    buffer.push(record("c"));
    buffer.push(record("d"));
    assert_eq!(buffer.take_batch().unwrap().dropped, 1);
    assert_eq!(buffer.take_batch().map(|b| b.dropped), None);
    assert_eq!(buffer.dropped_counter().load(Ordering::Relaxed), 3);
}

#[test]
fn the_buffer_is_bounded_in_bytes_too() {
    let buffer = LogBuffer::new(1_000_000, 10_000);
    for _ in 0..1000 {
        buffer.push(record(&"x".repeat(1000)));
    }
    let (records, bytes) = buffer.held();
    assert!(bytes <= 10_000, "{bytes}");
    assert_eq!(records, 10_000 / (1000 + 4 + 9 + RECORD_OVERHEAD));
    // A batch is at most BATCH_RECORDS.
    let big = LogBuffer::new(10_000, MAX_BYTES);
    for i in 0..1000 {
        big.push(record(&i.to_string()));
    }
    assert_eq!(big.take_batch().unwrap().records.len(), BATCH_RECORDS);
}

#[test]
fn events_become_redacted_records_of_weft_only_at_the_level_asked() {
    let buffer = Arc::new(LogBuffer::new(100, MAX_BYTES));
    let subscriber =
        tracing_subscriber::registry().with(layer(Arc::clone(&buffer), tracing::Level::INFO));
    let token = format!("wet_0123456789ab_{}", "c".repeat(64));
    let key = "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=";
    tracing::subscriber::with_default(subscriber, || {
        tracing::info!(target: "weft_agent::control", host = "h2", "hello {}", 7);
        tracing::info!(target: "weft_agent::control", private_key = key, enroll_token = %token, "secrets by name");
        tracing::warn!(target: "weft_agent::control", "pasted {token} and {key}");
        tracing::debug!(target: "weft_agent::control", "too chatty");
        tracing::error!(target: "h2::proto", "not weft's");
    });
    let batch = buffer.take_batch().unwrap();
    let messages: Vec<&str> = batch.records.iter().map(|r| r.message.as_str()).collect();
    assert_eq!(
        messages,
        [
            "hello 7 host=h2",
            "secrets by name private_key=[redacted] enroll_token=[redacted]",
            "pasted wet_0123456789ab_… and [base64]",
        ]
    );
    assert_eq!(batch.records[2].level, "warn");
    assert_eq!(batch.records[0].target, "weft_agent::control");
    assert!(batch.records[0].time_ms > 1_700_000_000_000);
}
