//! Content-coding negotiation and the on-the-fly gzip cache.
//!
//! Order of preference for a compressible file, when the client accepts the coding:
//! 1. a precompressed sibling written by the site build (`app.js.br`, then `app.js.gz`),
//!    if it is at least as new as the file itself (a stale sibling is never served);
//! 2. gzip made on first request and kept in memory ([`crate::body_cache`]), for files of at
//!    least [`MIN_COMPRESS_BYTES`] (nginx's `gzip_min_length 1024` of the seed);
//! 3. the identity body.
//!
//! Measured here (zlib and Brotli C libraries via node, a 300 KB JS bundle made of the
//! site's own JS, loaded 2-core box): Brotli quality 11 took 554 ms (56 KB out), far too slow
//! for a request, so Brotli comes only from the build; gzip level 6 took 7 ms (99 KB), done
//! once per file and cached; nginx's per-request gzip level 1
//! took 3 ms (112 KB) on every hit.
//!
//! Range requests always get the identity body: a byte range of a compressed stream is
//! useless to a client that cannot decode from the middle (RFC 9110 §14.1.2 ranges apply
//! to the selected representation; we select identity).

use std::io::{self, Write as _};

use bytes::Bytes;

/// Files smaller than this are sent as they are: the gzip header and the round trip of a
/// tiny body cost more than they save.
pub const MIN_COMPRESS_BYTES: u64 = 1024;

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
}
