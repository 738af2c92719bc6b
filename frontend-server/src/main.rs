//! `frontend-server` binary: configuration, telemetry, bind, serve. Everything else is in
//! the library.

use std::{net::TcpListener, process::ExitCode};

use frontend_server::{AppState, FrontendConfig};
use service_kit::{shutdown_signal, telemetry};

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
    if std::env::args().len() > 1 {
        eprintln!("frontend-server: takes no arguments; configure it with environment variables");
        return ExitCode::from(EXIT_CONFIG);
    }
    // The site root is part of the configuration: checked before binding too.
    let state = match AppState::new(config) {
        Ok(state) => state,
        Err(err) => {
            eprintln!("frontend-server: invalid configuration: {err}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    if let Err(err) = telemetry::init(&state.config.log_level, state.config.log_format) {
        eprintln!("frontend-server: {err}");
        return ExitCode::from(EXIT_CONFIG);
    }
    let listener = match TcpListener::bind(("0.0.0.0", state.config.port)) {
        Ok(listener) => listener,
        Err(err) => {
            tracing::error!(port = state.config.port, error = %err, "cannot bind");
            return ExitCode::FAILURE;
        }
    };
    let result = actix_web::rt::System::new().block_on(frontend_server::run(
        state,
        listener,
        shutdown_signal(),
    ));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(error = %err, "server failed");
            ExitCode::FAILURE
        }
    }
}
