//! Headers that make browsers treat our HTML safely. Applied to HTML responses (pages, the
//! SPA fallback, the 404 page); `nosniff` goes on every static response, because a script
//! or stylesheet sniffed as something else is exactly the attack it prevents.

use actix_web::http::header::{self, HeaderName, HeaderValue};

/// Headers every HTML page gets; the CSP is configurable and added separately.
pub const HTML_HEADERS: &[(&str, &str)] = &[
    // RFC 7034; superseded by CSP `frame-ancestors` but still the one every browser knows.
    ("x-frame-options", "DENY"),
    // Full URLs stay on this origin; cross-origin requests see only the origin.
    ("referrer-policy", "strict-origin-when-cross-origin"),
];

/// The security headers for one site.
#[derive(Debug, Clone)]
pub struct SecurityHeaders {
    csp: Option<HeaderValue>,
}

impl SecurityHeaders {
    /// `csp` was validated as a header value when the configuration was loaded.
    pub fn new(csp: Option<&str>) -> Self {
        Self {
            csp: csp.and_then(|v| HeaderValue::from_str(v).ok()),
        }
    }

    /// The headers of a static answer; `html` says whether its body is HTML.
    pub fn for_file(&self, html: bool) -> Vec<(HeaderName, HeaderValue)> {
        let mut headers = vec![(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        )];
        if html {
            for (name, value) in HTML_HEADERS {
                headers.push((
                    HeaderName::from_static(name),
                    HeaderValue::from_static(value),
                ));
            }
            if let Some(csp) = &self.csp {
                headers.push((header::CONTENT_SECURITY_POLICY, csp.clone()));
            }
        }
        headers
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get<'a>(headers: &'a [(HeaderName, HeaderValue)], name: &str) -> Option<&'a [u8]> {
        headers
            .iter()
            .find(|(n, _)| n.as_str() == name)
            .map(|(_, v)| v.as_bytes())
    }

    #[test]
    fn html_gets_all_headers_and_csp_when_configured() {
        let sec = SecurityHeaders::new(Some("default-src 'self'"));
        let h = sec.for_file(true);
        assert_eq!(get(&h, "x-content-type-options"), Some(&b"nosniff"[..]));
        assert_eq!(get(&h, "x-frame-options"), Some(&b"DENY"[..]));
        assert!(get(&h, "referrer-policy").is_some());
        assert_eq!(
            get(&h, "content-security-policy"),
            Some(&b"default-src 'self'"[..])
        );
    }

    #[test]
    fn non_html_gets_nosniff_only_and_no_csp_by_default() {
        let sec = SecurityHeaders::new(None);
        let h = sec.for_file(false);
        assert!(get(&h, "x-content-type-options").is_some());
        assert!(get(&h, "x-frame-options").is_none());
        assert!(get(&sec.for_file(true), "content-security-policy").is_none());
    }
}
