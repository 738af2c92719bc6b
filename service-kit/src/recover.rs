//! Panic recovery, like Gin's `Recovery()`: a handler that panics answers a JSON 500 and the
//! worker keeps serving. The panic itself is logged by the hook installed in
//! [`crate::telemetry::init`].

use std::{future::Future, panic::AssertUnwindSafe};

use actix_web::{Error, HttpResponse, ResponseError, http::StatusCode};
use futures_util::FutureExt as _;

use crate::errors::json_error;

/// The error a caught panic turns into; answered as a JSON 500 by actix' dispatcher.
#[derive(Debug)]
pub struct HandlerPanicked;

impl std::fmt::Display for HandlerPanicked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the handler failed; see server logs")
    }
}

impl ResponseError for HandlerPanicked {
    fn status_code(&self) -> StatusCode {
        StatusCode::INTERNAL_SERVER_ERROR
    }
    fn error_response(&self) -> HttpResponse {
        json_error(self.status_code(), &self.to_string())
    }
}

/// Runs `inner` (the handler, inside the access log so the 500 is logged and counted); a panic
/// while it runs becomes [`HandlerPanicked`].
pub async fn catch_panics<T>(inner: impl Future<Output = Result<T, Error>>) -> Result<T, Error> {
    // The request moved into the handler and is gone if it panicked, so the answer is an
    // error value rather than a response built here.
    match AssertUnwindSafe(inner).catch_unwind().await {
        Ok(result) => result,
        Err(_) => Err(HandlerPanicked.into()),
    }
}
