//! What enrollment leaves in the agent's state directory, under
//! `control/`: the host's key (made here, never sent anywhere), its
//! certificate, the control plane's CA and the host id; and the control
//! plane's replicas as it last told them. Key and
//! certificate are 0600; a key file others can read is refused.

use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("{what} {}", .path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: readable by group or others (mode {mode:04o}); run chmod 600 on it", .path.display())]
    Open { path: PathBuf, mode: u32 },
}

/// The host's credentials towards its control plane.
#[derive(Clone)]
pub struct Identity {
    pub host_id: String,
    pub cert_pem: String,
    pub key_pem: String,
    pub ca_pem: String,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("host_id", &self.host_id)
            .field("key_pem", &"…")
            .finish_non_exhaustive()
    }
}

pub fn dir(state_dir: &Path) -> PathBuf {
    state_dir.join("control")
}

fn io(what: &'static str, path: &Path) -> impl Fn(std::io::Error) -> IdentityError {
    let path = path.to_path_buf();
    move |source| IdentityError::Io {
        what,
        path: path.clone(),
        source,
    }
}

/// Write `text` to `path` readable by its owner only, atomically.
pub fn write_private(path: &Path, text: impl AsRef<[u8]>) -> Result<(), IdentityError> {
    let tmp = path.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(io("write", &tmp))?;
    file.write_all(text.as_ref()).map_err(io("write", &tmp))?;
    file.sync_all().map_err(io("write", &tmp))?;
    std::fs::rename(&tmp, path).map_err(io("write", path))
}

fn read_private(path: &Path) -> Result<String, IdentityError> {
    let meta = std::fs::metadata(path).map_err(io("read", path))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(IdentityError::Open {
            path: path.to_path_buf(),
            mode,
        });
    }
    std::fs::read_to_string(path).map_err(io("read", path))
}

impl Identity {
    /// The stored identity, if this host has enrolled.
    pub fn load(state_dir: &Path) -> Result<Option<Identity>, IdentityError> {
        let dir = dir(state_dir);
        if !dir.join("host.pem").exists() {
            return Ok(None);
        }
        Ok(Some(Identity {
            host_id: read_private(&dir.join("host_id"))?.trim().to_string(),
            cert_pem: read_private(&dir.join("host.pem"))?,
            key_pem: read_private(&dir.join("host.key"))?,
            ca_pem: read_private(&dir.join("ca.pem"))?,
        }))
    }

    /// Store it; the certificate last, so a crash midway leaves no
    /// half identity that `load` would take.
    pub fn save(&self, state_dir: &Path) -> Result<(), IdentityError> {
        let dir = dir(state_dir);
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .map_err(io("create", &dir))?;
        write_private(&dir.join("host.key"), &self.key_pem)?;
        write_private(&dir.join("ca.pem"), &self.ca_pem)?;
        write_private(&dir.join("host_id"), &self.host_id)?;
        write_private(&dir.join("host.pem"), &self.cert_pem)
    }
}

fn replicas_path(state_dir: &Path) -> PathBuf {
    dir(state_dir).join("replicas")
}

/// The control plane's replicas (`HOST:PORT`) as last told, one a line;
/// none when never told (or unreadable: then `--control` alone).
pub fn load_replicas(state_dir: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(replicas_path(state_dir)).unwrap_or_default();
    text.lines()
        .map(str::trim)
        .filter(|l| super::replicas::split(l).is_some())
        .map(String::from)
        .collect()
}

pub fn save_replicas(state_dir: &Path, replicas: &[String]) -> Result<(), IdentityError> {
    let mut text = replicas.join("\n");
    text.push('\n');
    write_private(&replicas_path(state_dir), text)
}

#[cfg(test)]
mod tests;
