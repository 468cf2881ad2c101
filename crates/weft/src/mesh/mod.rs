//! The executor of `weft up`: it reaches the mesh file's hosts (lab
//! namespaces made here, this machine's agent, or hosts over SSH), observes
//! their agents, and carries out what `weft-mesh` plans.
//!
//! Layout on the machine that runs `up` (root: `/var/lib/weft/mesh`, or
//! `WEFT_MESH_STATE`):
//!
//! ```text
//! <root>/<mesh>/plan.json            the plan last applied (`previous`)
//! <root>/<mesh>/lab.json             lab underlay addresses
//! <root>/<mesh>/hosts/<host>/        a lab host's agent: socket, state, log, pid
//! <root>/<mesh>/services/<host>/<service>/  a service's supervisor state (lab and local hosts)
//! ```
//!
//! Names in the kernel: `weft-<mesh>-underlay` (the lab's underlay namespace
//! with bridge `br0`), `weft-<mesh>-<host>` (a lab host), `weft-<mesh>-<service>`
//! (a service's namespace).

pub mod apply;
pub mod connect;
pub mod container;
pub mod host;
pub mod hypervisor;
pub mod lab;
pub mod launch;
pub mod observe;
pub mod parallel;
pub mod verify;
pub mod vm;

use anyhow::{Context as _, Result, bail};
use std::path::{Path, PathBuf};
use weft_mesh::{Plan, ValidMesh};

/// Where mesh state lives on this machine.
pub fn state_root() -> PathBuf {
    std::env::var_os("WEFT_MESH_STATE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/lib/weft/mesh"))
}

/// The source name under which `up` gives agents the mesh's DNS names.
pub const NAMES_SOURCE: &str = "mesh";

/// A mesh file, read and validated, with its place on this machine.
pub struct Mesh {
    pub file: ValidMesh,
    pub dir: PathBuf,
}

impl Mesh {
    pub fn load(path: &Path) -> Result<Mesh> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("read {}", path.display()))?;
        let file =
            ValidMesh::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        let dir = state_root().join(file.name.as_str());
        Ok(Mesh { file, dir })
    }

    pub fn name(&self) -> &str {
        &self.file.name
    }

    /// A kernel-visible name of this mesh's: `weft-<mesh>-<thing>`.
    pub fn netns(&self, thing: &str) -> String {
        netns_name(self.name(), thing)
    }

    pub fn plan_path(&self) -> PathBuf {
        self.dir.join("plan.json")
    }

    pub fn previous(&self) -> Result<Option<Plan>> {
        read_plan(&self.plan_path())
    }

    pub fn save_plan(&self, plan: &Plan) -> Result<()> {
        std::fs::create_dir_all(&self.dir)
            .with_context(|| format!("create {}", self.dir.display()))?;
        write_atomic(&self.plan_path(), &serde_json::to_vec_pretty(plan)?)
    }

    /// Where a host keeps its services' state (several lab hosts share
    /// this machine's disk, so each has its own).
    pub fn services_dir(&self, host: &dyn host::HostConn) -> String {
        format!("{}/services/{}", host.mesh_dir(self), host.name())
    }

    /// The service state directory on the host that runs it.
    pub fn service_dir(&self, host: &dyn host::HostConn, service: &str) -> String {
        format!("{}/{service}", self.services_dir(host))
    }
}

pub fn netns_name(mesh: &str, thing: &str) -> String {
    format!("weft-{mesh}-{thing}")
}

pub fn read_plan(path: &Path) -> Result<Option<Plan>> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(
            serde_json::from_slice(&bytes).with_context(|| format!("read {}", path.display()))?,
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("read {}", path.display())),
    }
}

/// Write a file so that a crash leaves the old or the new content.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).with_context(|| format!("write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("write {}", path.display()))?;
    Ok(())
}

/// Find the applied plan that has a host or service called `target`, among
/// every mesh on this machine (or in `file`'s).
pub fn find_target(file: Option<&Path>, target: &str) -> Result<(Plan, PathBuf)> {
    let dirs: Vec<PathBuf> = match file {
        Some(path) => vec![Mesh::load(path)?.dir],
        None => std::fs::read_dir(state_root())
            .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default(),
    };
    let mut found = vec![];
    for dir in dirs {
        if let Some(plan) = read_plan(&dir.join("plan.json"))? {
            let hit = plan.hosts.iter().any(|h| h.name == target)
                || plan.services.iter().any(|s| s.name == target);
            if hit {
                found.push((plan, dir));
            }
        }
    }
    match found.len() {
        0 => bail!(
            "no host or service {target:?} in any mesh brought up on this machine (give --file?)"
        ),
        1 => Ok(found.pop().expect("one")),
        _ => bail!("{target:?} is in several meshes; say which with --file"),
    }
}

/// A connection to a host of an applied plan (no lab host is made).
pub fn conn_for(
    socket: &Path,
    plan: &Plan,
    dir: &Path,
    host: &str,
) -> Result<Box<dyn host::HostConn>> {
    use weft_mesh::Reach;
    let h = plan
        .host(host)
        .with_context(|| format!("no host {host} in mesh {}", plan.mesh))?;
    Ok(match &h.reach {
        Reach::Lab => Box::new(host::LabHost {
            name: host.to_string(),
            netns: netns_name(&plan.mesh, host),
            dir: dir.join("hosts").join(host),
        }),
        Reach::Local => Box::new(host::LocalHost {
            name: host.to_string(),
            socket: socket.to_path_buf(),
        }),
        Reach::Ssh { target, identity } => Box::new(host::SshHost {
            name: host.to_string(),
            user: target.user.clone(),
            address: target.address.to_string(),
            port: target.port,
            identity: identity.clone(),
            control: dir.join(format!("ssh-{host}")),
        }),
    })
}
