//! Bad input gets a one-line error that names the problem, a non-zero exit,
//! and changes nothing: not the agent's records, not the kernel.

use weft_testkit::*;

const WEFT: &str = env!("CARGO_BIN_EXE_weft");

/// Everything observable about a host: the agent's records and the host's
/// and container's links, addresses and routes.
fn snapshot(lab: &Lab) -> String {
    let nets = lab.weft_ok("h1", &["network", "ls", "-o", "json"]);
    let atts = lab.weft_ok("h1", &["attachments", "-o", "json"]);
    let peers = lab.weft_ok("h1", &["status", "-o", "json"]);
    let peers: serde_json::Value = serde_json::from_str(&peers).unwrap();
    let peer_keys: Vec<String> = peers["networks"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|n| {
            n["peers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["public_key"].to_string())
        })
        .collect();
    let strip = |s: String| {
        // Counters move on their own; keep what configuration determines.
        s.lines()
            .filter(|l| !l.contains("\"stats") && !l.contains("bytes"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    format!(
        "{nets}\n{atts}\n{peer_keys:?}\n{}\n{}\n{}\n{}",
        strip(lab.exec_ok("h1", "ip -br link")),
        lab.exec_ok("h1", "ip -br addr"),
        lab.exec_ok("h1", "ip route"),
        lab.exec_ok("c1", "ip -br addr"),
    )
}

#[test]
fn bad_input_is_refused_and_changes_nothing() {
    require_root!();
    let mut lab = Lab::with_agents(WEFT, &["h1"]);
    lab.add_netns("c1");
    // blue: subnet 10.42.0.0/16, block 10.42.1.0/24.
    lab.network_on("h1", "blue", 42);
    lab.attach("h1", "blue", "c1", &[]);
    let peer = lab.weft_ok("h1", &["key", "generate"]);
    let peer_pub = std::process::Command::new(WEFT)
        .args(["key", "public"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(peer.as_bytes())?;
            c.wait_with_output()
        })
        .unwrap();
    let peer_pub = String::from_utf8(peer_pub.stdout)
        .unwrap()
        .trim()
        .to_string();
    lab.weft_ok(
        "h1",
        &[
            "peer",
            "add",
            "blue",
            "--public-key",
            &peer_pub,
            "--endpoint",
            "192.0.2.2:51820",
            "--allowed-ips",
            "10.42.2.0/24",
        ],
    );

    // Somebody else's interface under the name the next network would get.
    lab.exec_ok("h1", "ip link add wg1 type bridge && ip link set wg1 up");

    let before = snapshot(&lab);
    let c1 = lab.netns_path("c1");
    let missing_ns = lab.netns_path("does-not-exist");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec![
                "network",
                "create",
                "red",
                "--subnet",
                "10.43.0.0/16",
                "--block",
                "10.43.1.0/24",
            ],
            "an interface of that name exists and is not weft's",
        ),
        (
            vec![
                "network",
                "create",
                "red",
                "--subnet",
                "10.43.0.0/33",
                "--block",
                "10.43.1.0/24",
            ],
            "invalid subnet \"10.43.0.0/33\"",
        ),
        (
            vec![
                "network",
                "create",
                "red",
                "--subnet",
                "banana",
                "--block",
                "10.43.1.0/24",
            ],
            "invalid subnet \"banana\"",
        ),
        (
            vec![
                "network",
                "create",
                "red",
                "--subnet",
                "10.43.0.0/16",
                "--block",
                "10.44.1.0/24",
            ],
            "outside the subnet 10.43.0.0/16",
        ),
        (
            vec![
                "network",
                "create",
                "red",
                "--subnet",
                "10.43.0.0/16",
                "--block",
                "10.43.1.7/24",
            ],
            "invalid block",
        ),
        (
            vec![
                "network",
                "create",
                "blue",
                "--subnet",
                "10.43.0.0/16",
                "--block",
                "10.43.1.0/24",
            ],
            "network \"blue\" already exists",
        ),
        (
            vec![
                "network",
                "create",
                "red",
                "--subnet",
                "10.42.0.0/16",
                "--block",
                "10.42.3.0/24",
            ],
            "overlaps network \"blue\"",
        ),
        (
            vec!["network", "rm", "nope"],
            "network \"nope\" does not exist",
        ),
        (
            vec!["network", "rm", "blue"],
            "still has 1 attached workload",
        ),
        (
            vec![
                "peer",
                "add",
                "blue",
                "--public-key",
                "not-a-key",
                "--endpoint",
                "192.0.2.2:51820",
                "--allowed-ips",
                "10.42.3.0/24",
            ],
            "malformed key",
        ),
        (
            vec![
                "peer",
                "add",
                "blue",
                "--public-key",
                &peer_pub,
                "--endpoint",
                "192.0.2.2",
                "--allowed-ips",
                "10.42.3.0/24",
            ],
            "invalid endpoint",
        ),
        (
            vec![
                "peer",
                "add",
                "blue",
                "--public-key",
                &peer_pub,
                "--endpoint",
                "192.0.2.2:51820",
                "--allowed-ips",
                "10.42.1.0/24",
            ],
            "own block",
        ),
        (
            vec![
                "peer",
                "add",
                "nope",
                "--public-key",
                &peer_pub,
                "--endpoint",
                "192.0.2.2:51820",
                "--allowed-ips",
                "10.42.3.0/24",
            ],
            "network \"nope\" does not exist",
        ),
        (
            vec!["peer", "rm", "blue", "--public-key", "xyz"],
            "malformed key",
        ),
        (
            vec!["attach", "nope", "--netns", &c1, "--id", "c9"],
            "network \"nope\" does not exist",
        ),
        (
            vec!["attach", "blue", "--netns", &c1, "--id", "c1"],
            "already attached",
        ),
        (
            vec!["attach", "blue", "--netns", &missing_ns, "--id", "c9"],
            "no network namespace at this path",
        ),
        (
            vec!["attach", "blue", "--netns", "/etc/hostname", "--id", "c9"],
            "no network namespace at this path",
        ),
        (
            vec![
                "attach",
                "blue",
                "--netns",
                &c1,
                "--id",
                "c9",
                "--ifname",
                "much-too-long-name",
            ],
            "invalid ifname",
        ),
        (
            vec![
                "attach",
                "blue",
                "--netns",
                &c1,
                "--id",
                "c9",
                "--ip",
                "10.42.1.2",
            ],
            "already in use",
        ),
        (
            vec![
                "attach",
                "blue",
                "--netns",
                &c1,
                "--id",
                "c9",
                "--ip",
                "10.99.0.2",
            ],
            "outside this host's block",
        ),
        (
            vec!["attach", "blue", "--netns", &c1, "--id", "bad/id"],
            "invalid workload id",
        ),
        (
            vec!["detach", "nope", "--id", "c1"],
            "network \"nope\" does not exist",
        ),
        (vec!["status", "nope"], "network \"nope\" does not exist"),
    ];
    for (args, want) in &cases {
        let out = lab.weft("h1", args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "weft {args:?} succeeded");
        assert!(
            stderr.contains(want),
            "weft {args:?}: want {want:?} in {stderr:?}"
        );
        assert_eq!(
            stderr.trim_end().lines().count(),
            1,
            "weft {args:?}: not one line: {stderr:?}"
        );
        assert!(stderr.starts_with("weft: error: "), "{stderr}");
        assert_eq!(snapshot(&lab), before, "weft {args:?} changed state");
    }

    // A private key file that others can read is refused.
    let key_file = lab.dir.path().join("key");
    std::fs::write(&key_file, lab.weft_ok("h1", &["key", "generate"])).unwrap();
    sh(&format!("chmod 644 {}", key_file.display()));
    let out = lab.weft(
        "h1",
        &[
            "network",
            "create",
            "red",
            "--subnet",
            "10.43.0.0/16",
            "--block",
            "10.43.1.0/24",
            "--private-key-file",
            key_file.to_str().unwrap(),
        ],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("readable by group or others"));
    assert_eq!(snapshot(&lab), before);
    // …and accepted once it is 0600 (and wg1 is free); only its public key
    // is ever shown.
    sh(&format!("chmod 600 {}", key_file.display()));
    lab.exec_ok("h1", "ip link del wg1");
    let private = std::fs::read_to_string(&key_file).unwrap();
    let out = lab.weft_ok(
        "h1",
        &[
            "network",
            "create",
            "red",
            "--subnet",
            "10.43.0.0/16",
            "--block",
            "10.43.1.0/24",
            "--private-key-file",
            key_file.to_str().unwrap(),
            "-o",
            "json",
        ],
    );
    assert!(!out.contains(private.trim()), "private key printed");
    let net: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(net["interface"], "wg1");
    let status = lab.weft_ok("h1", &["status", "-o", "json"]);
    assert!(!status.contains(private.trim()), "private key in status");

    // The agent not running: a clear error and a non-zero exit.
    let out = std::process::Command::new(WEFT)
        .args(["network", "ls"])
        .env("WEFT_SOCKET", lab.dir.path().join("nobody-listens.sock"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("cannot reach the weft agent") && stderr.contains("nobody-listens.sock"),
        "{stderr}"
    );
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr:?}");

    // The state store and key are root's alone.
    let agent = &lab.agents["h1"];
    let mode = sh(&format!(
        "stat -c %a {}/state.db",
        agent.state_dir.display()
    ));
    assert_eq!(mode.trim(), "600");
    let mode = sh(&format!("stat -c %a {}", agent.socket.display()));
    assert_eq!(mode.trim(), "600");

    lab.finish();
}

#[test]
fn key_commands_match_wg() {
    let out = std::process::Command::new(WEFT)
        .args(["key", "generate"])
        .output()
        .unwrap();
    let private = String::from_utf8(out.stdout).unwrap();
    assert_eq!(private.trim().len(), 44);
    let ours = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("echo {} | {WEFT} key public", private.trim()))
        .output()
        .unwrap();
    assert!(ours.status.success());
    // The comparison with wg (wireguard-tools).
    require_tools!("wg");
    let theirs = sh(&format!("echo {} | wg pubkey", private.trim()));
    assert_eq!(String::from_utf8_lossy(&ours.stdout), theirs);
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("echo garbage | {WEFT} key public"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("malformed key"));
}

/// The agent refuses bad flags before it touches anything, naming the flag.
#[test]
fn agent_flags_are_checked_before_start() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    for (args, want) in [
        (vec!["--busy-poll", "2000000"], "--busy-poll"),
        (vec!["--busy-poll=-1"], "--busy-poll"),
        (vec!["--probe-interval", "0"], "--probe-interval"),
        (vec!["--degraded-after", "nan"], "--degraded-after"),
        (vec!["--wireguard", "fast"], "--wireguard"),
    ] {
        let out = std::process::Command::new(WEFT)
            .arg("agent")
            .args(["--socket", dir.path().join("a.sock").to_str().unwrap()])
            .args(["--state-dir", state.to_str().unwrap()])
            .args(&args)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} accepted");
        assert!(stderr.contains(want), "{args:?}: {stderr}");
        assert!(!state.exists(), "{args:?} created the state directory");
    }
}
