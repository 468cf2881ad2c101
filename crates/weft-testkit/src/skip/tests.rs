use super::*;

#[test]
fn the_test_is_named_by_binary_and_thread() {
    let name = current_test();
    assert_eq!(
        name, "weft_testkit skip::tests::the_test_is_named_by_binary_and_thread",
        "{name}"
    );
}

#[test]
fn appended_lines_stay_whole() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("skips");
    std::thread::scope(|s| {
        for t in 0..8 {
            let log = &log;
            s.spawn(move || {
                for i in 0..50 {
                    append(log, &format!("t{t} line {i}: {}", "x".repeat(100))).unwrap();
                }
            });
        }
    });
    let text = std::fs::read_to_string(&log).unwrap();
    assert_eq!(text.lines().count(), 400);
    assert!(text.lines().all(|l| l.ends_with(&"x".repeat(100))));
}
