//! A real browser for the dashboard's tests: Debian's headless Chromium,
//! driven over WebDriver (W3C) through `chromedriver`.
//!
//! The client is these few calls over `curl` (the suite's HTTP client for
//! the REST tests already), run inside the lab namespace the browser is in
//! when it is in one — so the browser reaches the control plane on the
//! lab's addresses, and no test traffic leaves loopback or the lab.

// Each test binary uses part of it.
#![allow(dead_code)]

use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;
use weft_testkit::process::Spawned;
use weft_testkit::wait::{poll_until, wait_until};

/// chromedriver's port in a lab namespace (its own loopback).
const LAB_DRIVER_PORT: u16 = 9515;

/// A free port on the host's loopback, for a driver outside any lab.
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// Where a test's screenshots go: `target/tmp/dashboard/<test>/`, emptied
/// first (only this run's pictures) and kept after the run so a person can
/// look at them.
pub fn output_dir(test: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("dashboard")
        .join(test);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub struct Browser {
    ns: Option<String>,
    port: u16,
    session: String,
    out: PathBuf,
    /// Screenshots taken, in order.
    pub shots: Vec<PathBuf>,
    _driver: Spawned,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Start chromedriver (in network namespace `ns`, if given) and one
    /// headless Chromium session; screenshots go to `out`.
    pub fn start(ns: Option<&str>, out: &Path) -> Browser {
        let profile = tempfile::tempdir().unwrap();
        let port = if ns.is_some() {
            LAB_DRIVER_PORT
        } else {
            free_port()
        };
        let log = out.join("chromedriver.log");
        let mut cmd = match ns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns, "chromedriver"]);
                c
            }
            None => Command::new("chromedriver"),
        };
        let child = cmd
            .arg(format!("--port={port}"))
            .arg(format!("--log-path={}", log.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let driver = Spawned::new(child);
        let mut browser = Browser {
            ns: ns.map(str::to_string),
            port,
            session: String::new(),
            out: out.to_path_buf(),
            shots: vec![],
            _driver: driver,
            _profile: profile,
        };
        wait_until("chromedriver to answer", Duration::from_secs(20), || {
            browser
                .try_call("GET", "/status", None)
                .filter(|v| v["value"]["ready"] == true)
        });
        // --no-sandbox: the tests run as root, and Chromium refuses to
        // start its sandbox as root (it needs an unprivileged user for its
        // namespaces and seccomp setup). The pages it opens are the
        // dashboard the test serves, nothing from outside.
        // acceptInsecureCerts: the control plane's certificate is signed by
        // its own CA, made for the test; the REST tests pin it with curl.
        let caps = json!({
            "capabilities": { "alwaysMatch": {
                "browserName": "chrome",
                "acceptInsecureCerts": true,
                "goog:chromeOptions": {
                    "binary": "/usr/bin/chromium",
                    "args": [
                        "--headless=new",
                        "--no-sandbox",
                        "--disable-dev-shm-usage",
                        "--disable-gpu",
                        "--no-first-run",
                        "--window-size=1400,1000",
                        format!("--user-data-dir={}", browser._profile.path().display()),
                    ]
                }
            }}
        });
        let reply = browser.call("POST", "/session", Some(caps));
        browser.session = reply["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {reply}"))
            .to_string();
        browser
    }

    fn try_call(&self, method: &str, path: &str, body: Option<Value>) -> Option<Value> {
        let mut cmd = match &self.ns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns, "curl"]);
                c
            }
            None => Command::new("curl"),
        };
        cmd.args(["-sS", "--max-time", "60", "-X", method])
            .arg(format!("http://127.0.0.1:{}{path}", self.port))
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        // The body through stdin: a script (axe-core) is larger than one
        // command-line argument may be.
        if body.is_some() {
            cmd.args([
                "-H",
                "Content-Type: application/json",
                "--data-binary",
                "@-",
            ])
            .stdin(Stdio::piped());
        } else {
            cmd.stdin(Stdio::null());
        }
        let mut child = cmd.spawn().ok()?;
        if let Some(body) = body {
            use std::io::Write as _;
            let mut stdin = child.stdin.take()?;
            stdin.write_all(body.to_string().as_bytes()).ok()?;
        }
        let out = child.wait_with_output().ok()?;
        serde_json::from_slice(&out.stdout).ok()
    }

    /// A WebDriver command that must succeed: its answer.
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let reply = self
            .try_call(method, path, body)
            .unwrap_or_else(|| panic!("{method} {path}: chromedriver did not answer"));
        if reply["value"]["error"].is_string() {
            panic!("{method} {path}: {}", reply["value"]);
        }
        reply
    }

    fn session_call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let path = format!("/session/{}{path}", self.session);
        self.call(method, &path, body)["value"].take()
    }

    pub fn goto(&self, url: &str) {
        self.session_call("POST", "/url", Some(json!({ "url": url })));
    }

    /// Run `script` (a function body; `arguments` are `args`) in the page.
    pub fn js(&self, script: &str, args: Value) -> Value {
        self.session_call(
            "POST",
            "/execute/sync",
            Some(json!({ "script": script, "args": args })),
        )
    }

    /// Run an async script: its last argument is the callback.
    pub fn js_async(&self, script: &str, args: Value) -> Value {
        self.session_call(
            "POST",
            "/execute/async",
            Some(json!({ "script": script, "args": args })),
        )
    }

    fn element(&self, css: &str) -> String {
        let v = self.session_call(
            "POST",
            "/element",
            Some(json!({ "using": "css selector", "value": css })),
        );
        v.as_object()
            .and_then(|o| o.values().next())
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("no element {css}: {v}"))
            .to_string()
    }

    /// Type `text` into the element `css` (a real key press each).
    pub fn type_into(&self, css: &str, text: &str) {
        let id = self.element(css);
        self.session_call("POST", &format!("/element/{id}/clear"), Some(json!({})));
        self.session_call(
            "POST",
            &format!("/element/{id}/value"),
            Some(json!({ "text": text })),
        );
    }

    /// Click the element `css`, as a user would.
    pub fn click(&self, css: &str) {
        let id = self.element(css);
        self.session_call("POST", &format!("/element/{id}/click"), Some(json!({})));
    }

    /// Move the pointer to the middle of the element `css` (a hover): by
    /// the window's coordinates, as a line may have a box of no width.
    pub fn hover(&self, css: &str) {
        let at = self.js(
            "const r = document.querySelector(arguments[0]).getBoundingClientRect(); \
             return [Math.round(r.left + r.width / 2), Math.round(r.top + r.height / 2)];",
            json!([css]),
        );
        self.session_call(
            "POST",
            "/actions",
            Some(json!({ "actions": [{
                "type": "pointer", "id": "mouse", "parameters": { "pointerType": "mouse" },
                "actions": [{ "type": "pointerMove", "duration": 0, "origin": "viewport", "x": at[0], "y": at[1] }]
            }]})),
        );
    }

    /// The text of the first element matching `css` (empty when none).
    pub fn text(&self, css: &str) -> String {
        self.js(
            "const e = document.querySelector(arguments[0]); return e ? e.textContent : '';",
            json!([css]),
        )
        .as_str()
        .unwrap_or_default()
        .to_string()
    }

    pub fn count(&self, css: &str) -> u64 {
        self.js(
            "return document.querySelectorAll(arguments[0]).length;",
            json!([css]),
        )
        .as_u64()
        .unwrap_or(0)
    }

    /// Wait until `script` returns true in the page, or fail naming `what`.
    pub fn wait_for(&self, what: &str, timeout: Duration, script: &str, args: Value) {
        let ok = poll_until(timeout, Duration::from_millis(250), || {
            self.js(script, args.clone()) == Value::Bool(true)
        });
        if !ok {
            let shot = self.screenshot(&format!("failed-{}", what.replace(' ', "-")));
            panic!(
                "in the browser, {what}: not within {timeout:?} (screenshot {}; page text: {})",
                shot.display(),
                self.text("body")
            );
        }
    }

    /// axe-core's serious and critical violations on the page as it is
    /// now (each: rule, impact, what it wants, where), for `view`.
    pub fn accessibility_problems(&self) -> Vec<Value> {
        let axe = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/dashboard-axe/node_modules/axe-core/axe.min.js");
        let source = std::fs::read_to_string(&axe).unwrap_or_else(|e| {
            panic!(
                "{}: {e}: axe-core is installed by scripts/deps (npm ci, pinned by its lock file)",
                axe.display()
            )
        });
        // Through WebDriver, so the page's CSP (script-src 'self') is not
        // loosened for the test.
        if self.js("return typeof window.axe;", json!([])) != "object" {
            self.js(&format!("{source}\n;return true;"), json!([]));
        }
        let found = self.js_async(
            "const done = arguments[arguments.length - 1]; \
             axe.run(document, { resultTypes: ['violations'] }).then((r) => done(r.violations \
               .filter((v) => v.impact === 'serious' || v.impact === 'critical') \
               .map((v) => ({ id: v.id, impact: v.impact, help: v.help, \
                 nodes: v.nodes.slice(0, 5).map((n) => n.target.join(' ')) })))) \
               .catch((e) => done([{ id: 'axe failed', help: String(e) }]));",
            json!([]),
        );
        found.as_array().cloned().unwrap_or_default()
    }

    /// No serious or critical accessibility problem on the page: `view`
    /// names it in the failure.
    pub fn check_accessibility(&self, view: &str) {
        let problems = self.accessibility_problems();
        if !problems.is_empty() {
            let shot = self.screenshot(&format!("axe-{view}"));
            panic!(
                "axe-core on {view}: {} (screenshot {})",
                serde_json::to_string_pretty(&problems).unwrap(),
                shot.display()
            );
        }
        eprintln!("axe-core: no serious or critical violation on {view}");
    }

    /// Save a PNG of the window as `<out>/<name>.png`.
    pub fn screenshot(&self, name: &str) -> PathBuf {
        use base64::Engine as _;
        let data = self.session_call("GET", "/screenshot", None);
        let png = base64::engine::general_purpose::STANDARD
            .decode(data.as_str().unwrap_or_default())
            .expect("a base64 PNG");
        assert!(png.starts_with(b"\x89PNG"), "not a PNG");
        let path = self.out.join(format!("{name}.png"));
        std::fs::write(&path, png).unwrap();
        eprintln!("screenshot: {}", path.display());
        path
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Ends Chromium; then the driver is stopped by its own drop.
        if !self.session.is_empty() {
            let _ = self.try_call("DELETE", &format!("/session/{}", self.session), None);
        }
    }
}
