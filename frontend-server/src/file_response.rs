//! Answering a request with a [`SiteFile`]: the representation (the build's Brotli, then
//! gzip sibling if the client accepts it, else gzip made here, else the file; ranges always
//! get the file), then the answer — from memory ([`crate::body_cache`]) with the header
//! values the `SiteFile` holds, or through actix-files' `NamedFile` for what only it
//! implements (ranges, `If-Match`, `If-Unmodified-Since`, `If-Range`) and for files too
//! big to keep in memory.
//!
//! The in-memory answers evaluate conditional requests against their own validators
//! (`If-Match`, `If-Unmodified-Since` → 412; `If-None-Match`, `If-Modified-Since` → 304),
//! for 200 answers only: the 404 page is not a cacheable success.

use std::{io, sync::Arc, time::SystemTime};

use actix_files::NamedFile;
use actix_web::{
    HttpRequest, HttpResponse,
    body::BoxBody,
    http::{
        Method, StatusCode,
        header::{self, ContentEncoding, HeaderValue},
    },
};
use bytes::Bytes;

use service_kit::direct_body::{self, Tail};

use crate::{
    body_cache::{BodyCache, MAX_CACHED_FILE, Variant},
    compression::{Accepted, Coding},
    site_file::{SiteFile, StoredFile},
    static_files::{SiteRoot, whole_seconds},
};

/// `NamedFile` (ranges, some conditionals, files over [`MAX_CACHED_FILE`]) reads every
/// chunk on the blocking pool: no file read runs on an async worker. (actix-files' default
/// reads files below its threshold on the worker.)
const SYNC_READ_BELOW: u64 = 0;

/// The answer, or word that the file is no longer what the `SiteFile` describes.
#[derive(Debug)]
pub enum Outcome {
    Answer(HttpResponse),
    /// The file changed since it was described: describe it afresh and answer again.
    Stale,
}

/// The request headers that decide the answer, found in one pass over the headers.
#[derive(Debug, Default)]
struct Asked<'a> {
    accept_encoding: Option<&'a str>,
    range: bool,
    if_range: bool,
    if_match: Option<&'a HeaderValue>,
    if_unmodified_since: Option<&'a HeaderValue>,
    if_none_match: Option<&'a HeaderValue>,
    if_modified_since: Option<&'a HeaderValue>,
}

impl<'a> Asked<'a> {
    fn of(req: &'a HttpRequest) -> Self {
        let mut asked = Self::default();
        for (name, value) in req.headers() {
            // The first line of each counts, as `HeaderMap::get` would give it.
            if *name == header::ACCEPT_ENCODING {
                if asked.accept_encoding.is_none() {
                    asked.accept_encoding = value.to_str().ok();
                }
            } else if *name == header::RANGE {
                asked.range = true;
            } else if *name == header::IF_RANGE {
                asked.if_range = true;
            } else if *name == header::IF_MATCH {
                asked.if_match.get_or_insert(value);
            } else if *name == header::IF_UNMODIFIED_SINCE {
                asked.if_unmodified_since.get_or_insert(value);
            } else if *name == header::IF_NONE_MATCH {
                asked.if_none_match.get_or_insert(value);
            } else if *name == header::IF_MODIFIED_SINCE {
                asked.if_modified_since.get_or_insert(value);
            }
        }
        asked
    }

    /// What only `NamedFile` answers.
    fn needs_named(&self) -> bool {
        self.range || self.if_range || self.if_match.is_some() || self.if_unmodified_since.is_some()
    }
}

/// The representation chosen.
enum Chosen<'a> {
    Stored(&'a StoredFile),
    /// Gzip made here, with its validator.
    Gzipped(&'a HeaderValue),
}

/// Bodies at least this large are written by the connection itself, without actix-http's
/// copy into its write buffer ([`service_kit::direct_body`]).
pub const DIRECT_MIN: usize = 16 << 10;

/// Files at least this large are sent from the file with `sendfile(2)` (no copy in user
/// space or in the kernel) and never kept in memory. Measured on the 56 KB Brotli bundle
/// (wrk A/B, loaded VM): 16.0–18.4 µs of server CPU per answer with `sendfile`, 20.3–20.8
/// from memory.
pub const SENDFILE_MIN: u64 = 32 << 10;

/// The body of an answer.
enum Body {
    Memory(Bytes),
    /// An open file of this length, sent with `sendfile`.
    File(Arc<std::fs::File>, u64),
}

/// Answers `req` with `file` (status 200, or 404 for the 404 page).
pub async fn respond(
    req: &HttpRequest,
    root: &SiteRoot,
    bodies: &BodyCache,
    file: &SiteFile,
    status: StatusCode,
) -> io::Result<Outcome> {
    let asked = Asked::of(req);
    let chosen = if file.compressible && !asked.range {
        let accepted = Accepted::from_header(asked.accept_encoding);
        match (&file.brotli, &file.gzip, &file.gzipped_etag) {
            (Some(br), _, _) if accepted.brotli => Chosen::Stored(br),
            (_, Some(gz), _) if accepted.gzip => Chosen::Stored(gz),
            (_, _, Some(etag)) if accepted.gzip => Chosen::Gzipped(etag),
            _ => Chosen::Stored(&file.identity),
        }
    } else {
        Chosen::Stored(&file.identity)
    };
    let head = req.method() == Method::HEAD;
    let (stored, variant, etag) = match chosen {
        Chosen::Gzipped(etag) => (&file.identity, Variant::Gzipped, etag),
        Chosen::Stored(stored) => {
            let big = stored.stamp.len > MAX_CACHED_FILE;
            if asked.needs_named() || (big && (head || !direct_body::available(req))) {
                let Some(opened) = SiteFile::reopen(root, stored) else {
                    return Ok(Outcome::Stale);
                };
                return Ok(Outcome::Answer(named(req, file, stored, opened, status)?));
            }
            if !head && stored.stamp.len >= SENDFILE_MIN && direct_body::available(req) {
                let opened = match &stored.held {
                    Some(held) => Arc::clone(&held.file),
                    None => match SiteFile::reopen(root, stored) {
                        Some(opened) => Arc::new(opened),
                        None => return Ok(Outcome::Stale),
                    },
                };
                let body = Body::File(opened, stored.stamp.len);
                return Ok(Outcome::Answer(answer(
                    req,
                    &asked,
                    file,
                    status,
                    stored.coding,
                    &stored.etag,
                    body,
                )));
            }
            (stored, Variant::AsIs, &stored.etag)
        }
    };
    let cached = match bodies.lookup(&stored.abs, variant, stored.stamp) {
        Some(hit) => hit,
        None => {
            let Some(opened) = SiteFile::reopen(root, stored) else {
                return Ok(Outcome::Stale);
            };
            bodies
                .load(&stored.abs, &opened, stored.stamp, variant)
                .await?
        }
    };
    let coding = match variant {
        Variant::Gzipped => Some(Coding::Gzip),
        Variant::AsIs => stored.coding,
    };
    Ok(Outcome::Answer(answer(
        req,
        &asked,
        file,
        status,
        coding,
        etag,
        Body::Memory(cached.body.clone()),
    )))
}

/// An answer with the header values the `SiteFile` holds.
fn answer(
    req: &HttpRequest,
    asked: &Asked<'_>,
    file: &SiteFile,
    status: StatusCode,
    coding: Option<Coding>,
    etag: &HeaderValue,
    body: Body,
) -> HttpResponse {
    let validators = status == StatusCode::OK;
    let answer = if !validators {
        status
    } else if precondition_failed(asked, etag, file.modified) {
        StatusCode::PRECONDITION_FAILED
    } else if not_modified(asked, etag, file.modified) {
        StatusCode::NOT_MODIFIED
    } else {
        status
    };
    let mut res = HttpResponse::with_body(answer, ());
    let headers = res.headers_mut();
    for (name, value) in &file.headers {
        headers.insert(name.clone(), value.clone());
    }
    if let Some(coding) = coding {
        headers.insert(
            header::CONTENT_ENCODING,
            HeaderValue::from_static(coding.token()),
        );
    }
    if validators {
        headers.insert(header::LAST_MODIFIED, file.last_modified.clone());
        headers.insert(header::ETAG, etag.clone());
        headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    }
    if answer != status {
        return res
            .set_body(actix_web::body::None::new())
            .map_into_boxed_body();
    }
    let tail = match body {
        Body::Memory(bytes) if bytes.len() < DIRECT_MIN || req.method() == Method::HEAD => {
            return res.set_body(BoxBody::new(bytes));
        }
        Body::Memory(bytes) => Tail::Memory(bytes),
        Body::File(opened, len) => Tail::File {
            file: opened,
            offset: 0,
            len,
        },
    };
    match direct_body::attach(req, res, tail) {
        Ok(res) => res.map_into_boxed_body(),
        Err((res, Tail::Memory(bytes))) => res.set_body(BoxBody::new(bytes)),
        // Files are sent this way only where the connection can (checked before opening).
        Err((_, Tail::File { .. })) => {
            tracing::error!("a file body was prepared for a connection that cannot send it");
            HttpResponse::InternalServerError().finish()
        }
    }
}

/// An answer through actix-files, with the `SiteFile`'s header values on top.
// `set_status_code` is deprecated in favour of `Responder::customize()`, but only it makes
// `NamedFile` skip the 200-only logic (conditional 304, ranges) for the 404 page.
#[allow(deprecated)]
fn named(
    req: &HttpRequest,
    file: &SiteFile,
    stored: &StoredFile,
    opened: std::fs::File,
    status: StatusCode,
) -> io::Result<HttpResponse> {
    let mut named = NamedFile::from_file(opened, &stored.abs)?.set_content_type(file.mime.clone());
    if let Some(coding) = stored.coding {
        named = named.set_content_encoding(match coding {
            Coding::Brotli => ContentEncoding::Brotli,
            _ => ContentEncoding::Gzip,
        });
    }
    let mut res = named
        .disable_content_disposition()
        .read_mode_threshold(SYNC_READ_BELOW)
        .set_status_code(status)
        .into_response(req);
    let headers = res.headers_mut();
    for (name, value) in &file.headers {
        headers.insert(name.clone(), value.clone());
    }
    Ok(res)
}

/// RFC 9110 §13.2.2 steps 1–2, against this representation's validators: `If-Match`
/// (strong comparison, §13.1.1; `*` matches, the representation exists) fails the request
/// when no tag matches; only without it, `If-Unmodified-Since` fails it when the file
/// changed after that date. An unparsable date is ignored (§13.1.4).
fn precondition_failed(asked: &Asked<'_>, etag: &HeaderValue, modified: SystemTime) -> bool {
    let etag = etag.to_str().unwrap_or_default();
    if let Some(im) = asked.if_match {
        let Ok(im) = im.to_str() else {
            return true;
        };
        let strong_match = |tag: &str| tag == "*" || (!etag.starts_with("W/") && tag == etag);
        return !im.split(',').map(str::trim).any(strong_match);
    }
    match http_date(asked.if_unmodified_since) {
        Some(since) => whole_seconds(modified) > whole_seconds(since),
        None => false,
    }
}

/// RFC 9110 §13.1.2 / §13.2.2: If-None-Match (weak comparison) takes precedence; only
/// without it is If-Modified-Since evaluated.
fn not_modified(asked: &Asked<'_>, etag: &HeaderValue, modified: SystemTime) -> bool {
    if let Some(inm) = asked.if_none_match {
        let Ok(inm) = inm.to_str() else {
            return false;
        };
        let ours = etag.to_str().unwrap_or_default().trim_start_matches("W/");
        return inm
            .split(',')
            .map(str::trim)
            .any(|tag| tag == "*" || tag.trim_start_matches("W/") == ours);
    }
    // HTTP dates have one-second resolution (RFC 9110 §5.6.7).
    match http_date(asked.if_modified_since) {
        Some(since) => whole_seconds(modified) <= whole_seconds(since),
        None => false,
    }
}

fn http_date(value: Option<&HeaderValue>) -> Option<SystemTime> {
    value
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<header::HttpDate>().ok())
        .map(SystemTime::from)
}
