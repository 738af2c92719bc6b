//! `frontend-server` — serve the site; `frontend-server healthcheck` — probe a running one
//! (exit 0 if healthy; for the image's HEALTHCHECK). Everything else is in the library.

use std::{net::TcpListener, process::ExitCode, time::Duration};

use frontend_server::{AppState, FrontendConfig};
use service_kit::{self_probe, shutdown_signal, telemetry};

/// Exit code for configuration errors (sysexits' EX_USAGE), the same as the api's.
const EXIT_CONFIG: u8 = 64;

fn main() -> ExitCode {
    // Validated before anything is bound: a bad value is one line on stderr naming the
    // variable and the value, and a non-zero exit.
    let config = match FrontendConfig::from_env() {
        Ok(config) => config,
        Err(err) => {
            eprintln!("frontend-server: {err}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    match std::env::args().nth(1).as_deref() {
        None | Some("serve") => serve(config),
        Some("healthcheck") => {
            match self_probe::probe(
                config.server.port,
                Duration::from_secs(2),
                "frontend-healthcheck",
            ) {
                Ok(()) => ExitCode::SUCCESS,
                Err(err) => {
                    eprintln!("frontend-server healthcheck: {err}");
                    ExitCode::FAILURE
                }
            }
        }
        Some(other) => {
            eprintln!(
                "frontend-server: unknown command {other:?}; usage: frontend-server [serve|healthcheck] (configured by environment variables)"
            );
            ExitCode::from(EXIT_CONFIG)
        }
    }
}

fn serve(config: FrontendConfig) -> ExitCode {
    // The site root is part of the configuration: checked before binding too.
    let state = match AppState::new(config) {
        Ok(state) => state,
        Err(err) => {
            eprintln!("frontend-server: invalid configuration: {err}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    if let Err(err) = telemetry::init(
        &state.config.server.log_level,
        state.config.server.log_format,
    ) {
        eprintln!("frontend-server: {err}");
        return ExitCode::from(EXIT_CONFIG);
    }
    let listener = match TcpListener::bind(("0.0.0.0", state.config.server.port)) {
        Ok(listener) => listener,
        Err(err) => {
            tracing::error!(port = state.config.server.port, error = %err, "cannot bind");
            telemetry::flush();
            return ExitCode::FAILURE;
        }
    };
    let result = actix_web::rt::System::new().block_on(frontend_server::run(
        state,
        listener,
        shutdown_signal(),
    ));
    let code = match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(error = %err, "server failed");
            ExitCode::FAILURE
        }
    };
    // Log lines are written by a background thread: write out the last ones.
    telemetry::flush();
    code
}
