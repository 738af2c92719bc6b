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

/// Issue 11: large bodies are written by the connection itself — files of 32 KiB and
/// more with `sendfile`, bodies from memory of 16 KiB and more without actix' copy — right
/// after their head. On one keep-alive connection, with every request pipelined in one
/// write, each answer arrives whole and in order, byte for byte, whatever mix of sizes,
/// methods and conditions: the next answer never starts inside a body. (The 6 MiB file
/// fills the socket buffers, so its body is still being sent when the next request could
/// be read.)
#[test]
fn large_bodies_sent_by_the_connection_keep_every_answer_in_order() {
    use crate::support::{self, InProcess};
    let site = support::fixture_site();
    let root = site.root();
    let big: Vec<u8> = (0..6 << 20u32).map(|i| (i % 251) as u8).collect();
    let medium = "m".repeat(40 * 1024);
    std::fs::write(root.join("static/big.bin"), &big).unwrap();
    std::fs::write(root.join("static/medium.txt"), &medium).unwrap();
    // Text that gzip cannot squeeze below 16 KiB: the gzip made in memory goes as a tail
    // from memory.
    let mut x: u32 = 1;
    let noise: String = (0..64 * 1024)
        .map(|_| {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            char::from(b"0123456789abcdef"[(x >> 16) as usize % 16])
        })
        .collect();
    std::fs::write(root.join("static/noise.txt"), &noise).unwrap();
    let srv = InProcess::start(&root, &[]);
    let etag = {
        let mut conn = RawConn::connect(&srv.base).unwrap();
        conn.send("HEAD /static/big.bin HTTP/1.1\r\nHost: t\r\n\r\n")
            .unwrap();
        let head = conn.read_response(true).unwrap();
        assert_eq!(head.status, 200);
        assert_eq!(head.header("content-length"), Some("6291456"));
        head.header("etag").unwrap().to_owned()
    };
    let mut conn = RawConn::connect(&srv.base).unwrap();
    let requests = [
        "GET /static/big.bin HTTP/1.1\r\nHost: t\r\n\r\n".to_owned(),
        "GET /static/medium.txt HTTP/1.1\r\nHost: t\r\nAccept-Encoding: identity\r\n\r\n".into(),
        "GET /small.txt HTTP/1.1\r\nHost: t\r\n\r\n".into(),
        "GET /static/noise.txt HTTP/1.1\r\nHost: t\r\nAccept-Encoding: gzip\r\n\r\n".into(),
        "HEAD /static/big.bin HTTP/1.1\r\nHost: t\r\n\r\n".into(),
        format!("GET /static/big.bin HTTP/1.1\r\nHost: t\r\nIf-None-Match: {etag}\r\n\r\n"),
        "GET /static/big.bin HTTP/1.1\r\nHost: t\r\nRange: bytes=100-199\r\n\r\n".into(),
        "GET /static/big.bin HTTP/1.1\r\nHost: t\r\n\r\n".into(),
    ];
    conn.send(&requests.concat()).unwrap();
    let res = conn.read_response(false).unwrap();
    assert_eq!((res.status, res.body.len()), (200, big.len()));
    assert!(res.body == big, "sendfile body");
    let res = conn.read_response(false).unwrap();
    assert_eq!(res.status, 200);
    assert!(res.body == medium.as_bytes(), "memory body");
    let res = conn.read_response(false).unwrap();
    assert_eq!((res.status, res.body.as_slice()), (200, &b"tiny\n"[..]));
    let res = conn.read_response(false).unwrap();
    assert_eq!(res.header("content-encoding"), Some("gzip"));
    assert!(res.body.len() >= 16 << 10, "{} bytes", res.body.len());
    assert!(
        support::gunzip(&res.body) == noise.as_bytes(),
        "gzip body from memory"
    );
    let res = conn.read_response(true).unwrap();
    assert_eq!(res.status, 200, "HEAD");
    assert_eq!(res.header("content-length"), Some("6291456"));
    let res = conn.read_response(false).unwrap();
    assert_eq!((res.status, res.body.len()), (304, 0));
    let res = conn.read_response(false).unwrap();
    assert_eq!(res.status, 206);
    assert!(res.body == big[100..200], "range");
    let res = conn.read_response(false).unwrap();
    assert_eq!((res.status, res.body.len()), (200, big.len()));
    assert!(res.body == big, "sendfile body after the others");
    assert!(
        conn.leftover(Duration::from_millis(300)).is_empty(),
        "nothing after the last answer"
    );
}

/// The keep-alive idle timeout counts only time between answers: with `KEEP_ALIVE=300ms`, a
/// proxied answer whose upstream waits 3 s before answering, and one whose body streams for
/// ~1 s with 200 ms gaps, both arrive whole on the same connection; once the connection is
/// idle, it is closed about 300 ms later.
#[test]
fn keep_alive_never_cuts_an_answer_still_in_progress() {
    let upstream = TestUpstream::start();
    let (_site, srv) = start(&upstream, &[("KEEP_ALIVE", "300ms")]);
    let mut conn = RawConn::connect(&srv.base).unwrap();

    conn.send("GET /api/slow HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let slow = conn.read_response(false).unwrap();
    assert_eq!(
        (slow.status, slow.body.as_slice()),
        (200, &b"{\"slow\":true}"[..])
    );

    conn.send("GET /api/chunked HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let streamed = conn.read_response(false).unwrap();
    assert_eq!(streamed.status, 200);
    assert_eq!(
        String::from_utf8_lossy(&streamed.body),
        "part-0;part-1;part-2;part-3;part-4;"
    );

    let idle = conn
        .wait_closed(Duration::from_secs(5))
        .expect("the idle connection was never closed");
    assert!(
        idle >= Duration::from_millis(250) && idle < Duration::from_secs(2),
        "closed after {idle:?} idle, want about 300 ms"
    );
}
