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
mod tests;
