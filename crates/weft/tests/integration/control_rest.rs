//! `weft control serve` as a person runs it, on loopback: the CA made on
//! first start and kept after, tenants and tokens from the CLI, the REST
//! API driven with `curl` (a real client) over TLS pinned to that CA.

use serde_json::Value;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::Command;
use weft_testkit::process::Spawned;

const WEFT: &str = env!("CARGO_BIN_EXE_weft");

struct Server {
    _process: Spawned,
    port: u16,
    stdout: String,
}

fn serve(state: &Path) -> Server {
    let (process, port, stdout) = crate::control_common::serve_on_loopback(WEFT, state);
    Server {
        _process: process,
        port,
        stdout,
    }
}

fn weft(state: &Path, args: &[&str]) -> String {
    let out = Command::new(WEFT)
        .args(["control", "--state-dir"])
        .arg(state)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "weft control {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `curl` against the server, trusting only the control plane's CA.
/// Returns the status and the body.
fn curl(
    state: &Path,
    port: u16,
    method: &str,
    path: &str,
    key: Option<&str>,
    extra: &[&str],
) -> (u16, String) {
    let mut cmd = Command::new("curl");
    cmd.args([
        "-sS",
        "-o",
        "-",
        "-w",
        "\n%{http_code}",
        "-X",
        method,
        "--cacert",
    ])
    .arg(state.join("ca.pem"))
    .args(extra);
    if let Some(key) = key {
        cmd.args(["-H", &format!("Authorization: Bearer {key}")]);
    }
    cmd.arg(format!("https://localhost:{port}{path}"));
    let out = cmd.output().expect("curl runs");
    assert!(
        out.status.success(),
        "curl: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let (body, code) = text.rsplit_once('\n').unwrap();
    (code.parse().unwrap(), body.to_string())
}

fn json_body(body: &str) -> [&str; 4] {
    [
        "-H",
        "Content-Type: application/json",
        "--data-binary",
        body,
    ]
}

#[test]
fn a_tenant_drives_the_rest_api_with_curl_over_tls() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("control");
    let server = serve(&state);
    assert!(
        server.stdout.contains("created the control plane's CA"),
        "{}",
        server.stdout
    );
    let mode = std::fs::metadata(state.join("ca.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let fingerprint = server
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("CA fingerprint: "))
        .unwrap()
        .to_string();
    let openssl = Command::new("openssl")
        .args(["x509", "-noout", "-fingerprint", "-sha256", "-in"])
        .arg(state.join("ca.pem"))
        .output()
        .unwrap();
    let theirs = String::from_utf8(openssl.stdout).unwrap();
    let theirs = theirs
        .trim()
        .rsplit('=')
        .next()
        .unwrap()
        .replace(':', "")
        .to_lowercase();
    assert_eq!(fingerprint, format!("SHA256:{theirs}"));

    let created: Value =
        serde_json::from_str(&weft(&state, &["tenant", "create", "acme", "-o", "json"])).unwrap();
    let key = created["secret"].as_str().unwrap().to_string();
    let other: Value =
        serde_json::from_str(&weft(&state, &["tenant", "create", "beta", "-o", "json"])).unwrap();
    let other_key = other["secret"].as_str().unwrap().to_string();
    let port = server.port;

    let (code, body) = curl(
        &state,
        port,
        "POST",
        "/v1/networks",
        Some(&key),
        &json_body(r#"{"name":"blue","subnet":"10.42.0.0/16"}"#),
    );
    assert_eq!(code, 201, "{body}");
    let (code, body) = curl(&state, port, "GET", "/v1/networks/blue", Some(&key), &[]);
    assert_eq!(code, 200, "{body}");
    let net: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(net["subnet"], "10.42.0.0/16");

    // Without a key, with another tenant's, with spoofed headers: nothing.
    let (code, _) = curl(
        &state,
        port,
        "GET",
        "/v1/networks",
        None,
        &["-H", "X-Forwarded-For: 127.0.0.1"],
    );
    assert_eq!(code, 401);
    let (code, _) = curl(
        &state,
        port,
        "GET",
        "/v1/networks/blue",
        Some(&other_key),
        &[],
    );
    assert_eq!(code, 404);
    let (code, _) = curl(
        &state,
        port,
        "DELETE",
        "/v1/networks/blue",
        Some(&other_key),
        &[],
    );
    assert_eq!(code, 404);
    // An overlapping subnet and an oversized body are refused.
    let (code, body) = curl(
        &state,
        port,
        "POST",
        "/v1/networks",
        Some(&key),
        &json_body(r#"{"name":"red","subnet":"10.42.3.0/24"}"#),
    );
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("subnet") && body.contains("blue"), "{body}");
    let big = dir.path().join("big.json");
    std::fs::write(
        &big,
        format!(
            r#"{{"name":"x","subnet":"10.9.0.0/16","p":"{}"}}"#,
            "a".repeat(200_000)
        ),
    )
    .unwrap();
    let (code, _) = curl(
        &state,
        port,
        "POST",
        "/v1/networks",
        Some(&key),
        &[
            "-H",
            "Content-Type: application/json",
            "--data-binary",
            &format!("@{}", big.display()),
        ],
    );
    assert_eq!(code, 413);
    // The document is public.
    let (code, body) = curl(&state, port, "GET", "/v1/openapi.json", None, &[]);
    assert_eq!(code, 200);
    assert!(body.contains("\"/v1/networks\""), "{body:.200}");
    // Plain HTTP to the TLS port gets nowhere.
    let plain = Command::new("curl")
        .args([
            "-sS",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--max-time",
            "5",
        ])
        .arg(format!("http://127.0.0.1:{port}/v1/openapi.json"))
        .output()
        .unwrap();
    assert_ne!(String::from_utf8_lossy(&plain.stdout), "200");

    // A token from the CLI; a revoked key stops working at once.
    let token: Value = serde_json::from_str(&weft(
        &state,
        &[
            "token", "create", "--tenant", "acme", "--ttl", "10m", "-o", "json",
        ],
    ))
    .unwrap();
    assert!(token["secret"].as_str().unwrap().starts_with("wet_"));
    assert_eq!(token["uses_left"], 1);
    let key_id = key.split('_').nth(1).unwrap();
    let table = weft(&state, &["tenant", "ls"]);
    assert!(table.contains(&format!("wak_{key_id}_…")), "{table}");
    assert!(!table.contains(&key), "{table}");
    weft(&state, &["tenant", "revoke-key", key_id]);
    let (code, _) = curl(&state, port, "GET", "/v1/networks", Some(&key), &[]);
    assert_eq!(code, 401);

    // A restart keeps the CA (same fingerprint, not made again) and the state.
    drop(server);
    let again = serve(&state);
    assert!(!again.stdout.contains("created"), "{}", again.stdout);
    assert!(again.stdout.contains(&fingerprint), "{}", again.stdout);
    let (code, body) = curl(
        &state,
        again.port,
        "GET",
        "/v1/networks",
        Some(&other_key),
        &[],
    );
    assert_eq!((code, body.as_str()), (200, "[]"));
}

#[test]
fn operator_commands_refuse_a_missing_store_and_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("nothing-here");
    let out = Command::new(WEFT)
        .args(["control", "--state-dir"])
        .arg(&state)
        .args(["tenant", "ls"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no control plane store") && err.contains("nothing-here"),
        "{err}"
    );
    let state = dir.path().join("control");
    let _server = serve(&state);
    weft(&state, &["tenant", "create", "acme"]);
    for (args, needle) in [
        (vec!["tenant", "create", "acme"], "exists already"),
        (vec!["tenant", "create", "Not_Valid"], "tenant name"),
        (vec!["token", "create", "--tenant", "nope"], "nope"),
        (
            vec!["token", "create", "--tenant", "acme", "--ttl", "1w"],
            "--ttl",
        ),
        (
            vec!["token", "create", "--tenant", "acme", "--uses", "0"],
            "uses",
        ),
        (vec!["tenant", "revoke-key", "zz"], "key id"),
    ] {
        let out = Command::new(WEFT)
            .args(["control", "--state-dir"])
            .arg(&state)
            .args(&args)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{args:?}: {err}");
    }
}
