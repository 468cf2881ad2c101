use super::*;

#[test]
fn short_values_are_shown_whole_and_quoted() {
    let err = ModelError::invalid("name", "web 1", "spaces are not allowed");
    assert_eq!(
        err.to_string(),
        r#"invalid name "web 1": spaces are not allowed"#
    );
}

#[test]
fn long_values_are_cut_and_say_so() {
    let huge = "a".repeat(20_000_000);
    let text = ModelError::invalid("name", &huge, "too long").to_string();
    assert!(text.len() < 200, "{} bytes", text.len());
    assert!(text.contains("(cut, 20000000 characters in all)"), "{text}");
    let edge = "b".repeat(SHOWN_CHARS);
    assert!(!shown(&edge).contains("cut"));
    assert!(shown(&(edge + "b")).contains("cut"));
}

#[test]
fn a_chain_prints_each_cause_once_outermost_first_on_one_line() {
    #[derive(Debug, thiserror::Error)]
    #[error("create network blue")]
    struct Outer(#[source] Middle);
    #[derive(Debug, thiserror::Error)]
    #[error("bind UDP port 51820\nfor wg0")]
    struct Middle(#[source] std::io::Error);
    let err = Outer(Middle(std::io::Error::from_raw_os_error(98)));
    assert_eq!(
        chain(&err),
        "create network blue: bind UDP port 51820 for wg0: Address already in use (os error 98)"
    );
    let alone = std::io::Error::other("no cause");
    assert_eq!(chain(&alone), "no cause");
}
