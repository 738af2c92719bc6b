//! Issue 3 point 6: hostile paths over the wire (raw TCP, so no client normalises them),
//! symlinks out of the root, dotfiles, oversized requests, slow clients, security headers.

use std::{
    io::{Read as _, Write as _},
    net::TcpStream,
    time::{Duration, Instant},
};

use reqwest::{StatusCode, header};

use crate::support::{self, InProcess};

use crate::support::raw_get;

#[test]
fn path_traversal_in_every_form_is_refused() {
    let site = support::fixture_site();
    let srv = InProcess::start(&site.root(), &[]);
    for target in [
        "/../secret.txt",
        "/static/../../secret.txt",
        "/%2e%2e/secret.txt",
        "/%2E%2E/secret.txt",
        "/.%2e/secret.txt",
        "/%252e%252e/secret.txt",
        "/..%2fsecret.txt",
        "/..%5csecret.txt",
        "/..\\secret.txt",
        "/index.html%00.js",
        "/%c0%ae%c0%ae/secret.txt",
        "/%e0%80%ae%e0%80%ae/secret.txt",
    ] {
        let (status, text) = raw_get(&srv.base, target);
        assert!(status == 400 || status == 404, "{target}: status {status}");
        assert!(
            !text.contains("outside the root"),
            "{target} leaked the file"
        );
    }
}

#[tokio::test]
async fn symlinks_out_of_the_root_and_dotfiles_are_not_served() {
    let site = support::fixture_site();
    let srv = InProcess::start(&site.root(), &[]);
    let c = support::client();
    for path in [
        "/leak.txt",
        "/up/secret.txt",
        "/.env",
        "/static/.hidden",
        "/%2eenv",
    ] {
        let res = c.get(srv.url(path)).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{path}");
        let body = res.text().await.unwrap();
        assert!(
            !body.contains("outside the root") && !body.contains("SECRET"),
            "{path}"
        );
    }
    let res = c
        .get(srv.url("/.well-known/security.txt"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.text().await.unwrap().starts_with("Contact:"));
}

#[tokio::test]
async fn over_long_uris_and_headers_are_414_and_431() {
    let site = support::fixture_site();
    let srv = InProcess::start(&site.root(), &[]);
    let c = support::client();
    let long = format!("/{}", "a".repeat(9000));
    let res = c.get(srv.url(&long)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::URI_TOO_LONG);
    let res = c
        .get(srv.url("/"))
        .header("x-big", "b".repeat(20_000))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
}

#[test]
fn a_slow_client_is_cut_off() {
    let site = support::fixture_site();
    let srv = InProcess::start(&site.root(), &[("CLIENT_REQUEST_TIMEOUT", "1s")]);
    let addr = srv.base.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let started = Instant::now();
    // Half a request head, then silence.
    s.write_all(b"GET / HTTP/1.1\r\nHost: loc").unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let waited = started.elapsed();
    assert!(
        waited < Duration::from_secs(5),
        "connection held for {waited:?}"
    );
    let text = String::from_utf8_lossy(&out);
    assert!(
        text.is_empty() || text.starts_with("HTTP/1.1 408"),
        "unexpected answer: {text}"
    );
}

#[tokio::test]
async fn html_gets_security_headers_and_the_configured_csp() {
    let site = support::fixture_site();
    let csp = "default-src 'self'; frame-ancestors 'none'";
    let srv = InProcess::start(&site.root(), &[("CSP", csp)]);
    let c = support::client();
    for page in ["/", "/about/", "/unknown-page"] {
        let res = c.get(srv.url(page)).send().await.unwrap();
        let h = res.headers();
        assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff", "{page}");
        assert_eq!(h[header::X_FRAME_OPTIONS], "DENY", "{page}");
        assert_eq!(
            h[header::REFERRER_POLICY],
            "strict-origin-when-cross-origin"
        );
        assert_eq!(h[header::CONTENT_SECURITY_POLICY], csp, "{page}");
    }
    let res = c
        .get(srv.url(&format!("/{}", support::APP_JS)))
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert!(res.headers().get(header::X_FRAME_OPTIONS).is_none());
    assert!(res.headers().get(header::CONTENT_SECURITY_POLICY).is_none());
}
