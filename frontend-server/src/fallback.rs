//! What a path that names no file answers.
//!
//! The seed's nginx (`try_files $uri $uri/ /index.html`) answers every unknown path with the
//! home page and status 200. For page-like paths that is what a client-side router wants, and
//! it stays the default. For asset-like paths it is a bug: a missing chunk after a deploy
//! comes back as HTML with `200`, the browser parses HTML as JavaScript, and monitoring
//! sees no error. Those get a real 404.

use crate::{config::FallbackMode, path_safety::SitePath};

/// Top-level directories that only ever hold build assets.
pub const ASSET_DIRS: &[&str] = &["static", "page-data", "_gatsby", "~partytown"];

/// Extensions of files a browser fetches as subresources, never navigates to.
pub const ASSET_EXTENSIONS: &[&str] = &[
    "js",
    "mjs",
    "css",
    "json",
    "map",
    "webmanifest",
    "txt",
    "xml",
    "wasm",
    // images
    "png",
    "jpg",
    "jpeg",
    "gif",
    "webp",
    "avif",
    "svg",
    "ico",
    "bmp",
    // fonts
    "woff",
    "woff2",
    "ttf",
    "otf",
    "eot",
    // media and archives
    "mp4",
    "webm",
    "mp3",
    "pdf",
    "zip",
    "gz",
    "br",
];

/// The answer for a path with no file behind it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fallback {
    /// 200 with `/index.html` (seed parity).
    Index,
    /// 404 with `/404.html` (Gatsby mode).
    NotFoundPage,
    /// A plain 404: the path is an asset.
    NotFound,
}

/// Whether `path` names a build asset rather than a page.
pub fn is_asset_like(path: &SitePath) -> bool {
    if path
        .segments
        .first()
        .is_some_and(|first| ASSET_DIRS.contains(&first.as_str()))
    {
        return true;
    }
    if path.trailing_slash {
        return false;
    }
    path.file_name()
        .and_then(|name| name.rsplit_once('.'))
        .is_some_and(|(_, ext)| {
            ASSET_EXTENSIONS
                .iter()
                .any(|known| known.eq_ignore_ascii_case(ext))
        })
}

/// Decides the answer for a missing `path` under `mode`.
pub fn decide(mode: FallbackMode, path: &SitePath) -> Fallback {
    if is_asset_like(path) {
        return Fallback::NotFound;
    }
    match mode {
        FallbackMode::Spa => Fallback::Index,
        FallbackMode::Gatsby => Fallback::NotFoundPage,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::path_safety::parse;

    #[test]
    fn pages_fall_back_by_mode() {
        for p in ["/no-such-page", "/deep/link/", "/", "/old.html", "/v1.2"] {
            let path = parse(p).unwrap();
            assert_eq!(decide(FallbackMode::Spa, &path), Fallback::Index, "{p}");
            assert_eq!(
                decide(FallbackMode::Gatsby, &path),
                Fallback::NotFoundPage,
                "{p}"
            );
        }
    }

    #[test]
    fn assets_are_real_404s_in_both_modes() {
        for p in [
            "/static/missing.png",
            "/page-data/gone/page-data.json",
            "/static/dir/",
            "/app-deadbeef.js",
            "/styles.css",
            "/x.JSON",
            "/app.js.map",
            "/img/photo.avif",
            "/fonts/a.woff2",
            "/manifest.webmanifest",
        ] {
            let path = parse(p).unwrap();
            assert_eq!(decide(FallbackMode::Spa, &path), Fallback::NotFound, "{p}");
            assert_eq!(
                decide(FallbackMode::Gatsby, &path),
                Fallback::NotFound,
                "{p}"
            );
        }
    }
}
