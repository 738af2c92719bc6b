//! Request path → list of safe segments under the site root, or a rejection.
//!
//! The raw path is percent-decoded exactly once (RFC 3986 §2.4: decoding twice is how
//! `%252e%252e` turns into `..`), and then checked as bytes:
//!
//! - not valid UTF-8 → 400. This is what rejects overlong encodings such as `%c0%ae`
//!   (RFC 3629 §3 forbids them, and a decoder that accepted them would read `.`);
//! - NUL, other control characters or a backslash (a path separator on some systems) → 400;
//! - a `..` segment → 400, even one that would stay inside the root: nothing a Gatsby build
//!   links to contains one, and refusing is simpler to prove safe than resolving;
//! - a segment that still contains `%XX` after decoding (double encoding) → 400;
//! - a segment starting with `.` (dotfiles, `.git/`, `.env`) → hidden, answered as 404,
//!   except a leading `/.well-known/` (RFC 8615).
//!
//! Empty and `.` segments are dropped (nginx's `merge_slashes` and its `/./` handling).
//! Symlinks are checked where files are opened ([`crate::static_files`]).

use percent_encoding::percent_decode_str;

/// A decoded path that is safe to join to the site root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SitePath {
    /// Decoded, non-empty segments, none of them `.`/`..`/hidden.
    pub segments: Vec<String>,
    /// Whether the request path ended in `/` (a directory request).
    pub trailing_slash: bool,
}

impl SitePath {
    /// The path as served, `/`-joined (used for cache policy and fallback classification).
    pub fn as_url_path(&self) -> String {
        let mut out = String::from("/");
        out.push_str(&self.segments.join("/"));
        if self.trailing_slash && !self.segments.is_empty() {
            out.push('/');
        }
        out
    }

    /// The last segment, if any.
    pub fn file_name(&self) -> Option<&str> {
        self.segments.last().map(String::as_str)
    }
}

/// Why a path is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathRejection {
    /// Malformed or hostile: answered 400.
    #[error("bad request path: {0}")]
    Malformed(&'static str),
    /// A dotfile or dot-directory: answered 404, as if it did not exist.
    #[error("hidden path")]
    Hidden,
}

/// Parses the raw (still percent-encoded) path of a request.
pub fn parse(raw_path: &str) -> Result<SitePath, PathRejection> {
    if !raw_path.starts_with('/') {
        return Err(PathRejection::Malformed("path must start with /"));
    }
    let decoded: Vec<u8> = percent_decode_str(raw_path).collect();
    let decoded = String::from_utf8(decoded)
        .map_err(|_| PathRejection::Malformed("path is not valid UTF-8 once decoded"))?;
    if decoded.chars().any(char::is_control) {
        return Err(PathRejection::Malformed("control character in path"));
    }
    if decoded.contains('\\') {
        return Err(PathRejection::Malformed("backslash in path"));
    }
    let trailing_slash = decoded.ends_with('/');
    let mut segments = Vec::new();
    for segment in decoded.split('/') {
        match segment {
            "" | "." => continue,
            ".." => return Err(PathRejection::Malformed("'..' segment in path")),
            _ => {}
        }
        if has_percent_escape(segment) {
            return Err(PathRejection::Malformed("double percent-encoding in path"));
        }
        if segment.starts_with('.') && !(segments.is_empty() && segment == ".well-known") {
            return Err(PathRejection::Hidden);
        }
        segments.push(segment.to_owned());
    }
    Ok(SitePath {
        segments,
        trailing_slash,
    })
}

/// Whether [`parse`] would accept `raw_path` as it is, with nothing to decode, refuse or
/// hide: it starts with `/` and has no `%`, backslash or control character and no segment
/// starting with `.`. A cheap test for the common case; anything else goes through
/// [`parse`].
pub fn is_plain(raw_path: &str) -> bool {
    raw_path.starts_with('/')
        && !raw_path.contains("/.")
        && !raw_path
            .bytes()
            .any(|b| b == b'%' || b == b'\\' || b.is_ascii_control() || !b.is_ascii())
}

fn has_percent_escape(s: &str) -> bool {
    s.as_bytes()
        .windows(3)
        .any(|w| w[0] == b'%' && w[1].is_ascii_hexdigit() && w[2].is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn malformed(p: &str) {
        assert!(
            matches!(parse(p), Err(PathRejection::Malformed(_))),
            "{p}: {:?}",
            parse(p)
        );
    }

    #[test]
    fn plain_paths_parse() {
        let p = parse("/about/").unwrap();
        assert_eq!(p.segments, ["about"]);
        assert!(p.trailing_slash);
        assert_eq!(p.as_url_path(), "/about/");
        let p = parse("//static//a%20b.png").unwrap();
        assert_eq!(p.segments, ["static", "a b.png"]);
        assert_eq!(parse("/").unwrap().as_url_path(), "/");
        assert_eq!(parse("/./a/./b").unwrap().segments, ["a", "b"]);
    }

    #[test]
    fn traversal_in_every_form_is_malformed() {
        for p in [
            "/../etc/passwd",
            "/a/../../etc/passwd",
            "/%2e%2e/etc/passwd",
            "/%2E%2E/etc/passwd",
            "/.%2e/etc/passwd",
            "/%252e%252e/etc/passwd",
            "/..%2fetc%2fpasswd",
            "/..%5cetc%5cpasswd",
            "/a\\..\\b",
            "/index.html%00.png",
            "/%c0%ae%c0%ae/etc/passwd",
            "/%e0%80%ae%e0%80%ae/etc/passwd",
            "/%ff",
            "relative",
        ] {
            malformed(p);
        }
    }

    /// `is_plain` never says yes where `parse` would refuse, hide or decode.
    #[test]
    fn plain_paths_are_exactly_what_parse_accepts_unchanged() {
        for p in [
            "/",
            "/api/v1/status",
            "/about/",
            "//static//a.png",
            "/app-5c112b16ea0ead33349e.js",
        ] {
            assert!(is_plain(p), "{p}");
            let parsed = parse(p).unwrap();
            assert_eq!(
                parsed.segments.join("/"),
                p.split('/')
                    .filter(|s| !s.is_empty())
                    .collect::<Vec<_>>()
                    .join("/")
            );
        }
        for p in [
            "/../etc/passwd",
            "/a/./b",
            "/.env",
            "/.well-known/x",
            "/a%20b",
            "/%2e%2e/x",
            "/a\\b",
            "/a\u{1}b",
            "/caf\u{e9}",
            "relative",
        ] {
            assert!(!is_plain(p), "{p}");
        }
    }

    #[test]
    fn dotfiles_are_hidden_but_well_known_is_not() {
        assert_eq!(parse("/.env"), Err(PathRejection::Hidden));
        assert_eq!(parse("/.git/config"), Err(PathRejection::Hidden));
        assert_eq!(parse("/static/.secret"), Err(PathRejection::Hidden));
        assert_eq!(parse("/%2egit/config"), Err(PathRejection::Hidden));
        assert_eq!(parse("/a/.well-known/x"), Err(PathRejection::Hidden));
        assert_eq!(
            parse("/.well-known/security.txt").unwrap().segments,
            [".well-known", "security.txt"]
        );
    }
}
