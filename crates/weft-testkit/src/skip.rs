//! Skipping a test, visibly. A test that cannot run here (not root, a tool
//! missing) returns early and passes, which would hide a broken suite in
//! CI; so every skip goes through [`skip`], which says so on stderr and,
//! when the environment variable [`SKIP_LOG_VAR`] names a file, appends a
//! line to it. `scripts/test` sets the variable and fails a run as root in
//! which anything was skipped (`scripts/lib/check-skips`).

use std::io::Write as _;
use std::path::Path;

/// The environment variable naming the file skips are appended to.
pub const SKIP_LOG_VAR: &str = "WEFT_TEST_SKIP_LOG";

/// Record that the running test does not run, and why. Prints
/// `skipped: <test>: <why>` and appends the same line (without the prefix)
/// to the file named by `WEFT_TEST_SKIP_LOG`, if set.
///
/// Panics when the log is set but cannot be written: a skip that goes
/// unrecorded is the silent pass this exists to prevent.
pub fn skip(why: &str) {
    let line = format!("{}: {why}", current_test());
    eprintln!("skipped: {line}");
    if let Some(log) = std::env::var_os(SKIP_LOG_VAR) {
        append(Path::new(&log), &line)
            .unwrap_or_else(|e| panic!("record the skip in {}: {e}", Path::new(&log).display()));
    }
}

/// One line, in one `write` on a file opened for appending, so lines of
/// tests running in parallel (threads or processes) do not interleave.
fn append(log: &Path, line: &str) -> std::io::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)?;
    file.write_all(format!("{line}\n").as_bytes())
}

/// `<test binary> <test name>`: the harness names each test's thread after
/// the test; the binary is cargo-nextest's id for it (`weft::integration`:
/// crate and target) or else its file name less cargo's hash.
pub fn current_test() -> String {
    let binary = std::env::var("NEXTEST_BINARY_ID")
        .ok()
        .or_else(|| std::env::current_exe().ok().and_then(binary_stem))
        .unwrap_or_else(|| "?".into());
    let thread = std::thread::current();
    match thread.name() {
        Some(name) if name != "main" => format!("{binary} {name}"),
        _ => binary,
    }
}

fn binary_stem(exe: std::path::PathBuf) -> Option<String> {
    exe.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .map(|stem| match stem.rsplit_once('-') {
            Some((name, hash)) if hash.chars().all(|c| c.is_ascii_hexdigit()) => name.to_owned(),
            _ => stem,
        })
}

pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// True when running as root; otherwise records the skip and returns
/// false. Namespaces, TUN devices, mounts and nftables all need root.
pub fn require_root() -> bool {
    if is_root() {
        return true;
    }
    skip("needs root (network namespaces, links, mounts, nftables)");
    false
}

/// True when every tool is on PATH (or in ~/.cargo/bin); otherwise records
/// the skip, naming the missing ones, and returns false.
pub fn require_tools(tools: &[&str]) -> bool {
    let missing: Vec<&str> = tools
        .iter()
        .copied()
        .filter(|t| crate::which(t).is_none())
        .collect();
    if missing.is_empty() {
        return true;
    }
    skip(&format!(
        "needs {} (scripts/deps installs it)",
        missing.join(", ")
    ));
    false
}

/// Return from the calling test (recording the skip) unless running as
/// root.
#[macro_export]
macro_rules! require_root {
    () => {
        if !$crate::require_root() {
            return;
        }
    };
}

/// Return from the calling test (recording the skip) unless every tool is
/// installed.
#[macro_export]
macro_rules! require_tools {
    ($($tool:expr),+ $(,)?) => {
        if !$crate::require_tools(&[$($tool),+]) {
            return;
        }
    };
}

#[cfg(test)]
mod tests;
