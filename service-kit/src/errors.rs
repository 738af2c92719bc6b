//! One JSON error shape for every non-2xx answer the servers produce themselves:
//! `{"error":"<reason phrase>","message":"<detail>"}`.

use actix_web::{HttpResponse, http::StatusCode};
use serde::Serialize;

#[derive(Debug, Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    message: &'a str,
}

/// Builds a JSON error response whose `error` is the status' canonical reason.
pub fn json_error(status: StatusCode, message: &str) -> HttpResponse {
    let body = ErrorBody {
        error: status.canonical_reason().unwrap_or("error"),
        message,
    };
    HttpResponse::build(status).json(body)
}
