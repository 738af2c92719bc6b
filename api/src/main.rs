//! `api` — serve the status API; `api healthcheck` — probe a running one (exit 0 if healthy).

use std::{convert::Infallible, process::ExitCode};

use api::ApiConfig;

fn main() -> ExitCode {
    service_kit::launch::main(
        "api",
        ApiConfig::from_env(),
        |config| &config.server,
        Ok::<_, Infallible>,
        api::run,
    )
}
