use super::*;
use crate::tls;
use rustls_pki_types::{CertificateDer, UnixTime};
use std::process::Command;
use std::time::Duration;

const NOW: i64 = 1_800_000_000;

fn unix(t: i64) -> UnixTime {
    UnixTime::since_unix_epoch(Duration::from_secs(t as u64))
}

/// An agent's side: a fresh key and a CSR for it.
fn csr(wants_ca: bool) -> (KeyPair, String) {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec!["evil.example".to_string()]).unwrap();
    if wants_ca {
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    }
    let csr = params.serialize_request(&key).unwrap().pem().unwrap();
    (key, csr)
}

fn der(pem: &str) -> CertificateDer<'static> {
    CertificateDer::from(pem_der(pem).unwrap())
}

#[test]
fn the_ca_is_made_once_with_its_key_0600_and_loaded_after() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, made) = Ca::load_or_create(dir.path(), NOW).unwrap();
    assert!(made);
    let mode = std::fs::metadata(dir.path().join("ca.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let (again, made) = Ca::load_or_create(dir.path(), NOW + 10).unwrap();
    assert!(!made);
    assert_eq!(again.fingerprint(), ca.fingerprint());
    // The loaded CA signs certificates the first one's verifier takes.
    let (_, req) = csr(false);
    let host = HostId::generate();
    let cert = again.sign_client(&req, &host, NOW, CLIENT_DAYS).unwrap();
    tls::client_verifier(&ca, false)
        .unwrap()
        .verify_client_cert(&der(&cert), &[], unix(NOW + 60))
        .unwrap();
}

#[test]
fn a_ca_key_others_can_read_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    Ca::load_or_create(dir.path(), NOW).unwrap();
    let key = dir.path().join("ca.key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = Ca::load_or_create(dir.path(), NOW).unwrap_err().to_string();
    assert!(err.contains("chmod 600") && err.contains("ca.key"), "{err}");
}

#[test]
fn fingerprints_match_openssl_and_parse_in_its_format() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, _) = Ca::load_or_create(dir.path(), NOW).unwrap();
    let shown = ca.fingerprint().to_string();
    assert!(
        shown.starts_with("SHA256:") && shown.len() == 7 + 64,
        "{shown}"
    );
    assert_eq!(Fingerprint::parse(&shown).unwrap(), ca.fingerprint());
    let out = Command::new("openssl")
        .args(["x509", "-noout", "-fingerprint", "-sha256", "-in"])
        .arg(dir.path().join("ca.pem"))
        .output()
        .expect("openssl runs");
    let text = String::from_utf8(out.stdout).unwrap();
    let theirs = text.trim().rsplit('=').next().unwrap();
    assert_eq!(
        Fingerprint::parse(&format!("SHA256:{theirs}")).unwrap(),
        ca.fingerprint(),
        "{text}"
    );
    for bad in [
        "",
        "SHA256:",
        "SHA1:00",
        &shown[..shown.len() - 2],
        "SHA256:zz",
    ] {
        assert!(Fingerprint::parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn a_client_certificate_names_the_host_and_nothing_the_csr_asked_for() {
    let ca = Ca::generate(NOW).unwrap();
    let (_, req) = csr(true);
    let host = HostId::generate();
    let pem = ca.sign_client(&req, &host, NOW, CLIENT_DAYS).unwrap();
    let d = der(&pem);
    assert_eq!(host_of(&d), Some(host));
    let (_, cert) = x509_parser::parse_x509_certificate(&d).unwrap();
    let bc = cert.basic_constraints().unwrap().map(|e| e.value.ca);
    assert_ne!(bc, Some(true), "the CSR asked for CA rights");
    assert!(cert.subject_alternative_name().unwrap().is_none());
    let eku = cert.extended_key_usage().unwrap().unwrap().value;
    assert!(eku.client_auth && !eku.server_auth);
    // openssl agrees it chains to the CA, for client use.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ca.pem"), ca.cert_pem()).unwrap();
    std::fs::write(dir.path().join("c.pem"), &pem).unwrap();
    let status = Command::new("openssl")
        .current_dir(dir.path())
        .args(["verify", "-purpose", "sslclient", "-attime"])
        .arg((NOW + 60).to_string())
        .args(["-CAfile", "ca.pem", "c.pem"])
        .output()
        .unwrap();
    assert!(status.status.success(), "{status:?}");
}

#[test]
fn a_csr_with_a_broken_signature_or_garbage_is_refused() {
    let ca = Ca::generate(NOW).unwrap();
    let host = HostId::generate();
    let (_, req) = csr(false);
    let mut bytes = pem_csr_der(&req);
    let last = bytes.len() - 5;
    bytes[last] ^= 0x55;
    let tampered = pem_of("CERTIFICATE REQUEST", &bytes);
    for bad in [
        tampered.as_str(),
        "",
        "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n",
    ] {
        let err = ca.sign_client(bad, &host, NOW, CLIENT_DAYS).unwrap_err();
        assert!(matches!(err, CaError::BadCsr(_)), "{err:?}");
    }
}

fn pem_csr_der(pem: &str) -> Vec<u8> {
    use rustls_pki_types::CertificateSigningRequestDer;
    use rustls_pki_types::pem::PemObject as _;
    CertificateSigningRequestDer::from_pem_slice(pem.as_bytes())
        .unwrap()
        .as_ref()
        .to_vec()
}

fn pem_of(label: &str, der: &[u8]) -> String {
    use base64::Engine as _;
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

#[test]
fn certificates_of_another_ca_self_signed_or_expired_are_refused() {
    let ours = Ca::generate(NOW).unwrap();
    let theirs = Ca::generate(NOW).unwrap();
    let host = HostId::generate();
    let verifier = tls::client_verifier(&ours, false).unwrap();
    let (key, req) = csr(false);

    let good = ours.sign_client(&req, &host, NOW, CLIENT_DAYS).unwrap();
    verifier
        .verify_client_cert(&der(&good), &[], unix(NOW + 60))
        .unwrap();

    let foreign = theirs.sign_client(&req, &host, NOW, CLIENT_DAYS).unwrap();
    let mut params = CertificateParams::new(vec![]).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, host.as_str());
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let self_signed = params.self_signed(&key).unwrap().pem();
    let expired = ours.sign_client(&req, &host, NOW - 10 * 86_400, 1).unwrap();
    for (what, pem) in [
        ("another CA's", foreign),
        ("self-signed", self_signed),
        ("expired", expired),
    ] {
        let res = verifier.verify_client_cert(&der(&pem), &[], unix(NOW + 60));
        assert!(res.is_err(), "{what} certificate accepted");
    }
}

#[test]
fn the_server_certificate_carries_its_names_and_hides_its_key_in_debug() {
    let ca = Ca::generate(NOW).unwrap();
    let names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
    let id = ca.server_identity(&names, NOW).unwrap();
    let d = der(&id.cert_pem);
    let (_, cert) = x509_parser::parse_x509_certificate(&d).unwrap();
    let san = cert.subject_alternative_name().unwrap().unwrap().value;
    assert_eq!(san.general_names.len(), 2);
    let shown = format!("{id:?}");
    assert!(!shown.contains("PRIVATE KEY"), "{shown}");
    assert!(id.key_pem.contains("PRIVATE KEY"));
    tls::rest_server_config(&id).unwrap();
    tls::agent_server_config(&id, &ca).unwrap();
    let err = ca.server_identity(&["bad name!".into()], NOW).unwrap_err();
    assert!(err.to_string().contains("bad name!"), "{err}");
}
