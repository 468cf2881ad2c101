use super::*;

#[test]
fn quoting() {
    assert_eq!(quote("plain-1.2"), "plain-1.2");
    assert_eq!(quote("two words"), "'two words'");
    assert_eq!(quote("it's"), "'it'\\''s'");
    assert_eq!(quote(""), "''");
    assert_eq!(quote_all(&["echo", "a b", "$HOME"]), "echo 'a b' '$HOME'");
}
