//! The web dashboard's files: one page, plain ES modules and one style
//! sheet, embedded in the binary (no CDN, works offline) and served at `/`
//! and `/assets/…` on the REST port.
//!
//! The page holds no data and no secret: it signs in with a tenant's API
//! key kept in `sessionStorage` and calls the same `/v1` routes as any
//! client, with the `Authorization` header (no cookie, so no CSRF
//! surface). Every answer here carries a strict Content-Security-Policy:
//! scripts and styles only from these files (no inline script or style,
//! no `eval`), data only from this origin, no framing; the scripts put
//! every name into the page as text (`textContent`), never as HTML.

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// The policy every dashboard answer carries.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; \
frame-ancestors 'none'";

/// An embedded file: name under `/assets/`, media type, bytes.
pub struct Asset {
    pub name: &'static str,
    pub content_type: &'static str,
    pub bytes: &'static [u8],
}

macro_rules! assets {
    ($(($name:literal, $type:literal)),* $(,)?) => {
        &[$(Asset {
            name: $name,
            content_type: $type,
            bytes: include_bytes!(concat!("../../dashboard/", $name)),
        }),*]
    };
}

/// Every file of the dashboard but the page itself.
pub const ASSETS: &[Asset] = assets![
    ("app.js", "text/javascript; charset=utf-8"),
    ("api.js", "text/javascript; charset=utf-8"),
    ("dom.js", "text/javascript; charset=utf-8"),
    ("live.js", "text/javascript; charset=utf-8"),
    ("overview.js", "text/javascript; charset=utf-8"),
    ("hosts.js", "text/javascript; charset=utf-8"),
    ("networks.js", "text/javascript; charset=utf-8"),
    ("tokens.js", "text/javascript; charset=utf-8"),
    ("topology.js", "text/javascript; charset=utf-8"),
    ("style.css", "text/css; charset=utf-8"),
];

/// The page: a shell the scripts fill.
pub const INDEX: &[u8] = include_bytes!("../../dashboard/index.html");

fn secured(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // Small files, changed with the binary: always asked again, so an
    // upgrade is never half old.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

pub async fn index() -> Response {
    secured(([(header::CONTENT_TYPE, "text/html; charset=utf-8")], INDEX).into_response())
}

pub async fn asset(Path(file): Path<String>) -> Response {
    // Names are matched exactly against the table: no path is ever built
    // from the request, so `..` cannot reach anything.
    match ASSETS.iter().find(|a| a.name == file) {
        Some(a) => secured(([(header::CONTENT_TYPE, a.content_type)], a.bytes).into_response()),
        None => secured((StatusCode::NOT_FOUND, "no such file").into_response()),
    }
}

#[cfg(test)]
mod tests;
