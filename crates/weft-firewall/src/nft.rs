//! Running `nft`: applying the batch and listing weft's table.
//!
//! The process is run here rather than through the `nftables` crate's
//! `helper` module because weft needs nft's own error text (the helper lets
//! `nft -f`'s stderr go to our stderr) and, for tests and labs, to run nft
//! inside another network namespace (through `nsenter --net=PATH`; nft
//! works on the netns it runs in).

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex, PoisonError};

use tracing::{debug, info};

use crate::changes::{ChangeKind, changes};
use crate::error::FirewallError;
use crate::generation::generation;
use crate::model::NetworkRules;
use crate::ruleset::{FAMILY_KEYWORD, TABLE, ruleset};
use crate::table::Listed;

mod bridge;
use bridge::BridgeKnown;

const APPLY: &str = "apply nftables ruleset";
const LIST: &str = "list nftables ruleset";

/// What [`Firewall::apply`] found and did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Applied {
    /// The table already was exactly what the networks need: nothing was
    /// sent to the kernel (so rule handles, and `nft -j list` output, stay
    /// byte-identical across agent restarts).
    Unchanged,
    /// There was no table: it was created.
    Created,
    /// Only what differed was changed: a network's chains and its set
    /// elements added or removed; everything else kept its handles.
    Updated,
    /// The table held something weft does not build and was replaced
    /// whole, atomically.
    Replaced,
    /// No networks: the table was deleted.
    Removed,
}

impl From<ChangeKind> for Applied {
    fn from(kind: ChangeKind) -> Self {
        match kind {
            ChangeKind::Create => Applied::Created,
            ChangeKind::Update => Applied::Updated,
            ChangeKind::Replace => Applied::Replaced,
            ChangeKind::Remove => Applied::Removed,
        }
    }
}

/// Applies weft's ruleset with the `nft` command (Debian package
/// `nftables`). Synchronous: it waits for `nft`, so call it from a blocking
/// thread (`tokio::task::spawn_blocking`) in async code. Clones share what
/// they know of the table.
#[derive(Clone, Debug)]
pub struct Firewall {
    nft: PathBuf,
    netns: Option<PathBuf>,
    known: Arc<Mutex<Option<Known>>>,
    /// What table `bridge weft` was when this firewall last made or
    /// checked it (see `crate::bridge`).
    bridge_known: Arc<Mutex<Option<BridgeKnown>>>,
}

/// What table `inet weft` was at one nftables ruleset generation.
#[derive(Debug)]
struct Known {
    generation: u32,
    table: Listed,
}

impl Default for Firewall {
    fn default() -> Self {
        Firewall::new()
    }
}

impl Firewall {
    /// `nft` from `PATH`, in the caller's network namespace.
    pub fn new() -> Self {
        Firewall {
            nft: PathBuf::from("nft"),
            netns: None,
            known: Arc::default(),
            bridge_known: Arc::default(),
        }
    }

    /// `nft` run inside the network namespace at `netns` (e.g.
    /// `/run/netns/h1` or `/proc/<pid>/fd/<fd>`), through `nsenter`.
    pub fn in_netns(netns: impl Into<PathBuf>) -> Self {
        Firewall {
            netns: Some(netns.into()),
            ..Firewall::new()
        }
    }

    /// Uses this `nft` binary instead of the one on `PATH`.
    pub fn with_nft(mut self, nft: impl Into<PathBuf>) -> Self {
        self.nft = nft.into();
        self
    }

    /// Makes table `inet weft` exactly what `networks` need, and touches
    /// nothing else. Sends only what differs (see
    /// [`changes()`](crate::changes())) as one `nft -j -f -` transaction,
    /// so a failure leaves the previous table in force and there is never
    /// a moment without one. When the table already is right nothing is
    /// sent. An empty list deletes the table. Safe to call as often as
    /// wanted.
    ///
    /// The table is listed only when the namespace's nftables ruleset
    /// generation moved since this firewall last listed or changed it (a
    /// change by anyone else, a first call): otherwise what it knows is
    /// the table. So a network added to a host with hundreds costs one
    /// small `nft` run, and a hand edit is still seen and repaired on the
    /// next call.
    ///
    /// Table `bridge weft` (bridge networks' ports pinned to their
    /// workloads' MAC and address) is its own transaction, first: only its
    /// pins' elements when nothing else of it changed, made whole
    /// otherwise, checked the same way (see the `bridge` submodule). An
    /// attach or detach calls [`Firewall::apply_ports`] instead, which
    /// never lists.
    pub fn apply(&self, networks: &[NetworkRules]) -> Result<Applied, FirewallError> {
        // Bridge first: its transaction moves the ruleset generation, which
        // the inet table's bookkeeping reads right after.
        let (bridged, bridge_generation) = self.apply_bridge(networks)?;
        let (applied, inet) = self.apply_inet(networks)?;
        // When nothing but the inet step (if anything) moved the generation
        // since the bridge table was known, it still is at the new one: the
        // next call then needs no listing of it either.
        if bridge_generation.is_some()
            && bridge_generation == inet.from
            && let Some(known) = self
                .bridge_known
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .as_mut()
        {
            known.generation = inet.to;
        }
        Ok(match applied {
            Applied::Unchanged if bridged => Applied::Updated,
            other => other,
        })
    }

    fn apply_inet(
        &self,
        networks: &[NetworkRules],
    ) -> Result<(Applied, GenerationStep), FirewallError> {
        let wanted = ruleset(networks)?;
        let mut known = self.known.lock().unwrap_or_else(PoisonError::into_inner);
        // Forgotten until this call succeeds: after a failure, list again.
        let last = known.take();
        let before = self.generation();
        let current = match (last, before) {
            (Some(last), Some(now)) if last.generation == now => last.table,
            _ => Listed::parse(&self.list_json()?),
        };
        let Some(batch) = changes(&current, wanted.as_ref()) else {
            debug!(
                networks = networks.len(),
                "nftables table inet weft already up to date"
            );
            *known = before.map(|generation| Known {
                generation,
                table: current,
            });
            let step = GenerationStep {
                from: before,
                to: before,
            };
            return Ok((Applied::Unchanged, step));
        };
        self.send_batch(&batch.to_json().to_string())?;
        let wanted = match wanted {
            Some(table) => Listed::Table(table),
            None => Listed::Absent,
        };
        // nft 1.0.6 exits 0 on input it cannot parse as JSON, so success is
        // only believed when the generation moved by exactly one (this
        // transaction and nobody else's since the table was known), or
        // once the table reads back as what was wanted.
        let after = self.generation();
        let ours_alone = matches!((before, after), (Some(b), Some(a)) if a == b.wrapping_add(1));
        if !ours_alone && Listed::parse(&self.list_json()?) != wanted {
            return Err(FirewallError::Nft {
                action: APPLY,
                stderr: "nft reported success but table inet weft does not read back as the \
                         ruleset sent"
                    .into(),
            });
        }
        *known = after.map(|generation| Known {
            generation,
            table: wanted,
        });
        let applied = Applied::from(batch.kind);
        // Only a transaction of ours alone is a step others can trust.
        let step = GenerationStep {
            from: if ours_alone { before } else { None },
            to: after,
        };
        if applied == Applied::Removed {
            info!("nftables table inet weft removed");
        } else {
            info!(
                networks = networks.len(),
                commands = batch.commands().len(),
                ?applied,
                "nftables table inet weft applied"
            );
        }
        Ok((applied, step))
    }

    /// The namespace's nftables ruleset generation; `None` when it cannot
    /// be read (then the table is listed every time).
    fn generation(&self) -> Option<u32> {
        generation(self.netns.as_deref())
            .inspect_err(|e| debug!("read the nftables ruleset generation: {e}"))
            .ok()
    }

    /// Deletes table `inet weft` (and with it every weft rule); nothing when
    /// it is absent. The same as `apply(&[])`.
    pub fn remove(&self) -> Result<Applied, FirewallError> {
        self.apply(&[])
    }

    /// `nft -j list table inet weft`, exactly as nft prints it; `""` when
    /// the table does not exist.
    pub fn list_json(&self) -> Result<String, FirewallError> {
        self.list_table(FAMILY_KEYWORD)
    }

    /// `nft -j list table FAMILY weft`; `""` when it does not exist.
    fn list_table(&self, family: &str) -> Result<String, FirewallError> {
        let output = self.run(LIST, &["-j", "list", "table", family, TABLE], None)?;
        if output.status.success() {
            return String::from_utf8(output.stdout)
                .map_err(|_| FirewallError::Output { action: LIST });
        }
        let stderr = stderr_text(&output);
        // nft's answer for a table that does not exist (ENOENT).
        if stderr.contains("No such file or directory") {
            return Ok(String::new());
        }
        Err(FirewallError::Nft {
            action: LIST,
            stderr,
        })
    }

    /// One `nft -j -f -` transaction; nft's own message when it refuses.
    fn send_batch(&self, batch: &str) -> Result<(), FirewallError> {
        let output = self.run(APPLY, &["-j", "-f", "-"], Some(batch.as_bytes()))?;
        if !output.status.success() {
            return Err(FirewallError::Nft {
                action: APPLY,
                stderr: stderr_text(&output),
            });
        }
        Ok(())
    }

    fn run(
        &self,
        action: &'static str,
        args: &[&str],
        stdin: Option<&[u8]>,
    ) -> Result<Output, FirewallError> {
        let mut command = match &self.netns {
            Some(netns) => {
                let mut command = Command::new("nsenter");
                let mut net = OsString::from("--net=");
                net.push(netns);
                command.arg(net).arg(&self.nft);
                command
            }
            None => Command::new(&self.nft),
        };
        command
            .args(args)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let program = match &self.netns {
            Some(netns) => format!("nsenter --net={} {}", netns.display(), self.nft.display()),
            None => self.nft.display().to_string(),
        };
        let spawn_error = |source| FirewallError::Spawn {
            action,
            program: program.clone(),
            source,
        };
        let mut child = command.spawn().map_err(spawn_error)?;
        if let Some(input) = stdin {
            let mut pipe = child.stdin.take().expect("stdin was piped");
            // Write before waiting: nft reads all of stdin before it
            // writes anything, so a batch larger than a pipe's buffer
            // cannot deadlock against its output.
            // A nft that exits without reading (it failed to start up)
            // closes the pipe; its exit status and stderr then tell why.
            match pipe.write_all(input) {
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                    return Err(spawn_error(e));
                }
                _ => {}
            }
        }
        child.wait_with_output().map_err(spawn_error)
    }
}

/// The generation an inet step started and ended at; `from` is `None` when
/// someone else's transaction may have come in between.
struct GenerationStep {
    from: Option<u32>,
    to: Option<u32>,
}

fn stderr_text(output: &Output) -> String {
    let text = String::from_utf8_lossy(&output.stderr);
    let text = text.trim();
    if text.is_empty() {
        format!("exited with {}", output.status)
    } else {
        // nft's errors span lines (the message, the offending input, a
        // caret line); keep them but on one line for logs.
        text.lines()
            .map(str::trim_end)
            .collect::<Vec<_>>()
            .join(" | ")
    }
}
