//! The site handler: a pipeline of the static-side modules, top to bottom.
//!
//! method check → ([`path_cache`] hit while the [`site_watch`] generation holds) →
//! [`path_safety`] → [`static_files`] resolve → ([`fallback`] when missing) → [`site_file`]
//! (representations, [`cache_policy`], [`security_headers`]) → [`file_response`]
//! ([`compression`] choice, body from [`body_cache`] or actix-files).
//!
//! [`path_cache`]: crate::path_cache
//! [`site_watch`]: crate::site_watch
//! [`static_files`]: crate::static_files
//! [`site_file`]: crate::site_file
//! [`cache_policy`]: crate::cache_policy
//! [`security_headers`]: crate::security_headers
//! [`file_response`]: crate::file_response
//! [`compression`]: crate::compression
//! [`body_cache`]: crate::body_cache

use std::sync::Arc;

use actix_web::{
    HttpRequest, HttpResponse,
    http::{Method, StatusCode, header},
};
use service_kit::probes::method_not_allowed;

use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};

use crate::{
    body_cache::BodyCache,
    cache_policy,
    config::FallbackMode,
    fallback::{self, Fallback},
    file_response::{self, Outcome},
    path_cache::{PathCache, Target},
    path_safety::{self, PathRejection, SitePath},
    security_headers::SecurityHeaders,
    site_file::SiteFile,
    site_watch::SiteWatch,
    static_files::{OpenFile, Resolved, SiteRoot},
};

/// Characters escaped in a path segment of a `Location` (RFC 3986 §3.3 `pchar` keeps the
/// rest).
const PATH_SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'\\')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

/// Descriptions of a file that keep going stale while being answered (the file changes
/// faster than it is read) give up after this many attempts.
const ATTEMPTS: usize = 3;

/// Everything the static side needs, shared by all workers.
#[derive(Debug)]
pub struct Site {
    root: SiteRoot,
    fallback: FallbackMode,
    security: SecurityHeaders,
    bodies: BodyCache,
    paths: PathCache,
    watch: SiteWatch,
}

impl Site {
    pub fn new(
        root: SiteRoot,
        fallback: FallbackMode,
        csp: Option<&str>,
        bodies: BodyCache,
    ) -> Self {
        let watch = SiteWatch::start(root.path());
        Self::with_watch(root, fallback, csp, bodies, watch)
    }

    /// [`Self::new`] with a given watch (tests run without one).
    pub fn with_watch(
        root: SiteRoot,
        fallback: FallbackMode,
        csp: Option<&str>,
        bodies: BodyCache,
        watch: SiteWatch,
    ) -> Self {
        Self {
            root,
            fallback,
            security: SecurityHeaders::new(csp),
            bodies,
            paths: PathCache::default(),
            watch,
        }
    }

    /// The in-memory response bodies.
    pub fn bodies(&self) -> &BodyCache {
        &self.bodies
    }

    /// What request paths resolved to.
    pub fn paths(&self) -> &PathCache {
        &self.paths
    }

    pub fn root(&self) -> &SiteRoot {
        &self.root
    }

    pub fn watch(&self) -> &SiteWatch {
        &self.watch
    }
}

/// What a request path answers, before it is known whether it can be remembered.
enum Resolution {
    Target(Target),
    /// Malformed or hostile: 400, never remembered (cheap to find again).
    BadRequest(&'static str),
}

/// Handler for every path the probes and the proxy did not take.
pub async fn serve(req: HttpRequest, site: &Site) -> HttpResponse {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return method_not_allowed().await;
    }
    let raw = req.uri().path();
    for _ in 0..ATTEMPTS {
        // Read before resolving: a change during the resolution makes what it finds stale
        // at once.
        let generation = site.watch.generation();
        let remembered = generation.and_then(|g| site.paths.get(raw, g));
        let target = match remembered {
            Some(target) => target,
            None => match resolve(site, raw) {
                Resolution::BadRequest(reason) => {
                    return plain(StatusCode::BAD_REQUEST, reason);
                }
                Resolution::Target(target) => {
                    if let Some(g) = generation {
                        site.paths.insert(raw, g, target.clone());
                    }
                    target
                }
            },
        };
        let (file, status) = match target {
            Target::File { file, status } => (file, status),
            Target::AddSlash { location } => return add_slash(&req, &location),
            Target::NotFound => return not_found(),
        };
        match file_response::respond(&req, &site.root, &site.bodies, &file, status).await {
            Ok(Outcome::Answer(res)) => return res,
            // Changed under the description (a change the watch has not reported yet):
            // forget it and resolve again.
            Ok(Outcome::Stale) => site.paths.remove(raw),
            Err(err) => {
                tracing::error!(file = %file.identity.abs.display(), error = %err, "cannot read site file");
                return plain(StatusCode::INTERNAL_SERVER_ERROR, "cannot read the file");
            }
        }
    }
    tracing::warn!(path = raw, "site file kept changing while being answered");
    plain(
        StatusCode::SERVICE_UNAVAILABLE,
        "the file is changing; try again",
    )
}

/// Finds what `raw` answers on disk.
fn resolve(site: &Site, raw: &str) -> Resolution {
    let path = match path_safety::parse(raw) {
        Ok(path) => path,
        Err(PathRejection::Malformed(reason)) => return Resolution::BadRequest(reason),
        Err(PathRejection::Hidden) => return Resolution::Target(Target::NotFound),
    };
    let target = match site.root.resolve(&path) {
        Resolved::File(file) => file_target(site, *file, StatusCode::OK),
        Resolved::AddSlash => Target::AddSlash {
            location: slash_location(&path).into(),
        },
        Resolved::Missing => match fallback::decide(site.fallback, &path) {
            Fallback::Index => fixed(site, "/index.html", StatusCode::OK),
            Fallback::NotFoundPage => fixed(site, "/404.html", StatusCode::NOT_FOUND),
            Fallback::NotFound => Target::NotFound,
        },
    };
    Resolution::Target(target)
}

fn fixed(site: &Site, url_path: &str, status: StatusCode) -> Target {
    match site.root.fixed_file(url_path) {
        Some(file) => file_target(site, file, status),
        None => Target::NotFound,
    }
}

fn file_target(site: &Site, file: OpenFile, status: StatusCode) -> Target {
    Target::File {
        file: Arc::new(SiteFile::new(&site.root, file, &site.security)),
        status,
    }
}

/// The path of a `308` to the same path with a slash. Rebuilt from the parsed segments,
/// never copied from the raw path: a raw `//host/dir` would make a protocol-relative
/// location, an open redirect.
fn slash_location(path: &SitePath) -> String {
    let mut location = String::new();
    for segment in &path.segments {
        location.push('/');
        location.extend(utf8_percent_encode(segment, PATH_SEGMENT));
    }
    location.push('/');
    location
}

/// `308` to the same path with a slash, query kept (RFC 9110 §15.4.9: 308 keeps the method).
fn add_slash(req: &HttpRequest, location: &str) -> HttpResponse {
    let mut location = location.to_owned();
    if let Some(query) = req.uri().query() {
        location.push('?');
        location.push_str(query);
    }
    HttpResponse::PermanentRedirect()
        .insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, cache_policy::DEFAULT.header_value()))
        .finish()
}

fn not_found() -> HttpResponse {
    let mut res = plain(StatusCode::NOT_FOUND, "not found");
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static(cache_policy::MISSING.header_value()),
    );
    res
}

fn plain(status: StatusCode, message: &str) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CONTENT_TYPE, service_kit::content_type::TEXT_PLAIN))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(format!("{message}\n"))
}
