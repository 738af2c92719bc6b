//! The site handler: a pipeline of the static-side modules, top to bottom.
//!
//! method check → [`path_safety`] → [`static_files`] resolve → ([`fallback`] when missing)
//! → representation ([`compression`]) → [`cache_policy`] → [`security_headers`].

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
    content_types,
    fallback::{self, Fallback},
    path_safety::{self, PathRejection, SitePath},
    security_headers::SecurityHeaders,
    static_files::{self, OpenFile, Resolved, SiteRoot},
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

/// Everything the static side needs, shared by all workers.
#[derive(Debug)]
pub struct Site {
    root: SiteRoot,
    fallback: FallbackMode,
    security: SecurityHeaders,
    bodies: BodyCache,
}

impl Site {
    pub fn new(
        root: SiteRoot,
        fallback: FallbackMode,
        csp: Option<&str>,
        bodies: BodyCache,
    ) -> Self {
        Self {
            root,
            fallback,
            security: SecurityHeaders::new(csp),
            bodies,
        }
    }

    /// The in-memory response bodies.
    pub fn bodies(&self) -> &BodyCache {
        &self.bodies
    }

    pub fn root(&self) -> &SiteRoot {
        &self.root
    }
}

/// Handler for every path the probes and the proxy did not take.
pub async fn serve(req: HttpRequest, site: &Site) -> HttpResponse {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return method_not_allowed().await;
    }
    let path = match path_safety::parse(req.uri().path()) {
        Ok(path) => path,
        Err(PathRejection::Malformed(reason)) => return plain(StatusCode::BAD_REQUEST, reason),
        Err(PathRejection::Hidden) => return not_found(),
    };
    match site.root.resolve(&path) {
        Resolved::File(file) => serve_file(&req, site, *file, StatusCode::OK).await,
        Resolved::AddSlash => add_slash(&req, &path),
        Resolved::Missing => match fallback::decide(site.fallback, &path) {
            Fallback::Index => serve_fixed(&req, site, "/index.html", StatusCode::OK).await,
            Fallback::NotFoundPage => {
                serve_fixed(&req, site, "/404.html", StatusCode::NOT_FOUND).await
            }
            Fallback::NotFound => not_found(),
        },
    }
}

async fn serve_fixed(
    req: &HttpRequest,
    site: &Site,
    url_path: &str,
    status: StatusCode,
) -> HttpResponse {
    match site.root.fixed_file(url_path) {
        Some(file) => serve_file(req, site, file, status).await,
        None => not_found(),
    }
}

async fn serve_file(
    req: &HttpRequest,
    site: &Site,
    file: OpenFile,
    status: StatusCode,
) -> HttpResponse {
    let policy = cache_policy::policy_for(&file.url_path);
    let abs = file.abs.clone();
    let served = static_files::respond(req, &site.root, file, status, &site.bodies).await;
    let (mut res, kind) = match served {
        Ok(ok) => ok,
        Err(err) => {
            tracing::error!(file = %abs.display(), error = %err, "cannot read site file");
            return plain(StatusCode::INTERNAL_SERVER_ERROR, "cannot read the file");
        }
    };
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static(policy.header_value()),
    );
    if kind.compressible {
        static_files::add_vary(&mut res);
    }
    site.security
        .apply(&mut res, content_types::is_html(&kind.mime));
    res
}

/// `308` to the same path with a slash, query kept (RFC 9110 §15.4.9: 308 keeps the method).
/// The location is rebuilt from the parsed segments, never copied from the raw path: a raw
/// `//host/dir` would make a protocol-relative location, an open redirect.
fn add_slash(req: &HttpRequest, path: &SitePath) -> HttpResponse {
    let mut location = String::new();
    for segment in &path.segments {
        location.push('/');
        location.extend(utf8_percent_encode(segment, PATH_SEGMENT));
    }
    location.push('/');
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
        .content_type("text/plain; charset=utf-8")
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(format!("{message}\n"))
}
