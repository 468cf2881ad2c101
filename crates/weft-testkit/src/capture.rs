//! Packet captures on the underlay, and the check that only encrypted
//! WireGuard crossed it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::process::sh;
use crate::wait::wait_for;

pub struct Capture {
    child: Child,
    pub file: PathBuf,
}

/// Start `tcpdump` on `iface` inside namespace `ns` (full name), writing to
/// `file`; returns once it is listening.
pub fn start(ns: &str, iface: &str, file: &Path) -> Capture {
    let err = file.with_extension("err");
    let child = Command::new("ip")
        .args([
            "netns",
            "exec",
            ns,
            "tcpdump",
            "--immediate-mode",
            "-Z",
            "root",
            "-i",
            iface,
            "-n",
            "-U",
            "-s",
            "0",
            "-w",
        ])
        .arg(file)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .expect("spawn tcpdump (apt-get install tcpdump)");
    wait_for("tcpdump to listen", Duration::from_secs(10), || {
        std::fs::read_to_string(&err)
            .unwrap_or_default()
            .contains("listening on")
    });
    Capture {
        child,
        file: file.to_path_buf(),
    }
}

impl Capture {
    /// Stop the capture and return (decoded lines, raw bytes).
    pub fn stop(mut self) -> (Vec<String>, Vec<u8>) {
        sh(&format!("kill -INT {}", self.child.id()));
        let _ = self.child.wait();
        let text = sh(&format!(
            "tcpdump -r {} -n -tt 2>/dev/null",
            self.file.display()
        ));
        let raw = std::fs::read(&self.file).unwrap();
        eprintln!(
            "capture {}: {} bytes; {}",
            self.file.display(),
            raw.len(),
            std::fs::read_to_string(self.file.with_extension("err"))
                .unwrap_or_default()
                .replace('\n', " ")
        );
        (text.lines().map(str::to_string).collect(), raw)
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Ok when every IP packet in the capture is UDP between the underlay
/// addresses on `port`, none mentions an overlay address or ICMP/TCP, and
/// the plaintext `marker` appears nowhere in the raw bytes. Err says what
/// was seen, so the same check proves a plaintext capture fails.
pub fn only_wireguard(
    lines: &[String],
    raw: &[u8],
    port: u16,
    marker: &[u8],
) -> Result<usize, String> {
    let mut udp = 0;
    for line in lines {
        if line.contains(" ARP, ") || line.contains(" IP6 ") {
            // Neighbour discovery on the underlay itself.
            if line.contains("10.42.") {
                return Err(format!("overlay address in the clear: {line}"));
            }
            continue;
        }
        let is_wg = line.contains(" IP 192.0.2.")
            && line.contains(&format!(".{port}: UDP"))
            && !line.contains("10.42.");
        if !is_wg {
            return Err(format!("not WireGuard: {line}"));
        }
        udp += 1;
    }
    if raw.windows(marker.len()).any(|w| w == marker) {
        return Err("the plaintext marker is in the capture".into());
    }
    if udp == 0 {
        return Err("no WireGuard packets captured".into());
    }
    Ok(udp)
}

/// How often `marker` is in the raw bytes of a capture.
pub fn seen(raw: &[u8], marker: &str) -> usize {
    raw.windows(marker.len())
        .filter(|w| *w == marker.as_bytes())
        .count()
}
