use super::*;

const PROMETHEUS_ACCEPT: &str = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

#[test]
fn openmetrics_only_when_asked_for_and_preferred() {
    for (accept, want) in [
        (None, Format::Prometheus),
        (Some(""), Format::Prometheus),
        (Some("*/*"), Format::Prometheus),
        (Some("text/plain"), Format::Prometheus),
        (Some("text/plain;version=0.0.4"), Format::Prometheus),
        (Some("application/json"), Format::Prometheus),
        (Some(PROMETHEUS_ACCEPT), Format::OpenMetrics),
        (Some("application/openmetrics-text"), Format::OpenMetrics),
        (
            Some("Application/OpenMetrics-Text; Q=0.9"),
            Format::OpenMetrics,
        ),
        (
            Some("text/plain, application/openmetrics-text"),
            Format::OpenMetrics,
        ),
        (
            Some("application/openmetrics-text;q=0.2, text/plain"),
            Format::Prometheus,
        ),
        (Some("application/openmetrics-text;q=0"), Format::Prometheus),
        (Some("application/openmetrics-text;q=2"), Format::Prometheus),
        (
            Some("application/openmetrics-text;q=junk"),
            Format::Prometheus,
        ),
        (Some("application/openmetrics-textual"), Format::Prometheus),
    ] {
        assert_eq!(negotiate(accept), want, "Accept: {accept:?}");
    }
}

#[test]
fn counters_are_named_with_total_and_openmetrics_markers_go() {
    let openmetrics = "\
# HELP weft_peer_rx_bytes Bytes received from the peer.
# TYPE weft_peer_rx_bytes counter
weft_peer_rx_bytes_total{network=\"blue\",peer=\"k\"} 7
# HELP weft_peer_handshake_age_seconds Seconds since the latest handshake.
# TYPE weft_peer_handshake_age_seconds gauge
# UNIT weft_peer_handshake_age_seconds seconds
weft_peer_handshake_age_seconds{network=\"blue\",peer=\"k\"} 1.5
# HELP weft_mystery Something.
# TYPE weft_mystery unknown
weft_mystery 1
# EOF
";
    assert_eq!(
        to_prometheus_text(openmetrics),
        "\
# HELP weft_peer_rx_bytes_total Bytes received from the peer.
# TYPE weft_peer_rx_bytes_total counter
weft_peer_rx_bytes_total{network=\"blue\",peer=\"k\"} 7
# HELP weft_peer_handshake_age_seconds Seconds since the latest handshake.
# TYPE weft_peer_handshake_age_seconds gauge
weft_peer_handshake_age_seconds{network=\"blue\",peer=\"k\"} 1.5
# HELP weft_mystery Something.
# TYPE weft_mystery untyped
weft_mystery 1
"
    );
}

#[test]
fn a_gauge_named_like_a_counter_prefix_is_left_alone() {
    let openmetrics = "\
# HELP a Counter.
# TYPE a counter
a_total 1
# HELP a_b Gauge.
# TYPE a_b gauge
a_b 2
# EOF
";
    let text = to_prometheus_text(openmetrics);
    assert!(
        text.contains("# HELP a_b Gauge.\n# TYPE a_b gauge\n"),
        "{text}"
    );
    assert!(text.contains("# TYPE a_total counter\n"), "{text}");
}
