use super::*;
use std::fmt::Write as _;

/// Where the committed pages live, from the workspace's root.
const COMMITTED_DIR: &str = "docs/man";
/// The command that regenerates them, run from the workspace's root.
const REGENERATE: &str = "cargo run -p weft -- man --out docs/man";

fn committed_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(COMMITTED_DIR)
}

/// What differs between the pages in `want` (generated) and `have`
/// (committed), one line per file; empty when they are the same.
fn differences(want: &Path, have: &Path) -> String {
    let want_names = weft_pages_in(want).unwrap();
    let have_names = weft_pages_in(have).unwrap();
    let mut out = String::new();
    for name in &want_names {
        match std::fs::read(have.join(name)) {
            Err(_) => writeln!(out, "  {COMMITTED_DIR}/{name}: missing").unwrap(),
            Ok(text) if text != std::fs::read(want.join(name)).unwrap() => {
                writeln!(out, "  {COMMITTED_DIR}/{name}: stale").unwrap()
            }
            Ok(_) => {}
        }
    }
    for name in have_names.iter().filter(|n| !want_names.contains(n)) {
        writeln!(out, "  {COMMITTED_DIR}/{name}: no such command any more").unwrap();
    }
    out
}

/// The committed pages are what the binary generates now: a changed help
/// text, flag or command fails here until the pages are regenerated.
#[test]
fn the_committed_man_pages_match_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    exec(Args {
        out: dir.path().to_path_buf(),
    })
    .unwrap();
    let diff = differences(dir.path(), &committed_dir());
    assert!(
        diff.is_empty(),
        "the man pages differ from the command line:\n{diff}regenerate them from the workspace's root with\n  {REGENERATE}\nand commit {COMMITTED_DIR}/"
    );
}

#[test]
fn one_page_per_visible_command_with_its_full_name() {
    let names: Vec<String> = pages().unwrap().into_iter().map(|p| p.file_name).collect();
    for name in [
        "weft.1",
        "weft-network.1",
        "weft-network-create.1",
        "weft-control-token-create.1",
        "weft-completions.1",
    ] {
        assert!(names.contains(&name.to_string()), "no {name} in {names:?}");
    }
    for hidden in ["weft-man.1", "weft-service-run.1", "weft-help.1"] {
        assert!(!names.contains(&hidden.to_string()), "{hidden} made");
    }
    let create = pages()
        .unwrap()
        .into_iter()
        .find(|p| p.file_name == "weft-network-create.1")
        .unwrap();
    let text = String::from_utf8(create.text).unwrap();
    assert!(text.contains("weft\\-network\\-create"), "{text}");
    assert!(text.contains("subnet"), "{text}");
}

#[test]
fn regenerating_replaces_pages_and_removes_those_of_gone_commands() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("weft-gone.1"), "old").unwrap();
    std::fs::write(dir.path().join("weft.1"), "old").unwrap();
    std::fs::write(dir.path().join("other.1"), "not weft's").unwrap();
    exec(Args {
        out: dir.path().to_path_buf(),
    })
    .unwrap();
    assert!(!dir.path().join("weft-gone.1").exists());
    assert_ne!(std::fs::read(dir.path().join("weft.1")).unwrap(), b"old");
    assert!(dir.path().join("other.1").exists(), "not weft's: kept");
    assert_eq!(
        weft_pages_in(dir.path()).unwrap().len(),
        pages().unwrap().len()
    );
}
