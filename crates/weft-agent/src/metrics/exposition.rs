//! The two exposition formats a scraper may get, and which one it asked
//! for. prometheus-client writes OpenMetrics only; Prometheus's classic text
//! format (0.0.4), the default that `promtool check metrics` and most tools
//! read, differs from it in few enough places that we derive it here rather
//! than keep a second registry in another crate's model.

/// A document's format on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Prometheus text format 0.0.4: the default.
    Prometheus,
    /// OpenMetrics 1.0.0: only for clients that ask for it.
    OpenMetrics,
}

impl Format {
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Prometheus => "text/plain; version=0.0.4; charset=utf-8",
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }
}

const OPENMETRICS: &str = "application/openmetrics-text";

/// The format for a request with this `Accept` header: OpenMetrics when the
/// client names `application/openmetrics-text` and prefers it at least as
/// much as plain text (as Prometheus does); Prometheus text otherwise,
/// including when there is no header or nothing in it we serve.
pub fn negotiate(accept: Option<&str>) -> Format {
    let Some(accept) = accept else {
        return Format::Prometheus;
    };
    let (mut openmetrics, mut text) = (0.0_f32, 0.0_f32);
    for range in accept.split(',') {
        let mut parts = range.split(';');
        let media = parts.next().unwrap_or_default().trim();
        let mut quality = Some(1.0);
        for param in parts {
            if let Some((name, value)) = param.split_once('=')
                && name.trim().eq_ignore_ascii_case("q")
            {
                // A weight we cannot read counts as "not acceptable".
                quality = value
                    .trim()
                    .parse::<f32>()
                    .ok()
                    .filter(|q| (0.0..=1.0).contains(q));
            }
        }
        let quality = quality.unwrap_or(0.0);
        if media.eq_ignore_ascii_case(OPENMETRICS) {
            openmetrics = openmetrics.max(quality);
        } else if ["text/plain", "text/*", "*/*"]
            .iter()
            .any(|m| media.eq_ignore_ascii_case(m))
        {
            text = text.max(quality);
        }
    }
    if openmetrics > 0.0 && openmetrics >= text {
        Format::OpenMetrics
    } else {
        Format::Prometheus
    }
}

/// An OpenMetrics document from prometheus-client, in Prometheus text
/// format 0.0.4. Where the two differ for what the registry writes:
/// - a counter family `x` has samples `x_total`; in 0.0.4 the family itself
///   is named `x_total` (else its samples have neither HELP nor TYPE);
/// - 0.0.4 has no `# UNIT` and no `# EOF`, and calls `unknown` `untyped`.
pub fn to_prometheus_text(openmetrics: &str) -> String {
    let counters: std::collections::HashSet<&str> = openmetrics
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|rest| rest.strip_suffix(" counter"))
        .collect();
    let mut text = String::with_capacity(openmetrics.len() + 16 * counters.len());
    for line in openmetrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let descriptor = ["# HELP ", "# TYPE "]
            .into_iter()
            .find_map(|kind| Some(kind).zip(line.strip_prefix(kind)));
        match descriptor {
            Some((kind, rest)) => {
                let (name, tail) = rest.split_once(' ').unwrap_or((rest, ""));
                let tail = if kind == "# TYPE " && tail == "unknown" {
                    "untyped"
                } else {
                    tail
                };
                let suffix = if counters.contains(name) {
                    "_total"
                } else {
                    ""
                };
                let space = if tail.is_empty() { "" } else { " " };
                text.push_str(&format!("{kind}{name}{suffix}{space}{tail}\n"));
            }
            None => {
                text.push_str(line);
                text.push('\n');
            }
        }
    }
    text
}

#[cfg(test)]
mod tests {
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
}
