//! The built `api` binary over real loopback HTTP.

use std::{
    io::{Read, Write},
    net::TcpStream,
    path::Path,
    process::Command,
    time::{Duration, Instant},
};

use serde_json::Value;
use test_support::ServerProcess;

/// The built `api` binary, started on an ephemeral port with exactly `env`.
fn start_api(env: &[(&str, &str)]) -> ServerProcess {
    ServerProcess::start(Path::new(env!("CARGO_BIN_EXE_api")), env)
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

#[test]
fn invalid_config_exits_64_naming_variable_and_value_before_binding() {
    for (key, value) in [
        ("PORT", "abc"),
        ("SHUTDOWN_TIMEOUT", "soon"),
        ("LOG_FORMAT", "xml"),
        // Above actix-server's limit: once a panic inside actix-server, exit 101, no output.
        ("WORKERS", "600"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_api"))
            .env_clear()
            .env(key, value)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(64), "{key}={value}");
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains(&format!("{key}={value:?}")), "{stderr}");
        // Nothing was started: no log line at all on stdout.
        assert!(
            out.stdout.is_empty(),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
}

#[tokio::test]
async fn serves_status_and_logs_one_json_line_per_request_with_the_seed_fields() {
    let api = start_api(&[("APP_ENV", "proc-test")]);
    let res = client()
        .get(api.url("/api/v1/status?verbose=1"))
        .header("user-agent", "it-test/1.0")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["environment"], "proc-test");
    // Probe requests are debug-level: absent at the default info level.
    assert_eq!(
        client()
            .get(api.url("/healthz"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "healthy"
    );

    let line = api.wait_for_line(|l| l.contains("/api/v1/status?verbose=1"));
    let v: Value = serde_json::from_str(&line).unwrap();
    let fields: std::collections::BTreeSet<&str> =
        v.as_object().unwrap().keys().map(String::as_str).collect();
    // Exactly the seed's line (slog's envelope and the seed's keys) plus the request id.
    let expected: std::collections::BTreeSet<&str> = [
        "time",
        "level",
        "msg", // slog's envelope
        "statusCode",
        "latency",
        "clientIP",
        "method",
        "path",
        "userAgent", // the seed's
        "requestId",
    ]
    .into_iter()
    .collect();
    assert_eq!(fields, expected, "{line}");
    assert_eq!(v["statusCode"], 200);
    assert_eq!(v["clientIP"], "127.0.0.1");
    assert_eq!(v["method"], "GET");
    assert_eq!(v["path"], "/api/v1/status?verbose=1");
    assert_eq!(v["userAgent"], "it-test/1.0");
    assert_eq!(v["level"], "INFO");
    assert_eq!(v["msg"], "request processed");
    // slog prints a time.Duration as integer nanoseconds.
    assert!(v["latency"].as_u64().is_some_and(|ns| ns > 0), "{line}");
    // The seed's field order: slog writes attributes in the order they are given.
    let order: Vec<usize> = [
        "\"time\"",
        "\"level\"",
        "\"msg\"",
        "\"statusCode\"",
        "\"latency\"",
        "\"clientIP\"",
        "\"method\"",
        "\"path\"",
        "\"userAgent\"",
    ]
    .iter()
    .map(|k| line.find(k).unwrap())
    .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{line}");
    std::thread::sleep(Duration::from_millis(200));
    let lines = api.json_lines();
    assert!(
        lines
            .iter()
            .any(|l| l["msg"] == "api starting" && l["environment"] == "proc-test")
    );
    assert!(
        !lines.iter().any(|l| l["path"] == "/healthz"),
        "probe logged at info: {lines:?}"
    );
}

#[tokio::test]
async fn probes_are_logged_at_debug_level() {
    let api = start_api(&[("LOG_LEVEL", "debug")]);
    client().get(api.url("/readyz")).send().await.unwrap();
    let line = api.wait_for_line(|l| l.contains("\"path\":\"/readyz\""));
    assert!(line.contains("\"level\":\"DEBUG\""), "{line}");
}

#[tokio::test]
async fn pretty_log_format_is_human_readable() {
    let api = start_api(&[("LOG_FORMAT", "pretty")]);
    client()
        .get(api.url("/api/v1/status"))
        .send()
        .await
        .unwrap();
    let line = api.wait_for_line(|l| l.contains("/api/v1/status"));
    assert!(!line.trim_start().starts_with('{'), "{line}");
    assert!(
        line.contains("INFO") && line.contains("statusCode=200"),
        "{line}"
    );
}

#[tokio::test]
async fn sigterm_drains_in_flight_requests_then_exits_0() {
    let mut api = start_api(&[
        ("DEBUG_ROUTES", "true"),
        ("PRESTOP_DELAY", "400ms"),
        ("SHUTDOWN_TIMEOUT", "5s"),
    ]);
    let url = api.url("/debug/sleep?ms=1500");
    let in_flight: Vec<_> = (0..6)
        .map(|_| {
            let url = url.clone();
            tokio::spawn(async move { client().get(url).send().await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    api.signal("-TERM");
    // During the pre-stop delay the server still answers, but reports itself unready.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let ready = client().get(api.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 503);
    for task in in_flight {
        let res = task.await.unwrap().expect("in-flight request was cut off");
        assert_eq!(res.status(), 200);
        assert_eq!(res.text().await.unwrap(), "slept 1500ms");
    }
    assert_eq!(api.wait_exit(Duration::from_secs(6)), 0);
    assert!(started.elapsed() < Duration::from_secs(5));
    // The pipe may still hold the last lines when the exit is observed: wait for them.
    api.wait_for_line(|l| l.contains("\"msg\":\"shutdown complete\""));
    let lines = api.json_lines();
    assert!(lines.iter().any(|l| {
        l["msg"]
            .as_str()
            .unwrap_or("")
            .starts_with("shutdown started")
            && l["signal"] == "SIGTERM"
    }));
    // After exit, nothing listens any more.
    assert!(TcpStream::connect(("127.0.0.1", api.port)).is_err());
}

#[tokio::test]
async fn sigint_also_stops_gracefully() {
    let mut api = start_api(&[]);
    api.signal("-INT");
    assert_eq!(api.wait_exit(Duration::from_secs(6)), 0);
    assert!(api.json_lines().iter().any(|l| l["signal"] == "SIGINT"));
}

#[tokio::test]
async fn shutdown_timeout_bounds_the_wait_for_stuck_requests() {
    let mut api = start_api(&[("DEBUG_ROUTES", "true"), ("SHUTDOWN_TIMEOUT", "1s")]);
    let url = api.url("/debug/sleep?ms=20000");
    let stuck = tokio::spawn(async move { client().get(url).send().await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    api.signal("-TERM");
    assert_eq!(api.wait_exit(Duration::from_secs(4)), 0);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert!(
        stuck.await.unwrap().is_err(),
        "a 20 s request cannot have completed"
    );
}

#[tokio::test]
async fn panic_in_a_handler_is_a_json_500_and_the_process_serves_on() {
    let api = start_api(&[("DEBUG_ROUTES", "true")]);
    let c = client();
    for _ in 0..3 {
        let res = c.get(api.url("/debug/panic")).send().await.unwrap();
        assert_eq!(res.status(), 500);
        assert!(
            res.headers().contains_key("x-request-id"),
            "{:?}",
            res.headers()
        );
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"], "Internal Server Error");
    }
    assert_eq!(
        c.get(api.url("/api/v1/status"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let line = api.wait_for_line(|l| l.contains("\"msg\":\"panic\""));
    assert!(line.contains("deliberate panic"), "{line}");
    api.wait_for_line(|l| l.contains("\"statusCode\":500"));
    // Counted under its route, not as an unmatched request.
    let metrics = c
        .get(api.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(
            r#"api_http_requests_total{route="/debug/panic",method="GET",status="500"} 3"#
        ),
        "{metrics}"
    );
}

#[test]
fn healthcheck_subcommand_probes_the_running_server() {
    let api = start_api(&[]);
    let ok = Command::new(env!("CARGO_BIN_EXE_api"))
        .env_clear()
        .env("PORT", api.port.to_string())
        .arg("healthcheck")
        .status()
        .unwrap();
    assert!(ok.success());
    let port = api.port;
    drop(api);
    let out = Command::new(env!("CARGO_BIN_EXE_api"))
        .env_clear()
        .env("PORT", port.to_string())
        .arg("healthcheck")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot connect"));
}

#[test]
fn a_slow_client_is_cut_off_after_the_client_request_timeout() {
    let api = start_api(&[("CLIENT_REQUEST_TIMEOUT", "500ms")]);
    let mut stream = TcpStream::connect(("127.0.0.1", api.port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    // Half a request head, then silence (slow-loris).
    stream
        .write_all(b"GET /api/v1/status HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    let started = Instant::now();
    let mut buf = Vec::new();
    let _ = stream.read_to_end(&mut buf);
    let waited = started.elapsed();
    assert!(
        waited < Duration::from_secs(3),
        "connection held for {waited:?}"
    );
    let text = String::from_utf8_lossy(&buf);
    assert!(buf.is_empty() || text.starts_with("HTTP/1.1 408"), "{text}");
}

#[test]
fn oversized_request_head_is_rejected_over_the_wire() {
    let api = start_api(&[]);
    let mut stream = TcpStream::connect(("127.0.0.1", api.port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let req = format!(
        "GET /api/v1/status HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\nConnection: close\r\n\r\n",
        "a".repeat(20 * 1024)
    );
    stream.write_all(req.as_bytes()).unwrap();
    let mut buf = Vec::new();
    let _ = stream.read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf);
    assert!(text.starts_with("HTTP/1.1 431"), "{text}");
    assert!(!text.to_ascii_lowercase().contains("\nserver:"), "{text}");
}

#[test]
fn an_unknown_command_is_a_usage_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_api"))
        .env_clear()
        .arg("bogus")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("unknown command \"bogus\"")
            && stderr.contains("usage: api [serve|healthcheck]"),
        "{stderr}"
    );
}

#[test]
fn a_non_utf8_variable_is_skipped_unless_the_api_reads_it() {
    use std::os::unix::ffi::OsStrExt;
    let bad = std::ffi::OsStr::from_bytes(b"caf\xe9");
    // An unrelated variable the api never reads: it starts as usual.
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_api"));
    cmd.env_clear()
        .env("SOME_OTHER_VAR", bad)
        .arg("healthcheck")
        .env("PORT", "1");
    let out = cmd.output().unwrap();
    // The probe fails to connect (nothing on port 1), but the configuration loaded.
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A key it reads: one line naming it, status 64.
    let out = Command::new(env!("CARGO_BIN_EXE_api"))
        .env_clear()
        .env("APP_ENV", bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("APP_ENV=") && stderr.contains("not valid UTF-8"),
        "{stderr}"
    );
}

#[tokio::test]
async fn a_second_signal_while_draining_exits_at_once() {
    let mut api = start_api(&[("DEBUG_ROUTES", "true"), ("SHUTDOWN_TIMEOUT", "20s")]);
    let url = api.url("/debug/sleep?ms=20000");
    let _stuck = tokio::spawn(async move { client().get(url).send().await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    api.signal("-TERM");
    api.wait_for_line(|l| l.contains("closing listener"));
    let started = Instant::now();
    api.signal("-TERM");
    assert_eq!(api.wait_exit(Duration::from_secs(3)), 143);
    assert!(started.elapsed() < Duration::from_secs(2));
    api.wait_for_line(|l| l.contains("second signal"));
}
