use super::*;

fn plan(lens: &[usize], gso: bool) -> Vec<(usize, usize, usize)> {
    let mut out = Vec::new();
    plan_sends(lens, gso, &mut out);
    out.iter().map(|p| (p.first, p.count, p.segment)).collect()
}

#[test]
fn runs_of_equal_datagrams_become_one_send() {
    assert_eq!(
        plan(&[100, 100, 100, 60, 100], true),
        [(0, 4, 100), (4, 1, 100)]
    );
    assert_eq!(plan(&[100, 200, 200], true), [(0, 1, 100), (1, 2, 200)]);
    assert_eq!(plan(&[100, 100], false), [(0, 1, 100), (1, 1, 100)]);
    assert_eq!(plan(&[], true), []);
    let many = vec![1000; 70];
    assert_eq!(plan(&many, true), [(0, 64, 1000), (64, 6, 1000)]);
    let big = vec![1452; 50];
    assert_eq!(
        plan(&big, true),
        [(0, 44, 1452), (44, 6, 1452)],
        "at most 65000 bytes"
    );
}
