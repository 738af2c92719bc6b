//! One log line per request, with the field names of the Go-Gin service it replaces
//! (`statusCode`, `latency`, `clientIP`, `method`, `path`, `userAgent`) plus `requestId`,
//! and the request recorded in [`HttpMetrics`].
//!
//! Probe endpoints (`/healthz`, `/readyz`, `/metrics`) are logged at debug level: kubelets
//! and scrapers call them every few seconds and would drown the interesting lines.

use std::{
    fmt::Write as _,
    sync::{
        OnceLock,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use actix_web::{
    Error, HttpMessage,
    body::MessageBody,
    dev::{ServiceRequest, ServiceResponse},
    error::InternalError,
    http::{
        Method,
        header::{HeaderName, HeaderValue, USER_AGENT},
    },
    middleware::Next,
    web,
};

use tracing::Level;

use crate::metrics::HttpMetrics;

/// Header carrying the request id in and out (kept from the client when well-formed, so a
/// request can be followed from the frontend proxy to the api).
pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// Paths logged at debug level only.
pub const PROBE_PATHS: &[&str] = &["/healthz", "/readyz", "/metrics"];

/// Route label for requests that matched no route.
const UNMATCHED_ROUTE: &str = "unmatched";

/// The id of the request being served, stored in the request's extensions.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// What the log line says about the request, captured before the request moves into the
/// handler, and only when the line will be written (see [`log_requests`]).
#[derive(Debug)]
struct RequestFacts {
    method: Method,
    path: String,
    client_ip: String,
    user_agent: String,
    probe: bool,
}

impl RequestFacts {
    fn capture(req: &ServiceRequest, probe: bool) -> Self {
        Self {
            method: req.method().clone(),
            path: req
                .uri()
                .path_and_query()
                .map_or_else(|| req.path().to_owned(), |pq| pq.as_str().to_owned()),
            client_ip: client_ip(req),
            user_agent: req
                .headers()
                .get(USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned(),
            probe,
        }
    }

    fn emit(&self, status: u16, elapsed: Duration, request_id: &str) {
        let latency = go_duration(elapsed);
        macro_rules! line {
            ($level:ident) => {
                tracing::$level!(
                    statusCode = status,
                    latency = %latency,
                    clientIP = %self.client_ip,
                    method = %self.method,
                    path = %self.path,
                    userAgent = %self.user_agent,
                    requestId = %request_id,
                    "request"
                )
            };
        }
        if self.probe {
            line!(debug);
        } else {
            line!(info);
        }
    }
}

/// Middleware: `App::new().wrap(from_fn(access_log::log_requests))`, with the
/// [`HttpMetrics`] handle registered as `web::Data` app data.
///
/// The log line's fields are gathered only when its level is enabled: with probes at debug
/// level, a kubelet's probes cost a metric update and nothing else.
pub async fn log_requests(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = Instant::now();
    let request_id = request_id(&req);
    req.extensions_mut().insert(RequestId(request_id.clone()));
    let probe = PROBE_PATHS.contains(&req.path());
    let logged = if probe {
        tracing::enabled!(Level::DEBUG)
    } else {
        tracing::enabled!(Level::INFO)
    };
    let facts = logged.then(|| RequestFacts::capture(&req, probe));
    let method = req.method().clone();
    let metrics = req.app_data::<web::Data<HttpMetrics>>().cloned();

    // The route pattern is looked up before the call (it does not depend on routing having
    // run), so an error answer is counted under its route too. No clone of the HttpRequest
    // may be held across `next.call`: actix needs the only reference to fill in route
    // parameters.
    let route = req.match_pattern();
    let result = next.call(req).await;
    let elapsed = started.elapsed();
    let status = match &result {
        Ok(res) => res.status(),
        Err(err) => err.as_response_error().status_code(),
    };
    if let Some(metrics) = metrics {
        let route = route.as_deref().unwrap_or(UNMATCHED_ROUTE);
        metrics.observe(route, &method, status.as_u16(), elapsed);
    }
    if let Some(facts) = facts {
        facts.emit(status.as_u16(), elapsed, &request_id);
    }
    let request_id = HeaderValue::from_str(&request_id).ok();
    match result {
        Ok(mut res) => {
            if let Some(value) = request_id {
                res.headers_mut().insert(REQUEST_ID_HEADER, value);
            }
            Ok(res)
        }
        // An inner error (a caught panic) is answered by actix' dispatcher from the error
        // itself: give it its response now, with the request id on it.
        Err(err) => {
            let mut res = err.error_response();
            if let Some(value) = request_id {
                res.headers_mut().insert(REQUEST_ID_HEADER, value);
            }
            Err(InternalError::from_response(err, res).into())
        }
    }
}

/// Gin's `ClientIP()` with its default (all proxies trusted): the first forwarded address
/// (`Forwarded: for=` or `X-Forwarded-For`, as actix' `realip_remote_addr` reads them) when it
/// is an IP address, else the peer's. Never a port, never arbitrary client text.
fn client_ip(req: &ServiceRequest) -> String {
    let forwarded = req
        .connection_info()
        .realip_remote_addr()
        .and_then(parse_ip);
    forwarded
        .or_else(|| req.peer_addr().map(|a| a.ip()))
        .map(|ip| ip.to_string())
        .unwrap_or_default()
}

/// `1.2.3.4`, `1.2.3.4:5`, `::1`, `[::1]:80` → the address; anything else → `None`.
fn parse_ip(addr: &str) -> Option<std::net::IpAddr> {
    let addr = addr.trim();
    if let Ok(sock) = addr.parse::<std::net::SocketAddr>() {
        return Some(sock.ip());
    }
    addr.trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .ok()
}

fn request_id(req: &ServiceRequest) -> String {
    if let Some(given) = req
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| is_valid_request_id(v))
    {
        return given.to_owned();
    }
    generate_request_id()
}

/// Accepts ids of 1..=128 characters from a conservative alphabet, so a client cannot
/// inject log or header syntax through it.
fn is_valid_request_id(v: &str) -> bool {
    !v.is_empty()
        && v.len() <= 128
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

/// A random per-process prefix plus a counter: unique for the process' life without a
/// random-number syscall per request.
fn generate_request_id() -> String {
    static PREFIX: OnceLock<String> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let prefix = PREFIX.get_or_init(|| {
        let id = uuid::Uuid::new_v4().simple().to_string();
        id[..12].to_owned()
    });
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut out = String::with_capacity(prefix.len() + 12);
    out.push_str(prefix);
    let _ = write!(out, "-{n:x}");
    out
}

/// Formats a duration the way Go's `time.Duration.String()` does (`152.3µs`, `1.5ms`,
/// `2s`), which is what Gin's logger printed for `latency`.
pub fn go_duration(d: Duration) -> String {
    let ns = d.as_nanos();
    let (unit, scale) = match ns {
        0..=999 => return format!("{ns}ns"),
        1_000..=999_999 => ("µs", 1_000u128),
        1_000_000..=999_999_999 => ("ms", 1_000_000),
        _ => ("s", 1_000_000_000),
    };
    let whole = ns / scale;
    let frac = ns % scale;
    if frac == 0 {
        return format!("{whole}{unit}");
    }
    let width = scale.ilog10() as usize;
    let digits = format!("{frac:0width$}");
    format!("{whole}.{}{unit}", digits.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_duration_matches_go_formatting() {
        assert_eq!(go_duration(Duration::from_nanos(999)), "999ns");
        assert_eq!(go_duration(Duration::from_nanos(152_300)), "152.3µs");
        assert_eq!(go_duration(Duration::from_nanos(1_500_000)), "1.5ms");
        assert_eq!(go_duration(Duration::from_nanos(1_234_567)), "1.234567ms");
        assert_eq!(go_duration(Duration::from_secs(2)), "2s");
        assert_eq!(go_duration(Duration::from_millis(2500)), "2.5s");
    }

    #[test]
    fn request_ids_are_validated_and_unique() {
        assert!(is_valid_request_id("abc-123_x.y:z"));
        assert!(!is_valid_request_id(""));
        assert!(!is_valid_request_id("a b"));
        assert!(!is_valid_request_id("a\"b"));
        assert!(!is_valid_request_id(&"a".repeat(129)));
        assert_ne!(generate_request_id(), generate_request_id());
    }

    #[test]
    fn client_ip_is_an_address_without_port_or_junk() {
        let ip = |s: &str| parse_ip(s).map(|ip| ip.to_string());
        assert_eq!(ip("127.0.0.1:5555").as_deref(), Some("127.0.0.1"));
        assert_eq!(ip("[::1]:80").as_deref(), Some("::1"));
        assert_eq!(ip("203.0.113.9").as_deref(), Some("203.0.113.9"));
        assert_eq!(ip("evil\"}"), None);
        assert_eq!(ip("unknown"), None);
    }

    #[actix_web::test]
    async fn a_forwarded_value_that_is_no_address_falls_back_to_the_peer() {
        use actix_web::test::TestRequest;
        let peer = "198.51.100.7:4000".parse().ok();
        let mut req =
            TestRequest::default().insert_header(("x-forwarded-for", "not-an-ip, 10.0.0.1"));
        if let Some(peer) = peer {
            req = req.peer_addr(peer);
        }
        assert_eq!(client_ip(&req.to_srv_request()), "198.51.100.7");
        let req = TestRequest::default()
            .insert_header(("x-forwarded-for", "203.0.113.9, 10.0.0.1"))
            .to_srv_request();
        assert_eq!(client_ip(&req), "203.0.113.9");
    }
}
