//! The middleware stack both servers wrap around their routes, outermost first:
//! access log (sees the final status, including the 413/431/500s below) → limits → panic
//! recovery → routes.
//!
//! The three steps run in one middleware: each actix middleware layer costs a boxed future
//! and a service call per request, which is a measurable share of what a status request
//! costs (see BENCHMARKS.md).

use actix_web::{
    App, Error,
    body::MessageBody,
    dev::{ServiceFactory, ServiceRequest, ServiceResponse},
    middleware::{Next, from_fn},
};

use crate::{
    access_log::{self, Observe},
    limits, recover,
};

/// Wraps `app` in the standard stack; requests no route pattern matches are labelled
/// `unmatched` in the metrics.
pub fn wrap<T, B>(
    app: App<T>,
    limits: limits::Limits,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = Error,
        InitError = (),
    >,
>
where
    T: ServiceFactory<
            ServiceRequest,
            Config = (),
            Response = ServiceResponse<B>,
            Error = Error,
            InitError = (),
        > + 'static,
    B: MessageBody + 'static,
{
    wrap_observed(app, limits, Observe::default())
}

/// [`wrap`], with the access log's options: an application naming the routes of its own
/// catch-all service, or whose handlers read the request id.
pub fn wrap_observed<T, B>(
    app: App<T>,
    limits: limits::Limits,
    observe: Observe,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = Error,
        InitError = (),
    >,
>
where
    T: ServiceFactory<
            ServiceRequest,
            Config = (),
            Response = ServiceResponse<B>,
            Error = Error,
            InitError = (),
        > + 'static,
    B: MessageBody + 'static,
{
    app.wrap(from_fn(move |req, next: Next<B>| {
        access_log::observe(req, observe, move |req| async move {
            match limits::refusal(&limits, &req) {
                Some(refused) => Ok(req.into_response(refused)),
                None => recover::catch_panics(next.call(req))
                    .await
                    .map(ServiceResponse::map_into_boxed_body),
            }
        })
    }))
}
