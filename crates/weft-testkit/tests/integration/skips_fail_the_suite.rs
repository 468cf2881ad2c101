//! A privileged test that skips itself must not pass unnoticed: the skip
//! helper records it in `WEFT_TEST_SKIP_LOG`, and `scripts/lib/check-skips`
//! (the verdict `scripts/test` ends with) fails a root run that has any.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use weft_testkit::skip::SKIP_LOG_VAR;
use weft_testkit::{is_root, which};

const CHILD_ENV: &str = "WEFT_TESTKIT_SKIP_CHILD";

/// How a skip names this binary: cargo-nextest's id when it runs the
/// suite, the file name (less cargo's hash) under `cargo test`.
fn binary() -> String {
    std::env::var("NEXTEST_BINARY_ID").unwrap_or_else(|_| "integration".into())
}

fn check_skips() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/lib/check-skips")
}

fn check(log: &Path) -> Output {
    Command::new(check_skips()).arg(log).output().unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Stands for a privileged test that skips itself; does anything only as
/// the child of `a_recorded_skip_fails_a_root_run`.
#[test]
fn privileged_test_that_skips() {
    if std::env::var_os(CHILD_ENV).is_none() {
        return;
    }
    weft_testkit::skip("needs root (simulated)");
}

/// Runs the test above in a child process of this test binary, with the
/// skip log pointed at `log`.
fn run_skipping_child(log: &Path) {
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "skips_fail_the_suite::privileged_test_that_skips",
            "--nocapture",
        ])
        .env(CHILD_ENV, "1")
        .env(SKIP_LOG_VAR, log)
        .output()
        .unwrap();
    assert!(out.status.success(), "child: {}", stderr(&out));
    let named = format!(
        "skipped: {} skips_fail_the_suite::privileged_test_that_skips",
        binary()
    );
    assert!(stderr(&out).contains(&named), "{}", stderr(&out));
}

#[test]
fn nothing_skipped_passes() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("skips");
    let out = check(&log);
    assert!(out.status.success(), "no log file: {}", stderr(&out));
    std::fs::write(&log, "").unwrap();
    let out = check(&log);
    assert!(out.status.success(), "an empty log: {}", stderr(&out));
    assert_eq!(stderr(&out), "");
}

#[test]
fn a_recorded_skip_fails_a_root_run() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("skips");
    run_skipping_child(&log);
    let recorded = std::fs::read_to_string(&log).unwrap();
    assert_eq!(
        recorded,
        format!(
            "{} skips_fail_the_suite::privileged_test_that_skips: needs root (simulated)\n",
            binary()
        )
    );

    let out = check(&log);
    let listed = stderr(&out).contains("privileged_test_that_skips: needs root (simulated)");
    assert!(listed, "the skip is not listed: {}", stderr(&out));
    if is_root() {
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        assert!(stderr(&out).contains("skipped although running as root"));
        // The same log checked by another user is only a notice.
        as_nobody_passes(dir.path(), &log);
    } else {
        assert!(out.status.success(), "not root: {}", stderr(&out));
        assert!(stderr(&out).contains("not root: 1 test(s) skipped"));
    }
}

/// As root: `check-skips` run as nobody (setpriv) passes the same log.
fn as_nobody_passes(dir: &Path, log: &Path) {
    use std::os::unix::fs::PermissionsExt;
    assert!(
        which("setpriv").is_some(),
        "setpriv (util-linux) is required as root"
    );
    for path in [dir, log] {
        let mode = if path.is_dir() { 0o755 } else { 0o644 };
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    let out = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--reset-env",
        ])
        .arg(check_skips())
        .arg(log)
        .output()
        .unwrap();
    assert!(out.status.success(), "as nobody: {}", stderr(&out));
    assert!(
        stderr(&out).contains("not root: 1 test(s) skipped"),
        "{}",
        stderr(&out)
    );
}
