use super::*;

/// `cpio -t` (busybox's or GNU's) reads the archive back: names, kinds
/// and contents as written.
#[test]
fn the_cpio_tool_reads_it_back() {
    let Some(cpio) = crate::which("cpio").or_else(|| crate::which("busybox")) else {
        crate::skip("needs cpio or busybox to read the archive back");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut writer = Writer::new(Vec::new());
    writer.member("bin", &Member::Dir).unwrap();
    writer
        .member(
            "bin/hello",
            &Member::File {
                data: b"hi there\n",
                mode: 0o755,
            },
        )
        .unwrap();
    writer
        .member(
            "init",
            &Member::Symlink {
                target: "bin/hello",
            },
        )
        .unwrap();
    let archive = writer.finish().unwrap();
    assert_eq!(archive.len() % 4, 0);
    let file = dir.path().join("a.cpio");
    std::fs::write(&file, &archive).unwrap();
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let applet = if cpio.ends_with("busybox") {
        "cpio "
    } else {
        ""
    };
    crate::sh(&format!(
        "cd {} && {} {applet}-id < {}",
        out.display(),
        cpio.display(),
        file.display()
    ));
    assert_eq!(
        std::fs::read_to_string(out.join("bin/hello")).unwrap(),
        "hi there\n"
    );
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(out.join("bin/hello"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o755);
    assert_eq!(
        std::fs::read_link(out.join("init")).unwrap().to_str(),
        Some("bin/hello")
    );
}
