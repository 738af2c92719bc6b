//! The api's own endpoints.

use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};
use serde::{Deserialize, Serialize};
use service_kit::{
    content_type::{JSON, TEXT_PLAIN, answer},
    errors::json_error,
};

/// Body of `GET /api/v1/status`. The first three fields keep the Go-Gin service's names and
/// meaning; `version` is additive.
#[derive(Debug, Serialize)]
pub struct Status<'a> {
    pub status: &'a str,
    pub service: &'a str,
    pub environment: &'a str,
    pub version: &'a str,
}

/// The status document, serialized once at startup: it never changes while the process lives.
#[derive(Debug, Clone)]
pub struct StatusBody(pub web::Bytes);

impl StatusBody {
    pub fn new(environment: &str) -> Self {
        let status = Status {
            status: "ok",
            service: "api-service",
            environment,
            version: env!("CARGO_PKG_VERSION"),
        };
        // Serializing four string fields cannot fail.
        let json = serde_json::to_vec(&status).unwrap_or_default();
        Self(web::Bytes::from(json))
    }
}

pub async fn status(body: web::Data<StatusBody>) -> HttpResponse {
    answer(HttpResponse::Ok(), JSON, body.0.clone())
}

pub async fn not_found(req: HttpRequest) -> HttpResponse {
    json_error(
        StatusCode::NOT_FOUND,
        &format!("no route for {} {}", req.method(), req.path()),
    )
}

#[derive(Debug, Deserialize)]
pub struct SleepQuery {
    ms: u64,
}

/// Longest sleep `/debug/sleep` grants.
const MAX_SLEEP: Duration = Duration::from_secs(30);

/// `GET /debug/sleep?ms=N`: answers after N milliseconds (at most 30 s). Mounted only with
/// `DEBUG_ROUTES=true`; used to observe draining with requests in flight.
pub async fn sleep(query: web::Query<SleepQuery>) -> HttpResponse {
    let wanted = Duration::from_millis(query.ms).min(MAX_SLEEP);
    tokio::time::sleep(wanted).await;
    answer(
        HttpResponse::Ok(),
        TEXT_PLAIN,
        format!("slept {}ms", wanted.as_millis()),
    )
}

/// `GET /debug/panic`: a handler that panics (mounted only with `DEBUG_ROUTES=true`), to show
/// panic recovery on the real binary.
pub async fn panic() -> HttpResponse {
    panic!("deliberate panic from /debug/panic")
}
