//! Shared by the control-plane tests: `weft control serve` in a lab
//! namespace.

// Each test binary uses part of it.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;
use weft_testkit::{Lab, process, wait_until};

/// Start the control plane in namespace `cp`, serving on `addr` (ports 8443
/// and 50051) with its state in `state`, stdout to `out` and stderr to
/// `log`, plus `extra` arguments; returns it (stopped on drop) and its
/// stdout once it serves.
pub fn start_control(
    weft: &str,
    lab: &Lab,
    addr: &str,
    state: &Path,
    (out, log): (&Path, &Path),
    extra: &[&str],
) -> (process::Spawned, String) {
    start_control_in(weft, lab, "cp", addr, state, (out, log), extra)
}

/// [`start_control`] in the lab's namespace `ns`.
pub fn start_control_in(
    weft: &str,
    lab: &Lab,
    ns: &str,
    addr: &str,
    state: &Path,
    (out, log): (&Path, &Path),
    extra: &[&str],
) -> (process::Spawned, String) {
    let child = Command::new("ip")
        .args(["netns", "exec", &lab.ns(ns), weft, "control", "serve"])
        .args(["--listen", &format!("{addr}:8443")])
        .args(["--grpc", &format!("{addr}:50051")])
        .args(["--server-name", addr])
        .args(extra)
        .arg("--state-dir")
        .arg(state)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(out).unwrap())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .unwrap();
    let child = process::Spawned::new(child);
    let text = wait_until(
        "the control plane to serve",
        Duration::from_secs(20),
        || {
            let text = std::fs::read_to_string(out).ok()?;
            text.contains("agents (gRPC)").then_some(text)
        },
    );
    (child, text)
}

/// cp (at `cp_addr`) and hosts h1, h2, … on one switch (a bridge in
/// namespace `sw`): host hN at 192.0.2.N, all /24.
pub fn switch(lab: &mut Lab, cp_addr: &str, hosts: &[&str]) {
    let mut names = vec!["sw", "cp"];
    names.extend(hosts);
    lab.add_namespaces(names);
    lab.exec_ok("sw", "ip link add br0 type bridge && ip link set br0 up");
    for (i, ns) in std::iter::once(&"cp").chain(hosts).enumerate() {
        let addr = if *ns == "cp" {
            cp_addr.to_string()
        } else {
            format!("192.0.2.{i}")
        };
        weft_testkit::sh(&format!(
            "ip link add u0 netns {host} type veth peer name p{i} netns {sw} && \
             ip -n {sw} link set p{i} master br0 up && \
             ip -n {host} addr add {addr}/24 dev u0 && ip -n {host} link set u0 up && \
             ip -n {host} link set lo up",
            host = lab.ns(ns),
            sw = lab.ns("sw"),
        ));
    }
}

/// `weft control serve` on loopback (ports chosen by the system): the
/// process (stopped on drop), its REST port and its stdout.
pub fn serve_on_loopback(weft: &str, state: &Path) -> (process::Spawned, u16, String) {
    let out = state.with_extension("out");
    let child = Command::new(weft)
        .args(["control", "serve", "--listen", "127.0.0.1:0"])
        .args(["--grpc", "127.0.0.1:0", "--state-dir"])
        .arg(state)
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let process = process::Spawned::new(child);
    let stdout = wait_until("the REST API's address", Duration::from_secs(20), || {
        let text = std::fs::read_to_string(&out).ok()?;
        text.contains("REST API:").then_some(text)
    });
    let port = stdout
        .split("https://127.0.0.1:")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in {stdout}"));
    (process, port, stdout)
}

/// An operator command (`weft control -o json --state-dir STATE ARGS`) that
/// must succeed; its JSON.
pub fn operator(weft: &str, state: &Path, args: &[&str]) -> serde_json::Value {
    let out = Command::new(weft)
        .args(["control", "-o", "json", "--state-dir"])
        .arg(state)
        .args(args)
        .output()
        .unwrap();
    let text = weft_testkit::stdout_of(out, &format!("weft control {args:?}"));
    serde_json::from_str(&text).unwrap()
}

/// The CA fingerprint `weft control serve` printed on its stdout.
pub fn fingerprint(stdout: &str) -> String {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("CA fingerprint: "))
        .unwrap_or_else(|| panic!("no CA fingerprint in {stdout}"))
        .to_string()
}

/// The secret an operator command printed (`tenant create`, `token create`).
pub fn secret(weft: &str, state: &Path, args: &[&str]) -> String {
    operator(weft, state, args)["secret"]
        .as_str()
        .unwrap_or_else(|| panic!("weft control {args:?} printed no secret"))
        .to_string()
}

/// A new tenant's API key and an enrollment token of it for `uses` hosts,
/// made by the operator (`weft control tenant create`, `token create`).
pub fn tenant_with_token(weft: &str, state: &Path, tenant: &str, uses: u32) -> (String, String) {
    let key = secret(weft, state, &["tenant", "create", tenant]);
    let token = secret(
        weft,
        state,
        &[
            "token",
            "create",
            "--tenant",
            tenant,
            "--uses",
            &uses.to_string(),
        ],
    );
    (key, token)
}

/// The arguments that make lab agent `host` enroll with the control plane
/// whose gRPC address is `url`, trusting the CA of `fingerprint`, with
/// enrollment token `token`.
pub fn enroll_args<'a>(
    host: &'a str,
    url: &'a str,
    fingerprint: &'a str,
    token: &'a str,
) -> [&'a str; 8] {
    [
        "--host-name",
        host,
        "--control",
        url,
        "--ca-fingerprint",
        fingerprint,
        "--enroll-token",
        token,
    ]
}

/// The hosts tenant `key` sees (`GET /v1/hosts`), asked with curl from
/// namespace `cp` of the control plane at 192.0.2.1, pinned to its CA.
pub fn tenant_hosts(lab: &Lab, state: &Path, key: &str) -> serde_json::Value {
    let hosts = lab.exec_ok(
        "cp",
        &format!(
            "curl -sS --cacert {} -H 'Authorization: Bearer {key}' https://192.0.2.1:8443/v1/hosts",
            state.join("ca.pem").display()
        ),
    );
    serde_json::from_str(&hosts).unwrap()
}

/// A tenant calling the REST API with `curl` from lab namespace `ns`.
#[derive(Clone)]
pub struct TenantCurl {
    pub ns: String,
    /// The control plane's address (port 8443).
    pub addr: String,
    pub ca: String,
    pub key: String,
}

impl TenantCurl {
    /// The status and body of `method path` with `body` as JSON.
    pub fn call(
        &self,
        lab: &Lab,
        method: &str,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let data = body
            .map(|b| format!("-H 'Content-Type: application/json' -d '{b}'"))
            .unwrap_or_default();
        let out = lab.exec_ok(
            &self.ns,
            &format!(
                "curl -sS -w '\\n%{{http_code}}' -X {method} --cacert {} -H 'Authorization: Bearer {}' {data} https://{}:8443{path}",
                self.ca, self.key, self.addr
            ),
        );
        let (text, code) = out.trim_end().rsplit_once('\n').unwrap_or(("", out.trim()));
        let json = if text.trim().is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_str(text).unwrap_or_else(|_| panic!("not JSON: {text}"))
        };
        (code.trim().parse().unwrap_or(0), json)
    }

    /// `method path` that must succeed: its body.
    pub fn ok(
        &self,
        lab: &Lab,
        method: &str,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> serde_json::Value {
        let (status, json) = self.call(lab, method, path, body);
        assert!(
            (200..300).contains(&status),
            "{method} {path}: {status} {json}"
        );
        json
    }
}

/// A control plane in lab namespace `ns` at `addr` (its state in the
/// lab's `control/`) with tenant `acme` calling it with curl from there.
pub struct TenantPlane {
    /// The server, stopped on drop (or by [`TenantPlane::stop`]).
    control: Option<process::Spawned>,
    pub fingerprint: String,
    pub state: std::path::PathBuf,
    pub tenant: TenantCurl,
    ns: String,
}

impl TenantPlane {
    pub fn start(weft: &str, lab: &Lab, ns: &str, addr: &str) -> TenantPlane {
        let state = lab.dir.path().join("control");
        let (control, first) = Self::serve(weft, lab, ns, addr, &state);
        let fingerprint = first
            .lines()
            .find_map(|l| l.strip_prefix("CA fingerprint: "))
            .unwrap()
            .to_string();
        let key = operator(weft, &state, &["tenant", "create", "acme"])["secret"]
            .as_str()
            .unwrap()
            .to_string();
        let tenant = TenantCurl {
            ns: ns.into(),
            addr: addr.into(),
            ca: state.join("ca.pem").display().to_string(),
            key,
        };
        TenantPlane {
            control: Some(control),
            fingerprint,
            state,
            tenant,
            ns: ns.into(),
        }
    }

    fn serve(
        weft: &str,
        lab: &Lab,
        ns: &str,
        addr: &str,
        state: &Path,
    ) -> (process::Spawned, String) {
        let (out, log) = (state.with_extension("out"), state.with_extension("log"));
        start_control_in(weft, lab, ns, addr, state, (&out, &log), &[])
    }

    /// Stop the server (its state stays).
    pub fn stop(&mut self) {
        self.control = None;
    }

    /// The server again, on the same state.
    pub fn restart(&mut self, weft: &str, lab: &Lab) {
        self.stop();
        self.control = Some(Self::serve(weft, lab, &self.ns, &self.tenant.addr, &self.state).0);
    }

    /// An enrollment token of tenant acme (operator's arguments `extra`,
    /// e.g. `--site east --uses 2`).
    pub fn token(&self, weft: &str, extra: &[&str]) -> String {
        let mut args = vec!["token", "create", "--tenant", "acme"];
        args.extend_from_slice(extra);
        operator(weft, &self.state, &args)["secret"]
            .as_str()
            .unwrap()
            .to_string()
    }
}
