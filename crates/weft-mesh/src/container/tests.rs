use super::*;

#[test]
fn volumes_read_both_paths_and_the_option() {
    let v = Volume::parse("/srv/www:/www:ro").unwrap();
    assert_eq!(
        (v.host_path.as_str(), v.container_path.as_str()),
        ("/srv/www", "/www")
    );
    assert!(v.read_only);
    assert_eq!(v.to_arg(), "/srv/www:/www:ro");
    assert!(!Volume::parse("/a:/b").unwrap().read_only);
    assert!(!Volume::parse("/a:/b:rw").unwrap().read_only);
    for (bad, says) in [
        ("data", "is not host-path:container-path"),
        ("/a:/b:ro:x", "is not host-path:container-path"),
        ("/a:/b:z", "unknown option \"z\""),
        ("data:/b", "the host path \"data\" is not absolute"),
        ("/a:b", "the container path \"b\" is not absolute"),
    ] {
        let err = Volume::parse(bad).unwrap_err();
        assert!(err.contains(says), "{bad}: {err}");
    }
}

#[test]
fn env_entries_are_key_equals_value() {
    assert_eq!(env_key("A_1=x=y"), Ok("A_1"));
    assert_eq!(env_key("_="), Ok("_"));
    assert!(env_key("NOVALUE").unwrap_err().contains("is not KEY=VALUE"));
    assert!(
        env_key("1A=x")
            .unwrap_err()
            .contains("is not a variable name")
    );
    assert!(
        env_key("=x")
            .unwrap_err()
            .contains("is not a variable name")
    );
}

#[test]
fn podman_is_the_default_where_installed() {
    use Runtime::*;
    assert_eq!(Runtime::default_for(&[Docker, Podman]), Some(Podman));
    assert_eq!(Runtime::default_for(&[Docker]), Some(Docker));
    assert_eq!(Runtime::default_for(&[]), None);
}
