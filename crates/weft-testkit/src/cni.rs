//! Driving the real `weft` binary as a CNI runtime does: `CNI_*` variables
//! and the configuration on stdin, inside a host namespace.

use std::io::Write as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};

pub struct CniOutput {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
}

impl CniOutput {
    /// stdout as JSON (must be exactly one document when non-empty).
    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}): {:?}", self.stdout))
    }

    /// The spec's error code; asserts the call failed with an error document.
    #[track_caller]
    pub fn code(&self) -> u64 {
        assert!(!self.ok, "expected failure, got success: {}", self.stdout);
        let doc = self.json();
        assert!(doc["msg"].is_string(), "error without msg: {doc}");
        doc["code"]
            .as_u64()
            .unwrap_or_else(|| panic!("no code: {doc}"))
    }

    pub fn msg(&self) -> String {
        self.json()["msg"].as_str().unwrap_or_default().to_string()
    }
}

/// Start the plugin (`weft`) in namespace `ns` (full name) with exactly
/// these variables (and PATH), `stdin` written to it; stdout and stderr
/// piped. For calls that race each other.
pub fn spawn(weft: &Path, ns: &str, vars: &[(&str, &str)], stdin: &str) -> Child {
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", ns])
        .arg(weft)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn weft as a CNI plugin");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child
}

/// Run the plugin in `ns` (full name) with exactly these variables.
pub fn plugin(weft: &Path, ns: &str, vars: &[(&str, &str)], stdin: &str) -> CniOutput {
    let out = spawn(weft, ns, vars, stdin).wait_with_output().unwrap();
    CniOutput {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).trim().to_string(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The variables of one call; empty values are left out.
pub fn vars<'a>(
    command: &'a str,
    id: &'a str,
    netns: &'a str,
    ifname: &'a str,
) -> Vec<(&'a str, &'a str)> {
    let mut v = vec![("CNI_COMMAND", command), ("CNI_PATH", "/opt/cni/bin")];
    if !id.is_empty() {
        v.push(("CNI_CONTAINERID", id));
    }
    if !netns.is_empty() {
        v.push(("CNI_NETNS", netns));
    }
    if !ifname.is_empty() {
        v.push(("CNI_IFNAME", ifname));
    }
    v
}
