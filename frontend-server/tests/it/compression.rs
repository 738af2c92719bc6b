//! Issue 3 point 4: precompressed siblings, cached on-the-fly gzip, never for binary types
//! or small files, `Vary`, validators per representation.

use reqwest::{StatusCode, header};

use crate::support::{self, APP_JS, FRAMEWORK_JS, InProcess};

async fn get(srv: &InProcess, path: &str, accept: Option<&str>) -> reqwest::Response {
    let mut req = support::client().get(srv.url(path));
    if let Some(accept) = accept {
        req = req.header(header::ACCEPT_ENCODING, accept);
    }
    req.send().await.unwrap()
}

fn encoding(res: &reqwest::Response) -> Option<String> {
    res.headers()
        .get(header::CONTENT_ENCODING)
        .map(|v| v.to_str().unwrap().to_owned())
}

#[tokio::test]
async fn precompressed_siblings_are_served_when_accepted() {
    let site = support::fixture_site();
    let srv = InProcess::start(&site.root(), &[]);
    let original = std::fs::read(site.root().join(APP_JS)).unwrap();
    let path = format!("/{APP_JS}");

    let br = get(&srv, &path, Some("gzip, deflate, br")).await;
    assert_eq!(encoding(&br).as_deref(), Some("br"));
    assert_eq!(br.headers()[header::VARY], "Accept-Encoding");
    assert_eq!(
        br.headers()[header::CONTENT_TYPE],
        "text/javascript; charset=utf-8"
    );
    let br_etag = br.headers()[header::ETAG].clone();
    let body = br.bytes().await.unwrap();
    assert!(body.len() < original.len() / 4);
    assert_eq!(support::unbrotli(&body), original);

    let gz = get(&srv, &path, Some("gzip")).await;
    assert_eq!(encoding(&gz).as_deref(), Some("gzip"));
    let gz_etag = gz.headers()[header::ETAG].clone();
    assert_eq!(support::gunzip(&gz.bytes().await.unwrap()), original);

    let plain = get(&srv, &path, None).await;
    assert_eq!(encoding(&plain), None);
    assert_eq!(plain.headers()[header::VARY], "Accept-Encoding");
    let id_etag = plain.headers()[header::ETAG].clone();
    assert_eq!(plain.bytes().await.unwrap(), original);

    // RFC 9110 §8.8.3: each representation has its own validator.
    assert_ne!(br_etag, gz_etag);
    assert_ne!(br_etag, id_etag);
    assert_ne!(gz_etag, id_etag);

    // q=0 refuses a coding.
    let res = get(&srv, &path, Some("br;q=0, gzip")).await;
    assert_eq!(encoding(&res).as_deref(), Some("gzip"));
}

#[tokio::test]
async fn files_without_siblings_are_gzipped_on_the_fly_with_their_own_validator() {
    let site = support::fixture_site();
    let srv = InProcess::start(&site.root(), &[]);
    let original = std::fs::read(site.root().join(FRAMEWORK_JS)).unwrap();
    let path = format!("/{FRAMEWORK_JS}");

    let res = get(&srv, &path, Some("gzip, br")).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(encoding(&res).as_deref(), Some("gzip"));
    assert_eq!(res.headers()[header::VARY], "Accept-Encoding");
    assert_eq!(
        res.headers()[header::CACHE_CONTROL],
        "public, max-age=31536000, immutable"
    );
    let etag = res.headers()[header::ETAG].to_str().unwrap().to_owned();
    let body = res.bytes().await.unwrap();
    assert_eq!(support::gunzip(&body), original);

    // Second hit comes from the cache: identical bytes.
    let again = get(&srv, &path, Some("gzip")).await;
    assert_eq!(again.bytes().await.unwrap(), body);

    let res = support::client()
        .get(srv.url(&path))
        .header(header::ACCEPT_ENCODING, "gzip")
        .header(header::IF_NONE_MATCH, &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_MODIFIED);

    // No Brotli on the fly: a br-only client gets identity.
    let res = get(&srv, &path, Some("br")).await;
    assert_eq!(encoding(&res), None);
    assert_eq!(res.bytes().await.unwrap(), original);

    // HTML pages are compressed too.
    let res = get(&srv, "/about/", Some("gzip")).await;
    assert_eq!(encoding(&res).as_deref(), Some("gzip"));
    assert!(
        String::from_utf8(support::gunzip(&res.bytes().await.unwrap()))
            .unwrap()
            .contains(support::ABOUT_MARK)
    );
}

#[tokio::test]
async fn small_files_and_binary_types_are_never_compressed() {
    let site = support::fixture_site();
    let srv = InProcess::start(&site.root(), &[]);
    let res = get(&srv, "/small.txt", Some("gzip, br")).await;
    assert_eq!(encoding(&res), None);
    assert_eq!(res.headers()[header::VARY], "Accept-Encoding");
    for path in ["/static/d1f2/logo.png", "/static/font.woff2", "/icon.avif"] {
        let res = get(&srv, path, Some("gzip, br")).await;
        assert_eq!(encoding(&res), None, "{path}");
        assert!(res.headers().get(header::VARY).is_none(), "{path}");
    }
}

/// Sets the mtime of `path` to `file`'s mtime shifted by `offset_ms` (negative: older).
fn stamp_relative(path: &std::path::Path, file: &std::path::Path, offset_ms: i64) {
    let base = std::fs::metadata(file).unwrap().modified().unwrap();
    let delta = std::time::Duration::from_millis(offset_ms.unsigned_abs());
    let t = if offset_ms < 0 {
        base - delta
    } else {
        base + delta
    };
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(t)
        .unwrap();
}

#[tokio::test]
async fn a_stale_sibling_is_never_served() {
    let site = support::fixture_site();
    // The bundle was rebuilt after its siblings were written: they are now seconds older.
    let fresh = support::js(500);
    std::fs::write(site.root().join(APP_JS), &fresh).unwrap();
    for suffix in ["br", "gz"] {
        let sibling = site.root().join(format!("{APP_JS}.{suffix}"));
        stamp_relative(&sibling, &site.root().join(APP_JS), -2_000);
    }
    let srv = InProcess::start(&site.root(), &[]);
    let res = get(&srv, &format!("/{APP_JS}"), Some("br, gzip")).await;
    // Not the stale .br: the fresh file, gzipped on the fly.
    assert_eq!(encoding(&res).as_deref(), Some("gzip"));
    assert_eq!(
        support::gunzip(&res.bytes().await.unwrap()),
        fresh.as_bytes()
    );
}

/// Regression: node's `fs.utimes` copies a file's mtime onto its siblings with millisecond
/// precision, so a fresh build's `.br` can read a fraction of a millisecond *older* than its
/// file; it must still be served (seen in CI: gzip on the fly instead of the build's Brotli).
#[tokio::test]
async fn a_sibling_stamped_with_millisecond_precision_is_fresh() {
    let site = support::fixture_site();
    let file = site.root().join(APP_JS);
    std::fs::File::options()
        .write(true)
        .open(&file)
        .unwrap()
        .set_modified(
            std::time::UNIX_EPOCH + std::time::Duration::from_nanos(1_700_000_000_123_456_789),
        )
        .unwrap();
    for suffix in ["br", "gz"] {
        let sibling = site.root().join(format!("{APP_JS}.{suffix}"));
        std::fs::File::options()
            .write(true)
            .open(&sibling)
            .unwrap()
            .set_modified(
                std::time::UNIX_EPOCH + std::time::Duration::from_millis(1_700_000_000_123),
            )
            .unwrap();
    }
    let srv = InProcess::start(&site.root(), &[]);
    let res = get(&srv, &format!("/{APP_JS}"), Some("br, gzip")).await;
    assert_eq!(encoding(&res).as_deref(), Some("br"));
}
