//! The web dashboard in a real browser (headless Chromium over WebDriver),
//! on loopback: signing in (a wrong key refused, saying so), a token's
//! secret shown once and revoked, hostile text shown as text and never
//! run, a second tenant seeing nothing of the first, axe-core on every
//! view. The fleet and a mesh file's page: `dashboard_fleet.rs`. Each step
//! saves a screenshot under `target/tmp/dashboard/<test>/`.

use crate::browser::{Browser, output_dir};
use crate::control_common;
use serde_json::{Value, json};
use std::path::Path;
use std::process::Command;
use std::time::Duration;
use weft_testkit::process::Spawned;
use weft_testkit::*;

const WEFT: &str = env!("CARGO_BIN_EXE_weft");
/// Put where a site's label shows: it must come out as these characters,
/// and run nothing (it would set `window.__weftPwned`).
const HOSTILE: &str = "<img src=x onerror=window.__weftPwned=1>";

pub(crate) fn have_browser() -> bool {
    require_tools(&["curl", "chromium", "chromedriver"])
}

/// `weft control serve` on loopback; its REST port.
fn serve(state: &Path) -> (Spawned, u16) {
    let (process, port, _) = control_common::serve_on_loopback(WEFT, state);
    (process, port)
}

/// `curl` as tenant `key` against the loopback server: the JSON answer.
fn api(state: &Path, port: u16, key: &str, method: &str, path: &str, body: Option<Value>) -> Value {
    let mut cmd = Command::new("curl");
    cmd.args(["-sS", "--fail-with-body", "-X", method, "--cacert"])
        .arg(state.join("ca.pem"))
        .args(["-H", &format!("Authorization: Bearer {key}")]);
    if let Some(body) = body {
        cmd.args(["-H", "Content-Type: application/json", "--data-binary"])
            .arg(body.to_string());
    }
    let out = cmd
        .arg(format!("https://localhost:{port}{path}"))
        .output()
        .unwrap();
    let text = stdout_of(out, &format!("curl {method} {path}"));
    if text.trim().is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap()
    }
}

/// Sign in through the form with `key`.
pub(crate) fn sign_in(b: &Browser, key: &str) {
    b.wait_for(
        "the sign-in form",
        Duration::from_secs(20),
        "return getComputedStyle(document.getElementById('signin')).display !== 'none';",
        json!([]),
    );
    b.type_into("#key", key);
    b.click("#signin button[type=submit]");
}

pub(crate) fn signed_in(b: &Browser) {
    b.wait_for(
        "the signed-in page",
        Duration::from_secs(20),
        "return document.body.dataset.signedIn === 'true' && !!document.querySelector('#view h1') \
         && getComputedStyle(document.getElementById('signin')).display === 'none';",
        json!([]),
    );
}

fn nothing_ran(b: &Browser) {
    assert_eq!(
        b.js("return typeof window.__weftPwned;", json!([])),
        "undefined",
        "the hostile text ran"
    );
    assert_eq!(b.count("img"), 0, "the hostile text became an element");
}

#[test]
fn signing_in_tokens_once_hostile_text_and_a_second_tenant_in_a_browser() {
    if !have_browser() {
        return;
    }
    let out = output_dir("signin_tokens_tenants");
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("control");
    let (_server, port) = serve(&state);
    let key_a = control_common::secret(WEFT, &state, &["tenant", "create", "acme"]);
    let key_b = control_common::secret(WEFT, &state, &["tenant", "create", "beta"]);
    api(
        &state,
        port,
        &key_a,
        "POST",
        "/v1/networks",
        Some(json!({"name": "blue", "subnet": "10.42.0.0/16"})),
    );
    api(
        &state,
        port,
        &key_a,
        "POST",
        "/v1/sites",
        Some(json!({"name": "edge", "labels": {"note": HOSTILE}})),
    );
    api(
        &state,
        port,
        &key_b,
        "POST",
        "/v1/networks",
        Some(json!({"name": "red", "subnet": "10.43.0.0/16"})),
    );

    let b = Browser::start(None, &out);
    let url = format!("https://localhost:{port}/");
    b.goto(&url);
    // A wrong key is refused, and the page says so.
    sign_in(
        &b,
        "wak_0123456789abcdef_wrongwrongwrongwrongwrongwrongwrong",
    );
    b.wait_for(
        "the refusal of a wrong key",
        Duration::from_secs(20),
        "return document.getElementById('signin-error').textContent.includes('refused');",
        json!([]),
    );
    assert_eq!(b.js("return sessionStorage.length;", json!([])), 0);
    b.screenshot("01-wrong-key-refused");
    b.check_accessibility("sign-in");

    sign_in(&b, &key_a);
    signed_in(&b);
    // The key is in this tab's sessionStorage, not a cookie.
    assert_eq!(
        b.js("return sessionStorage.getItem('weft.apiKey');", json!([])),
        key_a.as_str()
    );
    assert_eq!(b.js("return document.cookie;", json!([])), "");
    let label = b.text("#sites");
    assert!(label.contains(HOSTILE), "the label as text: {label}");
    nothing_ran(&b);
    assert_eq!(b.text("[data-count=networks] .value"), "1");
    assert_eq!(b.text("[data-count=sites] .value"), "1");
    b.screenshot("02-overview-hostile-label-as-text");
    b.check_accessibility("overview");
    // The first view's transfer: the page, its files and the API's answers
    // (streams still open count what they sent so far).
    let transferred = b
        .js(
            "return performance.getEntriesByType('navigation').concat(performance.getEntriesByType('resource')) \
             .reduce((n, e) => n + (e.transferSize || e.encodedBodySize || 0), 0);",
            json!([]),
        )
        .as_u64()
        .unwrap();
    eprintln!("first view: {transferred} bytes transferred");
    assert!(transferred > 10_000, "nothing measured: {transferred}");
    assert!(transferred <= 200_000, "first view {transferred} bytes");

    // Topology with the site: its label is text there too.
    b.js("location.hash = '#/topology';", json!([]));
    b.wait_for(
        "the topology",
        Duration::from_secs(20),
        "return !!document.getElementById('topology');",
        json!([]),
    );
    nothing_ran(&b);
    b.screenshot("03-topology-empty");

    // A token: its secret is shown once.
    b.js("location.hash = '#/tokens';", json!([]));
    b.wait_for(
        "the token form",
        Duration::from_secs(20),
        "return !!document.getElementById('token-form');",
        json!([]),
    );
    b.type_into("#token-uses", "2");
    b.click("#token-create");
    b.wait_for(
        "the new token's secret",
        Duration::from_secs(20),
        "return (document.getElementById('token-secret') || {textContent: ''}).textContent.startsWith('wet_');",
        json!([]),
    );
    let secret = b.text("#token-secret");
    assert!(b.text("#token-created").contains("2 use(s)"));
    b.screenshot("04-token-shown-once");
    b.check_accessibility("tokens, a secret shown");
    // It works: a host could enroll with it (the operator's view of the
    // tenant's tokens is not needed: redeeming is the proof). Here it is
    // enough that the secret is well-formed and not kept by the page.
    assert!(secret.len() > 20, "{secret}");
    let stored = b.js(
        "return JSON.stringify(Object.assign({}, sessionStorage, localStorage));",
        json!([]),
    );
    assert!(
        !stored.as_str().unwrap().contains(&secret),
        "the page kept the secret: {stored}"
    );
    // Away and back: gone.
    b.js("location.hash = '#/overview';", json!([]));
    b.wait_for(
        "the overview",
        Duration::from_secs(20),
        "return !!document.getElementById('revision');",
        json!([]),
    );
    b.js("location.hash = '#/tokens';", json!([]));
    b.wait_for(
        "the token form again",
        Duration::from_secs(20),
        "return !!document.getElementById('token-form');",
        json!([]),
    );
    assert_eq!(b.count("#token-secret"), 0, "the secret is shown once only");
    // Listed by id (never the secret), and revoked from the list.
    let id = secret.split('_').nth(1).unwrap().to_string();
    let button = format!("#tokens-table button[data-token='{id}']");
    b.wait_for(
        "the token in the list",
        Duration::from_secs(20),
        "return !!document.querySelector(arguments[0]);",
        json!([button]),
    );
    assert!(!b.text("body").contains(&secret));
    b.click(&button);
    b.wait_for(
        "the token revoked",
        Duration::from_secs(20),
        "return !!document.getElementById('tokens-table') && !document.querySelector(arguments[0]);",
        json!([button]),
    );
    let left = api(&state, port, &key_a, "GET", "/v1/tokens", None);
    assert!(!left.to_string().contains(&id), "still there: {left}");
    b.screenshot("05-token-revoked");

    // Sign out clears the key; the second tenant sees nothing of the first.
    b.click("#signout");
    b.wait_for(
        "the sign-in form after sign-out",
        Duration::from_secs(20),
        "return getComputedStyle(document.getElementById('signin')).display !== 'none';",
        json!([]),
    );
    assert_eq!(
        b.js("return sessionStorage.getItem('weft.apiKey');", json!([])),
        Value::Null
    );
    sign_in(&b, &key_b);
    signed_in(&b);
    for view in ["overview", "networks", "hosts", "topology"] {
        b.js(&format!("location.hash = '#/{view}';"), json!([]));
        b.wait_for(
            &format!("B's {view}"),
            Duration::from_secs(20),
            "return !!document.querySelector('#view h1');",
            json!([]),
        );
        let text = b.text("#view");
        for of_a in ["blue", "edge", "10.42.", "note="] {
            assert!(!text.contains(of_a), "B's {view} shows A's {of_a}: {text}");
        }
        if view == "networks" {
            assert!(text.contains("red"), "B's own network: {text}");
        }
    }
    b.js("location.hash = '#/networks';", json!([]));
    b.wait_for(
        "B's networks",
        Duration::from_secs(20),
        "return !!document.getElementById('networks-table');",
        json!([]),
    );
    b.screenshot("06-second-tenant-sees-only-its-own");
    b.check_accessibility("networks");
    b.js("location.hash = '#/networks/red';", json!([]));
    b.wait_for(
        "B's network page",
        Duration::from_secs(20),
        "return !!document.getElementById('blocks-table');",
        json!([]),
    );
    b.check_accessibility("a network's page");
    // The check can fail: a button with no name is a critical violation.
    b.js(
        "document.getElementById('view').append(document.createElement('button'));",
        json!([]),
    );
    let problems = b.accessibility_problems();
    assert!(
        problems.iter().any(|p| p["id"] == "button-name"),
        "axe-core missed a nameless button: {problems:?}"
    );
}
