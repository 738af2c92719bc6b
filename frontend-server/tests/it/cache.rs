//! Issue 3 point 3: the cache policy table over HTTP, on the file actually served. (Each
//! table row has its own unit test in `cache_policy`; this checks the wiring.)

use reqwest::header;

use crate::support::{self, APP_JS, InProcess, STYLES_CSS};

const REVALIDATE: &str = "public, max-age=0, must-revalidate";
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

#[tokio::test]
async fn served_files_get_gatsbys_policy() {
    let site = support::fixture_site();
    let srv = InProcess::start(&site.root(), &[]);
    let c = support::client();
    for (path, expected) in [
        ("/", REVALIDATE),
        ("/about/", REVALIDATE),
        ("/page-data/app-data.json", REVALIDATE),
        ("/page-data/index/page-data.json", REVALIDATE),
        ("/sw.js", REVALIDATE),
        (&format!("/{APP_JS}") as &str, IMMUTABLE),
        (&format!("/{STYLES_CSS}"), IMMUTABLE),
        ("/static/d1f2/logo.png", IMMUTABLE),
        ("/~partytown/partytown.js", REVALIDATE),
        ("/unknown-page", REVALIDATE),
    ] {
        // With and without compression: the policy belongs to the resource.
        for accept in ["identity", "gzip, br"] {
            let res = c
                .get(srv.url(path))
                .header(header::ACCEPT_ENCODING, accept)
                .send()
                .await
                .unwrap();
            assert_eq!(
                res.headers()[header::CACHE_CONTROL],
                expected,
                "{path} {accept}"
            );
        }
    }
}

#[tokio::test]
async fn the_gatsby_404_page_revalidates() {
    let site = support::fixture_site();
    let srv = InProcess::start(&site.root(), &[("FALLBACK", "gatsby")]);
    let res = support::client()
        .get(srv.url("/nope/"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    assert_eq!(res.headers()[header::CACHE_CONTROL], REVALIDATE);
}

/// Regression: the plain 404 for a missing asset had no `Cache-Control`, so a CDN could
/// cache the 404 a deploy race produced (new HTML naming an asset not yet everywhere).
#[tokio::test]
async fn missing_assets_and_hidden_files_are_404_no_store() {
    let site = support::fixture_site();
    let c = support::client();
    for fallback in ["spa", "gatsby"] {
        let srv = InProcess::start(&site.root(), &[("FALLBACK", fallback)]);
        for path in [
            "/app-0000000000000000dead.js",
            "/static/d1f2/missing.png",
            "/page-data/nope/page-data.json",
            "/.env",
        ] {
            let res = c.get(srv.url(path)).send().await.unwrap();
            assert_eq!(res.status(), 404, "{fallback} {path}");
            assert_eq!(
                res.headers()[header::CACHE_CONTROL],
                "no-store",
                "{fallback} {path}"
            );
        }
    }
}
