//! The tenant's CLI against a real control plane: every `weft control`
//! command that calls a REST route, run as a process with `WEFT_API`,
//! `WEFT_API_KEY` and `WEFT_CA` (or the flags), its JSON and its table
//! checked; and what it refuses: no key, a bad URL, another tenant's host.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;
use weft_testkit::*;

use crate::control_common::{self, operator};

const WEFT: &str = env!("CARGO_BIN_EXE_weft");
const CP: &str = "192.0.2.1";

/// `weft control ARGS` in namespace h1 as the tenant of `key`.
struct Tenant {
    /// Lab namespace h1's name.
    ns: String,
    ca: String,
    key: String,
}

impl Tenant {
    fn run(&self, args: &[&str]) -> Output {
        Command::new("ip")
            .args(["netns", "exec", &self.ns, WEFT, "control"])
            .args(args)
            .env("WEFT_API", format!("https://{CP}:8443"))
            .env("WEFT_API_KEY", &self.key)
            .env("WEFT_CA", &self.ca)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        stdout_of(self.run(args), &format!("weft control {args:?}"))
    }

    fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut all = vec!["-o", "json"];
        all.extend_from_slice(args);
        let text = self.ok(&all);
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{args:?}: {e}: {text}"))
    }

    /// The command fails; its stderr.
    fn refused(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(!out.status.success(), "{args:?} succeeded");
        String::from_utf8_lossy(&out.stderr).into_owned()
    }
}

#[test]
fn every_tenant_command_calls_its_route() {
    require_root!();
    let mut lab = Lab::new(WEFT);
    lab.add_namespaces(["h1", "h2"]);
    lab.switched_underlay(&["h1", "h2"]);
    let state = lab.dir.path().join("control");
    let out = lab.dir.path().join("control.out");
    let log = lab.dir.path().join("control.log");
    let (_control, _) =
        control_common::start_control_in(WEFT, &lab, "h1", CP, &state, (&out, &log), &[]);
    let acme = operator(WEFT, &state, &["tenant", "create", "acme"])["secret"]
        .as_str()
        .unwrap()
        .to_string();
    let other = operator(WEFT, &state, &["tenant", "create", "other"])["secret"]
        .as_str()
        .unwrap()
        .to_string();
    let ca = state.join("ca.pem").display().to_string();
    let t = Tenant {
        ns: lab.ns("h1"),
        ca: ca.clone(),
        key: acme,
    };

    // Sites first: a token names one.
    let site = t.json(&["site", "create", "edge-1", "--label", "region=eu"]);
    assert_eq!(site["labels"]["region"], "eu", "{site}");
    assert!(t.ok(&["site", "ls"]).contains("region=eu"));
    assert_eq!(t.json(&["site", "show", "edge-1"])["name"], "edge-1");
    t.ok(&["site", "create", "edge-2"]);

    let token = t.json(&["token", "create", "--site", "edge-1", "--ttl", "10m"]);
    assert_eq!(token["site"], "edge-1", "{token}");
    let secret = token["token"].as_str().unwrap();
    assert!(secret.starts_with("wet_"), "{token}");
    lab.start_agent_with(
        "h2",
        &[
            "--host-name",
            "h2",
            "--control",
            &format!("https://{CP}:50051"),
            "--ca-file",
            &ca,
            "--enroll-token",
            secret,
        ],
    );
    let id = wait_until("h2 to enroll", Duration::from_secs(20), || {
        let hosts = t.json(&["host", "ls"]);
        hosts[0]["id"].as_str().map(str::to_string)
    });
    assert_eq!(t.json(&["site", "hosts", "edge-1"])[0]["name"], "h2");

    // Hosts, by name or id.
    assert_eq!(t.json(&["host", "show", "h2"])["id"], id.as_str());
    assert_eq!(t.json(&["host", "show", &id])["name"], "h2");
    let table = t.ok(&["host", "ls"]);
    assert!(
        table.starts_with("HOST") && table.contains("edge-1"),
        "{table}"
    );
    assert_eq!(
        t.json(&["host", "move", "h2", "--site", "edge-2"])["site"],
        "edge-2"
    );
    assert!(t.json(&["host", "move", "h2", "--no-site"])["site"].is_null());
    t.ok(&["host", "move", "h2", "--site", "edge-1"]);

    // WireGuard networks.
    let blue = t.json(&["network", "create", "blue", "--subnet", "10.42.0.0/16"]);
    assert_eq!(blue["subnet"], "10.42.0.0/16", "{blue}");
    assert_eq!(t.json(&["network", "ls"])[0]["name"], "blue");
    // JSON keeps the API's host ids; tables name the hosts.
    let table = t.ok(&["network", "show", "blue"]);
    assert!(
        table.contains("h2=10.42.") && !table.contains(&id),
        "{table}"
    );
    assert_eq!(t.json(&["network", "show", "blue"])["name"], "blue");
    assert_eq!(t.json(&["network", "hosts", "blue"])["all"], true);
    let only = t.json(&["network", "set-hosts", "blue", "h2"]);
    assert_eq!(only["all"], false, "{only}");
    assert_eq!(only["hosts"][0]["host"], id.as_str(), "{only}");
    assert_eq!(
        t.json(&["network", "set-hosts", "blue", "--all"])["all"],
        true
    );

    // VXLAN networks of a site, carried over blue.
    let lan = t.json(&[
        "vxlan",
        "create",
        "edge-1",
        "lan",
        "--subnet",
        "10.60.0.0/16",
        "--over",
        "blue",
        "--vni",
        "4242",
    ]);
    assert_eq!(
        (lan["vni"].as_u64(), lan["over"].as_str()),
        (Some(4242), Some("blue"))
    );
    assert_eq!(t.json(&["vxlan", "ls", "edge-1"])[0]["name"], "lan");
    assert_eq!(t.json(&["vxlan", "show", "lan"])["site"], "edge-1");
    let status = t.json(&["status"]);
    assert_eq!(status["hosts"][0]["name"], "h2", "{status}");
    let modes: Vec<&str> = status["networks"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|n| n["mode"].as_str())
        .collect();
    assert!(modes.contains(&"vxlan"), "{status}");
    assert!(t.ok(&["status"]).contains("blue"));
    let openapi = t.ok(&["openapi"]);
    assert!(openapi.contains("/v1/sites/{site}/vxlan-networks"));
    // A VM on h2: a NIC on blue at a chosen address, one more on lan
    // (h2 is in edge-1), detached again; shown as the agent made them.
    let vm = t.json(&[
        "vm",
        "create",
        "web",
        "--host",
        "h2",
        "--nic",
        "blue=10.42.0.9",
    ]);
    assert_eq!(vm["nics"][0]["ip"], "10.42.0.9", "{vm}");
    t.json(&["vm", "attach", "web", "lan"]);
    let vm = wait_until("web's NICs made on h2", Duration::from_secs(20), || {
        let vm = t.json(&["vm", "show", "web"]);
        (vm["nics"].as_array()?.iter().all(|n| n["state"] == "made")).then_some(vm)
    });
    assert_eq!(vm["nics"][1]["ifname"], "eth1", "{vm}");
    assert!(vm["config"]["qemu"].is_array(), "{vm}");
    let table = t.ok(&["vm", "ls"]);
    let tap = vm["nics"][0]["tap"].as_str().unwrap();
    assert!(
        table.starts_with("VM") && table.contains(tap) && table.contains("10.42.0.9/"),
        "{table}"
    );
    let detached = t.json(&["vm", "detach", "web", "lan"]);
    assert_eq!(detached["nics"].as_array().unwrap().len(), 1, "{detached}");
    let err = t.refused(&["vm", "create", "db", "--host", "h2", "--nic", "nosuch"]);
    assert!(err.contains("nics[0].network"), "{err}");
    // Run by h2: --kernel and the rest become `run`; a kernel h2 does not
    // have fails the run, naming it, shown by `vm show` and `vm ls`.
    let db = ["vm", "create", "db", "--host", "h2", "--nic", "blue"];
    let err = t.refused(&[&db[..], &["--kernel", "/k", "--memory", "8"]].concat());
    assert!(err.contains("run.memory"), "{err}");
    let run = [
        "--kernel",
        "/nonexistent/vmlinuz",
        "--memory",
        "64",
        "--vcpus",
        "2",
    ];
    let vm = t.json(&[&db[..], &run].concat());
    assert_eq!(
        (vm["run"]["memory"].as_u64(), vm["run"]["vcpus"].as_u64()),
        (Some(64), Some(2)),
        "{vm}"
    );
    let vm = wait_until("db's run to fail on h2", Duration::from_secs(20), || {
        let vm = t.json(&["vm", "show", "db"]);
        (vm["run"]["state"] == "failed").then_some(vm)
    });
    let error = vm["run"]["error"].as_str().unwrap();
    assert!(
        error.contains("run.kernel /nonexistent/vmlinuz does not exist"),
        "{error}"
    );
    assert!(t.ok(&["vm", "show", "db"]).contains("failed"));
    t.ok(&["vm", "rm", "db"]);

    // The host's log, as its agent streamed it.
    wait_for("h2's streamed log", Duration::from_secs(10), || {
        !t.ok(&["logs", "h2"]).trim().is_empty()
    });

    // Another tenant's key reaches nothing of acme's (the API's 404,
    // said by the CLI); with acme's, the same commands work.
    let b = Tenant {
        ns: lab.ns("h1"),
        ca: ca.clone(),
        key: other,
    };
    let err = b.refused(&["host", "show", &id]);
    assert!(err.contains("404"), "{err}");
    let err = b.refused(&["site", "rm", "edge-1"]);
    assert!(err.contains("404"), "{err}");
    assert_eq!(b.json(&["network", "ls"]), serde_json::json!([]));
    let err = b.refused(&["vm", "show", "web"]);
    assert!(err.contains("404"), "{err}");
    assert_eq!(b.json(&["vm", "ls"]), serde_json::json!([]));

    // Refused before any request: no key, a bad URL; a bad key by the API.
    let nokey = Tenant {
        ns: lab.ns("h1"),
        ca: ca.clone(),
        key: String::new(),
    };
    let out = Command::new("ip")
        .args(["netns", "exec", &lab.ns("h1"), WEFT, "control", "status"])
        .args(["--api", &format!("https://{CP}:8443"), "--ca", &ca])
        .env_remove("WEFT_API_KEY")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("WEFT_API_KEY"),
        "{err}"
    );
    let out = Command::new(WEFT)
        .args(["control", "token", "create"])
        .env_remove("WEFT_API")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("--tenant"), "{err}");
    let err = nokey.refused(&["status", "--api", "http://cp:8443"]);
    assert!(err.contains("--api"), "{err}");
    let forged = Tenant {
        ns: lab.ns("h1"),
        ca: ca.clone(),
        key: "wak_0000000000000000_notakey".into(),
    };
    let err = forged.refused(&["status"]);
    assert!(err.contains("401"), "{err}");
    assert!(!err.contains("notakey"), "the key is echoed: {err}");
    // A CA that did not sign the API's certificate: refused.
    let stranger = Tenant {
        ns: lab.ns("h1"),
        ca: write_other_ca(lab.dir.path()),
        key: t.key.clone(),
    };
    let err = stranger.refused(&["status"]);
    assert!(err.contains("reach the control plane"), "{err}");

    // Deletions, and a site that still has hosts refused (409, naming it).
    let err = t.refused(&["site", "rm", "edge-1"]);
    assert!(
        err.contains("409") && (err.contains("h2") || err.contains(&id)),
        "{err}"
    );
    assert!(t.ok(&["vm", "rm", "web"]).contains("deleted VM web"));
    assert!(t.ok(&["vxlan", "rm", "lan"]).contains("deleted"));
    t.ok(&["network", "rm", "blue"]);
    t.ok(&["host", "rm", "h2"]);
    t.ok(&["site", "rm", "edge-1"]);
    assert_eq!(t.json(&["site", "ls"])[0]["name"], "edge-2");
    lab.finish();
}

/// A CA of its own (another control plane's state), not the API's.
fn write_other_ca(dir: &Path) -> String {
    let other = dir.join("other");
    std::fs::create_dir_all(&other).unwrap();
    // `tenant create` on a fresh state dir makes no CA; serve would. A
    // self-signed certificate from openssl stands in for any other CA.
    let pem = other.join("ca.pem");
    sh(&format!(
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout {key} \
         -out {pem} -days 1 -subj /CN=other 2>/dev/null",
        key = other.join("ca.key").display(),
        pem = pem.display()
    ));
    pem.display().to_string()
}
