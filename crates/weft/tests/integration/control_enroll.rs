//! Enrollment for real: `weft control serve` in one lab namespace, `weft
//! agent --control … --enroll-token … --ca-fingerprint …` in another,
//! joined by an underlay. The agent starts while the control plane is
//! down, says so, retries with backoff, and enrolls once it is back.

use std::os::unix::fs::PermissionsExt as _;
use std::time::Duration;
use weft_testkit::*;

use crate::control_common::{self, operator};

const WEFT: &str = env!("CARGO_BIN_EXE_weft");

/// Start the control plane in namespace `cp`; returns it (stopped on drop)
/// and its stdout so far.
fn start_control(lab: &Lab, state: &std::path::Path) -> (process::Spawned, String) {
    let out = state.with_extension(format!("out{}", rand_suffix()));
    let log = state.with_extension("log");
    control_common::start_control(
        WEFT,
        lab,
        "192.0.2.1",
        state,
        (&out, &log),
        &["--log", "debug"],
    )
}

fn rand_suffix() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos()
}

#[test]
fn an_agent_enrolls_once_the_control_plane_is_back() {
    require_root!();
    let mut lab = Lab::new(WEFT);
    lab.add_namespaces(["cp", "h1"]);
    lab.underlay("cp", "h1");
    let state = lab.dir.path().join("control");
    let (control, first) = start_control(&lab, &state);
    let fingerprint = first
        .lines()
        .find_map(|l| l.strip_prefix("CA fingerprint: "))
        .unwrap()
        .to_string();
    let key = operator(WEFT, &state, &["tenant", "create", "acme"])["secret"]
        .as_str()
        .unwrap()
        .to_string();
    let token = operator(WEFT, &state, &["token", "create", "--tenant", "acme"])["secret"]
        .as_str()
        .unwrap()
        .to_string();
    // The control plane goes down before the agent starts.
    drop(control);

    let started = std::time::Instant::now();
    lab.start_agent_with(
        "h1",
        &control_common::enroll_args("h1", "https://192.0.2.1:50051", &fingerprint, &token),
    );
    wait_for(
        "the agent to report the failed enrollment",
        Duration::from_secs(10),
        || lab.agent_log("h1").contains("enrollment failed; retrying"),
    );
    let log = lab.agent_log("h1");
    assert!(log.contains("https://192.0.2.1:50051"), "{log}");
    assert!(!log.contains(&token[20..]), "the token is in the log");
    let cert = lab.agents["h1"].state_dir.join("control/host.pem");
    assert!(!cert.exists());

    let _control = start_control(&lab, &state);
    wait_for("the agent to enroll", Duration::from_secs(40), || {
        cert.exists()
    });
    assert!(started.elapsed() < Duration::from_secs(60));
    for file in ["host.pem", "host.key", "ca.pem", "host_id"] {
        let path = lab.agents["h1"].state_dir.join("control").join(file);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{file}");
    }
    let host_id =
        std::fs::read_to_string(lab.agents["h1"].state_dir.join("control/host_id")).unwrap();
    // The tenant sees the host through the REST API, with curl.
    let hosts = control_common::tenant_hosts(&lab, &state, &key);
    assert_eq!(hosts[0]["id"], host_id.trim());
    assert_eq!(hosts[0]["name"], "h1");
    let log = lab.agent_log("h1");
    assert!(log.contains("enrolled with the control plane"), "{log}");
    assert!(!log.contains(&token[20..]), "the token is in the log");
    // The agent itself carries on as before.
    lab.weft_ok("h1", &["network", "ls"]);
    // Neither side logged a secret, even at debug level.
    let control_log = std::fs::read_to_string(state.with_extension("log")).unwrap();
    assert!(control_log.contains("host enrolled"), "{control_log}");
    let key_pem =
        std::fs::read_to_string(lab.agents["h1"].state_dir.join("control/host.key")).unwrap();
    let key_line = key_pem.lines().nth(2).unwrap();
    for (what, secret) in [
        ("token", &token[17..]),
        ("API key", &key[17..]),
        ("host key", key_line),
    ] {
        assert!(
            !control_log.contains(secret),
            "the control plane logged the {what}"
        );
        assert!(
            !lab.agent_log("h1").contains(secret),
            "the agent logged the {what}"
        );
    }
    lab.finish();
}
