//! Readiness, signals and graceful shutdown, in the order Kubernetes needs them:
//!
//! 1. SIGTERM (or SIGINT) arrives: readiness turns 503 at once, so endpoint controllers and
//!    load balancers stop sending new traffic.
//! 2. Wait the pre-stop delay (endpoint removal propagates asynchronously; without the wait
//!    a terminating pod still receives requests after its listener closed).
//! 3. Stop accepting; in-flight requests finish; idle keep-alive connections close.
//! 4. Exit 0, at the latest when the shutdown timeout expires (workers are then stopped).

use std::{
    future::Future,
    io,
    net::TcpListener,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use actix_http::{HttpService, Protocol, Request, Response};
use actix_service::{IntoServiceFactory, ServiceFactoryExt as _, fn_service, map_config};
use actix_web::{
    Error,
    body::MessageBody,
    dev::{AppConfig, Service, ServiceFactory},
    http::KeepAlive,
    rt::net::TcpStream,
};

use crate::connection::{GuardedIo, MarkAnswered};

/// Whether the process wants new traffic. Cloned into the readiness handler.
#[derive(Debug, Clone)]
pub struct Readiness(Arc<AtomicBool>);

impl Readiness {
    /// A new flag, ready.
    pub fn new() -> Self {
        Self(Arc::new(AtomicBool::new(true)))
    }
    /// False once draining has begun.
    pub fn is_ready(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
    /// Marks the process as draining: readiness answers 503 from now on.
    pub fn begin_drain(&self) {
        self.0.store(false, Ordering::Release);
    }
}

impl Default for Readiness {
    fn default() -> Self {
        Self::new()
    }
}

/// Connection handling shared by both servers.
#[derive(Debug, Clone)]
pub struct ServerSettings {
    /// Worker threads; `None` means one per CPU the process may use (actix' default,
    /// `available_parallelism`).
    pub workers: Option<usize>,
    /// How long in-flight requests may take to finish after the listener closes.
    pub shutdown_timeout: Duration,
    /// How long to keep serving, already unready, after the signal.
    pub prestop_delay: Duration,
    /// Time a client has to send the request head (slow-loris guard).
    pub client_request_timeout: Duration,
    /// Idle time after which a keep-alive connection is closed.
    pub keep_alive: Duration,
    /// Most concurrent connections per worker (actix' default is 25,600).
    pub max_connections: usize,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            workers: None,
            shutdown_timeout: Duration::from_secs(5),
            prestop_delay: Duration::ZERO,
            client_request_timeout: Duration::from_secs(5),
            keep_alive: Duration::from_secs(75),
            max_connections: 25_000,
        }
    }
}

/// Installs the SIGTERM and SIGINT handlers now (call it inside the runtime, before binding,
/// so no signal can arrive while the default disposition would still kill the process) and
/// returns a future that resolves with the first signal's name.
///
/// A second signal while draining ends the process at once (status 130 after SIGINT, 143
/// after SIGTERM, as a shell reports a signal death): an operator's second Ctrl-C means "stop
/// now", not "wait for the drain".
pub fn shutdown_signal() -> impl Future<Output = &'static str> + Send + 'static {
    use tokio::signal::unix::{SignalKind, signal};
    let handlers = signal(SignalKind::terminate())
        .and_then(|term| signal(SignalKind::interrupt()).map(|int| (term, int)));
    async move {
        let Ok((mut term, mut int)) = handlers else {
            // Installing a handler fails only without signal support in the runtime: the
            // process can still be stopped by the default disposition.
            return std::future::pending().await;
        };
        let first = tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        };
        tokio::spawn(async move {
            let code = tokio::select! {
                _ = term.recv() => 143,
                _ = int.recv() => 130,
            };
            tracing::warn!("second signal: exiting without waiting for in-flight requests");
            crate::telemetry::flush();
            std::process::exit(code);
        });
        first
    }
}

/// Serves `factory` on `listener` until `shutdown` resolves, then drains as described in the
/// module documentation. Returns when every worker has stopped.
pub async fn serve<F, I, S, B>(
    factory: F,
    listener: TcpListener,
    settings: &ServerSettings,
    readiness: Readiness,
    shutdown: impl Future<Output = &'static str>,
) -> io::Result<()>
where
    F: Fn() -> I + Send + Clone + 'static,
    I: IntoServiceFactory<S, Request>,
    S: ServiceFactory<Request, Config = AppConfig> + 'static,
    S::Error: Into<Error> + 'static,
    S::InitError: std::fmt::Debug,
    S::Response: Into<Response<B>> + 'static,
    <S::Service as Service<Request>>::Future: 'static,
    S::Service: 'static,
    B: MessageBody + 'static,
{
    let addr = listener.local_addr()?;
    // actix counts the shutdown timeout in whole seconds; round up so it is never shorter.
    let timeout_secs = settings.shutdown_timeout.as_millis().div_ceil(1000) as u64;
    // actix-web's `HttpServer` cannot put anything between the socket and the HTTP
    // dispatcher; this is what it builds, with `GuardedIo` in between (crate::connection).
    let mut builder = actix_server::Server::build()
        .disable_signals()
        .shutdown_timeout(timeout_secs)
        .max_concurrent_connections(settings.max_connections);
    if let Some(workers) = settings.workers {
        builder = builder.workers(workers);
    }
    let graceful = builder.graceful_shutdown_signal();
    let head_timeout = settings.client_request_timeout;
    // The idle timeout is the connection wrapper's (crate::connection); zero turns
    // keep-alive off.
    let idle_timeout = (!settings.keep_alive.is_zero()).then_some(settings.keep_alive);
    let server = builder
        .listen("http", listener, move || {
            let graceful = graceful.clone();
            let app = factory()
                .into_factory()
                .map_err(|err| err.into().error_response());
            // The app's config is actix' default (host `localhost:8080`): neither server
            // builds URLs from it, and both read the host from the request.
            let app = map_config(app, |()| AppConfig::default());
            let http = HttpService::build()
                .graceful_shutdown_signal(move || {
                    let signal = graceful.clone();
                    async move { signal.notified().await }
                })
                .keep_alive(match idle_timeout {
                    Some(_) => KeepAlive::Os,
                    None => KeepAlive::Disabled,
                })
                .client_request_timeout(head_timeout)
                .client_disconnect_timeout(Duration::from_secs(1))
                .local_addr(addr)
                .on_connect_ext(|io: &GuardedIo<TcpStream>, ext| {
                    ext.insert(io.handle());
                })
                .finish(MarkAnswered::new(app));
            fn_service(move |stream: TcpStream| {
                // Answers are written whole (a head, or a head and then a body the
                // connection sends itself): Nagle's algorithm could only hold back their
                // last segment until the client's delayed ACK, ~40 ms (nginx: tcp_nodelay).
                let _ = stream.set_nodelay(true);
                let peer = stream.peer_addr().ok();
                let io = GuardedIo::new(stream, head_timeout, idle_timeout, peer);
                std::future::ready(Ok::<_, std::convert::Infallible>((
                    io,
                    Protocol::Http1,
                    peer,
                )))
            })
            .map_err(|never| match never {})
            .and_then(http)
        })?
        .run();
    let handle = server.handle();
    let mut running = tokio::spawn(server);
    tracing::info!(address = %addr, "listening");

    let signal = tokio::select! {
        result = &mut running => {
            // The server stopped by itself (it only does on a fatal error).
            return result.map_err(io::Error::other)?;
        }
        signal = shutdown => signal,
    };
    readiness.begin_drain();
    tracing::info!(
        signal,
        prestop_delay = %humantime::format_duration(settings.prestop_delay),
        shutdown_timeout = %humantime::format_duration(settings.shutdown_timeout),
        "shutdown started: readiness now reports 503"
    );
    if !settings.prestop_delay.is_zero() {
        tokio::time::sleep(settings.prestop_delay).await;
    }
    tracing::info!("closing listener; waiting for in-flight requests");
    handle.stop(true).await;
    running.await.map_err(io::Error::other)??;
    tracing::info!("shutdown complete");
    Ok(())
}
