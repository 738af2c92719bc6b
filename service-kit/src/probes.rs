//! Probe endpoints: `/healthz` (liveness: the process answers), `/readyz` (readiness: 503
//! once draining), `/metrics` (Prometheus text). Mounted before anything else, so a route
//! of the application can never shadow them.

use actix_web::{FromRequest, Handler, HttpResponse, Responder, guard, http::Method, web};

use crate::{
    content_type::{OPENMETRICS, TEXT_PLAIN, answer},
    errors::json_error,
    lifecycle::Readiness,
    metrics::HttpMetrics,
};

/// Registers the three probes. Needs `web::Data<Readiness>` and `web::Data<HttpMetrics>`
/// as app data.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(get_or_head("/healthz", healthz))
        .service(get_or_head("/readyz", readyz))
        .service(get_or_head("/metrics", metrics));
}

/// A resource answering GET and HEAD with `handler`, and 405 with `Allow` for any other
/// method. (actix strips the body of HEAD responses itself.)
pub fn get_or_head<F, Args>(path: &str, handler: F) -> actix_web::Resource
where
    F: Handler<Args>,
    Args: FromRequest + 'static,
    F::Output: Responder + 'static,
{
    web::resource(path)
        .route(
            web::route()
                // A plain method comparison: actix' `guard::Get()` records the allowed methods
                // in the request's extensions on every call (an allocation per request).
                .guard(guard::fn_guard(|ctx| {
                    matches!(ctx.head().method, Method::GET | Method::HEAD)
                }))
                .to(handler),
        )
        .default_service(web::to(method_not_allowed))
}

/// `405 Method Not Allowed` with `Allow: GET, HEAD` (RFC 9110 §15.5.6 requires `Allow`).
pub async fn method_not_allowed() -> HttpResponse {
    let mut res = json_error(
        actix_web::http::StatusCode::METHOD_NOT_ALLOWED,
        "this resource answers GET and HEAD only",
    );
    res.headers_mut().insert(
        actix_web::http::header::ALLOW,
        actix_web::http::header::HeaderValue::from_static("GET, HEAD"),
    );
    res
}

async fn healthz() -> HttpResponse {
    answer(HttpResponse::Ok(), TEXT_PLAIN, "healthy")
}

async fn readyz(readiness: web::Data<Readiness>) -> HttpResponse {
    if readiness.is_ready() {
        answer(HttpResponse::Ok(), TEXT_PLAIN, "ready")
    } else {
        answer(
            HttpResponse::ServiceUnavailable(),
            TEXT_PLAIN,
            "shutting down",
        )
    }
}

async fn metrics(metrics: web::Data<HttpMetrics>) -> HttpResponse {
    answer(HttpResponse::Ok(), OPENMETRICS, metrics.render())
}
