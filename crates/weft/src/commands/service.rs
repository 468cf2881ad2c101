//! Hidden subcommands behind `weft up`'s services, run on the service's
//! host: `service-run` supervises one service (its namespace, its process,
//! its published ports) and records its state in a directory;
//! `service-stop` ends it; `service-status` reports them all as JSON.
//!
//! A service directory holds: `name`, `fingerprint`, `netns` (when it has a
//! namespace of its own), `started`, `pid` (the supervisor, while a process
//! runs), `exit` (how the process ended), `output.log`; for a container
//! run from an image, `runtime`, `container` and `image` (its state is the
//! runtime's). A VM's hypervisor is a process here (Firecracker configured
//! over its API socket once it serves it). None is ever restarted behind
//! the user's back: when a process, VM or container exits, `weft status
//! --file` shows how.

use crate::mesh::container;
use anyhow::{Context as _, Result, bail};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use std::io::Write as _;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use weft_mesh::Runtime;

#[derive(clap::Args)]
pub struct RunArgs {
    /// The service's directory, where its state is recorded.
    #[arg(long)]
    dir: PathBuf,
    /// The service's name in the mesh file.
    #[arg(long)]
    name: String,
    /// What the service was started from (its plan's fingerprint), so
    /// `weft up` sees when it must be restarted.
    #[arg(long)]
    fingerprint: String,
    /// The service's own network namespace (a name under /run/netns).
    #[arg(long)]
    netns: Option<String>,
    /// Publish PORT of this namespace to ADDR:PORT (TCP).
    #[arg(long = "forward", value_name = "PORT=ADDR:PORT")]
    forwards: Vec<String>,
    /// A VM whose hypervisor is configured over its API (Firecracker): the
    /// socket it serves, and the requests (JSON list) to send once it does.
    #[arg(long, requires = "api_requests")]
    api_sock: Option<PathBuf>,
    /// The requests to send over --api-sock (a JSON list).
    #[arg(long, requires = "api_sock")]
    api_requests: Option<String>,
    /// A container from an image: the runtime that runs it.
    #[arg(long, value_parser = parse_runtime)]
    runtime: Option<Runtime>,
    /// The container's name.
    #[arg(long)]
    container: Option<String>,
    /// The container's image.
    #[arg(long)]
    image: Option<String>,
    /// The mesh the container belongs to (its label).
    #[arg(long)]
    mesh: Option<String>,
    /// The process to run; for a container with `--runtime`, the arguments
    /// of `RUNTIME run`; none for a container without an image (a
    /// namespace only).
    #[arg(last = true)]
    command: Vec<String>,
}

fn parse_runtime(text: &str) -> Result<Runtime, String> {
    match text {
        "podman" => Ok(Runtime::Podman),
        "docker" => Ok(Runtime::Docker),
        other => Err(format!("{other:?}: give podman or docker")),
    }
}

#[derive(clap::Args)]
pub struct DirArgs {
    /// The directory of a service (`service-stop`), or of a host's
    /// services (`service-status`).
    #[arg(long)]
    dir: PathBuf,
}

fn write(dir: &Path, file: &str, text: &str) -> Result<()> {
    std::fs::write(dir.join(file), text).with_context(|| format!("write {}/{file}", dir.display()))
}

fn read(dir: &Path, file: &str) -> Option<String> {
    std::fs::read_to_string(dir.join(file))
        .ok()
        .map(|s| s.trim().to_string())
}

/// Whether process `pid` runs. A zombie does not: it has exited and
/// waits only for its parent, or for init (which may take a second to
/// reap it), to collect its status.
pub(crate) fn alive(pid: i32) -> bool {
    // Look at the state in /proc/PID/stat.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit(')')
                .next()
                .map(|rest| !rest.trim_start().starts_with('Z'))
        })
        .unwrap_or(false)
}

pub fn run(args: RunArgs) -> Result<()> {
    let dir = &args.dir;
    std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    for stale in ["exit", "pid", "started"] {
        let _ = std::fs::remove_file(dir.join(stale));
    }
    write(dir, "name", &args.name)?;
    write(dir, "fingerprint", &args.fingerprint)?;
    if let Some(ns) = &args.netns {
        write(dir, "netns", ns)?;
    }
    if let (Some(runtime), Some(name), Some(image), Some(mesh)) =
        (args.runtime, &args.container, &args.image, &args.mesh)
    {
        // Recorded first, so `service-stop` finds whatever part of it runs.
        write(dir, "runtime", runtime.command())?;
        write(dir, "container", name)?;
        write(dir, "image", image)?;
        container::start(runtime, name, mesh, args.netns.as_deref(), &args.command)?;
        return write(dir, "started", "");
    }
    if args.runtime.is_some() {
        bail!("--runtime needs --container, --image and --mesh");
    }
    if args.command.is_empty() {
        // A container: its namespace is the service.
        return write(dir, "started", "");
    }
    let forwards = args
        .forwards
        .iter()
        .map(|f| {
            let (port, to) = f
                .split_once('=')
                .with_context(|| format!("--forward {f}: expected PORT=ADDR:PORT"))?;
            let port: u16 = port
                .parse()
                .with_context(|| format!("--forward {f}: bad port"))?;
            let to: SocketAddr = to
                .parse()
                .with_context(|| format!("--forward {f}: bad ADDR:PORT"))?;
            Ok((port, to))
        })
        .collect::<Result<Vec<_>>>()?;
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("output.log"))?;
    let mut cmd = match &args.netns {
        Some(ns) => {
            // `ip netns exec` also gives the process the namespace's
            // /etc/netns/<ns>/resolv.conf: the network's DNS responder.
            let mut c = Command::new("ip");
            c.args(["netns", "exec", ns]).args(&args.command);
            c
        }
        None => {
            let mut c = Command::new(&args.command[0]);
            c.args(&args.command[1..]);
            c
        }
    };
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
        .with_context(|| format!("start {:?}", args.command))?;
    write(dir, "pid", &std::process::id().to_string())?;
    if let (Some(socket), Some(requests)) = (&args.api_sock, &args.api_requests)
        && let Err(e) = configure(socket, requests, &mut child)
    {
        // The machine never started: say why, as `weft status --file` and
        // `weft up` read it, and stop what runs.
        let _ = child.kill();
        let _ = child.wait();
        write(dir, "exit", &crate::output::one_line(&e))?;
        let _ = std::fs::remove_file(dir.join("pid"));
        write(dir, "started", "")?;
        return Err(e);
    }
    for (port, to) in forwards {
        let listener =
            TcpListener::bind(("0.0.0.0", port)).with_context(|| format!("publish port {port}"))?;
        std::thread::spawn(move || forward(listener, to));
    }
    write(dir, "started", "")?;
    let status = child.wait()?;
    let how = match (
        status.code(),
        std::os::unix::process::ExitStatusExt::signal(&status),
    ) {
        (Some(code), _) => format!("exited with code {code}"),
        (None, Some(sig)) => format!("killed by signal {sig}"),
        _ => status.to_string(),
    };
    write(dir, "exit", &how)?;
    let _ = std::fs::remove_file(dir.join("pid"));
    Ok(())
}

/// Configure a hypervisor over its API once its socket is there: each
/// request in order, every one answered 2xx.
fn configure(socket: &Path, requests: &str, child: &mut std::process::Child) -> Result<()> {
    let requests: Vec<crate::mesh::vm::ApiRequest> =
        serde_json::from_str(requests).context("--api-requests: not a list of requests")?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !socket.exists() {
        if let Some(status) = child.try_wait()? {
            bail!(
                "the hypervisor exited before serving {} ({status})",
                socket.display()
            );
        }
        if std::time::Instant::now() > deadline {
            bail!(
                "the hypervisor did not serve {} within 10 s",
                socket.display()
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    for r in &requests {
        // The socket file exists from bind(); until listen() a connect is
        // refused.
        let (status, body) = loop {
            match crate::unix_http::request(socket, &r.method, &r.path, &r.body) {
                Err(e) if refused(&e) && std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                other => break other?,
            }
        };
        if !(200..300).contains(&status) {
            bail!(
                "the hypervisor refused {} {}: {status} {}",
                r.method,
                r.path,
                body.trim()
            );
        }
    }
    Ok(())
}

fn refused(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::ConnectionRefused)
    })
}

/// Publish a port: every connection is carried to `to`.
fn forward(listener: TcpListener, to: SocketAddr) {
    for conn in listener.incoming().flatten() {
        std::thread::spawn(move || {
            let Ok(upstream) = TcpStream::connect(to) else {
                return;
            };
            let (Ok(mut a), Ok(mut b)) = (conn.try_clone(), upstream.try_clone()) else {
                return;
            };
            let (mut conn, mut upstream) = (conn, upstream);
            let there = std::thread::spawn(move || {
                let _ = std::io::copy(&mut a, &mut b);
                let _ = b.shutdown(std::net::Shutdown::Write);
            });
            let _ = std::io::copy(&mut upstream, &mut conn);
            let _ = conn.shutdown(std::net::Shutdown::Write);
            let _ = there.join();
        });
    }
}

/// The container a service directory records, if it ran an image.
fn recorded_container(dir: &Path) -> Option<(Runtime, String, String)> {
    let runtime = parse_runtime(&read(dir, "runtime")?).ok()?;
    Some((runtime, read(dir, "container")?, read(dir, "image")?))
}

pub fn stop(args: DirArgs) -> Result<()> {
    stop_dir(&args.dir)
}

/// Stop the service recorded in `dir` and remove its state.
pub fn stop_dir(dir: &Path) -> Result<()> {
    if let Some((runtime, name, _)) = recorded_container(dir) {
        container::remove(runtime, &name)?;
    }
    // Never 0 or 1: killpg(0) would signal our own group.
    let pid = read(dir, "pid")
        .and_then(|p| p.parse::<i32>().ok())
        .filter(|pid| *pid > 1);
    if let Some(pid) = pid {
        // The supervisor leads its own session and group (`weft up` starts
        // it with setsid): signal them all. An error means the group is
        // gone already (ESRCH).
        let group = Pid::from_raw(pid);
        let _ = killpg(group, Signal::SIGTERM);
        let start = std::time::Instant::now();
        while alive(pid) && start.elapsed() < std::time::Duration::from_secs(5) {
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let _ = killpg(group, Signal::SIGKILL);
    }
    if let Some(ns) = read(dir, "netns") {
        if Path::new("/run/netns").join(&ns).exists() {
            let out = Command::new("ip").args(["netns", "del", &ns]).output()?;
            if !out.status.success() {
                bail!(
                    "remove namespace {ns}: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                );
            }
        }
        let _ = std::fs::remove_dir_all(Path::new("/etc/netns").join(&ns));
    }
    let _ = std::fs::remove_dir_all(dir);
    Ok(())
}

#[derive(serde::Serialize)]
struct ServiceJson {
    name: String,
    fingerprint: String,
    running: bool,
    exit: Option<String>,
    /// Why a container is neither running nor exited (`image missing`,
    /// `container removed`, the runtime's word).
    #[serde(skip_serializing_if = "Option::is_none")]
    state: Option<String>,
}

/// A container's state in the words of [`ServiceJson`].
fn container_json(name: String, fingerprint: String, state: container::State) -> ServiceJson {
    let (running, exit, state) = match state {
        container::State::Running => (true, None, None),
        container::State::Exited(code) => (false, Some(format!("exited with code {code}")), None),
        container::State::Other(word) => (false, None, Some(word)),
        container::State::Removed => (false, None, Some("container removed".into())),
        container::State::ImageMissing => (false, None, Some("image missing".into())),
    };
    ServiceJson {
        name,
        fingerprint,
        running,
        exit,
        state,
    }
}

pub fn status(args: DirArgs) -> Result<()> {
    let mut all = vec![];
    if let Ok(entries) = std::fs::read_dir(&args.dir) {
        for entry in entries.flatten() {
            let dir = entry.path();
            let (Some(name), Some(fingerprint)) = (read(&dir, "name"), read(&dir, "fingerprint"))
            else {
                continue;
            };
            if let Some((runtime, container, image)) = recorded_container(&dir) {
                let state = container::state(runtime, &container, &image);
                all.push(container_json(name, fingerprint, state));
                continue;
            }
            let started = dir.join("started").exists();
            let process = read(&dir, "pid").and_then(|p| p.parse::<i32>().ok());
            let exit = read(&dir, "exit");
            let running = started
                && match (&process, &exit) {
                    (Some(pid), None) => alive(*pid),
                    (None, None) => read(&dir, "netns")
                        .is_some_and(|ns| Path::new("/run/netns").join(ns).exists()),
                    _ => false,
                };
            all.push(ServiceJson {
                name,
                fingerprint,
                running,
                exit,
                state: None,
            });
        }
    }
    all.sort_by(|a, b| a.name.cmp(&b.name));
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", serde_json::to_string(&all)?)?;
    Ok(())
}
