//! weft's model: the pure part. Validation of names, addresses and keys,
//! address assignment inside host blocks, the names weft gives interfaces
//! and links ([`naming`]), network modes and peer health. Nothing here
//! touches the kernel, the disk or the clock.

pub mod addressing;
pub mod error;
pub mod health;
pub mod key;
pub mod names;
pub mod naming;
pub mod network;
pub mod peer;

pub use error::ModelError;
pub use health::Health;
pub use key::{KeyError, PrivateKey, PublicKey};
pub use network::Mode;
