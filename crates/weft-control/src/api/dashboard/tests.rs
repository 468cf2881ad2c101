//! The dashboard's files as served: every one the page loads exists, each
//! answer carries the policy, nothing outside the table is reachable, and
//! the scripts never turn data into HTML or code.

use super::*;
use crate::api::tests::{call_with, fixture};
use axum::http::Method;

/// Every `/assets/…` the page and the scripts name, and the scripts'
/// relative imports.
fn referenced() -> Vec<String> {
    let mut names = vec![];
    let index = std::str::from_utf8(INDEX).unwrap();
    for piece in index.split("/assets/").skip(1) {
        names.push(piece.split('"').next().unwrap().to_string());
    }
    for a in ASSETS.iter().filter(|a| a.name.ends_with(".js")) {
        let text = std::str::from_utf8(a.bytes).unwrap();
        for piece in text.split(" from './").skip(1) {
            names.push(piece.split('\'').next().unwrap().to_string());
        }
    }
    names.sort();
    names.dedup();
    names
}

#[test]
fn every_file_the_page_loads_is_embedded_and_every_embedded_file_is_used() {
    let names = referenced();
    let mut embedded: Vec<String> = ASSETS.iter().map(|a| a.name.to_string()).collect();
    embedded.sort();
    assert_eq!(names, embedded);
}

#[test]
fn the_page_has_no_inline_script_style_or_handler() {
    let index = std::str::from_utf8(INDEX).unwrap().to_ascii_lowercase();
    for script in index.split("<script").skip(1) {
        let tag = script.split('>').next().unwrap();
        assert!(tag.contains(" src="), "inline script: <script{tag}>");
    }
    for bad in [
        "<style",
        " style=",
        " onclick=",
        " onload=",
        " onerror=",
        "javascript:",
        "http://",
        "https://",
    ] {
        assert!(!index.contains(bad), "index.html has {bad}");
    }
}

#[test]
fn the_scripts_never_make_html_or_code_from_text() {
    for a in ASSETS.iter().filter(|a| a.name.ends_with(".js")) {
        // The SVG namespace is a name, not a place the page goes to.
        let text = std::str::from_utf8(a.bytes)
            .unwrap()
            .replace("'http://www.w3.org/2000/svg'", "");
        for bad in [
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "eval(",
            "new Function",
            "setTimeout('",
            ".style.",
            "localStorage",
            "document.cookie",
            "http://",
            "https://",
        ] {
            assert!(!text.contains(bad), "{} uses {bad}", a.name);
        }
    }
}

#[tokio::test]
async fn the_page_and_its_files_are_served_with_the_policy_and_nothing_else_is() {
    let f = fixture().await;
    let mut paths = vec!["/".to_string()];
    paths.extend(ASSETS.iter().map(|a| format!("/assets/{}", a.name)));
    for path in &paths {
        let req = axum::http::Request::builder()
            .uri(path.as_str())
            .body(axum::body::Body::empty())
            .unwrap();
        let res = tower::ServiceExt::oneshot(f.router.clone(), req)
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        let h = res.headers();
        assert_eq!(h["content-security-policy"], CSP, "{path}");
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["x-frame-options"], "DENY", "{path}");
        let ty = h["content-type"].to_str().unwrap();
        let want = match path.rsplit('.').next() {
            Some("js") => "text/javascript",
            Some("css") => "text/css",
            _ => "text/html",
        };
        assert!(ty.starts_with(want), "{path}: {ty}");
    }
    // The policy forbids inline script and foreign origins.
    for part in [
        "script-src 'self'",
        "style-src 'self'",
        "default-src 'none'",
        "frame-ancestors 'none'",
    ] {
        assert!(CSP.contains(part), "{part}");
    }
    assert!(!CSP.contains("unsafe"), "{CSP}");
    // Names outside the table, however spelled, are not found.
    for path in [
        "/assets/../Cargo.toml",
        "/assets/..%2fCargo.toml",
        "/assets/%2e%2e%2fsrc%2flib.rs",
        "/assets/index.html",
        "/assets/",
        "/assets/app.js.map",
        "/dashboard/app.js",
    ] {
        let reply = call_with(&f.router, &Method::GET, path, &[], None).await;
        assert_eq!(
            reply.status,
            StatusCode::NOT_FOUND,
            "{path}: {}",
            reply.text
        );
    }
}
