//! Opening a [`SitePath`] under the site root, and answering with the file.
//!
//! Every file is opened with `openat2(2)` relative to a descriptor of the root, with
//! `RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS`: the kernel refuses any resolution that would
//! leave the root, through `..` or through a symlink (absolute or relative), in the same
//! call that opens the file, so there is no window between a check and the open, and no
//! `realpath` walk per request. Symlinks that stay inside the root work.
//!
//! Where `openat2` cannot be used — kernels before 5.6 (`ENOSYS`), or a container runtime's
//! seccomp profile that does not know the call and answers `EPERM` (older Docker and
//! libseccomp) — files are opened by the checked path walk instead: the path is
//! canonicalised, must stay under the root, and is opened without following a last-component
//! symlink. Which way is decided at startup by a probe (`openat2` of the root itself), logged
//! with the reason, and switched at once if `openat2` ever fails that way later: a refused
//! system call never turns the whole site into 404s.
//!
//! Files are answered by `actix-files`' `NamedFile` (ETag, Last-Modified, 304/412, HEAD,
//! single-range 206/416), with the content type from [`crate::content_types`] and the
//! representation chosen by [`crate::compression`]. The in-memory gzip representation has
//! its own validator and answers conditional requests here (`If-Match`,
//! `If-Unmodified-Since` → 412; `If-None-Match`, `If-Modified-Since` → 304).

use std::{
    fs::{File, Metadata},
    io,
    os::fd::OwnedFd,
    path::{Path, PathBuf},
    sync::atomic::{AtomicBool, Ordering},
    time::SystemTime,
};

use actix_files::NamedFile;
use actix_web::{
    HttpRequest, HttpResponse,
    http::{
        StatusCode,
        header::{self, ContentEncoding, HeaderValue},
    },
};
use bytes::Bytes;
use rustix::fs::{Mode, OFlags, ResolveFlags};

use crate::{
    body_cache::{BodyCache, FileStamp, MAX_CACHED_FILE, Variant},
    compression::{Accepted, Coding, MIN_COMPRESS_BYTES},
    content_types::{self, FileKind},
    path_safety::SitePath,
};

/// `NamedFile` (ranges, some conditionals, files over [`MAX_CACHED_FILE`]) reads every
/// chunk on the blocking pool: no file read runs on an async worker. (actix-files' default
/// reads files below its threshold on the worker.)
const SYNC_READ_BELOW: u64 = 0;

/// An open regular file inside the root.
#[derive(Debug)]
pub struct OpenFile {
    pub file: File,
    pub meta: Metadata,
    /// Path relative to the root (`about/index.html`), for siblings.
    pub rel: PathBuf,
    /// Absolute path (for `NamedFile`, content type and the gzip cache key).
    pub abs: PathBuf,
    /// The path as served (`/about/index.html`), for the cache policy.
    pub url_path: String,
}

/// The result of looking a path up under the root.
#[derive(Debug)]
pub enum Resolved {
    File(Box<OpenFile>),
    /// A directory with an `index.html`, asked for without the trailing slash.
    AddSlash,
    /// Nothing servable (missing, a directory without index, a path leaving the root).
    Missing,
}

/// The site root, opened once at startup.
#[derive(Debug)]
pub struct SiteRoot {
    canonical: PathBuf,
    dir: OwnedFd,
    /// Whether files are opened with `openat2`; cleared when it is unavailable.
    openat2: AtomicBool,
    /// Why `openat2` is not used, when the startup probe found it unavailable.
    probe_failure: Option<rustix::io::Errno>,
}

/// Errors of `openat2` that mean "this system call cannot be used here", as opposed to an
/// answer about the path: not implemented (kernel < 5.6), refused by a seccomp filter
/// (`EPERM`, Docker's answer for system calls its profile does not know), or flags the
/// kernel does not support.
fn openat2_unavailable(err: rustix::io::Errno) -> bool {
    use rustix::io::Errno;
    matches!(
        err,
        Errno::NOSYS | Errno::PERM | Errno::INVAL | Errno::NOTSUP
    )
}

/// The site root cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("SITE_ROOT={path:?}: {reason}")]
pub struct SiteRootError {
    pub path: PathBuf,
    pub reason: String,
}

impl SiteRoot {
    /// Opens `path`, which must be a readable directory.
    pub fn open(path: &Path) -> Result<Self, SiteRootError> {
        let err = |reason: String| SiteRootError {
            path: path.to_owned(),
            reason,
        };
        let canonical = path
            .canonicalize()
            .map_err(|e| err(format!("cannot open the site directory: {e}")))?;
        let dir = rustix::fs::open(
            &canonical,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| err(format!("not a readable directory: {e}")))?;
        // The probe: the root itself, opened beneath itself.
        let probe = rustix::fs::openat2(
            &dir,
            ".",
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
            ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS,
        );
        let probe_failure = match probe {
            Ok(_) => None,
            Err(e) if openat2_unavailable(e) => Some(e),
            Err(e) => return Err(err(format!("cannot open the site directory: {e}"))),
        };
        Ok(Self {
            canonical,
            dir,
            openat2: AtomicBool::new(probe_failure.is_none()),
            probe_failure,
        })
    }

    /// How files are opened, for the startup log: `openat2` or the checked path walk (with
    /// the reason).
    pub fn open_method(&self) -> String {
        match self.probe_failure {
            None if self.openat2.load(Ordering::Relaxed) => "openat2(RESOLVE_BENEATH)".to_owned(),
            None => "checked path walk".to_owned(),
            Some(e) => format!("checked path walk (openat2 unavailable: {e})"),
        }
    }

    /// Whether the startup probe found `openat2` unavailable.
    pub fn openat2_unavailable(&self) -> bool {
        self.probe_failure.is_some()
    }

    pub fn path(&self) -> &Path {
        &self.canonical
    }

    /// Looks `site_path` up.
    pub fn resolve(&self, site_path: &SitePath) -> Resolved {
        let rel: PathBuf = site_path.segments.iter().collect();
        let url_path = site_path.as_url_path();
        if rel.as_os_str().is_empty() {
            return self.open_index(&rel, url_path);
        }
        let Some((file, meta)) = self.open_beneath(&rel) else {
            return Resolved::Missing;
        };
        if meta.is_file() {
            if site_path.trailing_slash {
                return Resolved::Missing;
            }
            return Resolved::File(Box::new(self.open_file(file, meta, rel, url_path)));
        }
        if !meta.is_dir() {
            return Resolved::Missing;
        }
        if !site_path.trailing_slash {
            return match self.open_beneath(&rel.join("index.html")) {
                Some((_, m)) if m.is_file() => Resolved::AddSlash,
                _ => Resolved::Missing,
            };
        }
        self.open_index(&rel, url_path)
    }

    fn open_index(&self, dir_rel: &Path, mut url_path: String) -> Resolved {
        let rel = dir_rel.join("index.html");
        match self.open_beneath(&rel) {
            Some((file, meta)) if meta.is_file() => {
                if !url_path.ends_with('/') {
                    url_path.push('/');
                }
                url_path.push_str("index.html");
                Resolved::File(Box::new(self.open_file(file, meta, rel, url_path)))
            }
            _ => Resolved::Missing,
        }
    }

    fn open_file(&self, file: File, meta: Metadata, rel: PathBuf, url_path: String) -> OpenFile {
        OpenFile {
            file,
            meta,
            abs: self.canonical.join(&rel),
            rel,
            url_path,
        }
    }

    /// A file at a fixed URL path in the root (`/index.html`, `/404.html`).
    pub fn fixed_file(&self, url_path: &str) -> Option<OpenFile> {
        let rel = PathBuf::from(url_path.trim_start_matches('/'));
        let (file, meta) = self.open_beneath(&rel)?;
        meta.is_file()
            .then(|| self.open_file(file, meta, rel, url_path.to_owned()))
    }

    /// Opens `rel` (relative, already free of `..`) without leaving the root.
    pub fn open_beneath(&self, rel: &Path) -> Option<(File, Metadata)> {
        let file = if self.openat2.load(Ordering::Relaxed) {
            match rustix::fs::openat2(
                &self.dir,
                rel,
                OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOCTTY,
                Mode::empty(),
                ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS,
            ) {
                Ok(fd) => File::from(fd),
                Err(e) if openat2_unavailable(e) => {
                    if self.openat2.swap(false, Ordering::Relaxed) {
                        tracing::warn!(
                            error = %e,
                            "openat2 became unavailable: files are opened by the checked path walk from now on"
                        );
                    }
                    self.open_checked(rel)?
                }
                // ENOENT, EXDEV (would leave the root), ELOOP, EACCES: not servable.
                Err(_) => return None,
            }
        } else {
            self.open_checked(rel)?
        };
        let meta = file.metadata().ok()?;
        Some((file, meta))
    }

    /// The checked path walk, without `openat2`: canonicalise, check that the result is
    /// under the root, open it without following a symlink put there since.
    fn open_checked(&self, rel: &Path) -> Option<File> {
        let real = self.canonical.join(rel).canonicalize().ok()?;
        if !real.starts_with(&self.canonical) {
            return None;
        }
        rustix::fs::open(
            &real,
            OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOCTTY | OFlags::NOFOLLOW,
            Mode::empty(),
        )
        .ok()
        .map(File::from)
    }

    /// The precompressed sibling of `file` for `coding`, if present, inside the root and
    /// not older than the file (a stale sibling is never served). Times are compared in
    /// whole seconds: build tools copy a file's mtime onto its siblings with millisecond
    /// precision (node's `fs.utimes`), so the sibling of a fresh build can read a few
    /// hundred nanoseconds *older* than its file; an edit made after the build lands in a
    /// later second.
    fn fresh_sibling(&self, file: &OpenFile, coding: Coding) -> Option<(File, Metadata, PathBuf)> {
        let suffix = coding.sibling_suffix()?;
        let mut name = file.rel.file_name()?.to_os_string();
        name.push(".");
        name.push(suffix);
        let rel = file.rel.with_file_name(name);
        let (sibling, meta) = self.open_beneath(&rel)?;
        let fresh = match (meta.modified(), file.meta.modified()) {
            (Ok(s), Ok(f)) => whole_seconds(s) >= whole_seconds(f),
            _ => false,
        };
        (meta.is_file() && fresh).then(|| (sibling, meta, self.canonical.join(rel)))
    }
}

/// Answers `req` with `file`, choosing its representation. Returns the response and the
/// file's kind (for the headers added after).
pub async fn respond(
    req: &HttpRequest,
    root: &SiteRoot,
    file: OpenFile,
    status: StatusCode,
    cache: &BodyCache,
) -> io::Result<(HttpResponse, FileKind)> {
    let kind = content_types::kind_of(&file.abs);
    if kind.compressible && !req.headers().contains_key(header::RANGE) {
        let accepted = Accepted::from_header(
            req.headers()
                .get(header::ACCEPT_ENCODING)
                .and_then(|v| v.to_str().ok()),
        );
        for wanted in [Coding::Brotli, Coding::Gzip] {
            if !accepted.accepts(wanted) {
                continue;
            }
            if let Some((sibling, meta, path)) = root.fresh_sibling(&file, wanted) {
                let res = answer_file(
                    req,
                    sibling,
                    meta,
                    &path,
                    Some(wanted),
                    &kind,
                    status,
                    cache,
                )
                .await?;
                return Ok((res, kind));
            }
        }
        let stamp = FileStamp::of(&file.meta);
        if accepted.gzip && stamp.len >= MIN_COMPRESS_BYTES && stamp.len <= MAX_CACHED_FILE {
            let entry = cache
                .get(&file.abs, &file.file, stamp, Variant::Gzipped)
                .await?;
            let res = MemoryBody {
                kind: &kind,
                body: &entry.body,
                etag: entry.stamp.etag("-gz"),
                meta: &file.meta,
                coding: Some(Coding::Gzip),
                status,
            }
            .respond(req);
            return Ok((res, kind));
        }
    }
    let res = answer_file(
        req, file.file, file.meta, &file.abs, None, &kind, status, cache,
    )
    .await?;
    Ok((res, kind))
}

/// Answers with a file's bytes as they are (the file itself or a precompressed sibling):
/// from memory, or through `NamedFile` for what only it implements (ranges, `If-Match`,
/// `If-Unmodified-Since`, `If-Range`) and for files too big to keep.
#[allow(clippy::too_many_arguments)]
async fn answer_file(
    req: &HttpRequest,
    file: File,
    meta: Metadata,
    path: &Path,
    coding: Option<Coding>,
    kind: &FileKind,
    status: StatusCode,
    cache: &BodyCache,
) -> io::Result<HttpResponse> {
    let h = req.headers();
    let needs_named = [
        header::RANGE,
        header::IF_MATCH,
        header::IF_UNMODIFIED_SINCE,
        header::IF_RANGE,
    ]
    .iter()
    .any(|name| h.contains_key(name))
        || meta.len() > MAX_CACHED_FILE;
    if needs_named {
        let mut named = NamedFile::from_file(file, path)?.set_content_type(kind.mime.clone());
        if let Some(coding) = coding {
            named = named.set_content_encoding(match coding {
                Coding::Brotli => ContentEncoding::Brotli,
                _ => ContentEncoding::Gzip,
            });
        }
        return Ok(named_response(named, req, status));
    }
    let stamp = FileStamp::of(&meta);
    let entry = cache.get(path, &file, stamp, Variant::AsIs).await?;
    Ok(MemoryBody {
        kind,
        body: &entry.body,
        etag: entry.stamp.etag(""),
        meta: &meta,
        coding,
        status,
    }
    .respond(req))
}

// `set_status_code` is deprecated in favour of `Responder::customize()`, but only it makes
// `NamedFile` skip the 200-only logic (conditional 304, ranges) for the 404 page.
#[allow(deprecated)]
fn named_response(named: NamedFile, req: &HttpRequest, status: StatusCode) -> HttpResponse {
    named
        .disable_content_disposition()
        .read_mode_threshold(SYNC_READ_BELOW)
        .set_status_code(status)
        .into_response(req)
}

/// A representation held in memory, with the headers `NamedFile` would send for it.
struct MemoryBody<'a> {
    kind: &'a FileKind,
    body: &'a Bytes,
    etag: String,
    meta: &'a Metadata,
    coding: Option<Coding>,
    status: StatusCode,
}

impl MemoryBody<'_> {
    fn respond(self, req: &HttpRequest) -> HttpResponse {
        let mut builder = HttpResponse::build(self.status);
        builder.insert_header((header::CONTENT_TYPE, self.kind.mime.to_string()));
        if let Some(coding) = self.coding {
            builder.insert_header((header::CONTENT_ENCODING, coding.token()));
        }
        // Validators and 304 only for a 200: the 404 page is not a cacheable success.
        if self.status == StatusCode::OK {
            if let Ok(modified) = self.meta.modified() {
                builder.insert_header((header::LAST_MODIFIED, header::HttpDate::from(modified)));
            }
            builder.insert_header((header::ETAG, self.etag.as_str()));
            builder.insert_header((header::ACCEPT_RANGES, "bytes"));
            if precondition_failed(req, &self.etag, self.meta) {
                return builder
                    .status(StatusCode::PRECONDITION_FAILED)
                    .body(actix_web::body::None::new());
            }
            if not_modified(req, &self.etag, self.meta) {
                return builder
                    .status(StatusCode::NOT_MODIFIED)
                    .body(actix_web::body::None::new());
            }
        }
        builder.body(self.body.clone())
    }
}

/// RFC 9110 §13.2.2 steps 1–2, against this representation's validators: `If-Match`
/// (strong comparison, §13.1.1; `*` matches, the representation exists) fails the request
/// when no tag matches; only without it, `If-Unmodified-Since` fails it when the file
/// changed after that date. An unparsable date is ignored (§13.1.4).
fn precondition_failed(req: &HttpRequest, etag: &str, meta: &Metadata) -> bool {
    if let Some(im) = req.headers().get(header::IF_MATCH) {
        let Ok(im) = im.to_str() else {
            return true;
        };
        let strong_match = |tag: &str| tag == "*" || (!etag.starts_with("W/") && tag == etag);
        return !im.split(',').map(str::trim).any(strong_match);
    }
    let since = req
        .headers()
        .get(header::IF_UNMODIFIED_SINCE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<header::HttpDate>().ok());
    match (since, meta.modified()) {
        (Some(since), Ok(modified)) => whole_seconds(modified) > whole_seconds(since.into()),
        _ => false,
    }
}

/// RFC 9110 §13.1.2 / §13.2.2: If-None-Match (weak comparison) takes precedence; only
/// without it is If-Modified-Since evaluated.
fn not_modified(req: &HttpRequest, etag: &str, meta: &Metadata) -> bool {
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
            // HTTP dates have one-second resolution (RFC 9110 §5.6.7).
            whole_seconds(modified) <= whole_seconds(since.into())
        }
        _ => false,
    }
}

/// `Vary: Accept-Encoding` (RFC 9110 §12.5.5) on every answer whose body depends on it.
pub fn add_vary(res: &mut HttpResponse) {
    res.headers_mut()
        .insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
}

/// Seconds since the epoch, for comparisons at the resolution every tool preserves.
fn whole_seconds(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::path_safety::parse;

    fn url_of(r: Resolved) -> String {
        match r {
            Resolved::File(f) => f.url_path,
            Resolved::AddSlash => "AddSlash".into(),
            Resolved::Missing => "Missing".into(),
        }
    }

    fn fixture() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("public");
        std::fs::create_dir_all(root.join("about")).unwrap();
        std::fs::create_dir_all(root.join("empty")).unwrap();
        std::fs::write(root.join("index.html"), "home").unwrap();
        std::fs::write(root.join("about/index.html"), "about").unwrap();
        std::fs::write(dir.path().join("secret.txt"), "secret").unwrap();
        std::os::unix::fs::symlink(dir.path().join("secret.txt"), root.join("leak.txt")).unwrap();
        std::os::unix::fs::symlink("../secret.txt", root.join("rel-leak.txt")).unwrap();
        std::os::unix::fs::symlink("index.html", root.join("alias.html")).unwrap();
        (dir, root)
    }

    fn check(site: &SiteRoot) {
        let r = |p: &str| url_of(site.resolve(&parse(p).unwrap()));
        assert_eq!(r("/"), "/index.html");
        assert_eq!(r("/about/"), "/about/index.html");
        assert_eq!(r("/about"), "AddSlash");
        assert_eq!(r("/empty/"), "Missing");
        assert_eq!(r("/empty"), "Missing");
        assert_eq!(r("/index.html/"), "Missing");
        assert_eq!(r("/nope"), "Missing");
        assert_eq!(r("/leak.txt"), "Missing");
        assert_eq!(r("/rel-leak.txt"), "Missing");
        assert_eq!(r("/alias.html"), "/alias.html");
        assert!(site.fixed_file("/index.html").is_some());
    }

    #[test]
    fn resolves_files_directories_and_refuses_escapes() {
        let (_dir, root) = fixture();
        let site = SiteRoot::open(&root).unwrap();
        check(&site);
    }

    /// Issue 10 point 8: the errors that mean "no openat2 here" select the checked walk;
    /// answers about a path do not.
    #[test]
    fn only_errors_about_the_system_call_disable_openat2() {
        use rustix::io::Errno;
        for e in [Errno::NOSYS, Errno::PERM, Errno::INVAL, Errno::NOTSUP] {
            assert!(openat2_unavailable(e), "{e}");
        }
        for e in [
            Errno::NOENT,
            Errno::XDEV,
            Errno::LOOP,
            Errno::ACCESS,
            Errno::NOTDIR,
        ] {
            assert!(!openat2_unavailable(e), "{e}");
        }
    }

    #[test]
    fn the_probe_result_is_reported_and_selects_the_open_method() {
        let (_dir, root) = fixture();
        let mut site = SiteRoot::open(&root).unwrap();
        assert!(!site.openat2_unavailable(), "openat2 works on this kernel");
        assert_eq!(site.open_method(), "openat2(RESOLVE_BENEATH)");
        // What the startup probe records under a seccomp filter answering EPERM.
        site.probe_failure = Some(rustix::io::Errno::PERM);
        site.openat2.store(false, Ordering::Relaxed);
        assert!(
            site.open_method()
                .starts_with("checked path walk (openat2 unavailable: ")
        );
        check(&site);
    }

    #[test]
    fn the_fallback_without_openat2_refuses_the_same_escapes() {
        let (_dir, root) = fixture();
        let site = SiteRoot::open(&root).unwrap();
        site.openat2.store(false, Ordering::Relaxed);
        check(&site);
    }
}
