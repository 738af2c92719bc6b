//! Issue 3 point 7 and the binary's edges: exit codes on bad configuration, JSON access
//! logs with the api's field names, SIGTERM drain with readiness, no environment proxy.

use std::{
    process::Command,
    time::{Duration, Instant},
};

use reqwest::StatusCode;
use serde_json::Value;

use crate::support::{self, TestUpstream};

#[test]
fn bad_configuration_exits_64_with_one_line_naming_the_variable_and_value() {
    let site = support::fixture_site();
    let root = site.root().display().to_string();
    for (var, value) in [
        ("PORT", "abc"),
        ("FALLBACK", "index"),
        ("API_UPSTREAM", "https://api:8443"),
        ("UPSTREAM_TIMEOUT", "soon"),
        ("MAX_BODY_SIZE", "huge"),
        ("SITE_ROOT", "/definitely/not/here"),
    ] {
        let mut cmd = Command::new(support::frontend_binary());
        cmd.env_clear().env("SITE_ROOT", &root).env(var, value);
        let out = cmd.output().unwrap();
        assert_eq!(out.status.code(), Some(64), "{var}={value}");
        let stderr = String::from_utf8(out.stderr).unwrap();
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{var}={value}: {stderr}");
        assert!(
            lines[0].contains(&format!("{var}={value:?}")),
            "{var}={value}: {stderr}"
        );
        assert!(
            out.stdout.is_empty(),
            "nothing logged before the config is valid"
        );
    }
}

#[tokio::test]
async fn access_log_is_one_json_line_per_request_with_the_api_field_names() {
    let site = support::fixture_site();
    let root = site.root().display().to_string();
    let fe = support::start_proc(&support::frontend_binary(), &[("SITE_ROOT", &root)]);
    let res = support::client()
        .get(fe.url("/about/?from=test"))
        .header("user-agent", "log-test/1.0")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    let line = fe.wait_for_line(|l| l.contains("log-test/1.0"));
    let v: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(v["statusCode"], 200);
    assert_eq!(v["method"], "GET");
    assert_eq!(v["path"], "/about/?from=test");
    assert_eq!(v["clientIP"], "127.0.0.1");
    assert_eq!(v["userAgent"], "log-test/1.0");
    assert_eq!(v["requestId"], id.as_str());
    assert_eq!(v["msg"], "request processed");
    assert!(v["latency"].as_u64().is_some(), "{line}");
}

#[tokio::test]
async fn sigterm_turns_readiness_503_drains_in_flight_and_exits_0() {
    let upstream = TestUpstream::start();
    let site = support::fixture_site();
    let root = site.root().display().to_string();
    let origin = upstream.origin();
    let mut fe = support::start_proc(
        &support::frontend_binary(),
        &[
            ("SITE_ROOT", &root),
            ("API_UPSTREAM", &origin),
            ("PRESTOP_DELAY", "1s"),
            ("SHUTDOWN_TIMEOUT", "10s"),
        ],
    );
    let c = support::client();
    assert_eq!(c.get(fe.url("/readyz")).send().await.unwrap().status(), 200);
    // An in-flight proxied request that takes 3 s.
    let slow = tokio::spawn({
        let c = c.clone();
        let url = fe.url("/api/slow");
        async move { c.get(url).send().await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let signalled = Instant::now();
    fe.signal("-TERM");
    fe.wait_for_line(|l| l.contains("readiness now reports 503"));
    // During the pre-stop delay the listener still answers, unready.
    let res = c.get(fe.url("/readyz")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    let slow = slow.await.unwrap().unwrap();
    assert_eq!(slow.status(), StatusCode::OK);
    assert_eq!(slow.text().await.unwrap(), "{\"slow\":true}");
    let code = fe.wait_exit(Duration::from_secs(10));
    assert_eq!(code, 0);
    assert!(signalled.elapsed() < Duration::from_secs(8));
    fe.wait_for_line(|l| l.contains("shutdown complete"));
}

#[tokio::test]
async fn environment_proxy_variables_are_ignored() {
    let upstream = TestUpstream::start();
    let site = support::fixture_site();
    let root = site.root().display().to_string();
    let origin = upstream.origin();
    let dead = format!("http://127.0.0.1:{}", support::free_port());
    let fe = support::start_proc(
        &support::frontend_binary(),
        &[
            ("SITE_ROOT", &root),
            ("API_UPSTREAM", &origin),
            ("HTTP_PROXY", &dead),
            ("http_proxy", &dead),
            ("ALL_PROXY", &dead),
        ],
    );
    let res = support::client()
        .get(fe.url("/api/echo"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(upstream.last().target, "/api/echo");
}

#[test]
fn healthcheck_subcommand_probes_the_running_server() {
    let site = support::fixture_site();
    let root = site.root().display().to_string();
    let fe = support::start_proc(&support::frontend_binary(), &[("SITE_ROOT", &root)]);
    let port = fe.port.to_string();
    let ok = Command::new(support::frontend_binary())
        .arg("healthcheck")
        .env_clear()
        .env("PORT", &port)
        .status()
        .unwrap();
    assert!(ok.success());
    drop(fe);
    let out = Command::new(support::frontend_binary())
        .arg("healthcheck")
        .env_clear()
        .env("PORT", &port)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains(&format!("127.0.0.1:{port}")), "{stderr}");
}
