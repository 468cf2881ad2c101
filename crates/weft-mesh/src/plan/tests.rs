use super::*;

#[test]
fn workload_ids_name_their_mesh() {
    let id = workload_id("demo", "web");
    assert_eq!(id, "weft.demo.web");
    weft_model::names::validate_workload_id(&id).unwrap();
    assert_eq!(owned_service("demo", &id), Some("web"));
    assert_eq!(owned_service("demo2", &id), None);
    assert_eq!(owned_service("dem", &id), None);
    assert_eq!(owned_service("demo", "c1"), None);
}
