//! WireGuard keys: 32-byte Curve25519 values, shown as base64 (like `wg`) and
//! written as hex on the UAPI socket.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use std::fmt;

/// Why a key could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    /// No part of the text is kept: it may be a private key with a typo, or
    /// the start of whatever file a key path pointed at.
    #[error("malformed key ({len} characters): expected 44 characters of base64 encoding 32 bytes")]
    Base64 { len: usize },
    #[error("malformed key: expected 64 hex characters encoding 32 bytes")]
    Hex,
}

/// A public key (or a preshared key): safe to print.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PublicKey(pub [u8; 32]);

/// A private key. `Debug` never shows it; there is no `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct PrivateKey([u8; 32]);

fn decode_base64(text: &str) -> Result<[u8; 32], KeyError> {
    let text = text.trim();
    let err = || KeyError::Base64 {
        len: text.chars().count(),
    };
    if text.len() != 44 {
        return Err(err());
    }
    let bytes = STANDARD.decode(text).map_err(|_| err())?;
    bytes.try_into().map_err(|_| err())
}

/// Whether `text` has a key's shape: 32 bytes in base64 (what `wg genkey`
/// prints) or in hex. Errors never repeat such a value.
pub fn looks_like_key(text: &str) -> bool {
    use base64::engine::general_purpose::STANDARD_NO_PAD;
    let text = text.trim();
    // Without its '=' too: cut at the first '=' of `KEY=VALUE`, say.
    let unpadded = text.len() == 43 && STANDARD_NO_PAD.decode(text).is_ok_and(|b| b.len() == 32);
    unpadded || decode_base64(text).is_ok() || decode_hex(text).is_ok()
}

fn decode_hex(text: &str) -> Result<[u8; 32], KeyError> {
    let text = text.trim();
    if text.len() != 64 {
        return Err(KeyError::Hex);
    }
    let mut out = [0u8; 32];
    for (i, chunk) in text.as_bytes().chunks(2).enumerate() {
        let s = std::str::from_utf8(chunk).map_err(|_| KeyError::Hex)?;
        out[i] = u8::from_str_radix(s, 16).map_err(|_| KeyError::Hex)?;
    }
    Ok(out)
}

fn encode_hex(bytes: &[u8; 32]) -> String {
    use fmt::Write as _;
    bytes.iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// The encodings both kinds of key share: base64 as `wg` shows them, hex as
/// the UAPI socket writes them.
macro_rules! key_encodings {
    ($key:ident) => {
        impl $key {
            pub fn from_base64(text: &str) -> Result<Self, KeyError> {
                decode_base64(text).map(Self)
            }
            pub fn from_hex(text: &str) -> Result<Self, KeyError> {
                decode_hex(text).map(Self)
            }
            pub fn to_base64(&self) -> String {
                STANDARD.encode(self.0)
            }
            pub fn to_hex(&self) -> String {
                encode_hex(&self.0)
            }
            pub fn as_bytes(&self) -> &[u8; 32] {
                &self.0
            }
        }
    };
}

key_encodings!(PublicKey);
key_encodings!(PrivateKey);

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_base64())
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.to_base64())
    }
}

impl std::str::FromStr for PublicKey {
    type Err = KeyError;
    fn from_str(s: &str) -> Result<Self, KeyError> {
        Self::from_base64(s)
    }
}

impl PrivateKey {
    /// A fresh key from the operating system's random source, clamped as
    /// `wg genkey` does.
    pub fn generate() -> Self {
        let mut bytes: [u8; 32] = rand::random();
        bytes[0] &= 248;
        bytes[31] &= 127;
        bytes[31] |= 64;
        Self(bytes)
    }
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }
    pub fn public_key(&self) -> PublicKey {
        let secret = x25519_dalek::StaticSecret::from(self.0);
        PublicKey(x25519_dalek::PublicKey::from(&secret).to_bytes())
    }
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PrivateKey(<hidden>)")
    }
}

#[cfg(test)]
mod tests;
