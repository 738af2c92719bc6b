//! `frontend-server` — serve the site; `frontend-server healthcheck` — probe a running one
//! (exit 0 if healthy; for the image's HEALTHCHECK). Everything else is in the library.

use std::process::ExitCode;

use frontend_server::{AppState, FrontendConfig};

fn main() -> ExitCode {
    service_kit::launch::main(
        "frontend-server",
        FrontendConfig::from_env(),
        |config| &config.server,
        // The site root is part of the configuration: checked before binding too.
        AppState::new,
        frontend_server::run,
    )
}
