//! Content-coding negotiation and the on-the-fly gzip cache.
//!
//! Order of preference for a compressible file, when the client accepts the coding:
//! 1. a precompressed sibling written by the site build (`app.js.br`, then `app.js.gz`),
//!    if it is at least as new as the file itself (a stale sibling is never served);
//! 2. gzip made on first request and kept in memory, for files of at least
//!    [`MIN_COMPRESS_BYTES`] (nginx's `gzip_min_length 1024` of the seed);
//! 3. the identity body.
//!
//! Measured here (zlib and Brotli C libraries via node, a 300 KB JS bundle made of the
//! site's own JS, loaded 2-core box): Brotli quality 11 took 554 ms (56 KB out), far too slow
//! for a request, so Brotli comes only from the build; gzip level 6 took 7 ms (99 KB), done
//! once per file and cached (bounded, see [`GzipCache`]); nginx's per-request gzip level 1
//! took 3 ms (112 KB) on every hit.
//!
//! Range requests always get the identity body: a byte range of a compressed stream is
//! useless to a client that cannot decode from the middle (RFC 9110 §14.1.2 ranges apply
//! to the selected representation; we select identity).

use std::{
    collections::HashMap,
    io::{self, Write as _},
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
    time::SystemTime,
};

use bytes::Bytes;

/// Files smaller than this are sent as they are: the gzip header and the round trip of a
/// tiny body cost more than they save.
pub const MIN_COMPRESS_BYTES: u64 = 1024;

/// Most memory the on-the-fly gzip cache may hold; past it, new files are still compressed
/// per request but not kept. A Gatsby build is a few MB; this bounds a surprise.
pub const DEFAULT_CACHE_BUDGET: usize = 64 << 20;

/// A content coding we can answer with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    Brotli,
    Gzip,
    Identity,
}

impl Coding {
    /// The token used in `Content-Encoding` and in sibling file suffixes.
    pub fn token(self) -> &'static str {
        match self {
            Self::Brotli => "br",
            Self::Gzip => "gzip",
            Self::Identity => "identity",
        }
    }

    /// Extension of the precompressed sibling file.
    pub fn sibling_suffix(self) -> Option<&'static str> {
        match self {
            Self::Brotli => Some("br"),
            Self::Gzip => Some("gz"),
            Self::Identity => None,
        }
    }
}

/// The codings a client accepts, from its `Accept-Encoding` (RFC 9110 §12.5.3).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Accepted {
    pub brotli: bool,
    pub gzip: bool,
}

impl Accepted {
    /// Parses the header; a missing header accepts nothing but identity (we do not apply
    /// §12.5.3's "any coding" reading of an absent header: proxies and old clients rely on
    /// getting identity then, as nginx does).
    pub fn from_header(value: Option<&str>) -> Self {
        let Some(value) = value else {
            return Self::default();
        };
        let (mut br, mut gz, mut star) = (None, None, None);
        for item in value.split(',') {
            let mut parts = item.split(';');
            let coding = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let mut q = 1.0_f32;
            for param in parts {
                if let Some((k, v)) = param.split_once('=')
                    && k.trim().eq_ignore_ascii_case("q")
                {
                    q = v.trim().parse().unwrap_or(0.0);
                }
            }
            match coding.as_str() {
                "br" => br = Some(q),
                "gzip" | "x-gzip" => gz = Some(q),
                "*" => star = Some(q),
                _ => {}
            }
        }
        let ok = |explicit: Option<f32>| explicit.or(star).is_some_and(|q| q > 0.0);
        Self {
            brotli: ok(br),
            gzip: ok(gz),
        }
    }

    /// Whether `coding` is acceptable.
    pub fn accepts(self, coding: Coding) -> bool {
        match coding {
            Coding::Brotli => self.brotli,
            Coding::Gzip => self.gzip,
            Coding::Identity => true,
        }
    }
}

/// What identifies one version of a file on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStamp {
    pub len: u64,
    pub modified: SystemTime,
    pub inode: u64,
}

impl FileStamp {
    pub fn of(meta: &std::fs::Metadata) -> Self {
        use std::os::unix::fs::MetadataExt as _;
        Self {
            len: meta.len(),
            modified: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
            inode: meta.ino(),
        }
    }

    /// A strong validator for the gzip representation of this version: distinct from the
    /// identity ETag, as RFC 9110 §8.8.3 requires for different content codings.
    pub fn gzip_etag(&self) -> String {
        let since = self
            .modified
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default();
        format!(
            "\"{:x}:{:x}:{:x}:{:x}-gz\"",
            self.inode,
            self.len,
            since.as_secs(),
            since.subsec_nanos()
        )
    }
}

/// One compressed file.
#[derive(Debug)]
pub struct GzipEntry {
    pub stamp: FileStamp,
    pub body: Bytes,
}

/// Gzip bodies made on first request, keyed by file path and checked against the file's
/// stamp on every hit (a rebuilt site is recompressed, never served stale).
#[derive(Debug)]
pub struct GzipCache {
    entries: Mutex<HashMap<PathBuf, Arc<GzipEntry>>>,
    budget: usize,
}

impl GzipCache {
    pub fn new(budget: usize) -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
            budget,
        }
    }

    /// The gzip body of `path` (opened as `file`) at version `stamp`, compressing it on the
    /// blocking pool if no current entry exists.
    pub async fn get(
        &self,
        path: &Path,
        file: &std::fs::File,
        stamp: FileStamp,
    ) -> io::Result<Arc<GzipEntry>> {
        if let Some(hit) = self.lookup(path, stamp) {
            return Ok(hit);
        }
        // Compress from the file already opened (and checked to be inside the root).
        let file = file.try_clone()?;
        let body = actix_web::web::block(move || gzip_reader(file))
            .await
            .map_err(io::Error::other)??;
        let entry = Arc::new(GzipEntry { stamp, body });
        self.store(path, Arc::clone(&entry));
        Ok(entry)
    }

    fn lookup(&self, path: &Path, stamp: FileStamp) -> Option<Arc<GzipEntry>> {
        let entries = self.entries.lock().ok()?;
        entries
            .get(path)
            .filter(|e| e.stamp == stamp)
            .map(Arc::clone)
    }

    fn store(&self, path: &Path, entry: Arc<GzipEntry>) {
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        let used: usize = entries
            .iter()
            .filter(|(p, _)| p.as_path() != path)
            .map(|(_, e)| e.body.len())
            .sum();
        if used + entry.body.len() <= self.budget {
            entries.insert(path.to_owned(), entry);
        } else {
            // Over budget: drop any stale entry for this path, keep the rest.
            entries.remove(path);
        }
    }
}

/// Gzip level 6 (zlib's default): within a few percent of level 9 on JS/HTML at a third of
/// the time. The gzip header carries no name and mtime 0, so output is deterministic.
pub fn gzip_reader(mut file: impl io::Read) -> io::Result<Bytes> {
    let mut input = Vec::new();
    file.read_to_end(&mut input)?;
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(input.len() / 3),
        flate2::Compression::new(6),
    );
    encoder.write_all(&input)?;
    Ok(Bytes::from(encoder.finish()?))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::io::Read as _;

    use super::*;

    #[test]
    fn accept_encoding_parsing() {
        let a = Accepted::from_header(Some("gzip, deflate, br, zstd"));
        assert!(a.brotli && a.gzip);
        let a = Accepted::from_header(Some("gzip;q=1.0, br;q=0"));
        assert!(a.gzip && !a.brotli);
        let a = Accepted::from_header(Some("*"));
        assert!(a.gzip && a.brotli);
        let a = Accepted::from_header(Some("*;q=0, x-gzip"));
        assert!(a.gzip && !a.brotli);
        let a = Accepted::from_header(Some("identity"));
        assert!(!a.gzip && !a.brotli);
        assert_eq!(Accepted::from_header(None), Accepted::default());
        let a = Accepted::from_header(Some("BR;Q=0.5"));
        assert!(a.brotli);
    }

    #[test]
    fn gzip_round_trips_and_is_deterministic() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.js");
        let text = "function f(){return 1}\n".repeat(200);
        std::fs::write(&file, &text).unwrap();
        let a = gzip_reader(std::fs::File::open(&file).unwrap()).unwrap();
        let b = gzip_reader(std::fs::File::open(&file).unwrap()).unwrap();
        assert_eq!(a, b);
        assert!(a.len() < text.len() / 5);
        let mut out = String::new();
        flate2::read::GzDecoder::new(&a[..])
            .read_to_string(&mut out)
            .unwrap();
        assert_eq!(out, text);
    }

    #[test]
    fn cache_respects_budget_and_stamps() {
        let cache = GzipCache::new(10);
        let stamp = FileStamp {
            len: 1,
            modified: SystemTime::UNIX_EPOCH,
            inode: 1,
        };
        let small = Arc::new(GzipEntry {
            stamp,
            body: Bytes::from_static(b"12345"),
        });
        cache.store(Path::new("/a"), small);
        assert!(cache.lookup(Path::new("/a"), stamp).is_some());
        let other = FileStamp { len: 2, ..stamp };
        assert!(cache.lookup(Path::new("/a"), other).is_none());
        let big = Arc::new(GzipEntry {
            stamp,
            body: Bytes::from_static(b"123456789"),
        });
        cache.store(Path::new("/b"), big);
        assert!(cache.lookup(Path::new("/b"), stamp).is_none());
    }
}
