//! Issue 3 point 2: probes → proxy → file → fallback, the slash redirect, fallback modes.

use reqwest::{StatusCode, header};

use crate::support::{self, ABOUT_MARK, HOME_MARK, InProcess, NOT_FOUND_MARK};

#[tokio::test]
async fn probes_are_reserved_and_win_over_site_files() {
    let site = support::fixture_site();
    for name in ["healthz", "readyz", "metrics"] {
        std::fs::write(site.root().join(name), "a site file").unwrap();
    }
    let srv = InProcess::start(&site.root(), &[]);
    let c = support::client();
    let res = c.get(srv.url("/healthz")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.text().await.unwrap(), "healthy");
    let res = c.get(srv.url("/readyz")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.text().await.unwrap(), "ready");
    c.get(srv.url("/")).send().await.unwrap();
    let metrics = c
        .get(srv.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(
            "frontend_http_requests_total{route=\"/{path:.*}\",method=\"GET\",status=\"200\"}"
        ),
        "{metrics}"
    );
}

#[tokio::test]
async fn directory_without_slash_redirects_308_keeping_the_query() {
    let site = support::fixture_site();
    let srv = InProcess::start(&site.root(), &[]);
    let c = support::client();
    let res = c.get(srv.url("/about?tab=team&x=1")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::PERMANENT_REDIRECT);
    assert_eq!(res.headers()[header::LOCATION], "/about/?tab=team&x=1");
    // Slashes are merged in the location: `//about` must not become `//about/`, which a
    // browser reads as a protocol-relative URL to the host "about".
    let res = c.get(srv.url("//about")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::PERMANENT_REDIRECT);
    assert_eq!(res.headers()[header::LOCATION], "/about/");
}

#[tokio::test]
async fn spa_fallback_serves_index_for_pages_and_404_for_assets() {
    let site = support::fixture_site();
    let srv = InProcess::start(&site.root(), &[]);
    let c = support::client();
    for page in ["/no/such/page", "/deep-link/", "/api", "/old.html"] {
        let res = c.get(srv.url(page)).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{page}");
        assert_eq!(
            res.headers()[header::CONTENT_TYPE],
            "text/html; charset=utf-8"
        );
        // Cache policy of the file actually served: index.html revalidates.
        assert_eq!(
            res.headers()[header::CACHE_CONTROL],
            "public, max-age=0, must-revalidate",
            "{page}"
        );
        assert!(res.text().await.unwrap().contains(HOME_MARK), "{page}");
    }
    for asset in [
        "/app-0000000000aaaaaaaaaa.js",
        "/missing.css",
        "/page-data/gone/page-data.json",
        "/static/nope.png",
        "/fonts/x.woff2",
        "/app.js.map",
    ] {
        let res = c.get(srv.url(asset)).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{asset}");
        assert!(!res.text().await.unwrap().contains("<html"), "{asset}");
    }
}

#[tokio::test]
async fn gatsby_mode_serves_404_html_with_status_404() {
    let site = support::fixture_site();
    let srv = InProcess::start(&site.root(), &[("FALLBACK", "gatsby")]);
    let c = support::client();
    let res = c.get(srv.url("/no/such/page")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        res.headers()[header::CONTENT_TYPE],
        "text/html; charset=utf-8"
    );
    assert!(res.headers().contains_key("x-frame-options"));
    assert!(res.text().await.unwrap().contains(NOT_FOUND_MARK));
    // Known pages are unaffected.
    let res = c.get(srv.url("/about/")).send().await.unwrap();
    assert!(res.text().await.unwrap().contains(ABOUT_MARK));
    let res = c.get(srv.url("/missing.js")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert!(!res.text().await.unwrap().contains(NOT_FOUND_MARK));
}

#[tokio::test]
async fn the_api_prefix_goes_to_the_proxy_not_to_site_files() {
    let site = support::fixture_site();
    std::fs::create_dir_all(site.root().join("api/v1")).unwrap();
    std::fs::write(site.root().join("api/v1/status"), "a site file").unwrap();
    let upstream = support::TestUpstream::start();
    let srv = InProcess::start(&site.root(), &[("API_UPSTREAM", &upstream.origin())]);
    let res = support::client()
        .get(srv.url("/api/v1/status"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.text().await.unwrap(), "{\"ok\":true}");
    assert_eq!(upstream.last().target, "/api/v1/status");
}

#[tokio::test]
async fn other_methods_on_site_paths_are_405_with_allow() {
    let site = support::fixture_site();
    let srv = InProcess::start(&site.root(), &[]);
    let res = support::client()
        .post(srv.url("/"))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(res.headers()[header::ALLOW], "GET, HEAD");
}
