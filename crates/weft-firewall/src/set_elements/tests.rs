use serde_json::json;

use super::*;

fn pins(elements: &[(&str, Value)]) -> Pins {
    let mut pins = Pins::default();
    for (set, element) in elements {
        pins.insert(set, element.clone());
    }
    pins
}

#[test]
fn keys_are_the_sets_binary_layout() {
    let mac = key(PORT_MACS, &json!({"concat": ["fn-a", "02:ab:00:01:02:03"]})).unwrap();
    let mut want = b"fn-a".to_vec();
    want.resize(16, 0);
    want.extend([0x02, 0xab, 0, 1, 2, 3, 0, 0]);
    assert_eq!(mac, want);
    let ip = key(PORT_IPS, &json!({"concat": ["fn-a", "10.88.0.2"]})).unwrap();
    assert_eq!(&ip[16..], [10, 88, 0, 2]);
    assert_eq!(ip.len(), 20);
    // What no pin is: refused, never sent half-made.
    for (set, bad) in [
        (PORT_MACS, json!({"concat": ["fn-a", "10.88.0.2"]})),
        (PORT_IPS, json!({"concat": ["fn-a", "02:ab:00:01:02:03"]})),
        (
            PORT_IPS,
            json!({"concat": ["fn-a-very-long-name", "10.88.0.2"]}),
        ),
        (PORT_IPS, json!("fn-a")),
        ("ports", json!({"concat": ["fn-a", "10.88.0.2"]})),
    ] {
        assert!(key(set, &bad).is_err(), "{set} {bad}");
    }
}

#[test]
fn a_batch_deletes_then_adds_each_set_in_one_transaction() {
    let deleted = pins(&[(PORT_MACS, json!({"concat": ["fn-b", "02:00:00:00:00:03"]}))]);
    let added = pins(&[
        (PORT_MACS, json!({"concat": ["fn-c", "02:00:00:00:00:04"]})),
        (PORT_IPS, json!({"concat": ["fn-c", "10.88.0.4"]})),
    ]);
    let batch = batch(&deleted, &added).unwrap();
    assert_eq!(batch.acks, 3);
    // Message types in order: begin, delete, add, add, end.
    let mut kinds = Vec::new();
    let mut at = 0;
    while at < batch.bytes.len() {
        let len = u32::from_ne_bytes(batch.bytes[at..at + 4].try_into().unwrap()) as usize;
        kinds.push(u16::from_ne_bytes([
            batch.bytes[at + 4],
            batch.bytes[at + 5],
        ]));
        // Every message names family bridge (7), or none for the batch's
        // bounds, whose resource is the nf_tables subsystem.
        let family = batch.bytes[at + 16];
        let resource = u16::from_be_bytes([batch.bytes[at + 18], batch.bytes[at + 19]]);
        match kinds.last() {
            Some(&0x10) | Some(&0x11) => assert_eq!((family, resource), (0, 10)),
            _ => assert_eq!((family, resource), (7, 0)),
        }
        at += len;
    }
    assert_eq!(at, batch.bytes.len());
    assert_eq!(
        kinds,
        [0x10, (10 << 8) | 14, (10 << 8) | 12, (10 << 8) | 12, 0x11]
    );
    let text = String::from_utf8_lossy(&batch.bytes);
    assert!(text.contains("port-macs\0") && text.contains("port-ips\0") && text.contains("weft\0"));
}
