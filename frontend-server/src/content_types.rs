//! File extension → `Content-Type` and whether the type is worth compressing: one table.
//!
//! The table wins over `mime_guess` for the types a Gatsby build produces, because the
//! registry's answers are what browsers check: JavaScript is `text/javascript` (RFC 9239
//! §6 obsoletes `application/javascript`), web manifests are `application/manifest+json`
//! (W3C Web App Manifest), fonts use the `font/*` tree (RFC 8081). Anything else falls back
//! to `mime_guess`, then `application/octet-stream`.
//!
//! "Compressible" is the list of text formats; images, fonts, archives and media are
//! already compressed, and compressing them again costs CPU for nothing (woff2 is Brotli
//! inside, avif/webp/png/jpeg are compressed bitmaps).

use std::path::Path;

use mime_guess::mime;

/// How a file is labelled and whether it is compressed for clients that accept it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileKind {
    pub mime: mime::Mime,
    pub compressible: bool,
}

/// Extension (lower case) → (Content-Type, compressible).
pub const TABLE: &[(&str, &str, bool)] = &[
    ("html", "text/html; charset=utf-8", true),
    ("htm", "text/html; charset=utf-8", true),
    ("js", "text/javascript; charset=utf-8", true),
    ("mjs", "text/javascript; charset=utf-8", true),
    ("css", "text/css; charset=utf-8", true),
    ("json", "application/json", true),
    ("map", "application/json", true),
    ("webmanifest", "application/manifest+json", true),
    ("txt", "text/plain; charset=utf-8", true),
    ("xml", "application/xml", true),
    ("svg", "image/svg+xml", true),
    ("wasm", "application/wasm", true),
    // Icons are images: never compressed (compression is for text types only),
    // whatever the bitmaps inside an .ico look like.
    ("ico", "image/x-icon", false),
    ("woff2", "font/woff2", false),
    ("woff", "font/woff", false),
    ("ttf", "font/ttf", false),
    ("otf", "font/otf", false),
    ("avif", "image/avif", false),
    ("webp", "image/webp", false),
    ("png", "image/png", false),
    ("jpg", "image/jpeg", false),
    ("jpeg", "image/jpeg", false),
    ("gif", "image/gif", false),
    ("mp4", "video/mp4", false),
    ("webm", "video/webm", false),
    ("pdf", "application/pdf", false),
    ("zip", "application/zip", false),
    ("gz", "application/gzip", false),
    ("br", "application/octet-stream", false),
];

/// The kind of the file at `path`, by extension.
pub fn kind_of(path: &Path) -> FileKind {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    if let Some((_, mime, compressible)) = TABLE.iter().find(|(e, _, _)| *e == ext)
        && let Ok(mime) = mime.parse()
    {
        return FileKind {
            mime,
            compressible: *compressible,
        };
    }
    let mime = mime_guess::from_path(path).first_or_octet_stream();
    // Unknown types are compressed only when they are text.
    let compressible = mime.type_() == mime::TEXT;
    FileKind { mime, compressible }
}

/// Whether a response of this type is HTML (security headers apply).
pub fn is_html(mime: &mime::Mime) -> bool {
    mime.type_() == mime::TEXT && mime.subtype() == mime::HTML
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_row_parses_and_is_returned() {
        for (ext, mime, compressible) in TABLE {
            let kind = kind_of(Path::new(&format!("/x/file.{ext}")));
            assert_eq!(kind.mime.as_ref(), *mime, "{ext}");
            assert_eq!(kind.compressible, *compressible, "{ext}");
        }
    }

    /// Every image type except SVG (XML text) is left uncompressed.
    #[test]
    fn images_other_than_svg_are_never_compressed() {
        for (ext, mime, compressible) in TABLE {
            if mime.starts_with("image/") && *mime != "image/svg+xml" {
                assert!(!compressible, "{ext} ({mime}) must not be compressed");
            }
        }
        assert!(!kind_of(Path::new("/favicon.ico")).compressible);
        assert!(kind_of(Path::new("/icon.svg")).compressible);
    }

    #[test]
    fn extensions_are_case_insensitive() {
        assert_eq!(
            kind_of(Path::new("A.JS")).mime.as_ref(),
            "text/javascript; charset=utf-8"
        );
    }

    #[test]
    fn unknown_types_fall_back_to_the_registry_then_octet_stream() {
        assert_eq!(kind_of(Path::new("a.csv")).mime.essence_str(), "text/csv");
        assert!(kind_of(Path::new("a.csv")).compressible);
        let unknown = kind_of(Path::new("a.unknownext"));
        assert_eq!(unknown.mime, mime::APPLICATION_OCTET_STREAM);
        assert!(!unknown.compressible);
    }
}
