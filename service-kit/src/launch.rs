//! What a server binary's `main` does, in one place so both binaries behave alike:
//!
//! 1. configuration is loaded and checked before anything else; a bad value is one line on
//!    stderr naming the variable and the value, and exit status 64 (sysexits' EX_USAGE, as
//!    linkerd2-proxy does);
//! 2. `<binary> healthcheck` probes a running instance (the `HEALTHCHECK` of images without a
//!    shell); `<binary>` or `<binary> serve` serves;
//! 3. the binary's own checks run before binding (e.g. the frontend's site root);
//! 4. telemetry, bind on all interfaces, serve until SIGTERM/SIGINT, drain;
//! 5. queued log lines are written out before the process exits.
//!
//! Fatal errors (cannot bind, the server failing) are one line on stderr, written
//! synchronously like the configuration errors, and a panic that escapes the runtime is
//! written by the panic hook (see [`telemetry`]) before the queued log lines are flushed
//! and the process exits 101 — never a silent exit with the reason stuck in the log queue.

use std::{fmt::Display, future::Future, io, net::TcpListener, process::ExitCode, time::Duration};

use crate::{ServerConfig, self_probe, settings::SettingsError, shutdown_signal, telemetry};

/// Exit status for configuration and usage errors.
pub const EXIT_CONFIG: u8 = 64;

/// Exit status after a panic escaped the server (Rust's own status for a panicking `main`).
pub const EXIT_PANIC: u8 = 101;

/// Runs a server binary named `binary`. `server` picks the shared settings out of the
/// binary's configuration; `prepare` turns the configuration into the served state (checks
/// that must pass before the port is bound); `serve` runs it on the listener until the
/// shutdown signal it is given resolves.
pub fn main<C, S, E, Fut>(
    binary: &str,
    config: Result<C, SettingsError>,
    server: impl Fn(&C) -> &ServerConfig,
    prepare: impl FnOnce(C) -> Result<S, E>,
    serve: impl FnOnce(S, TcpListener, ShutdownSignal) -> Fut,
) -> ExitCode
where
    E: Display,
    Fut: Future<Output = io::Result<()>>,
{
    let config = match config {
        Ok(config) => config,
        Err(err) => {
            eprintln!("{binary}: {err}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let shared = server(&config).clone();
    match std::env::args().nth(1).as_deref() {
        None | Some("serve") => {}
        Some("healthcheck") => {
            let agent = format!("{binary}-healthcheck");
            return match self_probe::probe(shared.port, Duration::from_secs(2), &agent) {
                Ok(()) => ExitCode::SUCCESS,
                Err(err) => {
                    eprintln!("{binary} healthcheck: {err}");
                    ExitCode::FAILURE
                }
            };
        }
        Some(other) => {
            eprintln!(
                "{binary}: unknown command {other:?}; usage: {binary} [serve|healthcheck] (configured by environment variables)"
            );
            return ExitCode::from(EXIT_CONFIG);
        }
    }
    let state = match prepare(config) {
        Ok(state) => state,
        Err(err) => {
            eprintln!("{binary}: invalid configuration: {err}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    if let Err(err) = telemetry::init(&shared.log_level, shared.log_format) {
        eprintln!("{binary}: {err}");
        return ExitCode::from(EXIT_CONFIG);
    }
    let run = std::panic::AssertUnwindSafe(move || {
        actix_web::rt::System::new().block_on(async move {
            // Signal handlers first: from here on SIGTERM always means a graceful drain.
            let signal = shutdown_signal();
            let listener = match TcpListener::bind(("0.0.0.0", shared.port)) {
                Ok(listener) => listener,
                Err(err) => {
                    eprintln!("{binary}: cannot bind 0.0.0.0:{}: {err}", shared.port);
                    return ExitCode::FAILURE;
                }
            };
            match serve(state, listener, Box::pin(signal)).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(err) => {
                    eprintln!("{binary}: server failed: {err}");
                    ExitCode::FAILURE
                }
            }
        })
    });
    // The panic hook has already written the panic to stderr; exit as a panic would (101),
    // after the log lines queued before it.
    let code = std::panic::catch_unwind(run).unwrap_or(ExitCode::from(EXIT_PANIC));
    // Log lines are written by a background thread: write out the last ones.
    telemetry::flush();
    code
}

/// The future that resolves with the name of the signal that asked the process to stop.
pub type ShutdownSignal = std::pin::Pin<Box<dyn Future<Output = &'static str>>>;
