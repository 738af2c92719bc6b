//! One log line per request, as the Go-Gin service it replaces wrote it (`slog.Info("request
//! processed", "statusCode", …, "latency", …, "clientIP", …, "method", …, "path", …,
//! "userAgent", …)`, values computed as Gin computes them) plus `requestId`, and the request
//! recorded in [`HttpMetrics`].
//!
//! Probe endpoints (`/healthz`, `/readyz`, `/metrics`) are logged at debug level: kubelets
//! and scrapers call them every few seconds and would drown the interesting lines.

use std::{
    borrow::Cow,
    cell::RefCell,
    future::Future,
    rc::Rc,
    sync::{
        OnceLock,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant, SystemTime},
};

use actix_web::{
    Error, HttpMessage,
    dev::{ServiceRequest, ServiceResponse},
    error::InternalError,
    http::{
        Method,
        header::{HeaderName, HeaderValue, USER_AGENT},
    },
    web,
};

use bytes::BytesMut;
use tracing::Level;

use crate::{
    log_line::{self, LineWriter},
    metrics::HttpMetrics,
    telemetry,
};

/// Header carrying the request id in and out (kept from the client when well-formed, so a
/// request can be followed from the frontend proxy to the api).
pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// Paths logged at debug level only.
pub const PROBE_PATHS: &[&str] = &["/healthz", "/readyz", "/metrics"];

/// Route label for requests that matched no route pattern, when the application does not
/// name them itself (see [`UnmatchedRoute`]).
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// The metrics' route label of a request that matched no route pattern. An application
/// whose catch-all `default_service` dispatches by itself (frontend-server: `/api/…` to the
/// proxy, the rest to the site, without actix' regex routes) names its routes here.
pub type UnmatchedRoute = fn(&ServiceRequest) -> &'static str;

/// [`UnmatchedRoute`] for applications whose default service only answers 404.
pub fn unmatched(_: &ServiceRequest) -> &'static str {
    UNMATCHED_ROUTE
}

/// How [`observe`] treats an application's requests.
#[derive(Debug, Clone, Copy)]
pub struct Observe {
    /// The metrics' route label of requests no route pattern matched.
    pub unmatched_route: UnmatchedRoute,
    /// Whether handlers read the request id ([`RequestId`] in the request's extensions), as
    /// a proxy that passes it on does. Off, the id costs no extension entry.
    pub share_request_id: bool,
}

impl Default for Observe {
    fn default() -> Self {
        Self {
            unmatched_route: unmatched,
            share_request_id: false,
        }
    }
}

/// The id of the request being served: kept from the client's `X-Request-Id` when
/// well-formed, else generated. In the request's extensions when [`Observe`] shares it.
#[derive(Debug, Clone)]
pub struct RequestId(HeaderValue);

impl RequestId {
    /// The id (ids only ever hold characters of [`is_valid_request_id`]'s alphabet).
    pub fn as_str(&self) -> &str {
        self.0.to_str().unwrap_or_default()
    }
}

/// What the log line says about the request, captured before the request moves into the
/// handler, and only when the line will be written (see [`log_requests`]).
///
/// With JSON logs the fields are encoded once, straight into the line's tail
/// (`,"clientIP":…,"method":…,"path":…,"userAgent":…`); the line is finished after the
/// response with the status and latency and written without tracing's field formatting.
#[derive(Debug)]
struct RequestFacts {
    level: Level,
    fields: Fields,
}

#[derive(Debug)]
enum Fields {
    /// `,"clientIP":…,"method":…,"path":…,"userAgent":…`, ready for a JSON line.
    Encoded(Tail),
    /// For tracing's human-readable output.
    Plain {
        method: Method,
        path: String,
        client_ip: String,
        user_agent: String,
    },
}

impl RequestFacts {
    fn capture(req: &ServiceRequest, level: Level) -> Self {
        let user_agent = req
            .headers()
            .get(USER_AGENT)
            .map(|v| lossy_per_byte(v.as_bytes()))
            .unwrap_or_default();
        let fields = if telemetry::json_lines() {
            let mut tail = Tail::take();
            let buf = &mut tail.0;
            buf.extend_from_slice(b",\"clientIP\":");
            match gin_forwarded_ip(req) {
                Some(ip) => log_line::push_json_str(buf, ip),
                None => push_peer_ip_json(buf, req.peer_addr()),
            }
            buf.extend_from_slice(b",\"method\":");
            log_line::push_json_str(buf, req.method().as_str());
            buf.extend_from_slice(b",\"path\":\"");
            let (path, query) = gin_path_parts(req);
            log_line::push_json_escaped(buf, &path);
            if let Some(query) = query {
                buf.push(b'?');
                log_line::push_json_escaped(buf, query);
            }
            buf.extend_from_slice(b"\",\"userAgent\":");
            log_line::push_json_str(buf, &user_agent);
            Fields::Encoded(tail)
        } else {
            Fields::Plain {
                method: req.method().clone(),
                path: gin_path(req).into_owned(),
                client_ip: gin_client_ip(req).into_owned(),
                user_agent: user_agent.into_owned(),
            }
        };
        Self { level, fields }
    }

    fn emit(&self, status: u16, elapsed: Duration, request_id: &str) {
        // Go's slog prints a time.Duration as integer nanoseconds.
        let latency = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        match &self.fields {
            Fields::Encoded(tail) => LINE.with_borrow_mut(|line| {
                let level = if self.level == Level::DEBUG {
                    "DEBUG"
                } else {
                    "INFO"
                };
                let mut w = LineWriter::start(line, SystemTime::now(), level, MESSAGE);
                w.uint("statusCode", u64::from(status))
                    .uint("latency", latency)
                    .raw_fields(&tail.0)
                    .str("requestId", request_id);
                w.finish();
                telemetry::write_line(line);
            }),
            Fields::Plain {
                method,
                path,
                client_ip,
                user_agent,
            } => {
                macro_rules! line {
                    ($level:ident) => {
                        tracing::$level!(
                            statusCode = status,
                            latency = latency,
                            clientIP = %client_ip,
                            method = %method,
                            path = %path,
                            userAgent = %user_agent,
                            requestId = %request_id,
                            "request processed"
                        )
                    };
                }
                if self.level == Level::DEBUG {
                    line!(debug);
                } else {
                    line!(info);
                }
            }
        }
    }
}

/// The seed's log message for a request.
const MESSAGE: &str = "request processed";

thread_local! {
    /// The line being assembled on this worker (lines are complete before they leave it).
    static LINE: RefCell<Vec<u8>> = RefCell::new(Vec::with_capacity(512));
    /// Tails of lines whose requests are being served on this worker, for reuse.
    static TAILS: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
    /// The last peer address written on this worker, and its text: connections of one
    /// client (or one ingress) share it.
    static PEER_TEXT: RefCell<Option<(std::net::IpAddr, String)>> = const { RefCell::new(None) };
}

/// The encoded fields of a line, in a buffer taken from this worker's [`TAILS`] and given
/// back when dropped (requests on a worker overlap, so a tail cannot be the line buffer).
#[derive(Debug)]
struct Tail(Vec<u8>);

impl Tail {
    /// Buffers kept per worker: as many as requests usually in flight on one.
    const KEPT: usize = 64;
    /// Larger buffers (a long path or user agent) are not kept.
    const KEPT_CAPACITY: usize = 1024;

    fn take() -> Self {
        let buf = TAILS
            .with_borrow_mut(Vec::pop)
            .unwrap_or_else(|| Vec::with_capacity(256));
        Self(buf)
    }
}

impl Drop for Tail {
    fn drop(&mut self) {
        let mut buf = std::mem::take(&mut self.0);
        if buf.capacity() <= Self::KEPT_CAPACITY {
            buf.clear();
            // During thread teardown the pool may be gone already; the buffer is then freed.
            let _ = TAILS.try_with(|tails| {
                let mut tails = tails.borrow_mut();
                if tails.len() < Self::KEPT {
                    tails.push(buf);
                }
            });
        }
    }
}

/// `"<peer address>"` as Gin prints it, `""` without one.
fn push_peer_ip_json(buf: &mut Vec<u8>, peer: Option<std::net::SocketAddr>) {
    let Some(ip) = peer.map(|p| p.ip()) else {
        buf.extend_from_slice(b"\"\"");
        return;
    };
    PEER_TEXT.with_borrow_mut(|cached| {
        let text = match cached {
            Some((at, text)) if *at == ip => text,
            _ => &mut cached.insert((ip, ip_text(ip))).1,
        };
        log_line::push_json_str(buf, text);
    });
}

/// Logs and counts one request around `inner` (the rest of the stack, see
/// [`crate::stack`]), with the [`HttpMetrics`] handle registered as `web::Data` app data.
/// Sets `X-Request-Id` on the answer, including an error's answer.
///
/// The log line's fields are gathered only when its level is enabled: with probes at debug
/// level, a kubelet's probes cost a metric update and nothing else.
pub async fn observe<B, F, Fut>(
    req: ServiceRequest,
    options: Observe,
    inner: F,
) -> Result<ServiceResponse<B>, Error>
where
    F: FnOnce(ServiceRequest) -> Fut,
    Fut: Future<Output = Result<ServiceResponse<B>, Error>>,
{
    let started = Instant::now();
    let request_id = request_id(&req);
    let probe = PROBE_PATHS.contains(&req.path());
    let logged = if probe {
        tracing::enabled!(Level::DEBUG)
    } else {
        tracing::enabled!(Level::INFO)
    };
    let level = if probe { Level::DEBUG } else { Level::INFO };
    let facts = logged.then(|| RequestFacts::capture(&req, level));
    let method = req.method().clone();
    let metrics = req.app_data::<web::Data<HttpMetrics>>().cloned();

    // The route pattern is looked up before the call (it does not depend on routing having
    // run), so an error answer is counted under its route too. No clone of the HttpRequest
    // may be held across the call: actix needs the only reference to fill in route
    // parameters.
    let route = match &metrics {
        Some(metrics) => route_of(&req, metrics.id(), options.unmatched_route),
        None => Route::Unmatched((options.unmatched_route)(&req)),
    };
    if options.share_request_id {
        req.extensions_mut().insert(request_id.clone());
    }
    let result = inner(req).await;
    let elapsed = started.elapsed();
    let status = match &result {
        Ok(res) => res.status(),
        Err(err) => err.as_response_error().status_code(),
    };
    if let Some(metrics) = metrics {
        metrics.observe(route.label(), &method, status.as_u16(), elapsed);
    }
    if let Some(facts) = facts {
        facts.emit(status.as_u16(), elapsed, request_id.as_str());
    }
    let RequestId(request_id) = request_id;
    match result {
        Ok(mut res) => {
            res.headers_mut().insert(REQUEST_ID_HEADER, request_id);
            Ok(res)
        }
        // An inner error (a caught panic) is answered by actix' dispatcher from the error
        // itself: give it its response now, with the request id on it.
        Err(err) => {
            let mut res = err.error_response();
            res.headers_mut().insert(REQUEST_ID_HEADER, request_id);
            Err(InternalError::from_response(err, res).into())
        }
    }
}

/// A request's route label for the metrics.
#[derive(Debug)]
enum Route {
    /// The pattern of the route the path matches.
    Pattern(Rc<str>),
    /// No route pattern matched: the application's name for it.
    Unmatched(&'static str),
}

impl Route {
    fn label(&self) -> &str {
        match self {
            Self::Pattern(pattern) => pattern,
            Self::Unmatched(name) => name,
        }
    }
}

/// Paths recently served on a worker and the route pattern each matched (`None`: no
/// pattern), per application: actix finds a pattern by walking its resource map and copies
/// it into a new `String` each time (~450 instructions per request, callgrind).
///
/// An application is told by its metrics registry (each builds its own, and its routes do
/// not change while it runs).
struct RouteCache {
    entries: Vec<(u64, Box<str>, Option<Rc<str>>)>,
    /// The entry the next new path replaces once the cache is full.
    next: usize,
}

impl RouteCache {
    const ENTRIES: usize = 32;
}

thread_local! {
    static ROUTES: RefCell<RouteCache> = const {
        RefCell::new(RouteCache { entries: Vec::new(), next: 0 })
    };
}

fn route_of(req: &ServiceRequest, app: u64, unmatched_route: UnmatchedRoute) -> Route {
    let path = req.path();
    let pattern = ROUTES.with_borrow_mut(|cache| {
        if let Some((_, _, pattern)) = cache
            .entries
            .iter()
            .find(|(id, cached, _)| *id == app && **cached == *path)
        {
            return pattern.clone();
        }
        let pattern: Option<Rc<str>> = req.match_pattern().map(Rc::from);
        let entry = (app, Box::from(path), pattern.clone());
        if cache.entries.len() < RouteCache::ENTRIES {
            cache.entries.push(entry);
        } else {
            let at = cache.next;
            cache.entries[at] = entry;
            cache.next = (at + 1) % RouteCache::ENTRIES;
        }
        pattern
    });
    match pattern {
        Some(pattern) => Route::Pattern(pattern),
        None => Route::Unmatched(unmatched_route(req)),
    }
}

/// Gin's `ClientIP()` with its defaults (`gin.New()`: every proxy trusted, remote-IP headers
/// `X-Forwarded-For` then `X-Real-IP`): the first header whose every comma-separated entry
/// is an IP address gives its first entry, as written; otherwise the peer's address. Only
/// the first line of each header counts (Go's `Header.Get`). `Forwarded` is not read.
fn gin_client_ip(req: &ServiceRequest) -> Cow<'_, str> {
    match gin_forwarded_ip(req) {
        Some(ip) => Cow::Borrowed(ip),
        None => req
            .peer_addr()
            .map(|a| Cow::Owned(ip_text(a.ip())))
            .unwrap_or_default(),
    }
}

/// The part of [`gin_client_ip`] read from the remote-IP headers.
fn gin_forwarded_ip(req: &ServiceRequest) -> Option<&str> {
    [X_FORWARDED_FOR, X_REAL_IP].into_iter().find_map(|name| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(first_address)
    })
}

/// An address as Go's `net.IP.String()` prints it (the same text as Rust's `Display`; IPv4,
/// the common case, without the formatting machinery). Also what frontend-server's proxy
/// sends as `X-Real-IP`.
pub fn ip_text(ip: std::net::IpAddr) -> String {
    match ip {
        std::net::IpAddr::V4(v4) => {
            let mut out = Vec::with_capacity(15);
            for (i, octet) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    out.push(b'.');
                }
                log_line::push_u64(&mut out, u64::from(octet));
            }
            // Only ASCII digits and dots were written.
            String::from_utf8(out).unwrap_or_default()
        }
        std::net::IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            // Go prints an IPv4-mapped peer (a dual-stack listener) as plain IPv4.
            Some(v4) => ip_text(v4.into()),
            None => v6.to_string(),
        },
    }
}

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_REAL_IP: HeaderName = HeaderName::from_static("x-real-ip");

/// Gin's `validateHeader` with all proxies trusted: walks the entries from the right and
/// gives up at the first one that is no IP address; if all are, the leftmost, trimmed.
fn first_address(header: &str) -> Option<&str> {
    if header.is_empty() {
        return None;
    }
    let mut first = None;
    for item in header.split(',') {
        let item = item.trim_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
        item.parse::<std::net::IpAddr>().ok()?;
        first.get_or_insert(item);
    }
    first
}

/// Gin logs `c.Request.URL.Path` (percent-decoded) and appends `?` and the raw query.
fn gin_path(req: &ServiceRequest) -> Cow<'_, str> {
    match gin_path_parts(req) {
        (path, Some(query)) => Cow::Owned(format!("{path}?{query}")),
        (path, None) => path,
    }
}

/// [`gin_path`] as the decoded path and the query to append, if any.
fn gin_path_parts(req: &ServiceRequest) -> (Cow<'_, str>, Option<&str>) {
    let path = req.uri().path();
    let decoded = if path.contains('%') {
        match percent_decode(path.as_bytes()) {
            Some(bytes) => Cow::Owned(lossy_per_byte(&bytes).into_owned()),
            None => Cow::Borrowed(path),
        }
    } else {
        Cow::Borrowed(path)
    };
    // Gin appends the query only when it is not empty (`/x?` logs as `/x`).
    (decoded, req.uri().query().filter(|q| !q.is_empty()))
}

/// `%XX` decoding as Go's `url.PathUnescape`; `None` on a malformed escape (Go's server
/// answers those requests 400 before any handler; ours are logged as received).
fn percent_decode(s: &[u8]) -> Option<Vec<u8>> {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'%' {
            let hi = hex(*s.get(i + 1)?)?;
            let lo = hex(*s.get(i + 2)?)?;
            out.push(hi << 4 | lo);
            i += 3;
        } else {
            out.push(s[i]);
            i += 1;
        }
    }
    Some(out)
}

/// Bytes as text the way slog prints a Go string: each byte that is not part of valid UTF-8
/// becomes one U+FFFD.
fn lossy_per_byte(bytes: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => {
            let mut out = String::with_capacity(bytes.len() + 8);
            for chunk in bytes.utf8_chunks() {
                out.push_str(chunk.valid());
                for _ in chunk.invalid() {
                    out.push('\u{FFFD}');
                }
            }
            Cow::Owned(out)
        }
    }
}

fn request_id(req: &ServiceRequest) -> RequestId {
    match req
        .headers()
        .get(REQUEST_ID_HEADER)
        .filter(|v| is_valid_request_id(v.as_bytes()))
    {
        // A header value read from the request shares its bytes: no copy.
        Some(given) => RequestId(given.clone()),
        None => generate_request_id(),
    }
}

/// Accepts ids of 1..=128 characters from a conservative alphabet, so a client cannot
/// inject log or header syntax through it.
fn is_valid_request_id(v: &[u8]) -> bool {
    !v.is_empty()
        && v.len() <= 128
        && v.iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

/// A random per-process prefix plus a counter in hex: unique for the process' life without
/// a random-number syscall or the formatting machinery per request.
fn generate_request_id() -> RequestId {
    const PREFIX_LEN: usize = 12;
    static PREFIX: OnceLock<[u8; PREFIX_LEN]> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let prefix = PREFIX.get_or_init(|| {
        let mut prefix = [0; PREFIX_LEN];
        let random = uuid::Uuid::new_v4().simple().to_string();
        prefix.copy_from_slice(&random.as_bytes()[..PREFIX_LEN]);
        prefix
    });
    // `<prefix>-<counter in hex>`, built from the end.
    let mut id = [0u8; PREFIX_LEN + 1 + 16];
    let mut at = id.len();
    let mut rest = COUNTER.fetch_add(1, Ordering::Relaxed);
    loop {
        at -= 1;
        id[at] = HEX[(rest & 0xf) as usize];
        rest >>= 4;
        if rest == 0 {
            break;
        }
    }
    at -= 1;
    id[at] = b'-';
    at -= PREFIX_LEN;
    id[at..at + PREFIX_LEN].copy_from_slice(prefix);
    // The id's bytes are cut from a block shared by this worker's ids: an allocation per
    // 140 ids or more (~195 while the counter fits 8 hex digits) instead of one per id.
    // Hex digits and a dash are valid header bytes.
    let bytes = ID_BLOCK.with_borrow_mut(|block| {
        if block.capacity() - block.len() < id.len() - at {
            *block = BytesMut::with_capacity(ID_BLOCK_BYTES);
        }
        block.extend_from_slice(&id[at..]);
        block.split().freeze()
    });
    RequestId(
        HeaderValue::from_maybe_shared(bytes).unwrap_or_else(|_| HeaderValue::from_static("-")),
    )
}

/// Size of the blocks generated request ids are cut from.
const ID_BLOCK_BYTES: usize = 4096;

thread_local! {
    static ID_BLOCK: RefCell<BytesMut> = RefCell::new(BytesMut::new());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_validated_and_unique() {
        assert!(is_valid_request_id(b"abc-123_x.y:z"));
        assert!(!is_valid_request_id(b""));
        assert!(!is_valid_request_id(b"a b"));
        assert!(!is_valid_request_id(b"a\"b"));
        assert!(!is_valid_request_id("a".repeat(129).as_bytes()));
        let (a, b) = (generate_request_id(), generate_request_id());
        let (a, b) = (a.as_str(), b.as_str());
        assert_ne!(a, b);
        let (prefix, counter) = a.rsplit_once('-').unwrap_or_default();
        assert_eq!(prefix.len(), 12, "{a}");
        assert!(prefix.bytes().all(|c| c.is_ascii_hexdigit()), "{a}");
        assert!(u64::from_str_radix(counter, 16).is_ok(), "{a}");
        assert!(is_valid_request_id(a.as_bytes()));
        // Ids cut from shared blocks stay intact while later ids are written (several
        // blocks' worth, kept alive together).
        let ids: Vec<RequestId> = (0..1_000).map(|_| generate_request_id()).collect();
        let texts: std::collections::HashSet<&str> = ids.iter().map(RequestId::as_str).collect();
        assert_eq!(texts.len(), ids.len());
        let first: u64 =
            u64::from_str_radix(ids[0].as_str().rsplit_once('-').unwrap_or_default().1, 16)
                .unwrap_or_default();
        for (i, id) in ids.iter().enumerate() {
            let (prefix, counter) = id.as_str().rsplit_once('-').unwrap_or_default();
            assert_eq!(prefix.len(), 12, "{}", id.as_str());
            assert!(u64::from_str_radix(counter, 16).unwrap_or_default() >= first + i as u64);
        }
    }

    #[test]
    fn line_tails_are_reused_and_the_pool_stays_bounded() {
        // A burst of requests in flight on one worker, then all answered.
        let tails: Vec<Tail> = (0..Tail::KEPT * 2).map(|_| Tail::take()).collect();
        drop(tails);
        assert_eq!(TAILS.with_borrow(Vec::len), Tail::KEPT);
        let mut reused = Tail::take();
        assert!(reused.0.is_empty() && reused.0.capacity() >= 256);
        // A tail grown past the kept size (a long user agent) is freed, not kept.
        reused.0.reserve(Tail::KEPT_CAPACITY * 4);
        drop(reused);
        assert_eq!(TAILS.with_borrow(Vec::len), Tail::KEPT - 1);
        assert!(TAILS.with_borrow(|t| t.iter().all(|b| b.capacity() <= Tail::KEPT_CAPACITY)));
    }

    #[test]
    fn the_cached_peer_text_follows_the_peer() {
        let text = |peer: Option<&str>| {
            let mut buf = Vec::new();
            push_peer_ip_json(&mut buf, peer.and_then(|p| p.parse().ok()));
            String::from_utf8(buf).unwrap_or_default()
        };
        for _ in 0..2 {
            assert_eq!(text(Some("10.0.0.1:80")), r#""10.0.0.1""#);
            assert_eq!(text(Some("10.0.0.1:81")), r#""10.0.0.1""#);
            assert_eq!(text(Some("[::ffff:192.0.2.1]:80")), r#""192.0.2.1""#);
            assert_eq!(text(Some("[2001:db8::1]:80")), r#""2001:db8::1""#);
            assert_eq!(text(None), r#""""#);
        }
    }

    #[test]
    fn client_ip_follows_gins_header_validation() {
        // Rows: (X-Forwarded-For value, what Gin's validateHeader returns).
        let rows = [
            ("203.0.113.9", Some("203.0.113.9")),
            ("203.0.113.9, 10.0.0.1", Some("203.0.113.9")),
            (" 2001:DB8::1 ,10.0.0.1", Some("2001:DB8::1")),
            ("not-an-ip, 10.0.0.1", None),
            ("203.0.113.9, junk", None),
            ("203.0.113.9,,10.0.0.1", None),
            ("127.0.0.1:5555", None),
            ("[::1]", None),
            ("", None),
            ("evil\"}", None),
        ];
        for (header, want) in rows {
            assert_eq!(first_address(header), want, "{header:?}");
        }
    }

    #[test]
    fn peer_addresses_print_as_go_prints_them() {
        let rows = [
            ("127.0.0.1", "127.0.0.1"),
            ("10.200.3.255", "10.200.3.255"),
            ("0.0.0.0", "0.0.0.0"),
            ("::1", "::1"),
            ("2001:db8::8a2e:370:7334", "2001:db8::8a2e:370:7334"),
            ("::ffff:192.0.2.1", "192.0.2.1"),
        ];
        for (input, want) in rows {
            let ip: std::net::IpAddr = input
                .parse()
                .unwrap_or(std::net::Ipv4Addr::UNSPECIFIED.into());
            assert_eq!(ip_text(ip), want, "{input}");
        }
    }

    #[test]
    fn path_is_decoded_as_gin_logs_it() {
        use actix_web::test::TestRequest;
        let rows = [
            ("/api/v1/status", "/api/v1/status"),
            ("/a%20b?x=%20&y=1", "/a b?x=%20&y=1"),
            ("/empty-query?", "/empty-query"),
            ("/%E2%82%AC", "/€"),
            ("/%FF", "/\u{FFFD}"),
            ("/bad%zz", "/bad%zz"),
        ];
        for (uri, want) in rows {
            let req = TestRequest::with_uri(uri).to_srv_request();
            assert_eq!(gin_path(&req), want, "{uri}");
        }
    }

    #[actix_web::test]
    async fn a_forwarded_value_that_is_no_address_falls_back_to_x_real_ip_then_the_peer() {
        use actix_web::test::TestRequest;
        let peer = "198.51.100.7:4000".parse().ok();
        let with_peer = |mut req: TestRequest| {
            if let Some(peer) = peer {
                req = req.peer_addr(peer);
            }
            req.to_srv_request()
        };
        let req = with_peer(
            TestRequest::default().insert_header(("x-forwarded-for", "not-an-ip, 10.0.0.1")),
        );
        assert_eq!(gin_client_ip(&req), "198.51.100.7");
        let req = with_peer(
            TestRequest::default()
                .insert_header(("x-forwarded-for", "not-an-ip"))
                .insert_header(("x-real-ip", "192.0.2.1")),
        );
        assert_eq!(gin_client_ip(&req), "192.0.2.1");
        let req = with_peer(TestRequest::default().insert_header(("forwarded", "for=192.0.2.60")));
        assert_eq!(gin_client_ip(&req), "198.51.100.7");
        let req = with_peer(
            TestRequest::default().insert_header(("x-forwarded-for", "203.0.113.9, 10.0.0.1")),
        );
        assert_eq!(gin_client_ip(&req), "203.0.113.9");
    }
}
