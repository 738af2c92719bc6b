//! The middleware stack both servers wrap around their routes, outermost first:
//! access log (sees the final status, including the 413/431/500s below) → limits → panic
//! recovery → routes.

use actix_web::{
    App, Error,
    body::MessageBody,
    dev::{ServiceFactory, ServiceRequest, ServiceResponse},
    middleware::from_fn,
};

use crate::{access_log, limits, recover};

/// Wraps `app` in the standard stack.
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
    app.wrap(from_fn(recover::catch_panics))
        .wrap(from_fn(move |req, next| limits::enforce(limits, req, next)))
        .wrap(from_fn(access_log::log_requests))
}
