//! Reaching a host of the mesh: its agent through the `weft` CLI (JSON out),
//! and shell commands at its top level or in its network namespace. Lab
//! hosts are namespaces on this machine; `local` is this machine's agent;
//! SSH hosts run the same commands remotely.

use super::Mesh;
use anyhow::{Context as _, Result, bail};
use std::path::PathBuf;
use std::process::{Command, Stdio};

pub trait HostConn: Send + Sync {
    fn name(&self) -> &str;
    /// Run the `weft` CLI against the host's agent (`-o json` added);
    /// returns stdout. The error is the CLI's one line.
    fn weft(&self, args: &[&str]) -> Result<String>;
    /// A shell script at the host's top level.
    fn sh(&self, script: &str) -> Result<String>;
    /// A shell script inside the host's network namespace.
    fn sh_net(&self, script: &str) -> Result<String>;
    /// The `weft` binary on the host.
    fn weft_bin(&self) -> String;
    /// The mesh's directory on the host.
    fn mesh_dir(&self, mesh: &Mesh) -> String;
    /// argv running `cmd` in the host's namespaces (for `weft exec`).
    fn exec_argv(&self, cmd: &[String]) -> Vec<String>;
    /// The host's own network namespace under /run/netns, when it is one
    /// (a lab host); `None` when it is its machine's.
    fn netns(&self) -> Option<String> {
        None
    }
    /// Close whatever connection this host holds open.
    fn close(&self) {}
}

/// Quote for a POSIX shell.
pub fn quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@%+".contains(c))
    {
        return s.to_string();
    }
    format!("'{}'", s.replace('\'', "'\\''"))
}

pub fn quote_all<S: AsRef<str>>(argv: &[S]) -> String {
    argv.iter()
        .map(|a| quote(a.as_ref()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Run a command, returning stdout; on failure the error is its stderr.
pub fn run(mut cmd: Command, what: &str) -> Result<String> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("{what}: start {:?}", cmd.get_program()))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let msg = stderr.trim().trim_start_matches("weft: error: ");
        bail!(
            "{what}: {}",
            if msg.is_empty() {
                out.status.to_string()
            } else {
                msg.to_string()
            }
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn this_weft() -> PathBuf {
    std::env::current_exe().unwrap_or_else(|_| PathBuf::from("weft"))
}

/// A host whose agent is reached through a socket on this machine.
fn weft_at(socket: &str, host: &str, args: &[&str]) -> Result<String> {
    let mut cmd = Command::new(this_weft());
    cmd.env_remove("CNI_COMMAND")
        .args(["--socket", socket, "-o", "json"])
        .args(args);
    run(cmd, &format!("{host}: weft {}", args.join(" ")))
}

fn sh_here(script: &str, what: &str) -> Result<String> {
    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg(script);
    run(cmd, what)
}

/// A lab host: a network namespace on this machine and its agent.
pub struct LabHost {
    pub name: String,
    pub netns: String,
    pub dir: PathBuf,
}

impl LabHost {
    pub fn socket(&self) -> PathBuf {
        self.dir.join("agent.sock")
    }
    pub fn pid(&self) -> Option<u32> {
        std::fs::read_to_string(self.dir.join("agent.pid"))
            .ok()?
            .trim()
            .parse()
            .ok()
    }
}

impl HostConn for LabHost {
    fn name(&self) -> &str {
        &self.name
    }
    fn weft(&self, args: &[&str]) -> Result<String> {
        weft_at(&self.socket().display().to_string(), &self.name, args)
    }
    fn sh(&self, script: &str) -> Result<String> {
        sh_here(script, &self.name)
    }
    fn sh_net(&self, script: &str) -> Result<String> {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.netns, "sh", "-c", script]);
        run(cmd, &self.name)
    }
    fn weft_bin(&self) -> String {
        this_weft().display().to_string()
    }
    fn mesh_dir(&self, mesh: &Mesh) -> String {
        mesh.dir.display().to_string()
    }
    fn netns(&self) -> Option<String> {
        Some(self.netns.clone())
    }
    fn exec_argv(&self, cmd: &[String]) -> Vec<String> {
        // Enter the agent's mount namespace too: its /var/run/wireguard is
        // where `wg` finds the host's interfaces.
        let mut argv: Vec<String> = match self.pid() {
            Some(pid) if std::path::Path::new(&format!("/proc/{pid}")).exists() => {
                ["nsenter", "-t", &pid.to_string(), "-m", "-n", "--"]
                    .map(String::from)
                    .to_vec()
            }
            _ => ["ip", "netns", "exec", &self.netns]
                .map(String::from)
                .to_vec(),
        };
        argv.extend(cmd.iter().cloned());
        argv
    }
}

/// This machine, with its own agent.
pub struct LocalHost {
    pub name: String,
    pub socket: PathBuf,
}

impl HostConn for LocalHost {
    fn name(&self) -> &str {
        &self.name
    }
    fn weft(&self, args: &[&str]) -> Result<String> {
        weft_at(&self.socket.display().to_string(), &self.name, args)
    }
    fn sh(&self, script: &str) -> Result<String> {
        sh_here(script, &self.name)
    }
    fn sh_net(&self, script: &str) -> Result<String> {
        sh_here(script, &self.name)
    }
    fn weft_bin(&self) -> String {
        this_weft().display().to_string()
    }
    fn mesh_dir(&self, mesh: &Mesh) -> String {
        mesh.dir.display().to_string()
    }
    fn exec_argv(&self, cmd: &[String]) -> Vec<String> {
        cmd.to_vec()
    }
}

/// Where weft lives on an SSH host.
pub const REMOTE_WEFT: &str = "/var/lib/weft/bin/weft";
pub const REMOTE_MESH_ROOT: &str = "/var/lib/weft/mesh";

/// A host reached over SSH (OpenSSH client, batch mode, one multiplexed
/// connection per `up`).
pub struct SshHost {
    pub name: String,
    pub user: String,
    pub address: String,
    pub port: u16,
    pub identity: Option<String>,
    /// The ControlPath socket of the multiplexed connection; the mesh's
    /// known_hosts file sits beside it (host keys are trusted on first use,
    /// per mesh).
    pub control: PathBuf,
}

impl SshHost {
    fn ssh_with(&self, master: &str) -> Command {
        let mut cmd = Command::new("ssh");
        cmd.args([
            "-o",
            "BatchMode=yes",
            "-o",
            "StrictHostKeyChecking=accept-new",
            "-o",
            "ConnectTimeout=10",
        ])
        .args([
            "-o",
            &format!("ControlMaster={master}"),
            "-o",
            "ControlPersist=60",
        ])
        .arg("-o")
        .arg(format!("ControlPath={}", self.control.display()))
        .arg("-o")
        .arg(format!(
            "UserKnownHostsFile={}",
            self.control.with_file_name("known_hosts").display()
        ))
        .args(["-p", &self.port.to_string()]);
        if let Some(id) = &self.identity {
            cmd.args(["-i", &expand_home(id)]);
        }
        cmd.arg(format!("{}@{}", self.user, self.address));
        cmd
    }

    /// A command over the shared connection (made by [`SshHost::connect`];
    /// without one, ssh connects on its own).
    pub fn ssh(&self) -> Command {
        self.ssh_with("no")
    }

    /// Open the connection later commands share. It runs in the background
    /// with no stdio of ours, so no command waits for it to go away.
    pub fn connect(&self) -> Result<()> {
        if let Some(dir) = self.control.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut cmd = self.ssh_with("auto");
        cmd.args(["-f", "-N"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let out = cmd
            .stdin(Stdio::null())
            .output()
            .with_context(|| format!("{}: start ssh", self.name))?;
        if !out.status.success() {
            bail!(
                "{}: ssh {}@{}: {}",
                self.name,
                self.user,
                self.address,
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(())
    }

    fn remote(&self, script: &str, what: &str) -> Result<String> {
        let mut cmd = self.ssh();
        cmd.arg(script);
        run(cmd, what)
    }

    /// Copy this machine's weft to the host (when it differs) and start its
    /// agent there unless one answers.
    pub fn bootstrap(&self, host_name: &str) -> Result<()> {
        self.connect()?;
        let local = std::fs::read(this_weft()).context("read this weft binary")?;
        let digest = format!("{:016x}", weft_model::naming::fnv1a(&local));
        let have = self
            .remote(
                &format!("cat {REMOTE_WEFT}.digest 2>/dev/null || true"),
                &self.name,
            )?
            .trim()
            .to_string();
        if have != digest {
            let mut cmd = self.ssh();
            cmd.arg(format!(
                "mkdir -p /var/lib/weft/bin && cat > {REMOTE_WEFT}.new && chmod 755 {REMOTE_WEFT}.new && \
                 mv {REMOTE_WEFT}.new {REMOTE_WEFT} && echo {digest} > {REMOTE_WEFT}.digest"
            ));
            let mut child = cmd
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .with_context(|| format!("{}: start ssh", self.name))?;
            use std::io::Write as _;
            child.stdin.take().expect("piped").write_all(&local)?;
            let out = child.wait_with_output()?;
            if !out.status.success() {
                bail!(
                    "{}: install weft: {}",
                    self.name,
                    String::from_utf8_lossy(&out.stderr).trim()
                );
            }
        }
        // Start the agent if none answers; `setsid -f` detaches it from
        // this ssh session entirely.
        self.remote(
            &format!(
                "if ! {REMOTE_WEFT} network ls >/dev/null 2>&1; then \
                   mkdir -p /var/lib/weft && \
                   setsid -f {REMOTE_WEFT} agent --host-name {} </dev/null >>/var/lib/weft/agent.log 2>&1; \
                   for i in $(seq 100); do {REMOTE_WEFT} network ls >/dev/null 2>&1 && exit 0; sleep 0.1; done; \
                   echo 'the agent did not start; see /var/lib/weft/agent.log' >&2; exit 1; \
                 fi",
                quote(host_name)
            ),
            &format!("{}: start the agent", self.name),
        )?;
        Ok(())
    }
}

fn expand_home(path: &str) -> String {
    match (path.strip_prefix("~/"), std::env::var("HOME")) {
        (Some(rest), Ok(home)) => format!("{home}/{rest}"),
        _ => path.to_string(),
    }
}

impl HostConn for SshHost {
    fn name(&self) -> &str {
        &self.name
    }
    fn weft(&self, args: &[&str]) -> Result<String> {
        let mut argv = vec![REMOTE_WEFT, "-o", "json"];
        argv.extend_from_slice(args);
        self.remote(
            &quote_all(&argv),
            &format!("{}: weft {}", self.name, args.join(" ")),
        )
    }
    fn sh(&self, script: &str) -> Result<String> {
        self.remote(&format!("sh -c {}", quote(script)), &self.name)
    }
    fn sh_net(&self, script: &str) -> Result<String> {
        self.sh(script)
    }
    fn weft_bin(&self) -> String {
        REMOTE_WEFT.to_string()
    }
    fn mesh_dir(&self, mesh: &Mesh) -> String {
        format!("{REMOTE_MESH_ROOT}/{}", mesh.name())
    }
    fn close(&self) {
        let mut cmd = self.ssh_with("no");
        cmd.args(["-O", "exit"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let _ = cmd.status();
    }

    fn exec_argv(&self, cmd: &[String]) -> Vec<String> {
        let ssh = self.ssh();
        let mut argv: Vec<String> =
            std::iter::once(ssh.get_program().to_string_lossy().into_owned())
                .chain(ssh.get_args().map(|a| a.to_string_lossy().into_owned()))
                .collect();
        argv.push(quote_all(cmd));
        argv
    }
}

#[cfg(test)]
mod tests;
