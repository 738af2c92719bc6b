//! Resolving a [`SitePath`] to a file under the site root, and answering with it.
//!
//! Files are answered by `actix-files`' `NamedFile` (ETag, Last-Modified, 304/412, HEAD,
//! single-range 206/416), with the content type from [`crate::content_types`] and the
//! representation chosen by [`crate::compression`]. The in-memory gzip representation has
//! its own validator and answers conditional requests here.

use std::{
    io,
    path::{Path, PathBuf},
};

use actix_files::NamedFile;
use actix_web::{
    HttpRequest, HttpResponse,
    http::{
        StatusCode,
        header::{self, ContentEncoding, HeaderValue},
    },
};

use crate::{
    compression::{Accepted, Coding, FileStamp, GzipCache, MIN_COMPRESS_BYTES},
    content_types::{self, FileKind},
    path_safety::SitePath,
};

/// The result of looking a path up under the root.
#[derive(Debug, PartialEq, Eq)]
pub enum Resolved {
    /// A regular file inside the root; `url_path` is its path as served (`/about/index.html`).
    File { path: PathBuf, url_path: String },
    /// A directory with an `index.html`, asked for without the trailing slash.
    AddSlash,
    /// Nothing servable (missing, a directory without index, a symlink leaving the root).
    Missing,
}

/// The canonical site root, checked once at startup.
#[derive(Debug, Clone)]
pub struct SiteRoot {
    canonical: PathBuf,
}

/// The site root cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("SITE_ROOT={path:?}: {reason}")]
pub struct SiteRootError {
    pub path: PathBuf,
    pub reason: String,
}

impl SiteRoot {
    /// Canonicalizes `path`, which must be a readable directory.
    pub fn open(path: &Path) -> Result<Self, SiteRootError> {
        let err = |reason: String| SiteRootError {
            path: path.to_owned(),
            reason,
        };
        let canonical = path
            .canonicalize()
            .map_err(|e| err(format!("cannot open the site directory: {e}")))?;
        if !canonical.is_dir() {
            return Err(err("not a directory".to_owned()));
        }
        Ok(Self { canonical })
    }

    pub fn path(&self) -> &Path {
        &self.canonical
    }

    /// Looks `site_path` up. Symlinks are followed only while they stay inside the root.
    pub fn resolve(&self, site_path: &SitePath) -> Resolved {
        let mut candidate = self.canonical.clone();
        candidate.extend(&site_path.segments);
        let Some(real) = self.inside(&candidate) else {
            return Resolved::Missing;
        };
        let Ok(meta) = real.metadata() else {
            return Resolved::Missing;
        };
        if meta.is_file() {
            if site_path.trailing_slash {
                return Resolved::Missing;
            }
            return Resolved::File {
                path: real,
                url_path: site_path.as_url_path(),
            };
        }
        if !meta.is_dir() {
            return Resolved::Missing;
        }
        let index = real.join("index.html");
        let Some(index) = self.inside(&index).filter(|p| p.is_file()) else {
            return Resolved::Missing;
        };
        if !site_path.trailing_slash && !site_path.segments.is_empty() {
            return Resolved::AddSlash;
        }
        let mut url_path = site_path.as_url_path();
        if !url_path.ends_with('/') {
            url_path.push('/');
        }
        url_path.push_str("index.html");
        Resolved::File {
            path: index,
            url_path,
        }
    }

    /// The real path of `candidate` if it exists and stays inside the root.
    fn inside(&self, candidate: &Path) -> Option<PathBuf> {
        let real = candidate.canonicalize().ok()?;
        real.starts_with(&self.canonical).then_some(real)
    }

    /// A file at a fixed URL path in the root (`/index.html`, `/404.html`).
    pub fn fixed_file(&self, url_path: &str) -> Option<(PathBuf, String)> {
        let candidate = self.canonical.join(url_path.trim_start_matches('/'));
        let real = self.inside(&candidate)?;
        real.is_file().then(|| (real, url_path.to_owned()))
    }
}

/// Everything [`respond`] needs besides the request.
#[derive(Debug, Clone, Copy)]
pub struct FileToServe<'a> {
    pub path: &'a Path,
    pub status: StatusCode,
}

/// Answers `req` with the file, choosing its representation. Returns the response and the
/// file's kind (for the headers added after).
pub async fn respond(
    req: &HttpRequest,
    file: FileToServe<'_>,
    gzip_cache: &GzipCache,
) -> io::Result<(HttpResponse, FileKind)> {
    let kind = content_types::kind_of(file.path);
    let meta = std::fs::metadata(file.path)?;
    let stamp = FileStamp::of(&meta);
    let coding = if kind.compressible && !req.headers().contains_key(header::RANGE) {
        let accepted = Accepted::from_header(
            req.headers()
                .get(header::ACCEPT_ENCODING)
                .and_then(|v| v.to_str().ok()),
        );
        Some(accepted)
    } else {
        None
    };

    if let Some(accepted) = coding {
        for wanted in [Coding::Brotli, Coding::Gzip] {
            if !accepted.accepts(wanted) {
                continue;
            }
            if let Some(sibling) = fresh_sibling(file.path, wanted, &meta) {
                let named = NamedFile::open(&sibling)?
                    .set_content_type(kind.mime.clone())
                    .set_content_encoding(match wanted {
                        Coding::Brotli => ContentEncoding::Brotli,
                        _ => ContentEncoding::Gzip,
                    });
                return Ok((named_response(named, req, file.status), kind));
            }
        }
        if accepted.gzip && stamp.len >= MIN_COMPRESS_BYTES {
            let entry = gzip_cache.get(file.path, stamp).await?;
            let res = gzip_response(req, &kind, &entry, &meta, file.status);
            return Ok((res, kind));
        }
    }
    let named = NamedFile::open(file.path)?.set_content_type(kind.mime.clone());
    Ok((named_response(named, req, file.status), kind))
}

// `set_status_code` is deprecated in favour of `Responder::customize()`, but only it makes
// `NamedFile` skip the 200-only logic (conditional 304, ranges) for the 404 page.
#[allow(deprecated)]
fn named_response(named: NamedFile, req: &HttpRequest, status: StatusCode) -> HttpResponse {
    named
        .disable_content_disposition()
        .set_status_code(status)
        .into_response(req)
}

/// The precompressed sibling for `coding`, if present and not older than the file.
fn fresh_sibling(path: &Path, coding: Coding, meta: &std::fs::Metadata) -> Option<PathBuf> {
    let suffix = coding.sibling_suffix()?;
    let mut name = path.file_name()?.to_os_string();
    name.push(".");
    name.push(suffix);
    let sibling = path.with_file_name(name);
    let sib_meta = std::fs::metadata(&sibling).ok()?;
    let fresh = match (sib_meta.modified(), meta.modified()) {
        (Ok(s), Ok(f)) => s >= f,
        _ => false,
    };
    (sib_meta.is_file() && fresh).then_some(sibling)
}

fn gzip_response(
    req: &HttpRequest,
    kind: &FileKind,
    entry: &crate::compression::GzipEntry,
    meta: &std::fs::Metadata,
    status: StatusCode,
) -> HttpResponse {
    let etag = entry.stamp.gzip_etag();
    let last_modified = meta
        .modified()
        .ok()
        .map(|t| header::HttpDate::from(t).to_string());
    let mut builder = HttpResponse::build(status);
    builder
        .insert_header((header::CONTENT_TYPE, kind.mime.to_string()))
        .insert_header((header::CONTENT_ENCODING, Coding::Gzip.token()));
    if status == StatusCode::OK {
        builder.insert_header((header::ETAG, etag.clone()));
        if let Some(lm) = &last_modified {
            builder.insert_header((header::LAST_MODIFIED, lm.clone()));
        }
        if not_modified(req, &etag, meta) {
            return builder
                .status(StatusCode::NOT_MODIFIED)
                .body(actix_web::body::None::new());
        }
    }
    builder.body(entry.body.clone())
}

/// RFC 9110 §13.1.2 / §13.2.2: If-None-Match (weak comparison) takes precedence; only
/// without it is If-Modified-Since evaluated.
fn not_modified(req: &HttpRequest, etag: &str, meta: &std::fs::Metadata) -> bool {
    if let Some(inm) = req.headers().get(header::IF_NONE_MATCH) {
        let Ok(inm) = inm.to_str() else {
            return false;
        };
        let ours = etag.trim_start_matches("W/");
        return inm
            .split(',')
            .map(str::trim)
            .any(|tag| tag == "*" || tag.trim_start_matches("W/") == ours);
    }
    let since = req
        .headers()
        .get(header::IF_MODIFIED_SINCE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<header::HttpDate>().ok());
    match (since, meta.modified()) {
        (Some(since), Ok(modified)) => {
            let since: std::time::SystemTime = since.into();
            let secs = |t: std::time::SystemTime| {
                t.duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or(0)
            };
            secs(modified) <= secs(since)
        }
        _ => false,
    }
}

/// `Vary: Accept-Encoding` (RFC 9110 §12.5.5) on every answer whose body depends on it.
pub fn add_vary(res: &mut HttpResponse) {
    res.headers_mut()
        .insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::path_safety::parse;

    #[test]
    fn resolves_files_directories_and_refuses_escapes() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("public");
        std::fs::create_dir_all(root.join("about")).unwrap();
        std::fs::create_dir_all(root.join("empty")).unwrap();
        std::fs::write(root.join("index.html"), "home").unwrap();
        std::fs::write(root.join("about/index.html"), "about").unwrap();
        std::fs::write(dir.path().join("secret.txt"), "secret").unwrap();
        std::os::unix::fs::symlink(dir.path().join("secret.txt"), root.join("leak.txt")).unwrap();
        std::os::unix::fs::symlink(root.join("index.html"), root.join("alias.html")).unwrap();
        let site = SiteRoot::open(&root).unwrap();
        let r = |p: &str| site.resolve(&parse(p).unwrap());

        assert!(matches!(r("/"), Resolved::File { url_path, .. } if url_path == "/index.html"));
        assert!(
            matches!(r("/about/"), Resolved::File { url_path, .. } if url_path == "/about/index.html")
        );
        assert_eq!(r("/about"), Resolved::AddSlash);
        assert_eq!(r("/empty/"), Resolved::Missing);
        assert_eq!(r("/index.html/"), Resolved::Missing);
        assert_eq!(r("/nope"), Resolved::Missing);
        assert_eq!(r("/leak.txt"), Resolved::Missing);
        assert!(matches!(r("/alias.html"), Resolved::File { .. }));
    }
}
