//! `api` — serve the status API; `api healthcheck` — probe a running one (exit 0 if healthy).

use std::{convert::Infallible, process::ExitCode};

use api::ApiConfig;

// mimalloc: fewer instructions per allocation than glibc's malloc, and actix allocates on
// every request (BENCHMARKS.md, issue 11).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    service_kit::launch::main(
        "api",
        ApiConfig::from_env(),
        |config| &config.server,
        Ok::<_, Infallible>,
        api::run,
    )
}
