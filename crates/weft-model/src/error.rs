/// Input that cannot be accepted. Each message names the field and the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    #[error("invalid {field} {value}: {why}")]
    Invalid {
        field: &'static str,
        /// The value as shown: quoted, and cut to [`SHOWN_CHARS`] characters.
        value: String,
        why: String,
    },
    #[error("address pool of {block} is exhausted ({size} addresses, all in use)")]
    Exhausted { block: String, size: u128 },
}

/// How much of a bad value an error repeats: enough to recognise it, not
/// enough to echo a 20 MB field back to the user (or into logs).
pub const SHOWN_CHARS: usize = 48;

/// `value` quoted as `{:?}` would, cut after [`SHOWN_CHARS`] characters
/// with the cut marked. A value shaped like a WireGuard key (32 bytes in
/// base64) is never repeated: it may be a private key pasted into the
/// wrong place, and errors end up in terminals, logs and bug reports.
pub fn shown(value: &str) -> String {
    if crate::key::looks_like_key(value) {
        return "(a 32-byte base64 value, maybe a key: not shown)".into();
    }
    let total = value.chars().count();
    if total <= SHOWN_CHARS {
        return format!("{value:?}");
    }
    let head: String = value.chars().take(SHOWN_CHARS).collect();
    format!("{head:?}… (cut, {total} characters in all)")
}

impl ModelError {
    pub fn invalid(field: &'static str, value: impl ToString, why: impl ToString) -> Self {
        Self::Invalid {
            field,
            value: shown(&value.to_string()),
            why: why.to_string(),
        }
    }
}

/// An error and its causes on one line, each once, outermost first:
/// `what: why: root`. The one printer of error chains in weft (logs, gRPC
/// statuses, REST bodies, the CLI): no error repeats its source's text in
/// its own message (the workspace's error rule), so nothing is filtered
/// out; line breaks inside a message become spaces so a chain stays one
/// line.
pub fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text.replace('\n', " ")
}

#[cfg(test)]
mod tests;
