use super::prefix_end;

#[test]
fn a_prefix_ends_where_its_last_byte_moves_up() {
    assert_eq!(prefix_end(b"/weft/v1/"), b"/weft/v10".to_vec());
    assert_eq!(prefix_end(b"a\xff\xff"), b"b".to_vec());
    assert_eq!(prefix_end(b"\xff"), vec![0]);
    assert_eq!(prefix_end(b""), vec![0]);
}
