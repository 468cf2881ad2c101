//! Handles on network namespaces, and running code inside one.
//!
//! Namespace membership is per thread, so entering a namespace always happens
//! on a short-lived dedicated thread ([`Netns::run`]); the caller's thread is
//! never switched.

use std::fmt;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::path::{Path, PathBuf};
use std::thread;

use nix::sched::{CloneFlags, setns, unshare};
use nix::sys::stat::fstat;
use nix::sys::statfs::{NSFS_MAGIC, fstatfs};

use crate::error::{NetError, Result};

const THREAD_SELF_NETNS: &str = "/proc/thread-self/ns/net";

/// Identifies a namespace: two handles on the same namespace compare equal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct NetnsId {
    pub dev: u64,
    pub ino: u64,
}

/// An open handle on a network namespace; keeps it alive while held.
#[derive(Debug)]
pub struct Netns {
    file: File,
    id: NetnsId,
    /// Where the handle came from (a path, "anonymous", ...), for messages.
    origin: String,
}

impl Netns {
    /// The calling thread's network namespace.
    pub fn current() -> Result<Netns> {
        let mut ns = Netns::open_labeled(Path::new(THREAD_SELF_NETNS), "current netns".into())?;
        ns.origin = format!("current netns [{}]", ns.id.ino);
        Ok(ns)
    }

    /// Opens a namespace file such as `/run/netns/c1` or `/proc/<pid>/ns/net`.
    /// Fails, naming the path, when it is missing or not a network namespace.
    pub fn open(path: &Path) -> Result<Netns> {
        Netns::open_labeled(path, path.display().to_string())
    }

    /// A fresh, empty namespace that lives as long as this handle (or anything
    /// placed inside it). Made by `unshare` on a throwaway thread.
    pub fn new_anonymous() -> Result<Netns> {
        const OP: &str = "create anonymous netns";
        let spawned = thread::Builder::new()
            .name("weft-netns-new".into())
            .spawn(|| -> Result<File> {
                unshare(CloneFlags::CLONE_NEWNET).map_err(|e| NetError::os(OP, e.into()))?;
                File::open(THREAD_SELF_NETNS)
                    .map_err(|e| NetError::os(format!("{OP}: open {THREAD_SELF_NETNS}"), e))
            })
            .map_err(|e| NetError::os(format!("{OP}: spawn thread"), e))?;
        let file = match spawned.join() {
            Ok(result) => result?,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        let mut ns = Netns::from_file(file, "anonymous netns".into())?;
        // The inode tells anonymous namespaces apart in messages, as in the
        // kernel's own "net:[4026532299]" notation.
        ns.origin = format!("anonymous netns [{}]", ns.id.ino);
        Ok(ns)
    }

    fn open_labeled(path: &Path, origin: String) -> Result<Netns> {
        let file = File::open(path).map_err(|e| NetError::os(format!("open netns {origin}"), e))?;
        Netns::from_file(file, origin)
    }

    fn from_file(file: File, origin: String) -> Result<Netns> {
        let op = || format!("open netns {origin}");
        let fs = fstatfs(&file).map_err(|e| NetError::os(op(), e.into()))?;
        if fs.filesystem_type() != NSFS_MAGIC {
            return Err(NetError::invalid(
                op(),
                "not a namespace file (not on nsfs)",
            ));
        }
        // SAFETY: NS_GET_NSTYPE takes no argument and only reads the fd, which
        // `file` keeps open for the duration of the call.
        let nstype = unsafe { libc::ioctl(file.as_raw_fd(), libc::NS_GET_NSTYPE) };
        if nstype < 0 {
            return Err(NetError::os(op(), io::Error::last_os_error()));
        }
        if nstype != libc::CLONE_NEWNET {
            return Err(NetError::invalid(
                op(),
                "a namespace, but not a network namespace",
            ));
        }
        let stat = fstat(&file).map_err(|e| NetError::os(op(), e.into()))?;
        let id = NetnsId {
            dev: stat.st_dev,
            ino: stat.st_ino,
        };
        Ok(Netns { file, id, origin })
    }

    pub fn id(&self) -> NetnsId {
        self.id
    }

    pub fn as_fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }

    /// Human-readable origin used in messages: the path it was opened from,
    /// or "anonymous netns [<inode>]" / "current netns [<inode>]".
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// A path other processes can open to enter this namespace while the
    /// handle lives: `/proc/<our pid>/fd/<fd>` (e.g. for `nsenter --net=`).
    pub fn proc_path(&self) -> PathBuf {
        PathBuf::from(format!(
            "/proc/{}/fd/{}",
            std::process::id(),
            self.file.as_raw_fd()
        ))
    }

    /// A second handle on the same namespace.
    pub fn try_clone(&self) -> Result<Netns> {
        let file = self
            .file
            .try_clone()
            .map_err(|e| NetError::os(format!("duplicate handle on netns {}", self.origin), e))?;
        Ok(Netns {
            file,
            id: self.id,
            origin: self.origin.clone(),
        })
    }

    /// Runs `f` on a dedicated thread that has entered this namespace, and
    /// returns its result. A panic in `f` is propagated to the caller.
    pub fn run<T: Send>(&self, f: impl FnOnce() -> T + Send) -> Result<T> {
        thread::scope(|scope| {
            let handle = thread::Builder::new()
                .name("weft-netns-run".into())
                .spawn_scoped(scope, || -> Result<T> {
                    setns(&self.file, CloneFlags::CLONE_NEWNET).map_err(|e| {
                        NetError::os(format!("enter netns {}", self.origin), e.into())
                    })?;
                    Ok(f())
                })
                .map_err(|e| {
                    NetError::os(format!("spawn thread to enter netns {}", self.origin), e)
                })?;
            match handle.join() {
                Ok(result) => result,
                Err(panic) => std::panic::resume_unwind(panic),
            }
        })
    }
}

impl AsFd for Netns {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }
}

impl fmt::Display for Netns {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.origin)
    }
}
