//! `frontend-server`: serves the Gatsby build and proxies `/api/` (the Rust replacement of
//! the seed's nginx).
//!
//! Routing, in order (the first that matches answers):
//! 1. `/healthz`, `/readyz`, `/metrics` ([`service_kit::probes`]; reserved, a site file at
//!    these paths is never served);
//! 2. `/api/…` → [`proxy`] to `API_UPSTREAM` (the split is [`routing`]);
//! 3. a file under `SITE_ROOT` ([`site`] → [`static_files`]), `index.html` for directories,
//!    `308` to add the slash to a directory asked for without one;
//! 4. [`fallback`]: `index.html` (200) or `404.html` (404) for pages, plain 404 for assets.
//!
//! `main.rs` only loads [`FrontendConfig`], initialises telemetry and calls [`run`]; tests
//! start the same [`app`] in-process on port 0, or the built binary.

pub mod body_cache;
pub mod cache_policy;
pub mod clock_cache;
pub mod compression;
pub mod config;
pub mod content_types;
pub mod fallback;
pub mod file_response;
pub mod path_cache;
pub mod path_safety;
pub mod proxy;
pub mod routing;
pub mod security_headers;
pub mod site;
pub mod site_file;
pub mod site_watch;
pub mod static_files;
pub mod upstream;

use std::{future::Future, io, net::TcpListener, sync::Arc};

use actix_web::{
    App, Error,
    body::MessageBody,
    dev::{ServiceFactory, ServiceRequest, ServiceResponse},
    web,
};
use service_kit::{HttpMetrics, Readiness, access_log, lifecycle, stack};

pub use config::{FallbackMode, FrontendConfig};

/// Configuration or site root unusable at startup.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    SiteRoot(#[from] static_files::SiteRootError),
    #[error(transparent)]
    Upstream(#[from] upstream::UpstreamError),
}

/// State shared by every worker (cheap to clone).
#[derive(Debug, Clone)]
pub struct AppState {
    pub config: FrontendConfig,
    pub readiness: Readiness,
    pub metrics: HttpMetrics,
    pub site: Arc<site::Site>,
    pub upstream: upstream::Upstream,
}

impl AppState {
    /// Checks the site root and sets up the upstream client.
    pub fn new(config: FrontendConfig) -> Result<Self, StartupError> {
        let root = static_files::SiteRoot::open(&config.site_root)?;
        let bodies = body_cache::BodyCache::new(config.body_cache_size, config.body_cache_entries);
        let site = site::Site::new(root, config.fallback, config.csp.as_deref(), bodies);
        let upstream = upstream::Upstream::new(
            config.api_upstream.clone(),
            config.upstream_timeout,
            config.upstream_connect_timeout,
            config.server.max_body_size,
        )?;
        Ok(Self {
            config,
            readiness: Readiness::new(),
            metrics: HttpMetrics::new("frontend"),
            site: Arc::new(site),
            upstream,
        })
    }
}

/// The routes, without middleware, in routing order.
pub fn configure(cfg: &mut web::ServiceConfig, state: &AppState) {
    cfg.app_data(web::Data::new(state.readiness.clone()))
        .app_data(web::Data::new(state.metrics.clone()))
        .app_data(web::Data::new(state.clone()))
        // No `PayloadConfig`: the proxy takes the raw `web::Payload` stream (which no
        // config limits) and enforces MAX_BODY_SIZE itself; a buffering extractor added
        // later keeps actix' default 256 KiB cap instead of an unlimited one.
        .configure(service_kit::probes::configure)
        // `/api/…` and the site, split by `routing` rather than by actix patterns.
        .default_service(web::to(routing::dispatch));
}

/// The complete application: routes and the standard middleware stack (access log, limits,
/// panic recovery), as in the api.
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
    let limits = state.config.server.limits();
    let app = App::new().configure(|cfg| configure(cfg, &state));
    // The proxy passes the request id on to the api.
    let observe = access_log::Observe {
        unmatched_route: routing::route_label,
        share_request_id: true,
    };
    stack::wrap_observed(app, limits, observe)
}

/// Serves on `listener` until `shutdown` resolves, then drains gracefully.
pub async fn run(
    state: AppState,
    listener: TcpListener,
    shutdown: impl Future<Output = &'static str>,
) -> io::Result<()> {
    let root = state.site.root();
    let watch = state.site.watch();
    tracing::info!(
        site_root = %root.path().display(),
        file_open = %root.open_method(),
        site_changes = if watch.unavailable_reason().is_none() { "watched (inotify)" } else { "checked on every request" },
        api_upstream = %state.config.api_upstream,
        fallback = ?state.config.fallback,
        version = env!("CARGO_PKG_VERSION"),
        "frontend-server starting"
    );
    if root.openat2_unavailable() {
        tracing::warn!(
            file_open = %root.open_method(),
            "openat2 is unavailable (an old kernel, or a seccomp profile refusing it): site files are opened by the checked path walk"
        );
    }
    if let Some(reason) = watch.unavailable_reason() {
        tracing::warn!(
            reason,
            "site changes cannot be watched: every request opens and checks its file"
        );
    }
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
