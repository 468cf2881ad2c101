use super::*;
use weft_proto::control as pb;

#[test]
fn percentiles_are_nearest_rank() {
    let v: Vec<u32> = (1..=100).collect();
    assert_eq!(percentile(&v, 0, 0.5), Some(50));
    assert_eq!(percentile(&v, 0, 0.99), Some(99));
    assert_eq!(percentile(&v, 0, 1.0), Some(100));
    assert_eq!(percentile(&[7], 0, 0.5), Some(7));
    assert_eq!(percentile::<u32>(&[], 0, 0.5), None);
    // Two of 100 never came: p99 is one of them, p50 is not.
    assert_eq!(percentile(&v[..98], 2, 0.5), Some(50));
    assert_eq!(percentile(&v[..98], 2, 0.99), None);
    assert_eq!(percentile(&v[..98], 2, 0.98), Some(98));
}

#[test]
fn this_process_has_cpu_time_and_a_peak() {
    let pid = std::process::id();
    let before = cpu_time(pid).unwrap();
    let mut x = 0u64;
    let spin = Instant::now();
    while spin.elapsed() < Duration::from_millis(50) {
        x = x.wrapping_add(std::hint::black_box(1));
    }
    assert!(x > 0);
    assert!(cpu_time(pid).unwrap() > before);
    assert!(peak_rss(pid).unwrap() > 1 << 20);
    assert!(
        cpu_time(u32::MAX)
            .unwrap_err()
            .to_string()
            .contains("/stat")
    );
}

#[tokio::test]
async fn a_change_counts_once_per_watcher_and_only_when_met() {
    let probe = Probe::new(3);
    let mut state = AgentState::default();
    let net = |peers: Vec<pb::DesiredPeer>| pb::DesiredState {
        revision: 1,
        snapshot: true,
        networks: vec![pb::DesiredNetwork {
            name: "blue".into(),
            peers,
            ..Default::default()
        }],
        ..Default::default()
    };
    state.apply(&net(vec![]));
    let t0 = probe.reset_bytes();
    probe.arm(
        Want::Present {
            network: "blue".into(),
            peer: 0x2a,
        },
        [0, 1].into_iter(),
    );
    probe.received(0, 10, &state, true);
    assert!(!probe.wait_applied(Duration::from_millis(10)).await);
    state.apply(&net(vec![pb::DesiredPeer {
        host_id: "000000000000002a".into(),
        ..Default::default()
    }]));
    probe.received(0, 100, &state, false);
    probe.received(0, 100, &state, false);
    // Agent 2 is not watched: it counts bytes but not latency.
    probe.received(2, 5, &state, true);
    assert!(!probe.wait_applied(Duration::from_millis(10)).await);
    probe.received(1, 7, &state, true);
    assert!(probe.wait_applied(Duration::from_secs(1)).await);
    let results = probe.results(t0);
    assert_eq!(results.len(), 2);
    assert!(results.iter().all(|(l, _)| l.is_some()));
    assert_eq!(results[0].1, 210);
    assert_eq!(results[1].1, 7);
    assert_eq!(probe.ready(), 3);
    assert!(probe.wait_ready(3, Duration::from_millis(1)).await);
}
