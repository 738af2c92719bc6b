//! Issue 10 point 10 on the frontend, over raw TCP: requests on one keep-alive connection
//! when the first is slow (a proxied HEAD waiting on its upstream) and the next arrives
//! before its answer, and a slow request body, which the per-request head deadline must
//! not cut. (The head deadline itself and pipelining in one write: `api/tests/it/connection.rs`,
//! the same service-kit code.)

use std::{thread, time::Duration};

use test_support::raw_http::RawConn;

use crate::{proxy::start, support::TestUpstream};

/// A GET sent while a HEAD is still waiting for the upstream (3 s): actix-http used to
/// decode the GET at once, clearing its "answering a HEAD" flag, and sent the HEAD's answer
/// with a body. Now the GET waits for the HEAD's answer, and each answer is right.
#[test]
fn a_request_sent_while_a_slow_head_is_pending_gets_its_own_right_answer() {
    let upstream = TestUpstream::start();
    let (_site, srv) = start(&upstream, &[]);
    let mut conn = RawConn::connect(&srv.base).unwrap();
    conn.send("HEAD /api/slow HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    thread::sleep(Duration::from_millis(300));
    conn.send("GET /small.txt HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let head = conn.read_response(true).unwrap();
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-length"), Some("13"));
    let get = conn
        .read_response(false)
        .expect("the GET's answer follows the HEAD's head directly");
    assert_eq!(get.status, 200);
    assert_eq!(get.body, b"tiny\n");
}

/// The head deadline is for heads only: a body sent in four parts over 1.5 s, with a 1 s
/// head timeout, is forwarded whole.
#[test]
fn a_slow_request_body_is_not_cut_by_the_head_deadline() {
    let upstream = TestUpstream::start();
    let (_site, srv) = start(&upstream, &[("CLIENT_REQUEST_TIMEOUT", "1s")]);
    let mut conn = RawConn::connect(&srv.base).unwrap();
    conn.send("POST /api/echo HTTP/1.1\r\nHost: t\r\nContent-Length: 20\r\n\r\n")
        .unwrap();
    for part in ["aaaaa", "bbbbb", "ccccc", "ddddd"] {
        thread::sleep(Duration::from_millis(500));
        conn.send(part).unwrap();
    }
    let res = conn.read_response(false).unwrap();
    assert_eq!(res.status, 200);
    assert_eq!(res.body, b"{\"ok\":true}");
    assert_eq!(upstream.last().body_len, 20);
}
