use super::*;
use std::io::BufRead as _;
use std::os::unix::net::UnixListener;

#[test]
fn a_put_gets_its_status_and_body() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("api.sock");
    let listener = UnixListener::bind(&path).unwrap();
    let server = std::thread::spawn(move || {
        let mut seen = vec![];
        for answer in [
            "HTTP/1.1 204 \r\nServer: Firecracker API\r\n\r\n",
            "HTTP/1.1 400 \r\nContent-Type: application/json\r\nContent-Length: 27\r\n\r\n{\"fault_message\":\"no such\"}",
        ] {
            let (stream, _) = listener.accept().unwrap();
            let mut reader = std::io::BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            let mut length = 0;
            loop {
                let mut header = String::new();
                reader.read_line(&mut header).unwrap();
                if header == "\r\n" {
                    break;
                }
                if let Some(v) = header.strip_prefix("Content-Length: ") {
                    length = v.trim().parse().unwrap();
                }
            }
            let mut body = vec![0; length];
            std::io::Read::read_exact(&mut reader, &mut body).unwrap();
            seen.push((line.trim().to_string(), String::from_utf8(body).unwrap()));
            (&stream).write_all(answer.as_bytes()).unwrap();
        }
        seen
    });
    let ok = request(
        &path,
        "PUT",
        "/actions",
        &serde_json::json!({"action_type": "InstanceStart"}),
    )
    .unwrap();
    assert_eq!(ok, (204, String::new()));
    let refused = request(&path, "PUT", "/drives/x", &serde_json::json!({})).unwrap();
    assert_eq!(refused, (400, "{\"fault_message\":\"no such\"}".into()));
    let seen = server.join().unwrap();
    assert_eq!(
        seen[0],
        (
            "PUT /actions HTTP/1.1".into(),
            "{\"action_type\":\"InstanceStart\"}".into()
        )
    );
    assert_eq!(seen[1].0, "PUT /drives/x HTTP/1.1");
}
