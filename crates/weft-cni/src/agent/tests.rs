use super::*;

#[test]
fn kinds_map_to_the_spec_codes() {
    for (kind, want) in [
        (ErrorKind::InvalidNetns, code::INVALID_ENV),
        (ErrorKind::Invalid, code::INVALID_CONFIG),
        (ErrorKind::NotFound, code::OTHER),
        (ErrorKind::Exists, code::OTHER),
        (ErrorKind::Conflict, code::OTHER),
        (ErrorKind::Exhausted, code::OTHER),
        (ErrorKind::Internal, code::OTHER),
    ] {
        let err = to_cni(&kind.status("invalid netns \"/x\": no network namespace"));
        assert_eq!(err.code, want, "{kind}");
        assert_eq!(err.msg, "invalid netns \"/x\": no network namespace");
    }
    // The message does not decide: an invalid argument without the
    // netns kind is the configuration's fault, whatever it says.
    let err = to_cni(&Status::invalid_argument("invalid netns \"/x\""));
    assert_eq!(err.code, code::OTHER);
    assert_eq!(
        to_cni(&Status::unavailable("no agent")).code,
        code::TRY_AGAIN
    );
    assert_eq!(
        to_cni(&Status::deadline_exceeded("slow")).code,
        code::TRY_AGAIN
    );
}
