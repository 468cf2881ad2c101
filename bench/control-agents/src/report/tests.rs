use super::*;

#[test]
fn repetitions_are_pooled_before_the_percentiles() {
    let ms = Duration::from_millis;
    // Two repetitions, each sorted, appended: not sorted as a whole.
    let mut o = Outcome::default();
    o.latencies.extend((1..=50).map(|i| ms(100 + i)));
    o.latencies.extend((1..=50).map(ms));
    o.bytes = vec![10, 30, 20, 40];
    o.cpu = vec![Duration::from_secs(1), Duration::from_secs(3)];
    let line = row("port", o, 3 << 20);
    assert_eq!(line, "row\tport\t50.0\t149.0\t150.0\t25\t40\t2.00\t3");
    let missing = Outcome {
        latencies: vec![ms(5); 9],
        missing: 1,
        ..Default::default()
    };
    assert_eq!(
        row("enroll", missing, 0),
        "row\tenroll\t5.0\ttimeout\ttimeout\t0\t0\t0.00\t0"
    );
}
