/// Input that cannot be accepted. Each message names the field and the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    #[error("invalid {field} {value:?}: {why}")]
    Invalid {
        field: &'static str,
        value: String,
        why: String,
    },
    #[error("address pool of {block} is exhausted ({size} addresses, all in use)")]
    Exhausted { block: String, size: u128 },
}

impl ModelError {
    pub fn invalid(field: &'static str, value: impl ToString, why: impl ToString) -> Self {
        Self::Invalid {
            field,
            value: value.to_string(),
            why: why.to_string(),
        }
    }
}
