//! One servable site file and everything needed to answer for it without touching the
//! disk again: its version ([`FileStamp`]), its representations (the file, the build's fresh
//! `.br`/`.gz` siblings, gzip made here) with their validators, and the header values every
//! answer for it carries (type, cache policy, `Vary`, security headers, `Last-Modified`,
//! `ETag`s), formatted once.
//!
//! A `SiteFile` describes the file as it was when it was opened. While the site watch's
//! generation is unchanged ([`crate::site_watch`]) that is still true; when a body must
//! be read after all, the file is opened again and its stamp compared
//! ([`SiteFile::reopen`]), so a file changed under a stale description is never mixed
//! with it.

use std::{
    fs::File,
    path::PathBuf,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{SystemTime, UNIX_EPOCH},
};

use actix_web::http::header::{self, HeaderName, HeaderValue, HttpDate, TryIntoHeaderValue};
use mime_guess::mime::Mime;

use crate::{
    body_cache::{FileStamp, MAX_CACHED_FILE},
    cache_policy,
    compression::{Coding, MIN_COMPRESS_BYTES},
    content_types,
    security_headers::SecurityHeaders,
    static_files::{OpenFile, SiteRoot},
};

/// Most descriptors of large files kept open by descriptions (see [`HeldFile`]).
pub const MAX_HELD_FILES: usize = 256;

/// An open descriptor kept by a description of a large file, so that each answer sends it
/// with `sendfile` without opening it again. At most [`MAX_HELD_FILES`] at a time in the
/// process; beyond that a description holds none and its answers open the file. (A
/// description that is out of date but not evicted yet may keep a deleted file's space
/// until it goes: at most that many files.)
#[derive(Debug)]
pub struct HeldFile {
    pub file: Arc<File>,
}

static HELD_FILES: AtomicUsize = AtomicUsize::new(0);

impl HeldFile {
    fn try_hold(file: File) -> Option<Self> {
        if HELD_FILES.fetch_add(1, Ordering::AcqRel) >= MAX_HELD_FILES {
            HELD_FILES.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        Some(Self {
            file: Arc::new(file),
        })
    }

    /// Descriptors held in the process now.
    pub fn count() -> usize {
        HELD_FILES.load(Ordering::Acquire)
    }
}

impl Drop for HeldFile {
    fn drop(&mut self) {
        HELD_FILES.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A representation stored as a file: the file itself or a precompressed sibling.
#[derive(Debug)]
pub struct StoredFile {
    /// Relative to the root (reopened beneath it).
    pub rel: PathBuf,
    /// Absolute (body cache key, `NamedFile`).
    pub abs: PathBuf,
    pub stamp: FileStamp,
    /// `None` for the file itself.
    pub coding: Option<Coding>,
    pub etag: HeaderValue,
    /// The open file, for files sent with `sendfile` (when one could be held).
    pub held: Option<HeldFile>,
}

/// Keeps `file` open when it is sent with `sendfile`.
fn hold_if_large(file: File, stamp: &FileStamp) -> Option<HeldFile> {
    (stamp.len >= crate::file_response::SENDFILE_MIN)
        .then(|| HeldFile::try_hold(file))
        .flatten()
}

/// The file, as described above.
#[derive(Debug)]
pub struct SiteFile {
    /// The file's own bytes.
    pub identity: StoredFile,
    /// The build's Brotli sibling, if present and at least as new as the file.
    pub brotli: Option<StoredFile>,
    /// The build's gzip sibling, likewise.
    pub gzip: Option<StoredFile>,
    /// Validator of the gzip made here, when the file can have one (compressible text of
    /// at least [`MIN_COMPRESS_BYTES`], at most [`MAX_CACHED_FILE`]).
    pub gzipped_etag: Option<HeaderValue>,
    pub modified: SystemTime,
    /// For `NamedFile` answers (ranges and the like).
    pub mime: Mime,
    pub compressible: bool,
    /// Every answer for the file: type, cache policy, `Vary` (compressible types), security
    /// headers.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// `Last-Modified`, sent with 200/304 answers.
    pub last_modified: HeaderValue,
}

impl SiteFile {
    /// Describes `file`, opening its siblings to see which are fresh.
    pub fn new(root: &SiteRoot, file: OpenFile, security: &SecurityHeaders) -> Self {
        let kind = content_types::kind_of(&file.abs);
        let stamp = FileStamp::of(&file.meta);
        let html = content_types::is_html(&kind.mime);
        let mut headers = Vec::with_capacity(8);
        headers.push((
            header::CONTENT_TYPE,
            HeaderValue::from_str(kind.mime.as_ref())
                .unwrap_or(HeaderValue::from_static("application/octet-stream")),
        ));
        headers.push((
            header::CACHE_CONTROL,
            HeaderValue::from_static(cache_policy::policy_for(&file.url_path).header_value()),
        ));
        if kind.compressible {
            // RFC 9110 §12.5.5: the body depends on Accept-Encoding.
            headers.push((header::VARY, HeaderValue::from_static("Accept-Encoding")));
        }
        headers.extend(security.for_file(html));
        let sibling = |coding: Coding| {
            if !kind.compressible {
                return None;
            }
            let (sibling, meta, rel, abs) = root.fresh_sibling(&file, coding)?;
            let stamp = FileStamp::of(&meta);
            Some(StoredFile {
                etag: etag_value(&stamp, ""),
                held: hold_if_large(sibling, &stamp),
                rel,
                abs,
                stamp,
                coding: Some(coding),
            })
        };
        let brotli = sibling(Coding::Brotli);
        let gzip = sibling(Coding::Gzip);
        if stamp.len >= crate::file_response::SENDFILE_MIN {
            // Sent with sendfile from the worker thread: start reading it into the page
            // cache now (asynchronously), so a cold first answer waits as little as possible.
            let _ = rustix::fs::fadvise(&file.file, 0, None, rustix::fs::Advice::WillNeed);
        }
        let gzipped_etag = (kind.compressible
            && (MIN_COMPRESS_BYTES..=MAX_CACHED_FILE).contains(&stamp.len))
        .then(|| etag_value(&stamp, "-gz"));
        let modified = file.meta.modified().unwrap_or(UNIX_EPOCH);
        let last_modified = HttpDate::from(modified)
            .try_into_value()
            .unwrap_or(HeaderValue::from_static(""));
        Self {
            identity: StoredFile {
                etag: etag_value(&stamp, ""),
                held: hold_if_large(file.file, &stamp),
                rel: file.rel,
                abs: file.abs,
                stamp,
                coding: None,
            },
            brotli,
            gzip,
            gzipped_etag,
            modified,
            mime: kind.mime,
            compressible: kind.compressible,
            headers,
            last_modified,
        }
    }

    /// Opens `stored` again; `None` when it is gone or no longer the version described
    /// (the caller then describes the file afresh).
    pub fn reopen(root: &SiteRoot, stored: &StoredFile) -> Option<File> {
        let (file, meta) = root.open_beneath(&stored.rel)?;
        (meta.is_file() && FileStamp::of(&meta) == stored.stamp).then_some(file)
    }

    /// Rough bytes held, for the cache budget.
    pub fn weight(&self) -> usize {
        let stored =
            |s: &StoredFile| s.rel.as_os_str().len() + s.abs.as_os_str().len() + s.etag.len() + 96;
        let siblings: usize = [&self.brotli, &self.gzip]
            .into_iter()
            .flatten()
            .map(stored)
            .sum();
        let headers: usize = self
            .headers
            .iter()
            .map(|(n, v)| n.as_str().len() + v.len() + 48)
            .sum();
        256 + stored(&self.identity) + siblings + headers
    }
}

fn etag_value(stamp: &FileStamp, suffix: &str) -> HeaderValue {
    // Hex digits, colons, quotes and an ASCII suffix: always a valid header value.
    HeaderValue::from_str(&stamp.etag(suffix)).unwrap_or(HeaderValue::from_static("\"\""))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn held_descriptors_are_bounded_and_released() {
        let file = tempfile::tempfile().unwrap();
        let held: Vec<HeldFile> = (0..MAX_HELD_FILES + 10)
            .filter_map(|_| HeldFile::try_hold(file.try_clone().unwrap()))
            .collect();
        assert_eq!(held.len(), MAX_HELD_FILES);
        assert_eq!(HeldFile::count(), MAX_HELD_FILES);
        drop(held);
        assert_eq!(HeldFile::count(), 0);
    }
}
