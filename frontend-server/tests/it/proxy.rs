//! Issue 3 point 5: the `/api/` proxy against a scripted upstream and the real api binary.

use std::time::{Duration, Instant};

use reqwest::{StatusCode, header};

use crate::support::{self, InProcess, TestUpstream};

/// The fixture site served in-process, proxying to `upstream`.
pub fn start(upstream: &TestUpstream, extra: &[(&str, &str)]) -> (support::FixtureSite, InProcess) {
    let site = support::fixture_site();
    let origin = upstream.origin();
    let mut env = vec![("API_UPSTREAM", origin.as_str())];
    env.extend_from_slice(extra);
    let srv = InProcess::start(&site.root(), &env);
    (site, srv)
}

#[tokio::test]
async fn a_generated_request_id_is_the_one_the_upstream_sees() {
    // No id from the client: the access log makes one, answers with it, and the proxy
    // passes the same id on (through the request's extensions, not a copied header).
    let upstream = TestUpstream::start();
    let (_site, srv) = start(&upstream, &[]);
    let res = support::client()
        .get(srv.url("/api/echo"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let answered = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert!(!answered.is_empty());
    assert_eq!(
        upstream.last().header("x-request-id"),
        Some(answered.as_str())
    );
    // An id that is not well-formed is replaced, upstream too.
    let res = support::client()
        .get(srv.url("/api/echo"))
        .header("x-request-id", "bad id\"")
        .send()
        .await
        .unwrap();
    let answered = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_ne!(answered, "bad id\"");
    assert_eq!(
        upstream.last().header("x-request-id"),
        Some(answered.as_str())
    );
}

#[tokio::test]
async fn forwarding_headers_are_set_appended_and_hop_by_hop_stripped() {
    let upstream = TestUpstream::start();
    let (_site, srv) = start(&upstream, &[]);
    let res = support::client()
        .get(srv.url("/api/echo?a=1&b=%20x"))
        .header(header::HOST, "Example.COM:8443")
        .header("x-forwarded-for", "203.0.113.7")
        .header("x-request-id", "req-abc-123")
        .header(header::CONNECTION, "keep-alive, x-client-hop")
        .header("x-client-hop", "must-not-pass")
        .header("proxy-authorization", "Basic Zm9vOmJhcg==")
        .header("te", "trailers")
        .header("x-custom", "kept")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["x-request-id"], "req-abc-123");
    let seen = upstream.last();
    assert_eq!(seen.method, "GET");
    assert_eq!(
        seen.target, "/api/echo?a=1&b=%20x",
        "path and query unchanged"
    );
    assert_eq!(
        seen.header("host"),
        Some("example.com"),
        "nginx $host: no port"
    );
    assert_eq!(seen.header("x-real-ip"), Some("127.0.0.1"));
    assert_eq!(
        seen.header("x-forwarded-for"),
        Some("203.0.113.7, 127.0.0.1")
    );
    assert_eq!(seen.header("x-forwarded-proto"), Some("http"));
    assert_eq!(seen.header("x-request-id"), Some("req-abc-123"));
    assert_eq!(seen.header("x-custom"), Some("kept"));
    for hop in ["x-client-hop", "proxy-authorization", "te"] {
        assert_eq!(seen.header(hop), None, "{hop} must not reach the upstream");
    }
    // The upstream connection is our own keep-alive one, not the client's header.
    assert_ne!(seen.header("connection"), Some("keep-alive, x-client-hop"));
}

#[tokio::test]
async fn every_set_cookie_is_kept_and_upstream_hop_headers_are_dropped() {
    let upstream = TestUpstream::start();
    let (_site, srv) = start(&upstream, &[]);
    let res = support::client()
        .get(srv.url("/api/cookies"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let cookies: Vec<_> = res
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    assert_eq!(cookies, ["a=1; Path=/", "b=2; HttpOnly", "c=3; Secure"]);
    assert_eq!(res.headers()["x-kept"], "yes");
    assert!(res.headers().get("x-upstream-hop").is_none());
    assert!(res.headers().get("keep-alive").is_none());
    assert_eq!(res.text().await.unwrap(), "{\"cookies\":3}");
}

#[tokio::test]
async fn chunked_responses_stream_through_without_buffering() {
    let upstream = TestUpstream::start();
    let (_site, srv) = start(&upstream, &[]);
    let started = Instant::now();
    let mut res = support::client()
        .get(srv.url("/api/chunked"))
        .send()
        .await
        .unwrap();
    let first = res.chunk().await.unwrap().unwrap();
    let first_at = started.elapsed();
    let mut all = first.to_vec();
    while let Some(chunk) = res.chunk().await.unwrap() {
        all.extend_from_slice(&chunk);
    }
    let total = started.elapsed();
    assert_eq!(
        String::from_utf8(all).unwrap(),
        "part-0;part-1;part-2;part-3;part-4;"
    );
    // The upstream takes ~1 s for all parts; the first must arrive long before that.
    assert!(
        first_at < Duration::from_millis(600),
        "first chunk after {first_at:?}"
    );
    assert!(total >= Duration::from_millis(800), "total {total:?}");
}

#[tokio::test]
async fn slow_upstream_is_504_after_the_timeout() {
    let upstream = TestUpstream::start();
    let (_site, srv) = start(&upstream, &[("UPSTREAM_TIMEOUT", "500ms")]);
    let started = Instant::now();
    let res = support::client()
        .get(srv.url("/api/slow"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::GATEWAY_TIMEOUT);
    assert!(started.elapsed() < Duration::from_millis(2500));
    let body: serde_json::Value = serde_json::from_slice(&res.bytes().await.unwrap()).unwrap();
    assert_eq!(body["error"], "Gateway Timeout");
}

#[tokio::test]
async fn dropped_connection_and_refused_connect_are_502() {
    let upstream = TestUpstream::start();
    let (_site, srv) = start(&upstream, &[]);
    let res = support::client()
        .get(srv.url("/api/drop"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_GATEWAY);

    let site = support::fixture_site();
    let port = support::free_port();
    let srv = InProcess::start(
        &site.root(),
        &[("API_UPSTREAM", &format!("http://127.0.0.1:{port}"))],
    );
    let res = support::client()
        .get(srv.url("/api/v1/status"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_GATEWAY);
    let body: serde_json::Value = serde_json::from_slice(&res.bytes().await.unwrap()).unwrap();
    assert_eq!(body["message"], "cannot connect to the upstream");
}

#[tokio::test]
async fn redirects_are_passed_through_not_followed() {
    let upstream = TestUpstream::start();
    let (_site, srv) = start(&upstream, &[]);
    let res = support::client()
        .get(srv.url("/api/redirect"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FOUND);
    assert_eq!(res.headers()[header::LOCATION], "/elsewhere");
    assert_eq!(upstream.seen.lock().unwrap().len(), 1);
}

/// Checked on the wire (see `support::raw_then_get`): an HTTP client would discard any
/// body bytes after these heads by protocol, so it cannot see them.
#[test]
fn head_204_and_304_have_no_body() {
    let upstream = TestUpstream::start();
    let (_site, srv) = start(&upstream, &[]);
    for (method, target, status) in [
        ("HEAD", "/api/echo", "200"),
        ("GET", "/api/empty", "204"),
        ("GET", "/api/notmodified", "304"),
    ] {
        let (head, rest) = support::raw_then_get(&srv.base, method, target, "/api/echo");
        assert!(
            head.starts_with(&format!("HTTP/1.1 {status} ")),
            "{method} {target}: {head}"
        );
        assert!(
            rest.starts_with("HTTP/1.1 200 "),
            "{method} {target}: bytes after the head: {rest:?}"
        );
        assert!(rest.ends_with("{\"ok\":true}"), "{rest:?}");
        match status {
            "200" => {
                assert_eq!(support::raw_header(&head, "content-length"), Some("11"));
                assert_eq!(
                    upstream
                        .seen
                        .lock()
                        .unwrap()
                        .iter()
                        .rev()
                        .nth(1)
                        .map(|r| r.method.clone()),
                    Some("HEAD".to_owned())
                );
            }
            "304" => assert_eq!(support::raw_header(&head, "etag"), Some("\"x\"")),
            _ => {}
        }
    }
}

#[tokio::test]
async fn request_bodies_stream_up_to_the_limit_and_413_beyond() {
    let upstream = TestUpstream::start();
    let (_site, srv) = start(&upstream, &[("MAX_BODY_SIZE", "64KiB")]);
    let c = support::client();
    let ok = c
        .post(srv.url("/api/echo"))
        .body(vec![b'x'; 60 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    assert_eq!(upstream.last().body_len, 60 * 1024);
    assert_eq!(upstream.last().method, "POST");

    // Declared too large: refused before anything is sent upstream.
    let before = upstream.seen.lock().unwrap().len();
    let res = c
        .post(srv.url("/api/echo"))
        .body(vec![b'x'; 65 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(upstream.seen.lock().unwrap().len(), before);

    // Chunked (no declared length): counted while streaming.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..20).map(|_| Ok(vec![b'y'; 8 * 1024])).collect();
    let res = c
        .post(srv.url("/api/echo"))
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);

    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..4).map(|_| Ok(vec![b'z'; 8 * 1024])).collect();
    let res = c
        .post(srv.url("/api/echo"))
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(upstream.last().body_len, 32 * 1024);
}

#[tokio::test]
async fn upstream_connections_are_pooled_and_kept_alive() {
    let upstream = TestUpstream::start();
    let (_site, srv) = start(&upstream, &[("WORKERS", "1")]);
    let c = support::client();
    for _ in 0..25 {
        let res = c.get(srv.url("/api/echo")).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        res.bytes().await.unwrap();
    }
    let conns = upstream
        .connections
        .load(std::sync::atomic::Ordering::SeqCst);
    assert!(
        conns <= 2,
        "25 sequential requests used {conns} upstream connections"
    );
}

/// A pooled connection the upstream closed while it sat idle is never used for the next
/// request: it gets a new connection and a right answer, not a 502.
#[tokio::test]
async fn an_upstream_closing_idle_connections_costs_no_failed_request() {
    let upstream = TestUpstream::start();
    let (_site, srv) = start(&upstream, &[("WORKERS", "1")]);
    let c = support::client();
    for round in 0..4 {
        let res = c.get(srv.url("/api/close-idle")).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK, "round {round}");
        assert_eq!(res.text().await.unwrap(), "{\"ok\":true}");
        // The upstream closes the connection 100 ms after answering.
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let conns = upstream
        .connections
        .load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(conns, 4, "one new connection per round");
}

/// reqwest's one default header: a request without `Accept` reaches the api with
/// `Accept: */*` (the same meaning, RFC 9110 §12.5.1); one with `Accept` keeps its own.
/// Documented in the crate README; sent raw, since HTTP clients add an `Accept` of their own.
#[test]
fn a_request_without_accept_reaches_the_upstream_with_accept_any() {
    let upstream = TestUpstream::start();
    let (_site, srv) = start(&upstream, &[]);
    let (status, _) = support::raw_get(&srv.base, "/api/echo");
    assert_eq!(status, 200);
    assert_eq!(upstream.last().header("accept"), Some("*/*"));
    let mut conn =
        test_support::raw_http::RawConn::connect(srv.base.trim_start_matches("http://")).unwrap();
    conn.send("GET /api/echo HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\n\r\n")
        .unwrap();
    assert_eq!(conn.read_response(false).unwrap().status, 200);
    assert_eq!(upstream.last().header("accept"), Some("application/json"));
}

#[test]
fn dot_segments_cannot_reach_other_upstream_paths() {
    let upstream = TestUpstream::start();
    let (_site, srv) = start(&upstream, &[]);
    for target in [
        "/api/../healthz",
        "/api/%2e%2e/healthz",
        "/api/v1/%2E%2E/%2e%2e/x",
    ] {
        let (status, _) = support::raw_get(&srv.base, target);
        assert_eq!(status, 400, "{target}");
    }
    assert!(upstream.seen.lock().unwrap().is_empty());
}

#[tokio::test]
async fn the_real_api_answers_through_the_proxy_with_the_request_id_carried() {
    let api = support::start_api("proxy-test");
    let site = support::fixture_site();
    let srv = InProcess::start(
        &site.root(),
        &[("API_UPSTREAM", &format!("http://127.0.0.1:{}", api.port))],
    );
    let c = support::client();
    let res = c
        .get(srv.url("/api/v1/status"))
        .header("x-request-id", "trace-me-42")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let body: serde_json::Value = serde_json::from_slice(&res.bytes().await.unwrap()).unwrap();
    assert_eq!(body["status"], "ok");
    assert_eq!(body["service"], "api-service");
    assert_eq!(body["environment"], "proxy-test");
    // The api logged the same request id the client sent to the frontend.
    api.wait_for_line(|l| l.contains("trace-me-42") && l.contains("/api/v1/status"));

    let res = c.get(srv.url("/api/v1/nope")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let body: serde_json::Value = serde_json::from_slice(&res.bytes().await.unwrap()).unwrap();
    assert_eq!(body["error"], "Not Found");
}

#[tokio::test]
async fn the_scheme_set_by_an_ingress_in_front_is_passed_on() {
    let upstream = TestUpstream::start();
    let (_site, srv) = start(&upstream, &[]);
    let res = support::client()
        .get(srv.url("/api/echo"))
        .header("x-forwarded-proto", "https")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(upstream.last().header("x-forwarded-proto"), Some("https"));
}

/// Regression: `Host` was taken from actix' `connection_info().host()`, which prefers
/// `Forwarded: host=` and `X-Forwarded-Host`, so a client chose the api's `Host`; and
/// `Forwarded: for=` reached the api, whose client-IP extraction prefers it.
#[tokio::test]
async fn client_forwarded_and_x_forwarded_host_cannot_spoof_host_or_client_ip() {
    let upstream = TestUpstream::start();
    let (_site, srv) = start(&upstream, &[]);
    let res = support::client()
        .get(srv.url("/api/echo"))
        .header(header::HOST, "Site.Example:8080")
        .header("x-forwarded-host", "evil.example")
        .header("forwarded", "for=6.6.6.6;host=evil;proto=https")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let seen = upstream.last();
    assert_eq!(seen.header("host"), Some("site.example"));
    assert_eq!(seen.header("forwarded"), None);
    assert_eq!(seen.header("x-forwarded-host"), None);
    assert_eq!(seen.header("x-forwarded-for"), Some("127.0.0.1"));
    assert_eq!(
        seen.header("x-forwarded-proto"),
        Some("http"),
        "`Forwarded: proto=` is not the ingress' header"
    );
}

/// Regression: a connect *timeout* (reqwest: both `is_connect()` and `is_timeout()`) was
/// answered 504; the contract says any failure to connect is 502. The upstream is a
/// listener that never accepts, with its accept queue filled: Linux then drops further
/// SYNs, so a connect hangs until `UPSTREAM_CONNECT_TIMEOUT`.
#[tokio::test]
async fn connect_timeout_is_502() {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(0).unwrap();
    let addr = listener.local_addr().unwrap();
    let mut held = Vec::new();
    let mut saturated = false;
    for _ in 0..16 {
        match std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(300)) {
            Ok(stream) => held.push(stream),
            Err(_) => {
                saturated = true;
                break;
            }
        }
    }
    assert!(
        saturated,
        "the accept queue of the test listener never filled"
    );

    let site = support::fixture_site();
    let srv = InProcess::start(
        &site.root(),
        &[
            ("API_UPSTREAM", &format!("http://{addr}")),
            ("UPSTREAM_CONNECT_TIMEOUT", "300ms"),
            ("UPSTREAM_TIMEOUT", "10s"),
        ],
    );
    let started = Instant::now();
    let res = support::client()
        .get(srv.url("/api/v1/status"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_GATEWAY);
    assert!(started.elapsed() < Duration::from_secs(5));
    let body: serde_json::Value = serde_json::from_slice(&res.bytes().await.unwrap()).unwrap();
    assert_eq!(body["message"], "cannot connect to the upstream");
    drop(held);
}

/// The proxy's body limit is `MAX_BODY_SIZE` alone: actix' default 256 KiB payload cap
/// (which applies to buffering extractors, not to the raw stream the proxy reads) must not
/// cut a larger allowed body.
#[tokio::test]
async fn bodies_above_actix_default_payload_cap_stream_when_allowed() {
    let upstream = TestUpstream::start();
    let (_site, srv) = start(&upstream, &[("MAX_BODY_SIZE", "1MiB")]);
    let res = support::client()
        .post(srv.url("/api/echo"))
        .body(vec![b'x'; 600 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(upstream.last().body_len, 600 * 1024);
}
