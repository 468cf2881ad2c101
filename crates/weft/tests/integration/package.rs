//! The Debian package, installed as an operator installs it, in a
//! throwaway root (package_common's overlay of this machine's root, so
//! dpkg, its maintainer scripts and the agent run for real and nothing
//! reaches the machine): `weft --version`, the files and their modes, the
//! units verified by systemd-analyze, nothing enabled; the agent started
//! exactly as weft-agent.service starts it (its ExecStart=, its
//! EnvironmentFile= as the operator edits it) enrolls with a real
//! `weft control serve`; purge leaves only the documented state.

use std::time::Duration;
use weft_testkit::*;

use crate::control_common;
use crate::package_common::{ThrowawayRoot, build_package, repo_root};

const WEFT: &str = env!("CARGO_BIN_EXE_weft");

/// What purge keeps, as docs/install.md and the postrm's message say; and
/// what dpkg and useradd themselves keep (their databases, logs, locks).
const KEPT_BY_PURGE: &[&str] = &[
    "var/lib/weft",
    "var/lib/weft-control",
    // The weft-control user, which owns /var/lib/weft-control.
    "etc/passwd",
    "etc/passwd-",
    "etc/group",
    "etc/group-",
    "etc/shadow",
    "etc/shadow-",
    "etc/gshadow",
    "etc/gshadow-",
    "etc/.pwd.lock",
    "var/log/lastlog",
    "var/log/faillog",
    // dpkg's own database and log.
    "var/lib/dpkg",
    "var/log/dpkg.log",
];

fn kept_by_purge(path: &str) -> bool {
    KEPT_BY_PURGE
        .iter()
        .any(|kept| path == *kept || path.starts_with(&format!("{kept}/")))
}

/// `KEY=VALUE` lines of a systemd environment file, as systemd reads the
/// simple ones: blank lines and `#`/`;` comments skipped. Anything this
/// does not read as systemd does (quotes, continuations) fails the test.
fn environment_file(text: &str) -> Vec<(String, String)> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with(';'))
        .map(|line| {
            assert!(
                !line.contains(['"', '\'', '\\']),
                "the env file's line {line:?} needs systemd's quoting rules"
            );
            let (key, value) = line.split_once('=').expect("KEY=VALUE");
            (key.trim().to_string(), value.trim().to_string())
        })
        .collect()
}

/// The value of `key=` in a unit's `[Service]` section (one occurrence).
fn unit_setting(unit: &str, key: &str) -> String {
    let values: Vec<_> = unit
        .lines()
        .filter_map(|l| l.strip_prefix(&format!("{key}=")))
        .collect();
    assert_eq!(values.len(), 1, "{key}= in {unit}");
    values[0].to_string()
}

#[test]
fn the_package_installs_runs_its_agent_as_the_unit_does_and_purges_to_its_state() {
    require_root!();
    let mut lab = Lab::new(WEFT);
    lab.add_namespaces(["cp", "h1"]);
    lab.underlay("cp", "h1");
    let root = ThrowawayRoot::new(lab.dir.path());
    let deb = build_package(WEFT, &root.shared);
    let deb_name = deb.file_name().unwrap().to_str().unwrap();

    // The root starts as a machine that never had weft: whatever this
    // machine has of it (a demo's /var/lib/weft, …) is hidden in the root.
    // man-db's trigger (reindexing every man page on the machine) is
    // switched off the way man-db documents: it is slow and not weft's.
    root.run_ok(
        "dpkg --purge weft >/dev/null 2>&1 || true; \
         rm -rf /var/lib/weft /var/lib/weft-control /etc/weft; \
         userdel weft-control 2>/dev/null || true; groupdel weft-control 2>/dev/null || true; \
         rm -f /var/lib/man-db/auto-update",
    );
    let prepared = root.left_behind();
    let installed = root.run_ok(&format!("dpkg -i /mnt/{deb_name} 2>&1"));
    assert!(!installed.contains("Created symlink"), "{installed}");

    // `weft --version`: the version and a commit git knows.
    let version = root.run_ok("weft --version");
    let commit = version
        .trim()
        .strip_prefix(&format!("weft {} (commit ", env!("CARGO_PKG_VERSION")))
        .and_then(|rest| rest.strip_suffix(')'))
        .unwrap_or_else(|| panic!("weft --version: {version}"));
    assert_eq!(commit.len(), 12, "{version}");
    let known = std::process::Command::new("git")
        .arg("-C")
        .arg(repo_root())
        .args(["cat-file", "-e", &format!("{commit}^{{commit}}")])
        .status()
        .unwrap();
    assert!(
        known.success(),
        "{version}: not a commit of this repository"
    );

    // Files, owners and modes.
    let control_uid: u32 = root.run_ok("id -u weft-control").trim().parse().unwrap();
    let control_gid: u32 = root.run_ok("id -g weft-control").trim().parse().unwrap();
    assert_ne!(control_uid, 0);
    for (path, mode, uid, gid) in [
        ("/usr/bin/weft", 0o755, 0, 0),
        ("/etc/weft/agent.env", 0o600, 0, 0),
        ("/usr/lib/systemd/system/weft-agent.service", 0o644, 0, 0),
        ("/usr/lib/systemd/system/weft-control.service", 0o644, 0, 0),
        ("/usr/share/man/man1/weft-agent.1.gz", 0o644, 0, 0),
        ("/usr/share/bash-completion/completions/weft", 0o644, 0, 0),
        ("/usr/share/zsh/vendor-completions/_weft", 0o644, 0, 0),
        (
            "/usr/share/fish/vendor_completions.d/weft.fish",
            0o644,
            0,
            0,
        ),
        ("/var/lib/weft", 0o700, 0, 0),
        ("/var/lib/weft-control", 0o700, control_uid, control_gid),
    ] {
        assert_eq!(root.mode_owner(path), (mode, uid, gid), "{path}");
    }
    assert_eq!(
        root.run_ok("readlink -f /usr/lib/cni/weft").trim(),
        "/usr/bin/weft"
    );
    let conffiles = root.run_ok("dpkg-query -W -f '${Conffiles}' weft");
    assert!(conffiles.contains("/etc/weft/agent.env"), "{conffiles}");
    // A man page per command, all of them, as man finds them.
    let pages = std::fs::read_dir(repo_root().join("docs/man"))
        .unwrap()
        .count();
    let shipped = root.run_ok("ls /usr/share/man/man1 | grep -c '^weft'");
    assert_eq!(shipped.trim(), pages.to_string());
    // Stripped: the debug info is in the -dbgsym package, by build id.
    let sections = ok(
        "readelf",
        &[
            "-S",
            "-W",
            root.upper().join("usr/bin/weft").to_str().unwrap(),
        ],
    );
    for debug in [".debug_info", ".debug_line", ".symtab"] {
        assert!(!sections.contains(debug), "the shipped binary has {debug}");
    }
    assert!(sections.contains(".gnu_debuglink"), "{sections}");
    let ddeb = deb.with_file_name(
        deb_name
            .replace("weft_", "weft-dbgsym_")
            .replace(".deb", ".ddeb"),
    );
    let debug_files = ok("dpkg-deb", &["-c", ddeb.to_str().unwrap()]);
    assert!(
        debug_files.contains("./usr/lib/debug/.build-id/"),
        "{debug_files}"
    );
    // Nothing enabled or started: no unit is linked into a target.
    assert!(
        root.changed("/etc/systemd").is_none(),
        "the package enabled a unit"
    );

    // The units, as systemd reads them.
    let verify = root.run(
        "systemd-analyze verify /usr/lib/systemd/system/weft-agent.service \
         /usr/lib/systemd/system/weft-control.service",
    );
    let verify_err = String::from_utf8_lossy(&verify.stderr);
    assert!(
        verify.status.success(),
        "systemd-analyze verify: {verify_err}"
    );
    assert!(
        !verify_err.contains("weft"),
        "systemd-analyze verify: {verify_err}"
    );

    // The agent, started as its unit starts it, enrolls with a real
    // control plane: the operator fills in the package's env file.
    let state = lab.dir.path().join("control");
    let (_control, first) = control_common::start_control(
        WEFT,
        &lab,
        "192.0.2.1",
        &state,
        (&state.with_extension("out"), &state.with_extension("log")),
        &[],
    );
    let fingerprint = first
        .lines()
        .find_map(|l| l.strip_prefix("CA fingerprint: "))
        .unwrap()
        .to_string();
    let operator = |args: &[&str]| control_common::operator(WEFT, &state, args);
    let key = operator(&["tenant", "create", "acme"])["secret"]
        .as_str()
        .unwrap()
        .to_string();
    let token = operator(&["token", "create", "--tenant", "acme"])["secret"]
        .as_str()
        .unwrap()
        .to_string();
    root.run_ok(&format!(
        "sed -i -e 's|^#WEFT_CONTROL=.*|WEFT_CONTROL=https://192.0.2.1:50051|' \
         -e 's|^#WEFT_CA_FINGERPRINT=.*|WEFT_CA_FINGERPRINT={fingerprint}|' \
         -e 's|^#WEFT_ENROLL_TOKEN=.*|WEFT_ENROLL_TOKEN={token}|' /etc/weft/agent.env"
    ));
    assert_eq!(root.mode_owner("/etc/weft/agent.env").0, 0o600);
    let unit = std::fs::read_to_string(
        root.upper()
            .join("usr/lib/systemd/system/weft-agent.service"),
    )
    .unwrap();
    let env_file = unit_setting(&unit, "EnvironmentFile");
    let env_file = env_file.strip_prefix('-').unwrap_or(&env_file);
    let exec_start = unit_setting(&unit, "ExecStart");
    assert!(
        !exec_start.contains(['"', '\'', '$', '%', '\\']) && exec_start.starts_with('/'),
        "ExecStart={exec_start} needs systemd's own parsing"
    );
    let env = environment_file(
        &std::fs::read_to_string(root.upper().join(env_file.trim_start_matches('/'))).unwrap(),
    );
    let names: Vec<_> = env.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        ["WEFT_CONTROL", "WEFT_CA_FINGERPRINT", "WEFT_ENROLL_TOKEN"]
    );
    let assignments: Vec<_> = env.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let log = lab.dir.path().join("unit-agent.log");
    let agent = root
        .command(
            Some(&lab.ns("h1")),
            // As systemd: only the unit's environment, then ExecStart=.
            &format!("exec env -i {} {exec_start}", assignments.join(" ")),
        )
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let agent = Spawned {
        child: agent,
        log: log.clone(),
    };
    let cert = root.upper().join("var/lib/weft/control/host.pem");
    let enrolled = poll_until(Duration::from_secs(40), Duration::from_millis(100), || {
        cert.exists()
    });
    assert!(enrolled, "the agent did not enroll: {}", agent.log());
    let hosts = control_common::tenant_hosts(&lab, &state, &key);
    assert_eq!(hosts.as_array().map(Vec::len), Some(1), "{hosts}");
    assert!(
        !agent.log().contains(&token[20..]),
        "the token is in the log"
    );
    drop(agent);

    // Purge: everything goes but the state directories, and it says so.
    let purged = root.run_ok("dpkg --purge weft 2>&1");
    assert!(
        purged.contains("kept the state directories: /var/lib/weft /var/lib/weft-control"),
        "{purged}"
    );
    let (kept, left): (Vec<_>, Vec<_>) = root
        .left_behind()
        .into_iter()
        .filter(|path| !prepared.contains(path))
        .partition(|path| kept_by_purge(path));
    assert!(left.is_empty(), "purge left {left:?}");
    eprintln!("after purge the root keeps {kept:?}");
    assert!(root.changed("/var/lib/weft/control/host.pem").is_some());
    assert_eq!(root.mode_owner("/var/lib/weft").0, 0o700);
    drop(root);
    lab.finish();
}
