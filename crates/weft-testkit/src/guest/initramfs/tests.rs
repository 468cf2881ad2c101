use super::*;

#[test]
fn ldd_output_gives_the_loader_and_the_libraries() {
    let text = "\tlinux-vdso.so.1 (0x00007ffd)\n\
                    \tlibmnl.so.0 => /lib/x86_64-linux-gnu/libmnl.so.0 (0x00007f90)\n\
                    \tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f77)\n\
                    \t/lib64/ld-linux-x86-64.so.2 (0x00007f77)\n";
    assert_eq!(
        parse_ldd(text).unwrap(),
        [
            "/lib/x86_64-linux-gnu/libmnl.so.0",
            "/lib/x86_64-linux-gnu/libc.so.6",
            "/lib64/ld-linux-x86-64.so.2"
        ]
        .map(PathBuf::from)
    );
    let missing = "\tlibfoo.so.1 => not found\n";
    assert_eq!(parse_ldd(missing).unwrap_err(), "libfoo.so.1 => not found");
}

#[test]
fn parents_come_before_their_children() {
    let mut fs = Initramfs {
        entries: BTreeMap::new(),
    };
    fs.add_bytes("/usr/local/bin/x", "x", 0o755);
    fs.add_symlink("usr-b", "usr");
    let order: Vec<&str> = fs.entries.keys().map(String::as_str).collect();
    let pos = |p: &str| order.iter().position(|o| *o == p).unwrap();
    assert!(pos("usr") < pos("usr/local"));
    assert!(pos("usr/local") < pos("usr/local/bin"));
    assert!(pos("usr/local/bin") < pos("usr/local/bin/x"));
}
