use super::*;

#[test]
fn plan_errors_do_not_repeat_their_source() {
    let err = PlanError::NoFreeAddress {
        network: "blue".into(),
        host: "h1".into(),
        service: "web".into(),
        source: Box::new(weft_model::ModelError::Exhausted {
            block: "10.42.1.0/30".into(),
            size: 2,
        }),
    };
    assert_eq!(
        err.to_string(),
        "network \"blue\": no free address for service \"web\" on host \"h1\""
    );
    let source = std::error::Error::source(&err).expect("source kept");
    assert!(source.to_string().contains("10.42.1.0/30"), "{source}");
}
