//! Issue 3 point 1: validators and 304, HEAD, single ranges, directory index, content types.

use reqwest::{StatusCode, header};

use crate::support::{self, APP_JS, FRAMEWORK_JS, HOME_MARK, InProcess};

#[tokio::test]
async fn files_carry_validators_and_answer_304() {
    let site = support::fixture_site();
    let srv = InProcess::start(&site.root(), &[]);
    let c = support::client();
    let res = c.get(srv.url("/")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let etag = res.headers()[header::ETAG].to_str().unwrap().to_owned();
    let last_modified = res.headers()[header::LAST_MODIFIED]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(etag.starts_with('"'), "strong ETag expected: {etag}");
    assert!(res.text().await.unwrap().contains(HOME_MARK));

    let res = c
        .get(srv.url("/"))
        .header(header::IF_NONE_MATCH, &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_MODIFIED);
    assert!(res.bytes().await.unwrap().is_empty());

    let res = c
        .get(srv.url("/"))
        .header(header::IF_MODIFIED_SINCE, &last_modified)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_MODIFIED);

    let res = c
        .get(srv.url("/"))
        .header(header::IF_NONE_MATCH, "\"other\"")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn head_has_the_get_headers_and_no_body() {
    let site = support::fixture_site();
    let srv = InProcess::start(&site.root(), &[]);
    let c = support::client();
    let get = c
        .get(srv.url(&format!("/{FRAMEWORK_JS}")))
        .send()
        .await
        .unwrap();
    let get_len = get.headers()[header::CONTENT_LENGTH].clone();
    let get_type = get.headers()[header::CONTENT_TYPE].clone();
    let head = c
        .head(srv.url(&format!("/{FRAMEWORK_JS}")))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(head.headers()[header::CONTENT_LENGTH], get_len);
    assert_eq!(head.headers()[header::CONTENT_TYPE], get_type);
    // No body on the wire: the next response on the connection starts right after the head (an
    // HTTP client drops HEAD body bytes by protocol, so only raw TCP can tell).
    for accept_path in [
        format!("/{FRAMEWORK_JS}"),
        "/".to_owned(),
        format!("/{APP_JS}"),
    ] {
        let (head, rest) = support::raw_then_get(&srv.base, "HEAD", &accept_path, "/small.txt");
        assert!(head.starts_with("HTTP/1.1 200 "), "{accept_path}: {head}");
        assert!(
            support::raw_header(&head, "content-length").is_some_and(|v| v != "0"),
            "{accept_path}: HEAD carries the GET's length: {head}"
        );
        assert!(
            rest.starts_with("HTTP/1.1 200 "),
            "{accept_path}: bytes after the HEAD head: {:?}",
            &rest[..rest.len().min(200)]
        );
        assert!(rest.ends_with("tiny\n"), "{rest:?}");
    }
}

/// A 304 from memory carries no body either (checked on the wire).
#[test]
fn not_modified_has_no_body_on_the_wire() {
    let site = support::fixture_site();
    let srv = InProcess::start(&site.root(), &[]);
    let (head, _) = support::raw_then_get(&srv.base, "GET", "/", "/small.txt");
    let etag = support::raw_header(&head, "etag").unwrap().to_owned();
    use std::io::{Read as _, Write as _};
    let addr = srv.base.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    write!(
        s,
        "GET / HTTP/1.1\r\nHost: localhost\r\nIf-None-Match: {etag}\r\n\r\n\
         GET /small.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    let text = String::from_utf8_lossy(&out);
    assert!(text.starts_with("HTTP/1.1 304 "), "{text}");
    let end = text.find("\r\n\r\n").unwrap() + 4;
    assert!(text[end..].starts_with("HTTP/1.1 200 "), "{text:?}");
}

#[tokio::test]
async fn single_range_is_206_on_the_identity_body_and_unsatisfiable_is_416() {
    let site = support::fixture_site();
    let srv = InProcess::start(&site.root(), &[]);
    let c = support::client();
    let full = std::fs::read(site.root().join(APP_JS)).unwrap();
    // The client accepts br/gzip, and a .br sibling exists: a range still selects identity.
    let res = c
        .get(srv.url(&format!("/{APP_JS}")))
        .header(header::RANGE, "bytes=10-29")
        .header(header::ACCEPT_ENCODING, "gzip, br")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::PARTIAL_CONTENT);
    assert!(res.headers().get(header::CONTENT_ENCODING).is_none());
    assert_eq!(
        res.headers()[header::CONTENT_RANGE],
        format!("bytes 10-29/{}", full.len()).as_str()
    );
    assert_eq!(res.bytes().await.unwrap(), full[10..30]);

    let res = c
        .get(srv.url(&format!("/{APP_JS}")))
        .header(header::RANGE, format!("bytes={}-", full.len() + 10))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(
        res.headers()[header::CONTENT_RANGE],
        format!("bytes */{}", full.len()).as_str()
    );
}

#[tokio::test]
async fn directory_requests_serve_index_html() {
    let site = support::fixture_site();
    let srv = InProcess::start(&site.root(), &[]);
    let c = support::client();
    let res = c.get(srv.url("/about/")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.text().await.unwrap().contains(support::ABOUT_MARK));
}

#[tokio::test]
async fn content_types_are_correct_for_web_formats() {
    let site = support::fixture_site();
    let srv = InProcess::start(&site.root(), &[]);
    let c = support::client();
    for (path, expected) in [
        ("/", "text/html; charset=utf-8"),
        (
            &format!("/{APP_JS}") as &str,
            "text/javascript; charset=utf-8",
        ),
        (
            &format!("/{}", support::STYLES_CSS),
            "text/css; charset=utf-8",
        ),
        ("/page-data/app-data.json", "application/json"),
        ("/manifest.webmanifest", "application/manifest+json"),
        ("/static/font.woff2", "font/woff2"),
        ("/icon.avif", "image/avif"),
        ("/icon.svg", "image/svg+xml"),
        ("/module.wasm", "application/wasm"),
        ("/static/d1f2/logo.png", "image/png"),
        ("/small.txt", "text/plain; charset=utf-8"),
    ] {
        let res = c.get(srv.url(path)).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        assert_eq!(res.headers()[header::CONTENT_TYPE], expected, "{path}");
        assert!(
            res.headers().get(header::CONTENT_DISPOSITION).is_none(),
            "{path}: no Content-Disposition, as nginx"
        );
    }
}

#[tokio::test]
async fn a_rebuilt_file_is_served_fresh_in_every_representation() {
    let site = support::fixture_site();
    let srv = InProcess::start(&site.root(), &[]);
    let c = support::client();
    let get = |accept: &'static str| {
        let c = c.clone();
        let url = srv.url("/about/");
        async move {
            let res = c
                .get(url)
                .header(header::ACCEPT_ENCODING, accept)
                .send()
                .await
                .unwrap();
            let gz = res.headers().get(header::CONTENT_ENCODING).is_some();
            let body = res.bytes().await.unwrap().to_vec();
            String::from_utf8(if gz { support::gunzip(&body) } else { body }).unwrap()
        }
    };
    // Warm the memory copies of both representations.
    assert!(get("identity").await.contains(support::ABOUT_MARK));
    assert!(get("gzip").await.contains(support::ABOUT_MARK));
    let rebuilt = format!("<html><body>rebuilt {}</body></html>", "x".repeat(2000));
    std::fs::write(site.root().join("about/index.html"), &rebuilt).unwrap();
    assert_eq!(get("identity").await, rebuilt);
    assert_eq!(get("gzip").await, rebuilt);
}

#[tokio::test]
async fn etags_from_memory_and_from_disk_agree() {
    let site = support::fixture_site();
    let srv = InProcess::start(&site.root(), &[]);
    let c = support::client();
    let path = srv.url(&format!("/{FRAMEWORK_JS}"));
    // A plain GET is answered from memory; a Range request through actix-files.
    let plain = c.get(&path).send().await.unwrap();
    let ranged = c
        .get(&path)
        .header(header::RANGE, "bytes=0-0")
        .send()
        .await
        .unwrap();
    assert_eq!(ranged.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        plain.headers()[header::ETAG],
        ranged.headers()[header::ETAG]
    );
    assert_eq!(
        plain.headers()[header::LAST_MODIFIED],
        ranged.headers()[header::LAST_MODIFIED]
    );
    // If-Match (answered by actix-files) accepts the tag the memory path issued.
    let etag = plain.headers()[header::ETAG].clone();
    let res = c
        .get(&path)
        .header(header::IF_MATCH, etag)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let res = c
        .get(&path)
        .header(header::IF_MATCH, "\"nope\"")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::PRECONDITION_FAILED);
}

/// Regression: `If-Match` and `If-Unmodified-Since` were ignored on the gzip made in
/// memory (the identity path hands them to actix-files). RFC 9110 §13.2.2: 412 when they
/// fail, evaluated against the gzip representation's own ETag.
#[tokio::test]
async fn if_match_and_if_unmodified_since_are_evaluated_on_the_memory_gzip() {
    let site = support::fixture_site();
    let srv = InProcess::start(&site.root(), &[]);
    let c = support::client();
    let path = srv.url(&format!("/{FRAMEWORK_JS}"));
    let gz = |name: header::HeaderName, value: String| {
        c.get(&path)
            .header(header::ACCEPT_ENCODING, "gzip")
            .header(name, value)
            .send()
    };
    let plain = c
        .get(&path)
        .header(header::ACCEPT_ENCODING, "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(plain.headers()[header::CONTENT_ENCODING], "gzip");
    let etag = plain.headers()[header::ETAG].to_str().unwrap().to_owned();
    let modified = plain.headers()[header::LAST_MODIFIED]
        .to_str()
        .unwrap()
        .to_owned();

    let res = gz(header::IF_MATCH, etag.clone()).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()[header::CONTENT_ENCODING], "gzip");
    let res = gz(header::IF_MATCH, "\"nope\"".into()).await.unwrap();
    assert_eq!(res.status(), StatusCode::PRECONDITION_FAILED);
    let res = gz(header::IF_MATCH, format!("W/{etag}")).await.unwrap();
    assert_eq!(
        res.status(),
        StatusCode::PRECONDITION_FAILED,
        "If-Match compares strongly"
    );
    let res = gz(header::IF_MATCH, "*".into()).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);

    let res = gz(header::IF_UNMODIFIED_SINCE, modified).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let res = gz(
        header::IF_UNMODIFIED_SINCE,
        "Sun, 06 Nov 1994 08:49:37 GMT".into(),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), StatusCode::PRECONDITION_FAILED);
}
