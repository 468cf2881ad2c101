//! Serve the UAPI of one interface on `<uapi_dir>/<ifname>.sock`.
//!
//! The process's one UAPI thread ([`super::hub`]) accepts connections and
//! answers their requests in turn (a connection may carry several, as with
//! wireguard-go). Requests are small and handled quickly; read/write
//! timeouts keep a stuck client from holding the thread for long.

use std::fs;
use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Weak};
use std::time::Duration;

use super::hub::{Entry, Hub};
use super::proto::{self, DeviceDump, Request};
use crate::{DeviceConfig, WgError, uapi_socket_path};

/// What the server asks of the device it serves.
pub trait UapiHandler: Send + Sync {
    fn uapi_get(&self) -> Result<DeviceDump, WgError>;
    fn uapi_set(&self, config: &DeviceConfig) -> Result<(), WgError>;
}

/// A request larger than this is refused (a few thousand peers fit).
const MAX_REQUEST_BYTES: usize = 16 << 20;
const CLIENT_TIMEOUT: Duration = Duration::from_secs(5);

pub struct UapiServer {
    path: PathBuf,
    /// Identity of the socket file we created, so that we never remove a
    /// file someone else put there since.
    file_id: (u64, u64),
    hub: Arc<Hub>,
    /// `None` once stopped.
    entry: Option<Arc<Entry>>,
}

impl UapiServer {
    /// Bind the socket (replacing a stale one) and start serving `handler`.
    pub fn start(
        uapi_dir: &Path,
        ifname: &str,
        handler: Weak<dyn UapiHandler>,
    ) -> Result<Self, WgError> {
        let path = uapi_socket_path(uapi_dir, ifname);
        let err = |source| WgError::Uapi {
            ifname: ifname.to_owned(),
            path: path.clone(),
            source,
        };
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(uapi_dir)
            .map_err(err)?;
        match fs::symlink_metadata(&path) {
            Ok(meta) if meta.file_type().is_socket() => {
                tracing::debug!(path = %path.display(), "replacing stale UAPI socket");
                fs::remove_file(&path).map_err(err)?;
            }
            Ok(_) => {
                return Err(err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    "a file that is not a socket is in the way",
                )));
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(err(e)),
        }
        let listener = UnixListener::bind(&path).map_err(err)?;
        let meta = fs::metadata(&path).map_err(err)?;
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).map_err(err)?;
        listener.set_nonblocking(true).map_err(err)?;
        let hub = Hub::get().map_err(|e| WgError::Thread {
            ifname: ifname.to_owned(),
            source: e,
        })?;
        let entry = hub.add(ifname, listener, handler);
        Ok(Self {
            path,
            file_id: (meta.dev(), meta.ino()),
            hub,
            entry: Some(entry),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Stop serving and remove the socket file. Idempotent.
    pub fn stop(&mut self) {
        let Some(entry) = self.entry.take() else {
            return;
        };
        self.hub.remove(&entry);
        if let Ok(meta) = fs::symlink_metadata(&self.path)
            && (meta.dev(), meta.ino()) == self.file_id
        {
            let _ = fs::remove_file(&self.path);
        }
    }
}

impl Drop for UapiServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Answer requests until the client closes the connection.
pub(super) fn serve_connection(stream: UnixStream, handler: &dyn UapiHandler) -> io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(CLIENT_TIMEOUT))?;
    stream.set_write_timeout(Some(CLIENT_TIMEOUT))?;
    let mut reader = BufReader::new(&stream);
    let mut request = String::new();
    loop {
        request.clear();
        if !read_request(&mut reader, &mut request)? {
            return Ok(());
        }
        let (answer, keep_going) = answer(&request, handler);
        (&stream).write_all(answer.as_bytes())?;
        if !keep_going {
            return Ok(());
        }
    }
}

/// Read lines up to and including the empty one. `false` at a clean EOF.
fn read_request(reader: &mut impl BufRead, request: &mut String) -> io::Result<bool> {
    loop {
        let before = request.len();
        let n = reader.read_line(request)?;
        if n == 0 {
            if request.is_empty() {
                return Ok(false);
            }
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "request cut short",
            ));
        }
        if &request[before..] == "\n" {
            return Ok(true);
        }
        if request.len() > MAX_REQUEST_BYTES {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "request too large",
            ));
        }
    }
}

/// The answer to one request, and whether the connection may go on.
fn answer(request: &str, handler: &dyn UapiHandler) -> (String, bool) {
    match proto::parse_request(request) {
        Ok(Request::Get) => match handler.uapi_get() {
            Ok(dump) => (proto::format_get_response(&dump), true),
            Err(e) => {
                tracing::debug!(error = &e as &dyn std::error::Error, "UAPI get failed");
                (proto::format_errno(e.errno()), true)
            }
        },
        Ok(Request::Set(config)) => match handler.uapi_set(&config) {
            Ok(()) => (proto::format_errno(0), true),
            Err(e) => {
                tracing::info!(error = &e as &dyn std::error::Error, "UAPI set failed");
                (proto::format_errno(e.errno()), true)
            }
        },
        Err(e) => {
            tracing::debug!("UAPI request refused: {e}");
            (proto::format_errno(e.errno()), false)
        }
    }
}

#[cfg(test)]
mod tests;
