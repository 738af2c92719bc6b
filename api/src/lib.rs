//! The status/health API (the Rust replacement of the Go-Gin service).
//!
//! - `GET /api/v1/status` → `{"status":"ok","service":"api-service","environment":<APP_ENV>,…}`
//! - `GET /healthz` → `healthy`; `GET /readyz` → 200, 503 once draining; `GET /metrics`
//! - anything else → JSON 404; a known path with another method → JSON 405 with `Allow`.
//!
//! `main.rs` only loads [`ApiConfig`], initialises telemetry and calls [`run`]; tests start
//! the same [`app`] in-process or the built binary.

pub mod config;
pub mod routes;

use std::{future::Future, io, net::TcpListener};

use actix_web::{
    App, Error,
    body::MessageBody,
    dev::{ServiceFactory, ServiceRequest, ServiceResponse},
    web,
};
use service_kit::{HttpMetrics, Readiness, lifecycle, probes::get_or_head, stack};

pub use config::ApiConfig;
use routes::StatusBody;

/// State shared by every worker.
#[derive(Debug, Clone)]
pub struct AppState {
    pub config: ApiConfig,
    pub readiness: Readiness,
    pub metrics: HttpMetrics,
    status: StatusBody,
}

impl AppState {
    pub fn new(config: ApiConfig) -> Self {
        let status = StatusBody::new(&config.app_env);
        Self {
            config,
            readiness: Readiness::new(),
            metrics: HttpMetrics::new("api"),
            status,
        }
    }
}

/// The routes, without middleware.
pub fn configure(cfg: &mut web::ServiceConfig, state: &AppState) {
    cfg.app_data(web::Data::new(state.readiness.clone()))
        .app_data(web::Data::new(state.metrics.clone()))
        .app_data(web::Data::new(state.status.clone()))
        .configure(service_kit::probes::configure)
        .service(get_or_head("/api/v1/status", routes::status));
    if state.config.debug_routes {
        cfg.service(get_or_head("/debug/sleep", routes::sleep))
            .service(get_or_head("/debug/panic", routes::panic));
    }
}

/// The complete application: routes, JSON 404, and the standard middleware stack
/// (access log, limits, panic recovery).
pub fn app(
    state: AppState,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = Error,
        InitError = (),
    >,
> {
    let app = App::new()
        .configure(|cfg| configure(cfg, &state))
        .default_service(web::to(routes::not_found));
    stack::wrap(app, state.config.server.limits())
}

/// Serves the api on `listener` until `shutdown` resolves, then drains gracefully.
pub async fn run(
    config: ApiConfig,
    listener: TcpListener,
    shutdown: impl Future<Output = &'static str>,
) -> io::Result<()> {
    let state = AppState::new(config);
    tracing::info!(
        environment = %state.config.app_env,
        version = env!("CARGO_PKG_VERSION"),
        "api starting"
    );
    let settings = state.config.server.server_settings();
    let readiness = state.readiness.clone();
    lifecycle::serve(
        move || app(state.clone()),
        listener,
        &settings,
        readiness,
        shutdown,
    )
    .await
}
