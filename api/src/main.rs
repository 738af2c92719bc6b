//! `api` — serve the status API; `api healthcheck` — probe a running one (exit 0 if healthy).

use std::{net::TcpListener, process::ExitCode, time::Duration};

use api::ApiConfig;
use service_kit::{self_probe, shutdown_signal, telemetry};

/// Exit code for configuration errors (sysexits' EX_USAGE, as linkerd2-proxy does).
const EXIT_CONFIG: u8 = 64;

fn main() -> ExitCode {
    let config = match ApiConfig::from_env() {
        Ok(config) => config,
        Err(err) => {
            eprintln!("api: {err}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    match std::env::args().nth(1).as_deref() {
        None | Some("serve") => serve(config),
        Some("healthcheck") => {
            match self_probe::probe(
                config.server.port,
                Duration::from_secs(2),
                "api-healthcheck",
            ) {
                Ok(()) => ExitCode::SUCCESS,
                Err(err) => {
                    eprintln!("api healthcheck: {err}");
                    ExitCode::FAILURE
                }
            }
        }
        Some(other) => {
            eprintln!("api: unknown command {other:?}; usage: api [serve|healthcheck]");
            ExitCode::from(EXIT_CONFIG)
        }
    }
}

fn serve(config: ApiConfig) -> ExitCode {
    if let Err(err) = telemetry::init(&config.server.log_level, config.server.log_format) {
        eprintln!("api: {err}");
        return ExitCode::from(EXIT_CONFIG);
    }
    let listener = match TcpListener::bind(("0.0.0.0", config.server.port)) {
        Ok(listener) => listener,
        Err(err) => {
            tracing::error!(port = config.server.port, error = %err, "cannot bind");
            telemetry::flush();
            return ExitCode::FAILURE;
        }
    };
    let result =
        actix_web::rt::System::new().block_on(api::run(config, listener, shutdown_signal()));
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
