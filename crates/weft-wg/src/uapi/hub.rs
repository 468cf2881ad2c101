//! The one thread that serves every UAPI socket of the process.
//!
//! A thread per interface would make the agent's threads grow with its
//! networks; requests are small and quick (a `wg show`, a `wg set`), so one
//! thread polls every listener and answers connections in turn. A client
//! that stalls holds it for at most the client timeout.

use std::io;
use std::os::fd::AsFd;
use std::os::unix::net::UnixListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::eventfd::{EfdFlags, EventFd};

use super::server::{UapiHandler, serve_connection};

/// One served socket.
pub(super) struct Entry {
    pub ifname: String,
    pub listener: UnixListener,
    pub handler: Weak<dyn UapiHandler>,
    /// Cleared by [`Hub::remove`]: no connection is accepted after.
    live: AtomicBool,
    /// Held while one of its connections is answered.
    busy: Mutex<()>,
}

pub(super) struct Hub {
    entries: Mutex<Vec<Arc<Entry>>>,
    /// Wakes the thread to take in a changed list of entries.
    wake: EventFd,
}

/// The process's hub, its thread started on first use.
static HUB: Mutex<Option<Arc<Hub>>> = Mutex::new(None);

impl Hub {
    /// The process's hub (starting its thread the first time).
    pub fn get() -> io::Result<Arc<Hub>> {
        let mut hub = HUB.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(hub) = hub.as_ref() {
            return Ok(Arc::clone(hub));
        }
        let new = Arc::new(Hub {
            entries: Mutex::new(Vec::new()),
            wake: EventFd::from_flags(EfdFlags::EFD_CLOEXEC | EfdFlags::EFD_NONBLOCK)?,
        });
        let served = Arc::clone(&new);
        std::thread::Builder::new()
            .name("wg-uapi".into())
            .spawn(move || served.run())?;
        *hub = Some(Arc::clone(&new));
        Ok(new)
    }

    /// Serve `listener` (non-blocking) for `handler` until removed.
    pub fn add(
        &self,
        ifname: &str,
        listener: UnixListener,
        handler: Weak<dyn UapiHandler>,
    ) -> Arc<Entry> {
        let entry = Arc::new(Entry {
            ifname: ifname.to_owned(),
            listener,
            handler,
            live: AtomicBool::new(true),
            busy: Mutex::new(()),
        });
        self.lock().push(Arc::clone(&entry));
        self.poke();
        entry
    }

    /// Stop serving `entry`; returns once none of its connections is
    /// being answered any more.
    pub fn remove(&self, entry: &Arc<Entry>) {
        entry.live.store(false, Ordering::SeqCst);
        self.lock().retain(|e| !Arc::ptr_eq(e, entry));
        self.poke();
        drop(entry.busy.lock().unwrap_or_else(PoisonError::into_inner));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Arc<Entry>>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn poke(&self) {
        let _ = self.wake.write(1);
    }

    fn run(&self) {
        loop {
            let entries = self.lock().clone();
            let ready = {
                let mut fds: Vec<PollFd<'_>> = entries
                    .iter()
                    .map(|e| PollFd::new(e.listener.as_fd(), PollFlags::POLLIN))
                    .collect();
                fds.push(PollFd::new(self.wake.as_fd(), PollFlags::POLLIN));
                match poll(&mut fds, PollTimeout::NONE) {
                    Ok(_) => {}
                    Err(nix::errno::Errno::EINTR) => continue,
                    Err(e) => {
                        // Nothing here can make poll fail but a bug; do not spin.
                        tracing::error!("UAPI poll failed: {e}");
                        std::thread::sleep(std::time::Duration::from_secs(1));
                        continue;
                    }
                }
                let ready: Vec<bool> = fds.iter().map(|fd| fd.any().unwrap_or(false)).collect();
                ready
            };
            if ready.last().copied().unwrap_or(false) {
                let _ = self.wake.read();
            }
            for (entry, _) in entries.iter().zip(&ready).filter(|(_, r)| **r) {
                accept_one(entry);
            }
        }
    }
}

/// Accept and answer one connection of `entry`, unless it was removed.
fn accept_one(entry: &Entry) {
    let _busy = entry.busy.lock().unwrap_or_else(PoisonError::into_inner);
    if !entry.live.load(Ordering::SeqCst) {
        return;
    }
    let ifname = entry.ifname.as_str();
    match entry.listener.accept() {
        Ok((stream, _)) => {
            let Some(handler) = entry.handler.upgrade() else {
                return;
            };
            if let Err(e) = serve_connection(stream, &*handler) {
                tracing::debug!(ifname, "UAPI client: {e}");
            }
        }
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
        Err(e) => tracing::debug!(ifname, "UAPI accept: {e}"),
    }
}
