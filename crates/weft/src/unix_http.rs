//! Just enough HTTP/1.1 over a Unix socket to speak Firecracker's API:
//! one request per connection, a JSON body, the status and body back.
//! Written here rather than with hyper's client: a handful of `PUT`s
//! before boot, synchronous, in the supervisor.

use anyhow::{Context as _, Result, bail};
use std::io::{Read as _, Write as _};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

/// The longest answer read; Firecracker's are a few hundred bytes.
const MAX_RESPONSE: usize = 64 * 1024;

/// Send `method path` with `body` (JSON) to the server on `socket`;
/// returns the status code and the response body.
pub fn request(
    socket: &Path,
    method: &str,
    path: &str,
    body: &serde_json::Value,
) -> Result<(u16, String)> {
    let what = || format!("{method} {path} on {}", socket.display());
    let mut stream = UnixStream::connect(socket).with_context(what)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.set_write_timeout(Some(Duration::from_secs(10)))?;
    let body = serde_json::to_string(body)?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .with_context(what)?;
    let mut response = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if let Some(end) = find(&response, b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&response[..end]).into_owned();
            let length = content_length(&head);
            if response.len() >= end + 4 + length {
                let status = status_code(&head).with_context(what)?;
                let body =
                    String::from_utf8_lossy(&response[end + 4..end + 4 + length]).into_owned();
                return Ok((status, body));
            }
        }
        let n = stream.read(&mut buf).with_context(what)?;
        if n == 0 {
            bail!("{}: the server closed the connection mid-answer", what());
        }
        response.extend_from_slice(&buf[..n]);
        if response.len() > MAX_RESPONSE {
            bail!("{}: an answer of more than {MAX_RESPONSE} bytes", what());
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn content_length(head: &str) -> usize {
    head.lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.trim().parse().ok())
        .unwrap_or(0)
}

fn status_code(head: &str) -> Result<u16> {
    let line = head.lines().next().unwrap_or_default();
    let code = line.split_whitespace().nth(1).unwrap_or_default();
    code.parse()
        .with_context(|| format!("not an HTTP status line: {line:?}"))
}

#[cfg(test)]
mod tests;
