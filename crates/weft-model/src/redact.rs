//! Making text safe to leave the host: what an agent streams to its
//! control plane (its log records) passes through [`redact`] first, and
//! the control plane passes every record it stores through it again, so a
//! record from an older or a hostile agent is safe too.
//!
//! Secrets are recognised by their shape, not by where they came from, so
//! a secret that reaches a log line by a path nobody foresaw (an error
//! echoing its input, a debug dump of a configuration) is still cut:
//! - weft's bearer secrets (`wak_<id>_<secret>`, `wet_<id>_<secret>`) keep
//!   their id only: `wak_0123456789ab_…`;
//! - PEM blocks (private keys, certificates, requests) become `[pem]`,
//!   a block cut short too;
//! - long runs of base64 (WireGuard keys are 44 characters, PEM bodies
//!   64 a line) become `[base64]` and long runs of hex (the UAPI's keys,
//!   a token's secret part) `[hex]`. Public keys are cut as well: a
//!   record cannot tell a public key from a private one, so it shows
//!   neither.
//!
//! Pure text in, text out; no I/O.

/// A run of hex digits at least this long is cut (ids are 16; keys,
/// secrets and hashes 64).
const HEX_RUN: usize = 32;
/// A run of base64 at least this long is cut (a WireGuard key is 44).
const BASE64_RUN: usize = 40;
/// The id of a weft secret: 12 hex digits.
const SECRET_ID_HEX: usize = 12;

/// Field names whose values are dropped whatever they look like.
const SECRET_FIELDS: [&str; 6] = ["private", "secret", "password", "psk", "token", "preshared"];

/// Whether a structured field called `name` holds a secret by its name
/// (`private_key`, `enroll_token`, …): its value is not kept at all.
pub fn is_secret_field(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    SECRET_FIELDS.iter().any(|s| name.contains(s))
}

/// `text` with every weft secret cut after its id (`wak_0123456789ab_…`).
pub fn scrub_secrets(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = ["wak_", "wet_"].iter().filter_map(|p| rest.find(p)).min() {
        let head_len = at + 4 + SECRET_ID_HEX + 1;
        let looks_like_secret = rest.len() > head_len
            && rest.as_bytes()[at + 4 + SECRET_ID_HEX] == b'_'
            && rest.as_bytes()[at + 4..at + 4 + SECRET_ID_HEX]
                .iter()
                .all(u8::is_ascii_hexdigit);
        if !looks_like_secret {
            out.push_str(&rest[..at + 4]);
            rest = &rest[at + 4..];
            continue;
        }
        out.push_str(&rest[..head_len]);
        out.push('…');
        let tail = &rest[head_len..];
        let secret_len = tail
            .find(|c: char| !c.is_ascii_alphanumeric())
            .unwrap_or(tail.len());
        rest = &tail[secret_len..];
    }
    out.push_str(rest);
    out
}

/// `text` with PEM blocks cut to `[pem]` (to the end of the text when a
/// block has no end line).
fn cut_pem(text: &str) -> String {
    const BEGIN: &str = "-----BEGIN ";
    const END: &str = "-----END ";
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(BEGIN) {
        out.push_str(&rest[..at]);
        out.push_str("[pem]");
        let block = &rest[at..];
        rest = match block.find(END) {
            Some(end) => {
                let after_end = &block[end + END.len()..];
                // The end line's label and its closing dashes.
                match after_end.find("-----") {
                    Some(close) => &after_end[close + 5..],
                    None => "",
                }
            }
            None => "",
        };
    }
    out.push_str(rest);
    out
}

fn is_base64(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '-' | '_')
}

/// `text` with long runs of base64 or hex cut. A run of letters and
/// `_` only is a word (a long identifier), not base64: every WireGuard
/// key ends in `=`.
fn cut_runs(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        let hex = run.bytes().all(|b| b.is_ascii_hexdigit());
        if hex && run.len() >= HEX_RUN {
            out.push_str("[hex]");
        } else if !hex
            && run.len() >= BASE64_RUN
            && run
                .bytes()
                .any(|b| b.is_ascii_digit() || b"+/=".contains(&b))
        {
            out.push_str("[base64]");
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in text.chars() {
        if c == '=' {
            // Padding ends a run of base64 (and `name=value` is two).
            run.push(c);
            flush(&mut run, &mut out);
        } else if is_base64(c) {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

/// `text` safe to leave the host: weft secrets cut after their ids, PEM
/// blocks and long runs of base64 or hex cut (see the module's note).
pub fn redact(text: &str) -> String {
    cut_runs(&cut_pem(&scrub_secrets(text)))
}

#[cfg(test)]
mod tests;
