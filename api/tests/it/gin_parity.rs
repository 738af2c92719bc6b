//! The api's request log against the seed's, differentially: the Gin reference
//! (`bench/api/gin-reference`, the seed's code path: gin.New, Recovery, slog JSON handler) is
//! built with Go and run beside the built `api`; both get the same generated requests
//! (seeded, reproducible) over raw TCP, and every log line must carry the same values.
//!
//! Generated: paths with percent-escapes (UTF-8, invalid UTF-8, NUL, `%2F`), query strings
//! with every character a request-target may hold, User-Agent values with quotes,
//! backslashes, tabs, UTF-8 and obs-text bytes (or none), `X-Forwarded-For` / `X-Real-IP`
//! with IPv4, IPv6, IPv4-mapped, junk, spaces and several entries.
//!
//! Deliberate differences, kept out of the generator: a known path with a trailing slash
//! (Gin redirects 301, we answer 404), methods other than GET (Gin's `gin.New()` answers HEAD
//! and other methods 404; we answer HEAD and send 405 with `Allow` elsewhere), malformed
//! percent-escapes (Go answers 400 before any handler and logs nothing). Probe paths
//! (`/healthz`) are logged at `DEBUG` by the api (kubelets call them every few seconds) where
//! Gin logs `INFO`. The api adds `requestId`; `latency` and `time` are compared by type and
//! shape only.

use std::{
    io::{Read, Write},
    net::{TcpListener, TcpStream},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::OnceLock,
    time::{Duration, Instant},
};

use serde_json::Value;
use test_support::ServerProcess;

/// Requests per run; each is sent to both servers.
const REQUESTS: usize = 400;
/// The run's seed; `GIN_PARITY_SEED=<n>` runs another (longer explorations loop over seeds).
const SEED: u64 = 0x005e_ed0f_614e;

fn seed() -> u64 {
    std::env::var("GIN_PARITY_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(SEED)
}

#[test]
fn request_log_lines_match_the_seeds_gin_service() {
    let gin = GinReference::start();
    let api = ServerProcess::start(
        Path::new(env!("CARGO_BIN_EXE_api")),
        // Gin logs every request at INFO; ours logs probes at debug unless asked.
        &[("LOG_LEVEL", "info,service_kit::access_log=debug")],
    );
    let mut rng = Rng(seed().max(1));
    let requests: Vec<Request> = (0..REQUESTS).map(|_| Request::generate(&mut rng)).collect();
    let mut gin_conn = Connection::open(gin.port);
    let mut api_conn = Connection::open(api.port);
    let mut statuses = Vec::new();
    for req in &requests {
        let bytes = req.to_bytes();
        statuses.push((gin_conn.exchange(&bytes), api_conn.exchange(&bytes)));
    }

    let gin_lines = wait_for_lines(|| gin.request_lines(), REQUESTS, "gin");
    let api_lines = wait_for_lines(
        || {
            api.json_lines()
                .into_iter()
                .filter(|l| l["msg"] == "request processed")
                .collect()
        },
        REQUESTS,
        "api",
    );
    let mut mismatches = Vec::new();
    for (i, (req, (g, a))) in requests.iter().zip(&statuses).enumerate() {
        let (gl, al) = (&gin_lines[i], &api_lines[i]);
        let mut diffs = Vec::new();
        if g != a {
            diffs.push(format!("status on the wire: gin {g}, api {a}"));
        }
        let probe = req.path == "/healthz" || req.path.starts_with("/healthz?");
        if gl["level"] != al["level"] && !(probe && al["level"] == "DEBUG") {
            diffs.push(format!("level: gin {}, api {}", gl["level"], al["level"]));
        }
        for key in [
            "msg",
            "statusCode",
            "clientIP",
            "method",
            "path",
            "userAgent",
        ] {
            if gl[key] != al[key] {
                diffs.push(format!("{key}: gin {}, api {}", gl[key], al[key]));
            }
        }
        for line in [gl, al] {
            if !line["latency"].is_u64() || !is_rfc3339_nano_utc(line["time"].as_str()) {
                diffs.push(format!("latency/time shape: {line}"));
            }
        }
        if !diffs.is_empty() {
            mismatches.push(format!(
                "request {i} {:?}:\n  {}",
                req.text(),
                diffs.join("\n  ")
            ));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} of {REQUESTS} requests logged differently:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
    // The generator must have reached the interesting shapes (so the comparison says something).
    let uses = |pred: &dyn Fn(&Request) -> bool| requests.iter().filter(|r| pred(r)).count();
    assert!(uses(&|r| r.forwarded_for.is_some()) > REQUESTS / 4);
    assert!(uses(&|r| r.path.contains('%')) > REQUESTS / 4);
    assert!(uses(&|r| r.user_agent.as_ref().is_some_and(|u| !u.is_ascii())) > REQUESTS / 10);
    let distinct_ips: std::collections::BTreeSet<String> = api_lines
        .iter()
        .map(|l| l["clientIP"].to_string())
        .collect();
    assert!(distinct_ips.len() > 20, "{distinct_ips:?}");
}

fn is_rfc3339_nano_utc(t: Option<&str>) -> bool {
    let Some(t) = t else { return false };
    let b = t.as_bytes();
    b.len() >= 20
        && b[4] == b'-'
        && b[10] == b'T'
        && t.ends_with('Z')
        && t[..19].bytes().filter(u8::is_ascii_digit).count() == 14
}

fn wait_for_lines(read: impl Fn() -> Vec<Value>, n: usize, who: &str) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let lines = read();
        if lines.len() >= n {
            return lines;
        }
        assert!(
            Instant::now() < deadline,
            "{who}: {} of {n} request lines logged",
            lines.len()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// One generated request.
#[derive(Debug)]
struct Request {
    path: String,
    user_agent: Option<Vec<u8>>,
    forwarded_for: Option<String>,
    real_ip: Option<String>,
}

impl Request {
    fn generate(rng: &mut Rng) -> Request {
        let mut path = match rng.below(10) {
            0..=3 => "/api/v1/status".to_owned(),
            4 => "/healthz".to_owned(),
            _ => {
                let mut p = String::new();
                for _ in 0..=rng.below(3) {
                    p.push('/');
                    p.push_str(&rng.path_segment());
                }
                p
            }
        };
        if rng.below(2) == 0 {
            path.push('?');
            path.push_str(&rng.query());
        }
        let user_agent = (rng.below(8) != 0).then(|| rng.user_agent());
        let forwarded_for = (rng.below(3) != 0).then(|| {
            let n = 1 + rng.below(3);
            (0..n)
                .map(|_| {
                    let pad = [" ", "", "  "][rng.below(3)];
                    format!("{pad}{}{pad}", rng.address_or_junk())
                })
                .collect::<Vec<_>>()
                .join(",")
        });
        let real_ip = (rng.below(3) == 0).then(|| rng.address_or_junk());
        Request {
            path,
            user_agent,
            forwarded_for,
            real_ip,
        }
    }

    fn to_bytes(&self) -> Vec<u8> {
        let mut out = format!("GET {} HTTP/1.1\r\nHost: parity.test\r\n", self.path).into_bytes();
        if let Some(ua) = &self.user_agent {
            out.extend_from_slice(b"User-Agent: ");
            out.extend_from_slice(ua);
            out.extend_from_slice(b"\r\n");
        }
        if let Some(xff) = &self.forwarded_for {
            out.extend_from_slice(format!("X-Forwarded-For: {xff}\r\n").as_bytes());
        }
        if let Some(ip) = &self.real_ip {
            out.extend_from_slice(format!("X-Real-IP: {ip}\r\n").as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        out
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.to_bytes()).into_owned()
    }
}

/// A small seeded generator (xorshift64*): the same seed gives the same requests.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
    /// Characters RFC 3986 allows in a path segment, plus valid percent-escapes.
    fn path_segment(&mut self) -> String {
        const PLAIN: &[u8] = b"abcXYZ019-._~!$&'()*+,;=:@";
        let mut s = String::new();
        for _ in 0..1 + self.below(8) {
            match self.below(6) {
                0 => s.push_str(self.pick(&[
                    "%20",
                    "%E2%82%AC",
                    "%F0%9F%98%80",
                    "%FF",
                    "%C3",
                    "%00",
                    "%2F",
                    "%25",
                    "%22",
                    "%5C",
                    "%0A",
                    "%e2%80%a8",
                    "%7E",
                ])),
                _ => s.push(PLAIN[self.below(PLAIN.len())] as char),
            }
        }
        s
    }
    /// A query string: logged raw by both.
    fn query(&mut self) -> String {
        const PLAIN: &[u8] = b"abcXYZ019-._~!$&'()*+,;=:@/?";
        let mut s = String::new();
        for _ in 0..self.below(12) {
            match self.below(5) {
                0 => s.push_str(self.pick(&["%20", "%zz", "%", "%E2%82%AC", "%00", "%FF"])),
                _ => s.push(PLAIN[self.below(PLAIN.len())] as char),
            }
        }
        s
    }
    fn user_agent(&mut self) -> Vec<u8> {
        let mut s = Vec::new();
        for _ in 0..self.below(24) {
            match self.below(10) {
                0 => s.extend_from_slice(
                    self.pick(&["\"", "\\", "\t", "é", "😀", "µs", "\u{2028}"])
                        .as_bytes(),
                ),
                // obs-text: bytes that are not UTF-8 (Go keeps them; slog prints U+FFFD).
                1 => s.push(0x80 + self.below(0x7f) as u8),
                _ => s.push(b' ' + self.below(95) as u8),
            }
        }
        // A header value's leading and trailing whitespace is not part of it (RFC 9110 §5.5).
        while s.first().is_some_and(|b| *b == b' ' || *b == b'\t') {
            s.remove(0);
        }
        while s.last().is_some_and(|b| *b == b' ' || *b == b'\t') {
            s.pop();
        }
        s
    }
    fn address_or_junk(&mut self) -> String {
        match self.below(9) {
            0 => format!(
                "::ffff:{}.{}.{}.{}",
                self.below(256),
                self.below(256),
                self.below(256),
                self.below(256)
            ),
            1 => format!("2001:DB8::{:x}", self.below(65536)),
            2 => self
                .pick(&[
                    "::1",
                    "fe80::1",
                    "fe80::1%eth0",
                    "[::1]",
                    "2001:db8:0:0:0:0:2:1",
                ])
                .to_owned(),
            3 => self
                .pick(&[
                    "unknown",
                    "1.2.3",
                    "1.2.3.4:80",
                    "01.2.3.4",
                    "256.1.1.1",
                    "",
                    "_hidden",
                ])
                .to_owned(),
            _ => format!(
                "{}.{}.{}.{}",
                self.below(256),
                self.below(256),
                self.below(256),
                self.below(256)
            ),
        }
    }
}

/// One keep-alive connection; requests go one after the other.
struct Connection {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Connection {
    fn open(port: u16) -> Connection {
        let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        Connection {
            stream,
            buf: Vec::new(),
        }
    }

    /// Sends one request and reads its whole response; returns the status code.
    fn exchange(&mut self, request: &[u8]) -> u16 {
        self.stream.write_all(request).unwrap();
        loop {
            if let Some((status, used)) = parse_response(&self.buf) {
                self.buf.drain(..used);
                return status;
            }
            let mut chunk = [0u8; 8192];
            let n = self.stream.read(&mut chunk).unwrap();
            assert!(n > 0, "connection closed mid-response");
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

/// A complete response with a Content-Length body: (status, bytes it takes).
fn parse_response(buf: &[u8]) -> Option<(u16, usize)> {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = std::str::from_utf8(&buf[..end]).ok()?;
    let status = head.get(9..12)?.parse().ok()?;
    let len: usize = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .unwrap_or(0);
    (buf.len() >= end + len).then_some((status, end + len))
}

/// The Gin reference built from `bench/api/gin-reference` and running on loopback.
struct GinReference {
    child: Child,
    port: u16,
    stdout: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl GinReference {
    fn start() -> GinReference {
        let bin = gin_binary();
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap()
            .port();
        let mut child = Command::new(bin)
            .env_clear()
            .env("PORT", port.to_string())
            .env("GIN_MODE", "release")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = stdout.clone();
        let out = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "the Gin reference did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        GinReference {
            child,
            port,
            stdout,
        }
    }

    fn request_lines(&self) -> Vec<Value> {
        self.stdout
            .lock()
            .unwrap()
            .iter()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|l| l["msg"] == "request processed")
            .collect()
    }
}

impl Drop for GinReference {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Builds the reference once per test run (Go and the Go module proxy are part of the
/// project's toolchain; `scripts/install-deps.sh` checks for `go`).
fn gin_binary() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("gin-reference");
        let status = Command::new("go")
            .args(["build", "-o"])
            .arg(&out)
            .arg(".")
            .current_dir(root.join("bench/api/gin-reference"))
            .status()
            .unwrap_or_else(|e| panic!("go is required to build the Gin reference: {e}"));
        assert!(
            status.success(),
            "go build of bench/api/gin-reference failed"
        );
        out
    })
}
