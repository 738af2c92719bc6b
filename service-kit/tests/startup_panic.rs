//! Issue 10 point 9: a panic during startup reaches stderr synchronously before the process
//! exits, and the log lines queued before it are written out too.
//!
//! This test binary runs itself again as a server (`launch::main`, the same path both
//! binaries take) whose `serve` panics after telemetry is up, where `WORKERS=600` used to
//! panic inside actix-server and exit 101 with no output.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::{convert::Infallible, process::Command};

use service_kit::{ServerConfig, launch};

const CHILD: &str = "STARTUP_PANIC_TEST_CHILD";

fn main() {
    if let Ok(format) = std::env::var(CHILD) {
        std::process::exit(child(&format));
    }
    for format in ["json", "pretty"] {
        a_startup_panic_reaches_stderr_and_the_queued_lines_stdout(format);
    }
    println!("startup_panic: 2 passed, 0 failed");
}

/// The server: logs one line, then panics on the runtime's thread.
fn child(format: &str) -> i32 {
    let vars = [
        ("PORT".to_owned(), "0".to_owned()),
        ("LOG_FORMAT".to_owned(), format.to_owned()),
    ];
    let code = launch::main(
        "panicky",
        ServerConfig::load(&[], &vars),
        |config| config,
        Ok::<_, Infallible>,
        |_config, _listener, _signal| async {
            tracing::info!("queued before the panic");
            panic!("forced panic at startup");
        },
    );
    // ExitCode has no accessor: report through the status the parent checks.
    if code == std::process::ExitCode::from(launch::EXIT_PANIC) {
        101
    } else {
        1
    }
}

fn a_startup_panic_reaches_stderr_and_the_queued_lines_stdout(format: &str) {
    let out = Command::new(std::env::current_exe().unwrap())
        .env_clear()
        .env(CHILD, format)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(101),
        "{format}: stdout={stdout} stderr={stderr}"
    );
    let line = stderr
        .lines()
        .find(|l| l.contains("forced panic at startup"))
        .unwrap_or_else(|| panic!("{format}: no panic line on stderr: {stderr:?}"));
    assert!(
        line.contains("startup_panic.rs:"),
        "{format}: no location: {line}"
    );
    if format == "json" {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(v["msg"], "panic");
        assert_eq!(v["level"], "ERROR");
    }
    assert!(
        stdout.contains("queued before the panic"),
        "{format}: the line queued before the panic was lost: {stdout:?}"
    );
}
