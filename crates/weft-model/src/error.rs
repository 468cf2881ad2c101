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
/// with the cut marked.
pub fn shown(value: &str) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_values_are_shown_whole_and_quoted() {
        let err = ModelError::invalid("name", "web 1", "spaces are not allowed");
        assert_eq!(
            err.to_string(),
            r#"invalid name "web 1": spaces are not allowed"#
        );
    }

    #[test]
    fn long_values_are_cut_and_say_so() {
        let huge = "a".repeat(20_000_000);
        let text = ModelError::invalid("name", &huge, "too long").to_string();
        assert!(text.len() < 200, "{} bytes", text.len());
        assert!(text.contains("(cut, 20000000 characters in all)"), "{text}");
        let edge = "b".repeat(SHOWN_CHARS);
        assert!(!shown(&edge).contains("cut"));
        assert!(shown(&(edge + "b")).contains("cut"));
    }
}
