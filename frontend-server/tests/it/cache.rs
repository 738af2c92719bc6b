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
