//! `weft key`: WireGuard keys, compatible with `wg genkey` / `wg pubkey`.

use anyhow::{Context as _, Result};
use std::io::Read as _;
use weft_model::PrivateKey;

#[derive(clap::Subcommand)]
pub enum Command {
    /// Print a new private key (base64).
    Generate,
    /// Read a private key on stdin, print its public key.
    Public,
}

pub fn exec(cmd: Command) -> Result<()> {
    match cmd {
        Command::Generate => println!("{}", PrivateKey::generate().to_base64()),
        Command::Public => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .context("read the private key from stdin")?;
            let key = PrivateKey::from_base64(&text).context("the private key on stdin")?;
            println!("{}", key.public_key().to_base64());
        }
    }
    Ok(())
}
