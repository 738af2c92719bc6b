//! Issue 11: what the server remembers about the site (which file a path names, its
//! metadata, header values and body) is never served after the site changed. With the
//! inotify watch (the default) and without it (every request checks the disk), a change
//! finished before a request is sent is seen by that request: files rewritten in place or
//! replaced by a rename, deleted, created in new directories, siblings made stale.

use std::{path::Path, sync::Arc};

use frontend_server::{
    FallbackMode, body_cache::BodyCache, site::Site, site_watch::SiteWatch, static_files::SiteRoot,
};
use reqwest::{StatusCode, header};

use crate::support::{self, APP_JS, HOME_MARK, InProcess};

/// The server with its site watch, or with none.
fn start(root: &Path, watched: bool) -> InProcess {
    let mut state = InProcess::state(root, &[]);
    if !watched {
        state.site = Arc::new(Site::with_watch(
            SiteRoot::open(root).unwrap(),
            FallbackMode::Spa,
            None,
            BodyCache::new(64 << 20, 4096),
            SiteWatch::unavailable("disabled by the test".into()),
        ));
    } else {
        assert!(
            state.site.watch().unavailable_reason().is_none(),
            "inotify is unavailable here: {:?}",
            state.site.watch().unavailable_reason()
        );
    }
    InProcess::start_state(state)
}

async fn get(
    c: &reqwest::Client,
    srv: &InProcess,
    path: &str,
    accept: &str,
) -> (StatusCode, String, Option<String>) {
    let res = c
        .get(srv.url(path))
        .header(header::ACCEPT_ENCODING, accept)
        .send()
        .await
        .unwrap();
    let status = res.status();
    let coding = res
        .headers()
        .get(header::CONTENT_ENCODING)
        .map(|v| v.to_str().unwrap().to_owned());
    let body = res.bytes().await.unwrap().to_vec();
    let text = match coding.as_deref() {
        Some("gzip") => support::gunzip(&body),
        _ => body,
    };
    (status, String::from_utf8_lossy(&text).into_owned(), coding)
}

async fn every_change_is_seen_by_the_next_request(watched: bool) {
    let site = support::fixture_site();
    let root = site.root();
    let srv = start(&root, watched);
    let c = support::client();

    // Rewritten in place (same inode), many times in a row, each read right after the
    // write, in both representations: never the previous version.
    for round in 0..30 {
        let text = format!(
            "<html><body>version {round} {}</body></html>",
            "x".repeat(1500)
        );
        std::fs::write(root.join("about/index.html"), &text).unwrap();
        assert_eq!(
            get(&c, &srv, "/about/", "identity").await.1,
            text,
            "round {round}"
        );
        assert_eq!(
            get(&c, &srv, "/about/", "gzip").await.1,
            text,
            "round {round}, gzip"
        );
    }

    // Replaced by a rename (a new inode, as a deploy tool writes it).
    let tmp = root.join("about/.index.html.tmp");
    std::fs::write(&tmp, "<p>renamed in</p>").unwrap();
    std::fs::rename(&tmp, root.join("about/index.html")).unwrap();
    assert_eq!(
        get(&c, &srv, "/about/", "identity").await.1,
        "<p>renamed in</p>"
    );

    // Deleted: the asset is a 404, the page falls back to the home page.
    let (status, ..) = get(&c, &srv, "/sw.js", "identity").await;
    assert_eq!(status, StatusCode::OK);
    std::fs::remove_file(root.join("sw.js")).unwrap();
    assert_eq!(
        get(&c, &srv, "/sw.js", "identity").await.0,
        StatusCode::NOT_FOUND
    );
    std::fs::remove_file(root.join("about/index.html")).unwrap();
    let (status, body, _) = get(&c, &srv, "/about/", "identity").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains(HOME_MARK), "fallback after delete: {body}");

    // Created in a directory made after startup (and after the path was answered by the
    // fallback): served at once.
    let (_, body, _) = get(&c, &srv, "/docs/new/", "identity").await;
    assert!(body.contains(HOME_MARK));
    std::fs::create_dir_all(root.join("docs/new")).unwrap();
    std::fs::write(root.join("docs/new/index.html"), "<p>new page</p>").unwrap();
    assert_eq!(
        get(&c, &srv, "/docs/new/", "identity").await.1,
        "<p>new page</p>"
    );
    std::fs::write(root.join("docs/new/index.html"), "<p>edited</p>").unwrap();
    assert_eq!(
        get(&c, &srv, "/docs/new/", "identity").await.1,
        "<p>edited</p>"
    );

    // A large file, sent with sendfile from a descriptor the server keeps open: rewritten
    // in place and replaced by a rename, each read right after.
    for round in 0..3u8 {
        let big = vec![b'a' + round; 200 << 10];
        std::fs::write(root.join("static/big.bin"), &big).unwrap();
        let (status, body, _) = get(&c, &srv, "/static/big.bin", "identity").await;
        assert_eq!(status, StatusCode::OK);
        assert!(body.as_bytes() == big, "round {round}: in place");
        let renamed = vec![b'A' + round; 150 << 10];
        let tmp = root.join("static/.big.tmp");
        std::fs::write(&tmp, &renamed).unwrap();
        std::fs::rename(&tmp, root.join("static/big.bin")).unwrap();
        let body = get(&c, &srv, "/static/big.bin", "identity").await.1;
        assert!(body.as_bytes() == renamed, "round {round}: renamed over");
    }

    // The bundle is rebuilt after its siblings: its .br is stale at once.
    let bundle = format!("/{APP_JS}");
    assert_eq!(
        get(&c, &srv, &bundle, "br, gzip").await.2.as_deref(),
        Some("br")
    );
    let fresh = support::js(120);
    std::fs::write(root.join(APP_JS), &fresh).unwrap();
    let later = std::fs::metadata(root.join(format!("{APP_JS}.br")))
        .unwrap()
        .modified()
        .unwrap()
        + std::time::Duration::from_secs(5);
    std::fs::File::options()
        .write(true)
        .open(root.join(APP_JS))
        .unwrap()
        .set_modified(later)
        .unwrap();
    let (_, body, coding) = get(&c, &srv, &bundle, "br, gzip").await;
    assert_eq!(coding.as_deref(), Some("gzip"), "not the stale .br");
    assert_eq!(body, fresh);
}

#[tokio::test]
async fn every_change_is_seen_by_the_next_request_with_the_watch() {
    every_change_is_seen_by_the_next_request(true).await;
}

#[tokio::test]
async fn every_change_is_seen_by_the_next_request_without_the_watch() {
    every_change_is_seen_by_the_next_request(false).await;
}
