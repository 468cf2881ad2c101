use crate::dataplane::DataplaneError;
use crate::store::StoreError;
use weft_model::{KeyError, ModelError};

/// What an agent operation can fail with. Each variant maps to one gRPC code
/// so the CLI can tell bad input from a broken host.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error(transparent)]
    Invalid(#[from] ModelError),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error("{what} {name:?} does not exist")]
    NotFound { what: &'static str, name: String },
    #[error("{0}")]
    Exists(String),
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Dataplane(#[from] DataplaneError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl AgentError {
    pub fn no_network(name: &str) -> Self {
        Self::NotFound {
            what: "network",
            name: name.to_string(),
        }
    }
}

impl From<AgentError> for tonic::Status {
    fn from(err: AgentError) -> Self {
        use tonic::Code;
        let code = match &err {
            AgentError::Invalid(ModelError::Exhausted { .. }) => Code::ResourceExhausted,
            AgentError::Invalid(_) | AgentError::Key(_) => Code::InvalidArgument,
            AgentError::NotFound { .. } => Code::NotFound,
            AgentError::Exists(_) => Code::AlreadyExists,
            AgentError::Conflict(_) => Code::FailedPrecondition,
            AgentError::Dataplane(_) | AgentError::Store(_) => Code::Internal,
        };
        // The whole chain, once, on one line.
        let mut message = err.to_string();
        let mut source = std::error::Error::source(&err);
        while let Some(s) = source {
            let text = s.to_string();
            if !message.contains(&text) {
                message.push_str(": ");
                message.push_str(&text);
            }
            source = s.source();
        }
        tonic::Status::new(code, message)
    }
}
