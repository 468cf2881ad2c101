//! `weft --version` names the commit it was built from: WEFT_COMMIT is the
//! environment's `WEFT_BUILD_COMMIT` when set (a release built from a
//! tarball, where there is no .git), else `git rev-parse` of the source
//! tree, else "unknown". WEFT_VERSION is `WEFT_BUILD_VERSION` when set
//! (scripts/release passes the git tag's version), else the crate's.

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    let text = text.trim();
    (out.status.success() && !text.is_empty()).then(|| text.to_string())
}

fn main() {
    println!("cargo:rerun-if-env-changed=WEFT_BUILD_COMMIT");
    println!("cargo:rerun-if-env-changed=WEFT_BUILD_VERSION");
    let commit = std::env::var("WEFT_BUILD_COMMIT")
        .ok()
        .filter(|c| !c.is_empty())
        .or_else(|| git(&["rev-parse", "--short=12", "HEAD"]))
        .unwrap_or_else(|| "unknown".into());
    let version = std::env::var("WEFT_BUILD_VERSION")
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| std::env::var("CARGO_PKG_VERSION").unwrap());
    println!("cargo:rustc-env=WEFT_COMMIT={commit}");
    println!("cargo:rustc-env=WEFT_VERSION={version}");
    // Built again when HEAD moves: HEAD itself (a branch switch) and the
    // branch it names (a commit), wherever this worktree keeps them.
    for path in [
        git(&["rev-parse", "--git-path", "HEAD"]),
        git(&["symbolic-ref", "-q", "HEAD"]).and_then(|r| git(&["rev-parse", "--git-path", &r])),
        git(&["rev-parse", "--git-path", "packed-refs"]),
    ]
    .into_iter()
    .flatten()
    {
        let path = std::path::Path::new(&path);
        if path.exists() {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
}
