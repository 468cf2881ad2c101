use super::*;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

#[test]
fn results_keep_the_items_order() {
    let items: Vec<u64> = (0..50).collect();
    // Later items finish first: the order must still be the items'.
    let out = each(&items, |i| {
        std::thread::sleep(Duration::from_millis(50 - i));
        i * 2
    });
    assert_eq!(out, items.iter().map(|i| i * 2).collect::<Vec<_>>());
}

#[test]
fn never_more_than_at_once() {
    let items: Vec<usize> = (0..40).collect();
    let running = AtomicUsize::new(0);
    let most = AtomicUsize::new(0);
    each(&items, |_| {
        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
        most.fetch_max(now, Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(20));
        running.fetch_sub(1, Ordering::SeqCst);
    });
    let most = most.load(Ordering::SeqCst);
    assert!(most <= AT_ONCE, "{most} ran at once");
    assert!(most > 1, "nothing ran side by side");
}
