//! The control plane's certificate authority.
//!
//! Made on first start in the state directory (`ca.pem`, `ca.key` 0600) or
//! taken from files given; it signs the server's certificate (made anew at
//! every start, so its names follow the flags) and each enrolled agent's
//! client certificate. An agent sends a CSR: its private key never leaves
//! its host. The CA signs only the CSR's public key — whatever the CSR asks
//! for (names, CA rights, usages) is ignored — into a certificate naming
//! the host's id as its common name, for client authentication only.
//!
//! Revocation is by host id, not by CRL: a deleted host is marked revoked
//! in the store, and every connection looks its id up (see `tls.rs`).

use crate::model::HostId;
use rcgen::{
    BasicConstraints, CertificateParams, CertificateSigningRequestParams, DistinguishedName,
    DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, SanType, SerialNumber,
};
use sha2::{Digest, Sha256};
use std::fmt;
use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use time::OffsetDateTime;

/// How long certificates live. Agents renew theirs when a third is left.
pub const CA_DAYS: i64 = 3650;
pub const SERVER_DAYS: i64 = 365;
pub const CLIENT_DAYS: i64 = 30;
/// Certificates start a little in the past: clocks of hosts differ.
const BACKDATE_SECS: i64 = 300;

#[derive(Debug, thiserror::Error)]
pub enum CaError {
    #[error("read {}", .0.display())]
    Read(PathBuf, #[source] std::io::Error),
    #[error("write {}", .0.display())]
    Write(PathBuf, #[source] std::io::Error),
    #[error(
        "{}: readable by group or others (mode {mode:04o}); run chmod 600 on it",
        .path.display()
    )]
    KeyFileOpen { path: PathBuf, mode: u32 },
    #[error("{}: not a usable certificate or key", .0.display())]
    Parse(PathBuf, #[source] rcgen::Error),
    #[error("only one of {given} was given: pass both, or neither to use the state directory")]
    HalfGiven { given: &'static str },
    #[error("make the {what} certificate")]
    Make {
        what: &'static str,
        #[source]
        source: rcgen::Error,
    },
    #[error("invalid certificate signing request")]
    BadCsr(#[source] rcgen::Error),
    #[error("invalid server name {0:?}")]
    BadName(String),
    #[error("invalid CA fingerprint: expected SHA256: and 64 hex digits")]
    BadFingerprint,
}

pub type Result<T> = std::result::Result<T, CaError>;

/// SHA-256 of a certificate's DER: what an agent pins before it trusts the
/// control plane (`--ca-fingerprint SHA256:…`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Fingerprint(pub [u8; 32]);

impl Fingerprint {
    pub fn of(der: &[u8]) -> Fingerprint {
        Fingerprint(Sha256::digest(der).into())
    }

    /// `SHA256:` and 64 hex digits, in either case, with or without ':'
    /// between bytes (as `openssl x509 -fingerprint -sha256` prints them).
    pub fn parse(text: &str) -> Result<Fingerprint> {
        let rest = text
            .strip_prefix("SHA256:")
            .or_else(|| text.strip_prefix("sha256:"))
            .ok_or(CaError::BadFingerprint)?;
        let digits: String = rest.chars().filter(|c| *c != ':').collect();
        let bytes =
            hex::decode(digits.to_ascii_lowercase()).map_err(|_| CaError::BadFingerprint)?;
        Ok(Fingerprint(
            bytes.try_into().map_err(|_| CaError::BadFingerprint)?,
        ))
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SHA256:{}", hex::encode(self.0))
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// A certificate and its private key, PEM. `Debug` hides the key.
#[derive(Clone)]
pub struct Identity {
    pub cert_pem: String,
    pub key_pem: String,
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity")
            .field("cert_pem", &self.cert_pem)
            .field("key_pem", &"…")
            .finish()
    }
}

pub struct Ca {
    cert_pem: String,
    cert_der: Vec<u8>,
    issuer: Issuer<'static, KeyPair>,
}

impl fmt::Debug for Ca {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Ca({})", self.fingerprint())
    }
}

/// Write a file only its owner can read, atomically (temp file + rename).
pub fn write_private(path: &Path, text: &str) -> Result<()> {
    let tmp = path.with_extension("tmp");
    let write_err = |e| CaError::Write(path.to_path_buf(), e);
    let _ = std::fs::remove_file(&tmp);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(write_err)?;
    file.write_all(text.as_bytes()).map_err(write_err)?;
    file.sync_all().map_err(write_err)?;
    std::fs::rename(&tmp, path).map_err(write_err)
}

/// Read a private key file, refusing one that group or others can read.
pub fn read_private(path: &Path) -> Result<String> {
    let meta = std::fs::metadata(path).map_err(|e| CaError::Read(path.to_path_buf(), e))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(CaError::KeyFileOpen {
            path: path.to_path_buf(),
            mode,
        });
    }
    std::fs::read_to_string(path).map_err(|e| CaError::Read(path.to_path_buf(), e))
}

fn read_public(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| CaError::Read(path.to_path_buf(), e))
}

fn at(unix: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(unix).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

fn validity(params: &mut CertificateParams, now: i64, days: i64) {
    params.not_before = at(now - BACKDATE_SECS);
    params.not_after = at(now + days * 86_400);
    params.serial_number = Some(SerialNumber::from_slice(&rand::random::<[u8; 16]>()[..]));
}

fn make(what: &'static str) -> impl Fn(rcgen::Error) -> CaError {
    move |source| CaError::Make { what, source }
}

impl Ca {
    /// The CA of `dir` (`ca.pem`, `ca.key`), made there if it is not yet.
    /// Also says whether it was just made.
    pub fn load_or_create(dir: &Path, now: i64) -> Result<(Ca, bool)> {
        let (cert, key) = (dir.join("ca.pem"), dir.join("ca.key"));
        if cert.exists() || key.exists() {
            return Ok((Ca::from_files(&cert, &key)?, false));
        }
        let ca = Ca::generate(now)?;
        write_private(&key, &ca.issuer.key().serialize_pem())?;
        std::fs::write(&cert, &ca.cert_pem).map_err(|e| CaError::Write(cert.clone(), e))?;
        Ok((ca, true))
    }

    /// A CA given as files (`--ca-cert`, `--ca-key`).
    pub fn from_files(cert: &Path, key: &Path) -> Result<Ca> {
        Ca::from_pem(read_public(cert)?, &read_private(key)?, cert, key)
    }

    /// A CA from its certificate and key PEM; `cert`, `key` say where
    /// they came from (for errors).
    pub fn from_pem(cert_pem: String, key_pem: &str, cert: &Path, key: &Path) -> Result<Ca> {
        let key_pair = KeyPair::from_pem(key_pem).map_err(|e| CaError::Parse(key.into(), e))?;
        let issuer = Issuer::from_ca_cert_pem(&cert_pem, key_pair)
            .map_err(|e| CaError::Parse(cert.into(), e))?;
        let der = pem_der(&cert_pem)
            .ok_or_else(|| CaError::Parse(cert.into(), rcgen::Error::CouldNotParseCertificate))?;
        Ok(Ca {
            cert_pem,
            cert_der: der,
            issuer,
        })
    }

    /// The CA's private key (PEM): only to share it with other replicas.
    pub fn key_pem(&self) -> String {
        self.issuer.key().serialize_pem()
    }

    /// A new CA (ECDSA P-256), in memory.
    pub fn generate(now: i64) -> Result<Ca> {
        let key = KeyPair::generate().map_err(make("CA"))?;
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, "weft control plane CA");
        params.distinguished_name = dn;
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        validity(&mut params, now, CA_DAYS);
        let cert = params.self_signed(&key).map_err(make("CA"))?;
        Ok(Ca {
            cert_pem: cert.pem(),
            cert_der: cert.der().to_vec(),
            issuer: Issuer::new(params, key),
        })
    }

    pub fn fingerprint(&self) -> Fingerprint {
        Fingerprint::of(&self.cert_der)
    }

    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    pub fn cert_der(&self) -> &[u8] {
        &self.cert_der
    }

    /// A server certificate for `names` (DNS names or IP addresses).
    pub fn server_identity(&self, names: &[String], now: i64) -> Result<Identity> {
        let key = KeyPair::generate().map_err(make("server"))?;
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, "weft control plane");
        params.distinguished_name = dn;
        for name in names {
            let san = match name.parse() {
                Ok(ip) => SanType::IpAddress(ip),
                Err(_) if is_dns_name(name) => SanType::DnsName(
                    name.clone()
                        .try_into()
                        .map_err(|_| CaError::BadName(name.clone()))?,
                ),
                Err(_) => return Err(CaError::BadName(name.clone())),
            };
            params.subject_alt_names.push(san);
        }
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        validity(&mut params, now, SERVER_DAYS);
        let cert = params
            .signed_by(&key, &self.issuer)
            .map_err(make("server"))?;
        Ok(Identity {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }

    /// Sign an agent's CSR into a client certificate for `host`, valid
    /// `days` from `now`. The CSR's signature is checked (it proves the
    /// requester holds the key); nothing else it asks for is taken.
    pub fn sign_client(&self, csr_pem: &str, host: &HostId, now: i64, days: i64) -> Result<String> {
        let csr = CertificateSigningRequestParams::from_pem(csr_pem).map_err(CaError::BadCsr)?;
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, host.as_str());
        dn.push(DnType::OrganizationName, "weft host");
        params.distinguished_name = dn;
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.use_authority_key_identifier_extension = true;
        validity(&mut params, now, days);
        let cert = params
            .signed_by(&csr.public_key, &self.issuer)
            .map_err(make("client"))?;
        Ok(cert.pem())
    }
}

/// Letters, digits, '-' and '.', 1–253 characters, no empty label.
fn is_dns_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// The DER of the first PEM block of `text`.
pub fn pem_der(text: &str) -> Option<Vec<u8>> {
    use rustls_pki_types::pem::PemObject as _;
    rustls_pki_types::CertificateDer::from_pem_slice(text.as_bytes())
        .ok()
        .map(|c| c.to_vec())
}

/// The host id a client certificate names (its common name). Says nothing
/// about whether the certificate is valid: the TLS layer checked that.
pub fn host_of(cert_der: &[u8]) -> Option<HostId> {
    let (_, cert) = x509_parser::parse_x509_certificate(cert_der).ok()?;
    let cn = cert.subject().iter_common_name().next()?.as_str().ok()?;
    HostId::parse("host id", cn).ok()
}

#[cfg(test)]
mod tests;
