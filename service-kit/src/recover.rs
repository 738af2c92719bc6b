//! Panic recovery, like Gin's `Recovery()`: a handler that panics answers a JSON 500 and the
//! worker keeps serving. The panic itself is logged by the hook installed in
//! [`crate::telemetry::init`].

use std::panic::AssertUnwindSafe;

use actix_web::{
    Error,
    body::{BoxBody, MessageBody},
    dev::{ServiceRequest, ServiceResponse},
    http::StatusCode,
    middleware::Next,
};
use futures_util::FutureExt as _;

use crate::errors::json_error;

/// Middleware: `App::new().wrap(from_fn(recover::catch_panics))` (inside the access log, so
/// the 500 is logged and counted).
pub async fn catch_panics(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let http_req = req.request().clone();
    match AssertUnwindSafe(next.call(req)).catch_unwind().await {
        Ok(result) => result.map(ServiceResponse::map_into_boxed_body),
        Err(_) => Ok(ServiceResponse::new(
            http_req,
            json_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the handler failed; see server logs",
            ),
        )),
    }
}
