//! API keys and enrollment tokens: high-entropy bearer secrets.
//!
//! A secret reads `<kind>_<id>_<secret>`: `kind` says what it is (`wak` an
//! API key, `wet` an enrollment token), `id` (12 hex digits) finds its row,
//! `secret` is 32 random bytes in hex. The store keeps only the SHA-256 of
//! the whole text; a presented secret is hashed and compared in constant
//! time. A slow password hash (bcrypt, argon2) buys nothing for 256 random
//! bits and would make every API request a CPU cost an attacker controls.
//!
//! Neither `Debug` nor `Display` ever shows the secret part: what logs and
//! errors may show is [`Secret::id`] (or [`Secret::redacted`]).

use sha2::{Digest, Sha256};
use std::fmt;
use subtle::ConstantTimeEq;

/// What a secret is for; the prefix of its text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecretKind {
    ApiKey,
    EnrollToken,
}

impl SecretKind {
    fn prefix(self) -> &'static str {
        match self {
            SecretKind::ApiKey => "wak",
            SecretKind::EnrollToken => "wet",
        }
    }

    fn noun(self) -> &'static str {
        match self {
            SecretKind::ApiKey => "API key",
            SecretKind::EnrollToken => "enrollment token",
        }
    }
}

const ID_HEX: usize = 12;
const SECRET_HEX: usize = 64;

/// A presented or freshly made secret. Holds the full text; shows only its id.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret {
    kind: SecretKind,
    id: String,
    text: String,
}

/// The SHA-256 of a secret's text, as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretHash(pub [u8; 32]);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// Never echoes the text: it may be a real secret with a typo.
    #[error("malformed {noun}: expected {prefix}_<12 hex digits>_<64 hex digits>", noun = .0.noun(), prefix = .0.prefix())]
    Malformed(SecretKind),
}

impl Secret {
    /// A new random secret of this kind.
    pub fn generate(kind: SecretKind) -> Secret {
        let id: [u8; ID_HEX / 2] = rand::random();
        let secret: [u8; SECRET_HEX / 2] = rand::random();
        let id = hex::encode(id);
        let text = format!("{}_{id}_{}", kind.prefix(), hex::encode(secret));
        Secret { kind, id, text }
    }

    /// Parse a presented secret. Only the shape is checked here; whether it
    /// is known is the store's answer.
    pub fn parse(kind: SecretKind, text: &str) -> Result<Secret, SecretError> {
        let malformed = || SecretError::Malformed(kind);
        let rest = text
            .strip_prefix(kind.prefix())
            .and_then(|r| r.strip_prefix('_'))
            .ok_or_else(malformed)?;
        let (id, secret) = rest.split_once('_').ok_or_else(malformed)?;
        let lower_hex = |s: &str, len: usize| {
            s.len() == len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        };
        if !lower_hex(id, ID_HEX) || !lower_hex(secret, SECRET_HEX) {
            return Err(malformed());
        }
        Ok(Secret {
            kind,
            id: id.to_string(),
            text: text.to_string(),
        })
    }

    pub fn kind(&self) -> SecretKind {
        self.kind
    }

    /// The public part that finds the stored hash; safe to log and show.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The full text: only to hand to its owner once, never to log.
    pub fn expose(&self) -> &str {
        &self.text
    }

    pub fn hash(&self) -> SecretHash {
        SecretHash(Sha256::digest(self.text.as_bytes()).into())
    }

    /// `wak_0123456789ab_…`: what logs and tables may show.
    pub fn redacted(&self) -> String {
        format!("{}_{}_…", self.kind.prefix(), self.id)
    }
}

impl SecretHash {
    /// Does `presented` hash to this? Constant time in the hash bytes, so
    /// the comparison does not tell how much of a guess was right.
    pub fn matches(&self, presented: &Secret) -> bool {
        self.0.ct_eq(&presented.hash().0).into()
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    pub fn from_hex(text: &str) -> Option<SecretHash> {
        let bytes = hex::decode(text).ok()?;
        Some(SecretHash(bytes.try_into().ok()?))
    }
}

/// `text` with everything that looks like a weft secret cut after its id
/// (`wak_0123456789ab_…`): for messages that echo what a client sent, since
/// a client may paste a key into any field.
pub fn scrub(text: &str) -> String {
    weft_model::redact::scrub_secrets(text)
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({})", self.redacted())
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl fmt::Debug for SecretHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretHash(…)")
    }
}

#[cfg(test)]
mod tests;
