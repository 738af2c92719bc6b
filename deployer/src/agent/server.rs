//! `/healthz`, `/readyz` and `/metrics` of the agent, on actix-web with service-kit's probe
//! routing (GET/HEAD only, 405 with `Allow` otherwise), as the two servers of the stack.
//!
//! - `/healthz` (liveness): 200 while the reconcile loop has made progress recently — the
//!   loop beats at every turn, and a sync may hold it for at most its timeout; a loop stuck
//!   longer (a hung git server, a deadlock) answers 503 and the kubelet restarts the pod.
//! - `/readyz`: 200 once the first round has finished (as leader or as standby), 503 before
//!   and from the shutdown signal on.
//! - `/metrics`: see [`super::metrics`].

use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use actix_web::{App, HttpResponse, HttpServer, web};
use service_kit::Readiness;
use service_kit::content_type::{OPENMETRICS, TEXT_PLAIN, answer};
use service_kit::probes::get_or_head;

use super::metrics::Metrics;
use crate::cluster::RequestStats;

/// What the probes read, shared with the loop.
#[derive(Debug)]
pub struct Shared {
    pub metrics: Metrics,
    pub requests: Arc<RequestStats>,
    started: Instant,
    /// Milliseconds since `started` at the loop's last beat.
    beat: AtomicU64,
    /// Longest time between beats that is still healthy.
    stale_after: Duration,
    first_round_done: AtomicBool,
    pub draining: Readiness,
}

impl Shared {
    pub fn new(requests: Arc<RequestStats>, stale_after: Duration) -> Shared {
        Shared {
            metrics: Metrics::new(),
            requests,
            started: Instant::now(),
            beat: AtomicU64::new(0),
            stale_after,
            first_round_done: AtomicBool::new(false),
            draining: Readiness::new(),
        }
    }

    /// The loop is alive.
    pub fn beat(&self) {
        let ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.beat.store(ms, Ordering::Relaxed);
    }

    pub fn round_done(&self) {
        self.first_round_done.store(true, Ordering::Relaxed);
    }

    pub fn is_alive(&self) -> bool {
        let last = Duration::from_millis(self.beat.load(Ordering::Relaxed));
        self.started.elapsed().saturating_sub(last) <= self.stale_after
    }

    pub fn is_ready(&self) -> bool {
        self.first_round_done.load(Ordering::Relaxed) && self.draining.is_ready()
    }
}

fn text(ok: bool, yes: &'static str, no: &'static str) -> HttpResponse {
    let builder = if ok {
        HttpResponse::Ok()
    } else {
        HttpResponse::ServiceUnavailable()
    };
    answer(builder, TEXT_PLAIN, if ok { yes } else { no })
}

async fn healthz(s: web::Data<Shared>) -> HttpResponse {
    text(s.is_alive(), "healthy", "the reconcile loop is stuck")
}

async fn readyz(s: web::Data<Shared>) -> HttpResponse {
    text(s.is_ready(), "ready", "not ready")
}

async fn metrics(s: web::Data<Shared>) -> HttpResponse {
    answer(
        HttpResponse::Ok(),
        OPENMETRICS,
        s.metrics.render(s.requests.snapshot()),
    )
}

/// Starts serving on `listener` (one worker thread: three cheap endpoints). The returned
/// server must be awaited (or spawned) and stopped through its handle.
pub fn start(
    listener: TcpListener,
    shared: Arc<Shared>,
) -> std::io::Result<actix_web::dev::Server> {
    let data = web::Data::from(shared);
    Ok(HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .service(get_or_head("/healthz", healthz))
            .service(get_or_head("/readyz", readyz))
            .service(get_or_head("/metrics", metrics))
    })
    .workers(1)
    .disable_signals()
    .shutdown_timeout(2)
    .listen(listener)?
    .run())
}
