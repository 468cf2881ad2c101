use super::*;

#[test]
fn packets_share_the_buffer_and_it_comes_back() {
    let mut batch = RecvBatch::<u8>::new(1000, 16);
    let start = batch.room().as_ptr();
    batch.room()[..5].copy_from_slice(b"hello");
    batch.room()[30..35].copy_from_slice(b"world");
    batch.take(0, 5, 1); // "hello" and its 16 bytes of tailroom
    batch.take(9, 5, 2); // "world" is now 9 bytes in
    assert!(batch.push_copy(&[b"ab", b"cd"], 3));
    let got: Vec<(&[u8], u8)> = batch.packets().iter().map(|(p, m)| (&p[..], *m)).collect();
    assert_eq!(got, [(&b"hello"[..], 1), (b"world", 2), (b"abcd", 3)]);
    assert_eq!(batch.room_len(), 1000 - 21 - 9 - 21 - 20);
    assert!(!batch.push_copy(&[&[0u8; 2000]], 4));

    // Padding grows a packet in place.
    let (mut first, _) = batch.drain().next().unwrap();
    let before = first.as_ptr();
    first.resize(16, 0);
    assert_eq!(first.as_ptr(), before, "no reallocation");
    drop(first);

    batch.clear();
    assert!(batch.is_empty());
    assert_eq!(batch.room().as_ptr(), start, "the same buffer again");
    assert_eq!(batch.room_len(), 1000);
}

#[test]
fn the_buffer_comes_when_first_needed() {
    let mut batch = RecvBatch::<()>::new(100, 0);
    assert_eq!(batch.room.capacity(), 0, "nothing allocated by new");
    batch.clear();
    assert_eq!(batch.room.capacity(), 0, "nor by clearing an unused batch");
    assert_eq!(batch.room_len(), 100);
    assert_eq!(batch.room().len(), 100);
    assert!(batch.push_copy(&[b"one"], ()));
    assert_eq!(batch.len(), 1);
}

#[test]
fn a_packet_kept_elsewhere_does_not_block_the_next_batch() {
    let mut batch = RecvBatch::<()>::new(100, 0);
    assert!(batch.push_copy(&[b"kept"], ()));
    let (kept, ()) = batch.drain().next().unwrap();
    batch.clear();
    assert_eq!(batch.room_len(), 100);
    assert!(batch.push_copy(&[b"next"], ()));
    assert_eq!(&kept[..], b"kept");
}
