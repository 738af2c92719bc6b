//! Issue 10 point 10, over raw TCP against the built binary: a deadline on every request
//! head of a keep-alive connection (not only the first), and pipelined requests answered
//! correctly whatever their methods (service-kit's `connection` module).

use std::{
    path::Path,
    thread,
    time::{Duration, Instant},
};

use test_support::{ServerProcess, raw_http::RawConn};

fn start_api(env: &[(&str, &str)]) -> ServerProcess {
    ServerProcess::start(Path::new(env!("CARGO_BIN_EXE_api")), env)
}

const STATUS: &str = "GET /api/v1/status HTTP/1.1\r\nHost: t\r\n\r\n";

/// The api with a 1 s head timeout and a long keep-alive, and a connection on which one
/// request has been answered.
fn after_one_request() -> (ServerProcess, RawConn) {
    let api = start_api(&[
        ("CLIENT_REQUEST_TIMEOUT", "1s"),
        ("KEEP_ALIVE", "30s"),
        ("LOG_LEVEL", "warn,service_kit=info"),
    ]);
    let mut conn = RawConn::connect(&api.url("")).unwrap();
    conn.send(STATUS).unwrap();
    assert_eq!(conn.read_response(false).unwrap().status, 200);
    (api, conn)
}

#[test]
fn a_trickled_second_request_head_is_cut_off_after_the_head_timeout() {
    let (_api, mut conn) = after_one_request();

    // The second head, one byte every 200 ms: it would take 8 s to complete.
    let head = b"GET /api/v1/status HTTP/1.1\r\nHost: t\r\n\r\n";
    let started = Instant::now();
    let mut cut_after = None;
    for byte in head.iter().take(40) {
        if conn.stream_write(&[*byte]).is_err() {
            cut_after = Some(started.elapsed());
            break;
        }
        if conn.wait_closed(Duration::from_millis(200)).is_some() {
            cut_after = Some(started.elapsed());
            break;
        }
    }
    let cut_after = cut_after.expect("the trickling client was never cut off");
    assert!(
        cut_after >= Duration::from_millis(900) && cut_after < Duration::from_secs(3),
        "cut off after {cut_after:?}, want about 1 s"
    );
}

#[test]
fn idle_time_between_requests_is_not_head_time() {
    let (_api, mut conn) = after_one_request();
    // Idle for twice the head timeout (within keep-alive), then a head sent in two parts
    // 300 ms apart: answered.
    thread::sleep(Duration::from_secs(2));
    conn.send("GET /api/v1/status HTTP/1.1\r\n").unwrap();
    thread::sleep(Duration::from_millis(300));
    conn.send("Host: t\r\n\r\n").unwrap();
    assert_eq!(conn.read_response(false).unwrap().status, 200);
}

/// Requests pipelined in one write, every order of HEAD and GET: each answer is the one its
/// own request asked for (a HEAD answer has no body, a GET answer has its body).
#[test]
fn pipelined_heads_and_gets_are_each_answered_as_asked() {
    let api = start_api(&[("LOG_LEVEL", "warn,service_kit=info")]);
    let request = |method: &str, path: &str| format!("{method} {path} HTTP/1.1\r\nHost: t\r\n\r\n");
    let orders: [&[&str]; 4] = [
        &["HEAD", "GET"],
        &["GET", "HEAD"],
        &["HEAD", "HEAD", "GET", "GET", "HEAD"],
        &["GET", "GET", "HEAD", "GET"],
    ];
    for order in orders {
        let mut conn = RawConn::connect(&api.url("")).unwrap();
        let mut all = String::new();
        for (i, method) in order.iter().enumerate() {
            // Alternate targets so a body that lands on the wrong answer is visible.
            let path = if i % 2 == 0 {
                "/api/v1/status"
            } else {
                "/healthz"
            };
            all.push_str(&request(method, path));
        }
        conn.send(&all).unwrap();
        for (i, method) in order.iter().enumerate() {
            let res = conn
                .read_response(*method == "HEAD")
                .unwrap_or_else(|e| panic!("{order:?}: answer {i}: {e}"));
            assert_eq!(res.status, 200, "{order:?}: answer {i}");
            let want = if i % 2 == 0 {
                "\"status\":\"ok\""
            } else {
                "healthy"
            };
            let len: usize = res.header("content-length").unwrap().parse().unwrap();
            if *method == "HEAD" {
                assert!(len > 0, "{order:?}: HEAD {i} carries the GET's length");
            } else {
                let body = String::from_utf8_lossy(&res.body);
                assert!(body.contains(want), "{order:?}: answer {i} is {body:?}");
                assert_eq!(res.body.len(), len);
            }
        }
        let rest = conn.leftover(Duration::from_millis(200));
        assert!(
            rest.is_empty(),
            "{order:?}: bytes after the last answer: {rest:?}"
        );
    }
}

/// The keep-alive idle timeout (service-kit's connection wrapper keeps it, not actix): an
/// idle connection is closed `KEEP_ALIVE` after its last answer (within a sixteenth of it
/// more, and the machine's scheduling); one that keeps sending is not; and an answer that
/// takes longer than `KEEP_ALIVE` is neither cut off nor followed by a shorter idle time.
#[test]
fn an_idle_keep_alive_connection_is_closed_after_keep_alive() {
    let api = start_api(&[
        ("KEEP_ALIVE", "1s"),
        ("DEBUG_ROUTES", "true"),
        ("LOG_LEVEL", "warn,service_kit=info"),
    ]);
    let closed_after = |conn: &mut RawConn| {
        conn.wait_closed(Duration::from_secs(5))
            .expect("the idle connection was never closed")
    };

    // Idle after one answer: closed after about 1 s, not before.
    let mut conn = RawConn::connect(&api.url("")).unwrap();
    conn.send(STATUS).unwrap();
    assert_eq!(conn.read_response(false).unwrap().status, 200);
    let idle = closed_after(&mut conn);
    assert!(
        idle >= Duration::from_millis(950) && idle < Duration::from_millis(2500),
        "closed after {idle:?} idle, want 1 s to 1.06 s (plus scheduling)"
    );

    // A request every 400 ms for 3 s: never idle for 1 s, never closed.
    let mut conn = RawConn::connect(&api.url("")).unwrap();
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(3) {
        conn.send(STATUS).unwrap();
        assert_eq!(conn.read_response(false).unwrap().status, 200);
        thread::sleep(Duration::from_millis(400));
    }

    // An answer that takes 2.5 s: sent in full, and the idle time counts from its end.
    let mut conn = RawConn::connect(&api.url("")).unwrap();
    conn.send("GET /debug/sleep?ms=2500 HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let res = conn.read_response(false).unwrap();
    assert_eq!(
        (res.status, res.body.as_slice()),
        (200, &b"slept 2500ms"[..])
    );
    let idle = closed_after(&mut conn);
    assert!(
        idle >= Duration::from_millis(950) && idle < Duration::from_millis(2500),
        "closed {idle:?} after the slow answer, want about 1 s"
    );
}

#[test]
fn keep_alive_zero_closes_after_each_answer() {
    let api = start_api(&[("KEEP_ALIVE", "0s"), ("LOG_LEVEL", "warn,service_kit=info")]);
    let mut conn = RawConn::connect(&api.url("")).unwrap();
    conn.send(STATUS).unwrap();
    let res = conn.read_response(false).unwrap();
    assert_eq!(res.status, 200);
    assert_eq!(res.header("connection"), Some("close"));
    assert!(conn.wait_closed(Duration::from_secs(2)).is_some());
}
