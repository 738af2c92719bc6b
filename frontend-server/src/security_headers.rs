//! Headers that make browsers treat our HTML safely. Applied to HTML responses (pages, the
//! SPA fallback, the 404 page); `nosniff` goes on every static response, because a script
//! or stylesheet sniffed as something else is exactly the attack it prevents.

use actix_web::{
    HttpResponse,
    http::header::{self, HeaderName, HeaderValue},
};

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

    /// Adds the headers to a static response; `html` says whether its body is HTML.
    pub fn apply(&self, res: &mut HttpResponse, html: bool) {
        let headers = res.headers_mut();
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        if !html {
            return;
        }
        for (name, value) in HTML_HEADERS {
            headers.insert(
                HeaderName::from_static(name),
                HeaderValue::from_static(value),
            );
        }
        if let Some(csp) = &self.csp {
            headers.insert(header::CONTENT_SECURITY_POLICY, csp.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_gets_all_headers_and_csp_when_configured() {
        let sec = SecurityHeaders::new(Some("default-src 'self'"));
        let mut res = HttpResponse::Ok().finish();
        sec.apply(&mut res, true);
        let h = res.headers();
        assert_eq!(
            h.get("x-content-type-options").map(|v| v.as_bytes()),
            Some(&b"nosniff"[..])
        );
        assert_eq!(
            h.get("x-frame-options").map(|v| v.as_bytes()),
            Some(&b"DENY"[..])
        );
        assert!(h.contains_key("referrer-policy"));
        assert_eq!(
            h.get("content-security-policy").map(|v| v.as_bytes()),
            Some(&b"default-src 'self'"[..])
        );
    }

    #[test]
    fn non_html_gets_nosniff_only_and_no_csp_by_default() {
        let sec = SecurityHeaders::new(None);
        let mut res = HttpResponse::Ok().finish();
        sec.apply(&mut res, false);
        assert!(res.headers().contains_key("x-content-type-options"));
        assert!(!res.headers().contains_key("x-frame-options"));
        let mut html = HttpResponse::Ok().finish();
        sec.apply(&mut html, true);
        assert!(!html.headers().contains_key("content-security-policy"));
    }
}
