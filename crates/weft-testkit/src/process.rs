//! Running commands, finding tools, and children that are stopped on drop.

use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::Duration;

/// Run `program args`, no stdin; its output whatever the exit status.
pub fn run(program: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("run {program}: {e}"))
}

/// Run and insist on success; returns stdout.
#[track_caller]
pub fn ok(program: &str, args: &[&str]) -> String {
    stdout_of(run(program, args), &format!("{program} {args:?}"))
}

/// The stdout of a command that must have succeeded; otherwise panics
/// naming `what` with the exit status, stdout and stderr.
#[track_caller]
pub fn stdout_of(out: Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what} failed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A shell line (`sh -c`), no stdin; its output whatever the exit status.
pub fn run_sh(cmd: &str) -> Output {
    run("sh", &["-c", cmd])
}

/// A shell line that must succeed; returns stdout.
#[track_caller]
pub fn sh(cmd: &str) -> String {
    stdout_of(run_sh(cmd), &format!("`{cmd}`"))
}

/// A shell line that runs all of `cmd` (pipes and `&&` included) inside
/// the named network namespace `ns`.
pub fn in_netns(ns: &str, cmd: &str) -> String {
    format!("ip netns exec {ns} sh -c '{}'", cmd.replace('\'', r"'\''"))
}

/// A command running shell `script` inside the named network namespace
/// `ns` and in a mount namespace of its own (mounts propagate into it, not
/// out), so the script can mount private directories (a tmpfs over
/// /run/wireguard, …) without touching the machine's.
pub fn in_netns_with_private_mounts(ns: &str, script: &str) -> Command {
    let mut command = Command::new("ip");
    command.args([
        "netns",
        "exec",
        ns,
        "unshare",
        "-m",
        "--propagation",
        "slave",
        "sh",
        "-c",
        script,
    ]);
    command
}

/// A tool on PATH, in `$CARGO_HOME/bin` or in `~/.cargo/bin` (where
/// `scripts/deps` installs the interop peers).
pub fn which(tool: &str) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    if let Some(cargo_home) = std::env::var_os("CARGO_HOME") {
        dirs.push(PathBuf::from(cargo_home).join("bin"));
    }
    if let Some(home) = std::env::var_os("HOME") {
        dirs.push(PathBuf::from(home).join(".cargo/bin"));
    }
    dirs.into_iter().map(|d| d.join(tool)).find(|p| p.is_file())
}

/// SIGTERM, up to `grace` for the child to exit, then SIGKILL; reaped
/// either way. Returns how it ended, when it could be waited for.
pub fn stop_child(child: &mut Child, grace: Duration) -> Option<ExitStatus> {
    if let Ok(Some(status)) = child.try_wait() {
        return Some(status);
    }
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
    let exited = crate::wait::poll_until(grace, Duration::from_millis(20), || {
        matches!(child.try_wait(), Ok(Some(_)))
    });
    if !exited {
        let _ = child.kill();
    }
    child.wait().ok()
}

/// A spawned process, stopped (SIGTERM, then SIGKILL after 3 s) and reaped
/// on drop; its output, when the test sends it there, in `log`.
pub struct Spawned {
    pub child: Child,
    pub log: PathBuf,
}

impl Spawned {
    /// A child whose output goes nowhere the test reads.
    pub fn new(child: Child) -> Spawned {
        Spawned {
            child,
            log: PathBuf::new(),
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        stop_child(&mut self.child, Duration::from_secs(3));
    }
}
