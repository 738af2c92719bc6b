//! Which part of the server answers a request that is not a probe: `/api/…` → [`proxy`],
//! anything else → [`site`].
//!
//! The probes are actix resources (static patterns, matched by string comparison); this
//! split is the application's catch-all service instead of two more actix resources,
//! because actix compiles a pattern with a dynamic segment (`/api/{tail:.*}`,
//! `/{path:.*}`) into a regular expression and runs it on every request, and again when
//! the access log asks which pattern matched: about 10,000 instructions per static request
//! and 39,000 per proxied one (callgrind; BENCHMARKS.md). The metrics keep the labels those
//! patterns had.
//!
//! The split reads the path actix routes on (its `match_info` path: percent-decoded except
//! `%2F`, `%25` and `%2B`), so `/%61pi/x` reaches the proxy as it did through the pattern,
//! and as nginx's `location /api/` matches the decoded URI.

use actix_web::{HttpRequest, HttpResponse, dev::ServiceRequest, web};

use crate::{AppState, proxy, site};

/// Requests under this prefix are proxied (nginx `location /api/`; `/api` itself is a page).
pub const API_PREFIX: &str = "/api/";

/// Metrics route label of proxied requests (the pattern actix used to match them).
pub const API_ROUTE: &str = "/api/{tail:.*}";

/// Metrics route label of everything the site answers.
pub const SITE_ROUTE: &str = "/{path:.*}";

/// The catch-all service: proxy or site.
pub async fn dispatch(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    if is_api(req.match_info().as_str()) {
        proxy::forward(req, payload, &state.upstream).await
    } else {
        site::serve(req, &state.site).await
    }
}

/// The metrics label of a request the catch-all answers (see
/// [`service_kit::access_log::UnmatchedRoute`]).
pub fn route_label(req: &ServiceRequest) -> &'static str {
    if is_api(req.match_info().as_str()) {
        API_ROUTE
    } else {
        SITE_ROUTE
    }
}

fn is_api(routed_path: &str) -> bool {
    routed_path.starts_with(API_PREFIX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_paths_under_api_slash_are_proxied() {
        for (path, api) in [
            ("/api/v1/status", true),
            ("/api/", true),
            ("/api", false),
            ("/apiary", false),
            ("/", false),
            ("/static/api/x", false),
        ] {
            assert_eq!(is_api(path), api, "{path}");
        }
    }

    #[test]
    fn the_routed_path_is_decoded_as_actix_routes_it() {
        use actix_web::test::TestRequest;
        for (uri, label) in [
            ("/%61pi/v1/status", API_ROUTE),
            ("/api%2Fv1", SITE_ROUTE),
            ("/about/", SITE_ROUTE),
        ] {
            let req = TestRequest::with_uri(uri).to_srv_request();
            assert_eq!(route_label(&req), label, "{uri}");
        }
    }
}
