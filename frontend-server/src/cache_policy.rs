//! `Cache-Control` for every file served, from Gatsby's documented caching policy
//! (gatsbyjs.com/docs/caching): HTML and page data change with every build under the same
//! name and must be revalidated; `static/` files and webpack's content-hashed JS/CSS never
//! change under a given name and may be cached for a year as `immutable` (RFC 8246).
//!
//! One table, first match wins, applied to the path of the file actually served (a SPA
//! fallback serves `/index.html`, so it gets the HTML rule, not the rule of the URL asked for).

/// The policies a Gatsby site needs: two for files, one for files that are not there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// Cache, but ask the server (ETag/Last-Modified → 304) before every reuse.
    Revalidate,
    /// Cache for a year and never revalidate.
    Immutable,
    /// Never store (RFC 9111 §5.2.2.5). Without any `Cache-Control`, a 404 is heuristically
    /// cacheable (RFC 9111 §4.2.2), so a CDN could pin the 404 a request got during a
    /// deploy race (new HTML asking for an asset a replica does not have yet) long after
    /// the asset exists.
    NoStore,
}

impl Policy {
    /// The header value.
    pub fn header_value(self) -> &'static str {
        match self {
            Self::Revalidate => "public, max-age=0, must-revalidate",
            Self::Immutable => "public, max-age=31536000, immutable",
            Self::NoStore => "no-store",
        }
    }
}

/// What a rule looks at in the served path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Matcher {
    /// The URL path starts with this (`/static/`).
    Prefix(&'static str),
    /// The last segment is exactly this (`sw.js`).
    FileName(&'static str),
    /// The last segment ends with `.` + this (`html`).
    Extension(&'static str),
    /// webpack output named `<name>-<20 hex>.js|css` or `<name>.<20 hex>.css` (Gatsby's
    /// `[contenthash]` is 20 hex digits).
    ContentHashedJsCss,
}

/// The policy table, in evaluation order.
pub const RULES: &[(Matcher, Policy)] = &[
    // The service worker script must never be pinned in caches, hashed-looking or not.
    (Matcher::FileName("sw.js"), Policy::Revalidate),
    // page-data.json and app-data.json change with every build under the same name.
    (Matcher::Prefix("/page-data/"), Policy::Revalidate),
    (Matcher::FileName("app-data.json"), Policy::Revalidate),
    (Matcher::Prefix("/static/"), Policy::Immutable),
    (Matcher::Extension("html"), Policy::Revalidate),
    (Matcher::ContentHashedJsCss, Policy::Immutable),
];

/// Files no rule names (unhashed scripts such as `~partytown/`, `chunk-map.json`, images at
/// the root): revalidating is always correct, caching forever is not.
pub const DEFAULT: Policy = Policy::Revalidate;

/// The plain 404 for a missing asset-like path or a hidden file (no file is served, so no
/// rule of the table applies).
pub const MISSING: Policy = Policy::NoStore;

/// The policy for the served file at `url_path` (decoded, starting with `/`).
pub fn policy_for(url_path: &str) -> Policy {
    RULES
        .iter()
        .find(|(m, _)| matches(*m, url_path))
        .map_or(DEFAULT, |(_, p)| *p)
}

fn matches(matcher: Matcher, url_path: &str) -> bool {
    let file_name = url_path.rsplit('/').next().unwrap_or("");
    match matcher {
        Matcher::Prefix(prefix) => url_path.starts_with(prefix),
        Matcher::FileName(name) => file_name == name,
        Matcher::Extension(ext) => file_name
            .rsplit_once('.')
            .is_some_and(|(_, e)| e.eq_ignore_ascii_case(ext)),
        Matcher::ContentHashedJsCss => is_content_hashed_js_css(file_name),
    }
}

fn is_content_hashed_js_css(file_name: &str) -> bool {
    let Some(stem) = file_name
        .strip_suffix(".js")
        .or_else(|| file_name.strip_suffix(".css"))
    else {
        return false;
    };
    let Some((name, hash)) = stem.rsplit_once(['-', '.']) else {
        return false;
    };
    !name.is_empty() && hash.len() == 20 && hash.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One case per table row, each chosen so that only that row (and no earlier one)
    /// matches; `rule_index` pins which row decided.
    fn rule_index(url_path: &str) -> Option<usize> {
        RULES.iter().position(|(m, _)| matches(*m, url_path))
    }

    #[test]
    fn row_sw_js_revalidates() {
        assert_eq!(rule_index("/sw.js"), Some(0));
        assert_eq!(policy_for("/sw.js"), Policy::Revalidate);
    }

    #[test]
    fn row_page_data_revalidates() {
        assert_eq!(rule_index("/page-data/about/page-data.json"), Some(1));
        assert_eq!(
            policy_for("/page-data/about/page-data.json"),
            Policy::Revalidate
        );
        assert_eq!(
            policy_for("/page-data/sq/d/3143286284.json"),
            Policy::Revalidate
        );
    }

    #[test]
    fn row_app_data_revalidates_even_outside_page_data() {
        assert_eq!(rule_index("/app-data.json"), Some(2));
        assert_eq!(policy_for("/app-data.json"), Policy::Revalidate);
    }

    #[test]
    fn row_static_is_immutable() {
        assert_eq!(rule_index("/static/logo-abc.png"), Some(3));
        assert_eq!(policy_for("/static/logo-abc.png"), Policy::Immutable);
    }

    #[test]
    fn row_html_revalidates() {
        assert_eq!(rule_index("/index.html"), Some(4));
        assert_eq!(policy_for("/about/index.html"), Policy::Revalidate);
        assert_eq!(policy_for("/404.html"), Policy::Revalidate);
    }

    #[test]
    fn row_content_hashed_js_and_css_are_immutable() {
        for p in [
            "/app-5c112b16ea0ead33349e.js",
            "/framework-a660519b08ef42687deb.js",
            "/component---src-pages-index-js-d4508f3d18e75f3a3942.js",
            "/454-a63376d75c8db1e11408.js",
            "/styles.767028f4a390626f025e.css",
        ] {
            assert_eq!(rule_index(p), Some(5), "{p}");
            assert_eq!(policy_for(p), Policy::Immutable, "{p}");
        }
    }

    #[test]
    fn default_revalidates_unhashed_and_other_files() {
        for p in [
            "/~partytown/partytown.js",
            "/chunk-map.json",
            "/webpack.stats.json",
            "/app-5c112b16.js",
            "/favicon.ico",
            "/app-5c112b16ea0ead33349e.js.map",
        ] {
            assert_eq!(rule_index(p), None, "{p}");
            assert_eq!(policy_for(p), DEFAULT, "{p}");
        }
    }

    #[test]
    fn header_values_are_gatsbys() {
        assert_eq!(
            Policy::Revalidate.header_value(),
            "public, max-age=0, must-revalidate"
        );
        assert_eq!(
            Policy::Immutable.header_value(),
            "public, max-age=31536000, immutable"
        );
    }

    #[test]
    fn missing_files_are_never_stored() {
        assert_eq!(MISSING.header_value(), "no-store");
    }
}
