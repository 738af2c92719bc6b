//! Plumbing shared by `api` and `frontend-server`, so both servers behave the same way in
//! front of Kubernetes and in the logs:
//!
//! - [`settings`]: typed configuration from defaults + environment (`config` crate), with
//!   errors that name the variable and the bad value.
//! - [`server_config`]: the settings every server shares (port, logs, timeouts, limits).
//! - [`telemetry`]: tracing subscriber (JSON lines or pretty), panic hook.
//! - [`log_line`]: one slog-shaped JSON line, built without formatting machinery.
//! - [`log_writer`]: lines leave in batches from a background thread (no syscall per request).
//! - [`access_log`]: one log line per request with the seed's field names, plus metrics.
//! - [`metrics`]: Prometheus request counter and latency histogram by route and status.
//! - [`recover`]: a panicking handler becomes a JSON 500; the worker lives on.
//! - [`limits`]: header, URI and body limits, answered with 431/414/413 before any handler.
//! - [`probes`]: `/healthz`, `/readyz`, `/metrics`.
//! - [`lifecycle`]: readiness flag, SIGTERM/SIGINT, pre-stop delay, graceful drain.
//! - [`connection`]: between socket and HTTP dispatcher: a deadline on every request head,
//!   pipelined requests held back until the one before is answered ([`request_framing`]
//!   finds where requests begin and end), and the keep-alive idle timeout (`KEEP_ALIVE`:
//!   a connection idle between it and 17/16 of it is closed; 0 turns keep-alive off).
//! - [`direct_body`]: large response bodies written by the connection itself (`sendfile`),
//!   without actix-http's copy into its write buffer.
//! - [`deadline`]: a deadline per wait (request heads and the keep-alive clock's ticks here,
//!   upstream body reads in the frontend's proxy).
//! - [`word_scan`]: bytes checked eight at a time (the log line's escaping, the framer's
//!   header scan).
//! - [`stack`]: the middleware stack above, in its one correct order.
//! - [`self_probe`]: `<binary> healthcheck` for images without a shell.
//! - [`launch`]: a server binary's `main`: config, healthcheck, telemetry, bind, serve, flush.
//! - [`errors`]: the JSON error body every server answers with.
//! - [`content_type`]: the content types answered, as static header values.

pub mod access_log;
pub mod connection;
pub mod content_type;
pub mod deadline;
pub mod direct_body;
pub mod errors;
pub mod launch;
pub mod lifecycle;
pub mod limits;
pub mod log_line;
pub mod log_writer;
pub mod metrics;
pub mod probes;
pub mod recover;
pub mod request_framing;
pub mod self_probe;
pub mod server_config;
pub mod settings;
pub mod stack;
pub mod telemetry;
pub mod word_scan;

pub use lifecycle::{Readiness, ServerSettings, shutdown_signal};
pub use metrics::HttpMetrics;
pub use server_config::ServerConfig;
