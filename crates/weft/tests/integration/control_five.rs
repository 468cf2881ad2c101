//! "A fleet in five commands" (README.md), run exactly as written: each
//! line of the README's block, in a shell, on the machine it is meant for.
//! Only what a real fleet has and a lab does not is supplied: the control
//! plane's name (cp.example is 192.0.2.1, lab host h1), its state
//! directory (under the test's directory, not /var/lib/weft-control:
//! `WEFT_CONTROL_STATE_DIR` and the path substituted), and per host a
//! host name, socket and state directory of its own (the hosts share this
//! machine's file system). The fleet then works: containers attached on
//! two hosts reach each other over `blue`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;
use weft_testkit::*;

const WEFT: &str = env!("CARGO_BIN_EXE_weft");
const CP: &str = "192.0.2.1";
const HOSTS: [&str; 2] = ["h2", "h3"];
const STATE: &str = "/var/lib/weft-control";

/// The commands of README.md's "A fleet in five commands" block, comments
/// dropped.
fn readme_commands() -> Vec<String> {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md"))
            .unwrap();
    let section = readme
        .split("\n## A fleet in five commands\n")
        .nth(1)
        .expect("README.md has a section \"A fleet in five commands\"");
    let block = section
        .split("```sh\n")
        .nth(1)
        .and_then(|b| b.split("\n```").next())
        .expect("a ```sh block in it");
    block
        .lines()
        .map(|l| l.split(" # ").next().unwrap().trim().to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

/// `line` with the lab's address and paths for the real ones.
fn in_lab(line: &str, state: &Path) -> String {
    line.replace("cp.example", CP)
        .replace(STATE, &state.display().to_string())
}

struct Shell {
    /// The exported variables, carried from line to line like one shell's.
    env: PathBuf,
    dir: PathBuf,
    path: String,
    /// The control plane's state directory (`WEFT_CONTROL_STATE_DIR`),
    /// for the real one's /var/lib/weft-control.
    state: PathBuf,
}

impl Shell {
    fn command(&self, ns: &str, private: bool, script: &str) -> Command {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", ns]);
        if private {
            // A host of its own: mounts (its /run/wireguard) and host name.
            command.args(["unshare", "-m", "-u", "--propagation", "slave"]);
        }
        command
            .args(["bash", "-c", script])
            .current_dir(&self.dir)
            .env("PATH", &self.path)
            .env("WEFT_CONTROL_STATE_DIR", &self.state)
            .stdin(Stdio::null());
        command
    }

    /// Run `line` in `ns`; its stdout.
    fn run(&self, ns: &str, line: &str) -> String {
        let script = format!(
            "set -e; . {env}\n{line}\nexport -p > {env}",
            env = self.env.display()
        );
        let out = self.command(ns, false, &script).output().unwrap();
        eprint!("{}", String::from_utf8_lossy(&out.stderr));
        stdout_of(out, &format!("README line `{line}`"))
    }

    /// Start `line` (it ends in `&`) in `ns`, after `setup`; its output
    /// goes to `log`.
    fn start(&self, ns: &str, setup: &str, line: &str, log: &Path) -> std::process::Child {
        let command = line.trim_end_matches('&').trim();
        let script = format!("{setup}. {}\nexec {command}", self.env.display());
        let file = std::fs::File::create(log).unwrap();
        self.command(ns, !setup.is_empty(), &script)
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .unwrap()
    }
}

/// Wait (30 s at most) for `log` to say `what`; else fail showing it.
fn wait_log(log: &Path, what: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if text.contains(what) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{} never said {what:?}:\n{text}",
            log.display()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_fleet_in_five_commands_as_the_readme_says() {
    require_root!();
    let lines = readme_commands();
    assert!(lines.len() >= 5, "the README's block: {lines:?}");
    let mut lab = Lab::new(WEFT);
    lab.add_namespaces(["h1", "h2", "h3", "c2", "c3"]);
    lab.switched_underlay(&["h1", "h2", "h3"]);
    let dir = lab.dir.path().to_path_buf();
    let state = dir.join("control");
    let env = dir.join("shell.env");
    std::fs::write(&env, "").unwrap();
    let bin = Path::new(WEFT).parent().unwrap().display().to_string();
    let shell = Shell {
        env,
        dir: dir.clone(),
        state: state.clone(),
        path: format!("{bin}:{}", std::env::var("PATH").unwrap_or_default()),
    };

    let mut last = String::new();
    for line in &lines {
        let line = in_lab(line, &state);
        eprintln!("$ {line}");
        if line.starts_with("weft agent") {
            for host in HOSTS {
                let own = dir.join(host);
                std::fs::create_dir_all(&own).unwrap();
                let setup = format!(
                    "mount -t tmpfs weft-uapi /run/wireguard && hostname {host} && \
                     export WEFT_SOCKET={sock} WEFT_STATE_DIR={st} && ",
                    sock = own.join("agent.sock").display(),
                    st = own.join("state").display()
                );
                let log = own.join("agent.log");
                let child = shell.start(&lab.ns(host), &setup, &line, &log);
                lab.keep(child);
            }
            for host in HOSTS {
                let log = dir.join(host).join("agent.log");
                wait_log(&log, "enrolled with the control plane");
            }
        } else if line.ends_with('&') {
            let log = dir.join("control.out");
            let child = shell.start(&lab.ns("h1"), "", &line, &log);
            lab.keep(child);
            wait_log(&log, "agents (gRPC)");
        } else {
            last = shell.run(&lab.ns("h1"), &line);
            eprintln!("{last}");
        }
    }
    // `export X=$(…)` hides a failure from `set -e`: the secrets were made.
    let exported = std::fs::read_to_string(&shell.env).unwrap();
    for made in ["WEFT_API_KEY=\"wak_", "WEFT_ENROLL_TOKEN=\"wet_"] {
        assert!(exported.contains(made), "no {made}… exported");
    }
    // The README's last line lists both hosts.
    for host in HOSTS {
        assert!(last.contains(host), "no {host} in: {last}");
    }

    // A working fleet: containers on h2 and h3 reach each other over blue.
    let mut addresses = Vec::new();
    for (host, c) in [("h2", "c2"), ("h3", "c3")] {
        let attached = wait_until(
            &format!("blue on {host}, to attach {c}"),
            Duration::from_secs(20),
            || {
                let netns = lab.netns_path(c);
                let out = lab.weft(
                    host,
                    &["attach", "blue", "--netns", &netns, "--id", c, "-o", "json"],
                );
                out.status
                    .success()
                    .then(|| serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap())
            },
        );
        let ip = attached["address"]
            .as_str()
            .unwrap_or_else(|| panic!("no address in {attached}"))
            .split('/')
            .next()
            .unwrap()
            .to_string();
        assert!(ip.starts_with("10.42."), "{c} on blue: {ip}");
        addresses.push(ip);
    }
    wait_for("c2 to reach c3 over blue", Duration::from_secs(20), || {
        lab.exec("c2", &format!("ping -c1 -W1 {}", addresses[1]))
            .status
            .success()
    });
    lab.finish();
}
