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

/// An operator's command (`weft control -o json --state-dir STATE ARGS`)
/// against the control plane's store; its JSON answer.
pub fn operator(weft: &str, state: &Path, args: &[&str]) -> serde_json::Value {
    let out = Command::new(weft)
        .args(["control", "-o", "json", "--state-dir"])
        .arg(state)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}
