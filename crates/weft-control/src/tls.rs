//! rustls configurations of the control plane's two ports, on ring (the
//! provider already in the tree through the WireGuard engine).
//!
//! - REST (tenants): server TLS only; tenants authenticate with API keys.
//! - gRPC (agents): mutual TLS; a client certificate must chain to the
//!   control plane's CA, be within its validity and be for client
//!   authentication (rustls-webpki checks all three, and a bad certificate
//!   ends the handshake). A connection without a certificate is let in for
//!   one method only, enrollment (the agent has no certificate yet); every
//!   other method refuses it. That a certificate names a host that is not
//!   revoked is checked on every call against the store, since revocation
//!   is by host id.

use crate::ca::{Ca, Identity};
use rustls::RootCertStore;
use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::ClientCertVerifier;
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("the server certificate or key is not valid PEM")]
    Pem(#[source] rustls_pki_types::pem::Error),
    #[error("the CA certificate is not usable as a trust anchor")]
    Anchor(#[source] rustls::Error),
    #[error("build the client certificate verifier")]
    Verifier(#[source] rustls::server::VerifierBuilderError),
    #[error("build the TLS configuration")]
    Config(#[source] rustls::Error),
}

pub type Result<T> = std::result::Result<T, TlsError>;

pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn chain_and_key(id: &Identity) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)> {
    let chain = CertificateDer::pem_slice_iter(id.cert_pem.as_bytes())
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(TlsError::Pem)?;
    let key = PrivateKeyDer::from_pem_slice(id.key_pem.as_bytes()).map_err(TlsError::Pem)?;
    Ok((chain, key))
}

/// Verifies agents' client certificates against the control plane's CA;
/// `optional` lets a client without one finish the handshake.
pub fn client_verifier(ca: &Ca, optional: bool) -> Result<Arc<dyn ClientCertVerifier>> {
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from(ca.cert_der().to_vec()))
        .map_err(TlsError::Anchor)?;
    let builder = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider());
    let builder = if optional {
        builder.allow_unauthenticated()
    } else {
        builder
    };
    builder.build().map_err(TlsError::Verifier)
}

/// The REST port's configuration: HTTP/1.1, no client certificates.
pub fn rest_server_config(id: &Identity) -> Result<Arc<rustls::ServerConfig>> {
    let (chain, key) = chain_and_key(id)?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(TlsError::Config)?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(TlsError::Config)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The agents' port: HTTP/2 (gRPC), client certificates of `ca` checked
/// when given (required by every method but enrollment).
pub fn agent_server_config(id: &Identity, ca: &Ca) -> Result<Arc<rustls::ServerConfig>> {
    let (chain, key) = chain_and_key(id)?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(TlsError::Config)?
        .with_client_cert_verifier(client_verifier(ca, true)?)
        .with_single_cert(chain, key)
        .map_err(TlsError::Config)?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(Arc::new(config))
}
