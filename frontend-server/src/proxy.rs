//! The `/api/` reverse proxy.
//!
//! Contract (ARCHITECTURE.md, "Request path"; frontend-server/README.md), and where each
//! part comes from:
//! - the request path and query go upstream unchanged, as with nginx's
//!   `proxy_pass http://api-service:8080;` (no URI part);
//! - hop-by-hop headers are dropped in both directions: the fixed list of RFC 9110 §7.6.1
//!   plus every header the `Connection` header names;
//! - `Host` is the request's host without port (nginx `$host`: request line, else the
//!   `Host` header; never `X-Forwarded-Host`/`Forwarded`), `X-Real-IP` the peer address,
//!   `X-Forwarded-For` the client's list with the peer appended (nginx
//!   `$proxy_add_x_forwarded_for`), `X-Forwarded-Proto` the ingress' value or this
//!   connection's scheme, and `X-Request-Id` the id the access log assigned, so one request
//!   is traceable through both services; incoming `Forwarded` and `X-Forwarded-Host` are
//!   dropped;
//! - both bodies stream through bounded buffers; a request body larger than
//!   `MAX_BODY_SIZE` is refused with 413 (declared sizes by `service_kit::limits` before
//!   anything is sent, chunked ones here while streaming);
//! - every response header is kept as sent, repeated `Set-Cookie` included;
//! - redirects are passed to the client, never followed; the environment's `HTTP_PROXY` is
//!   ignored; connections are pooled and kept alive (nginx opens one per request);
//! - connect failure (refused, or `UPSTREAM_CONNECT_TIMEOUT` elapsed) → 502; no response
//!   head within `UPSTREAM_TIMEOUT` of the start of forwarding, the request body upload
//!   included → 504; any other upstream failure before the response head → 502. After the
//!   head, `UPSTREAM_TIMEOUT` bounds each wait between body reads (reqwest `read_timeout`,
//!   like nginx `proxy_read_timeout`); a stall then cuts the response off.

use std::{
    io,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use actix_web::{
    HttpMessage as _, HttpRequest, HttpResponse,
    body::{BodyStream, SizedStream},
    http::{Method, StatusCode, header},
    web,
};
use bytes::Bytes;
use futures_util::{StreamExt as _, TryStreamExt as _};
use service_kit::{access_log::RequestId, errors::json_error};

use crate::path_safety::{self, PathRejection};

/// Headers that describe one connection, not the message (RFC 9110 §7.6.1), plus the
/// proxy-authentication pair, which is addressed to this proxy (RFC 9110 §11.7).
pub const HOP_BY_HOP: &[&str] = &[
    "connection",
    "proxy-connection",
    "keep-alive",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "proxy-authenticate",
    "proxy-authorization",
];

/// Request headers the proxy sets itself (any client-sent value is replaced or extended).
const SET_BY_PROXY: &[&str] = &[
    "host",
    "x-real-ip",
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-request-id",
    // actix answers `Expect: 100-continue` itself; the upstream sees a plain request.
    "expect",
    // Client-supplied claims about the original request that nginx's config never passes
    // on and that frameworks trust before `X-Forwarded-For`/`Host` (actix' `realip_remote_addr`
    // reads `Forwarded: for=` first, its `host()` reads `Forwarded: host=` and
    // `X-Forwarded-Host`): dropped, so the api's client IP comes from the
    // `X-Forwarded-For` we append and its host from the `Host` we set.
    "forwarded",
    "x-forwarded-host",
];

/// Chunks of request body buffered between the client and the upstream connection.
const REQUEST_BODY_CHUNKS: usize = 4;

/// Pooled upstream connections are dropped after this much idleness: below the api's
/// keep-alive (75 s), so the pool never reuses a connection the api is closing.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(50);

/// The upstream and the client that talks to it (cheap to clone; the pool is shared).
#[derive(Debug, Clone)]
pub struct Upstream {
    client: reqwest::Client,
    /// `http://host:port`, without trailing slash.
    origin: String,
    timeout: Duration,
    max_body_bytes: u64,
}

/// The upstream client could not be built.
#[derive(Debug, thiserror::Error)]
#[error("cannot build the upstream HTTP client: {0}")]
pub struct UpstreamError(#[from] reqwest::Error);

impl Upstream {
    pub fn new(
        base: &reqwest::Url,
        timeout: Duration,
        connect_timeout: Duration,
        max_body_bytes: u64,
    ) -> Result<Self, UpstreamError> {
        let client = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(connect_timeout)
            .read_timeout(timeout)
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
            .http1_only()
            .tcp_nodelay(true)
            .build()?;
        Ok(Self {
            client,
            origin: base.as_str().trim_end_matches('/').to_owned(),
            timeout,
            max_body_bytes,
        })
    }
}

/// Answers a request under `/api/` from the upstream.
pub async fn forward(req: HttpRequest, payload: web::Payload, upstream: &Upstream) -> HttpResponse {
    let path_and_query = req
        .uri()
        .path_and_query()
        .map_or("/", |pq| pq.as_str())
        .to_owned();
    // A dot-segment would be resolved by the URL parser, letting `/api/../healthz` reach
    // the api's `/healthz`: refuse it as the static side does.
    if let Err(PathRejection::Malformed(reason)) = path_safety::parse(req.uri().path()) {
        return json_error(StatusCode::BAD_REQUEST, reason);
    }
    let url = format!("{}{}", upstream.origin, path_and_query);
    let Ok(method) = reqwest::Method::from_bytes(req.method().as_str().as_bytes()) else {
        return json_error(StatusCode::BAD_REQUEST, "unsupported method");
    };
    let headers = request_headers(&req);

    let too_large = Arc::new(AtomicBool::new(false));
    let mut builder = upstream.client.request(method, url).headers(headers);
    if has_body(&req) {
        builder = builder.body(stream_body(
            payload,
            upstream.max_body_bytes,
            Arc::clone(&too_large),
        ));
    }

    // The deadline covers the whole exchange up to the response head, the client's body
    // upload included (reqwest gives no hook for "body sent"); README documents this.
    let sent = tokio::time::timeout(upstream.timeout, builder.send()).await;
    let response = match sent {
        Ok(Ok(response)) => response,
        Ok(Err(err)) => return upstream_failure(&err, &too_large, &req),
        Err(_) => {
            tracing::warn!(path = %req.path(), "upstream timed out before answering");
            return json_error(
                StatusCode::GATEWAY_TIMEOUT,
                "the upstream did not answer in time",
            );
        }
    };
    relay_response(&req, response)
}

/// A request carries a body when it declares one (RFC 9112 §6.3).
fn has_body(req: &HttpRequest) -> bool {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .is_some_and(|n| n > 0);
    declared || req.headers().contains_key(header::TRANSFER_ENCODING)
}

fn stream_body(mut payload: web::Payload, limit: u64, too_large: Arc<AtomicBool>) -> reqwest::Body {
    // actix' payload lives on this worker thread (it is !Send); reqwest wants a Send
    // stream. A small channel bridges the two and bounds the bytes in flight.
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, io::Error>>(REQUEST_BODY_CHUNKS);
    actix_web::rt::spawn(async move {
        let mut seen: u64 = 0;
        while let Some(chunk) = payload.next().await {
            let item = match chunk {
                Ok(bytes) => {
                    seen += bytes.len() as u64;
                    if seen > limit {
                        too_large.store(true, Ordering::Release);
                        Err(io::Error::other("request body over the limit"))
                    } else {
                        Ok(bytes)
                    }
                }
                Err(err) => Err(io::Error::other(err.to_string())),
            };
            let stop = item.is_err();
            if tx.send(item).await.is_err() || stop {
                break;
            }
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    reqwest::Body::wrap_stream(stream)
}

fn upstream_failure(
    err: &reqwest::Error,
    too_large: &AtomicBool,
    req: &HttpRequest,
) -> HttpResponse {
    if too_large.load(Ordering::Acquire) {
        return json_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "request body exceeds MAX_BODY_SIZE",
        );
    }
    let (status, message) = classify(err.is_connect(), err.is_timeout());
    tracing::warn!(path = %req.path(), status = status.as_u16(), error = %error_chain(err), "upstream request failed");
    json_error(status, message)
}

/// Status and message for an upstream failure before the response head. A connect
/// timeout is both `is_connect()` and `is_timeout()` in reqwest: the connection test comes
/// first, so any failure to connect (refused or timed out) is 502, as documented; 504 is
/// for an upstream that accepted the request and did not answer in time.
fn classify(is_connect: bool, is_timeout: bool) -> (StatusCode, &'static str) {
    if is_connect {
        (StatusCode::BAD_GATEWAY, "cannot connect to the upstream")
    } else if is_timeout {
        (
            StatusCode::GATEWAY_TIMEOUT,
            "the upstream did not answer in time",
        )
    } else {
        (
            StatusCode::BAD_GATEWAY,
            "the upstream failed before answering",
        )
    }
}

fn error_chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// Names listed in a `Connection` header (comma-separated tokens), lower-cased.
fn connection_tokens<'a>(values: impl Iterator<Item = &'a [u8]>) -> Vec<String> {
    values
        .filter_map(|v| std::str::from_utf8(v).ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().to_ascii_lowercase())
        .filter(|t| !t.is_empty())
        .collect()
}

fn is_hop_by_hop(name: &str, named_by_connection: &[String]) -> bool {
    HOP_BY_HOP.contains(&name) || named_by_connection.iter().any(|t| t == name)
}

fn request_headers(req: &HttpRequest) -> reqwest::header::HeaderMap {
    use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
    let incoming = req.headers();
    let named = connection_tokens(incoming.get_all(header::CONNECTION).map(|v| v.as_bytes()));
    let mut out = HeaderMap::with_capacity(incoming.len() + 5);
    for (name, value) in incoming {
        let lower = name.as_str();
        if is_hop_by_hop(lower, &named) || SET_BY_PROXY.contains(&lower) {
            continue;
        }
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(lower.as_bytes()),
            HeaderValue::from_bytes(value.as_bytes()),
        ) {
            out.append(n, v);
        }
    }

    let peer_ip = req.peer_addr().map(|a| a.ip().to_string());
    let host = request_host(req);
    let mut put = |name: &'static str, value: &str| {
        if let Ok(v) = HeaderValue::from_str(value) {
            out.insert(HeaderName::from_static(name), v);
        }
    };
    put("host", &host);
    if let Some(ip) = &peer_ip {
        put("x-real-ip", ip);
    }
    let mut forwarded_for: Vec<String> = incoming
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
        .collect();
    if let Some(ip) = &peer_ip {
        forwarded_for.push(ip.clone());
    }
    if !forwarded_for.is_empty() {
        put("x-forwarded-for", &forwarded_for.join(", "));
    }
    put("x-forwarded-proto", forwarded_proto(req));
    if let Some(id) = req.extensions().get::<RequestId>() {
        put("x-request-id", &id.0);
    }
    out
}

/// nginx `$host`: the host of the request line (absolute-form target), else the `Host`
/// header, lower-cased, without the port. Never `Forwarded: host=` or `X-Forwarded-Host`
/// (what actix' `connection_info().host()` prefers): those are the client's to invent.
fn request_host(req: &HttpRequest) -> String {
    let from_line = req.uri().authority().map(|a| a.as_str().to_owned());
    let from_header = || {
        req.headers()
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let raw = from_line.or_else(from_header).unwrap_or_default();
    // An authority may carry userinfo (`user@host`); the host is what follows it.
    let raw = raw.rsplit_once('@').map_or(raw.as_str(), |(_, h)| h);
    host_without_port(raw.trim()).to_ascii_lowercase()
}

/// The scheme the client used. The frontend runs behind the cluster ingress, which
/// terminates TLS and sets `X-Forwarded-Proto`; that header, when it names `http` or
/// `https`, is passed on (README, proxy contract). `Forwarded: proto=` is not read: the
/// ingress does not set it and it is dropped before forwarding. Without the header, the
/// scheme of this connection.
fn forwarded_proto(req: &HttpRequest) -> &'static str {
    let claimed = req
        .headers()
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .map(str::trim);
    match claimed {
        Some(p) if p.eq_ignore_ascii_case("https") => "https",
        Some(p) if p.eq_ignore_ascii_case("http") => "http",
        _ if req.app_config().secure() => "https",
        _ => "http",
    }
}

fn host_without_port(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        // IPv6 literal: keep the brackets, drop the port.
        return rest.find(']').map_or(host, |end| &host[..end + 2]);
    }
    host.rsplit_once(':')
        .filter(|(_, port)| port.bytes().all(|b| b.is_ascii_digit()))
        .map_or(host, |(h, _)| h)
}

fn relay_response(req: &HttpRequest, response: reqwest::Response) -> HttpResponse {
    let status =
        StatusCode::from_u16(response.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let named = connection_tokens(
        response
            .headers()
            .get_all(reqwest::header::CONNECTION)
            .iter()
            .map(|v| v.as_bytes()),
    );
    let mut builder = HttpResponse::build(status);
    let mut declared_len = None;
    for (name, value) in response.headers() {
        let lower = name.as_str();
        if is_hop_by_hop(lower, &named) {
            continue;
        }
        if lower == "content-length" {
            // Set by the body below, from the same number.
            declared_len = value.to_str().ok().and_then(|v| v.parse::<u64>().ok());
            continue;
        }
        if let Ok(v) = header::HeaderValue::from_bytes(value.as_bytes()) {
            builder.append_header((lower, v));
        }
    }
    // RFC 9110 §6.4.1: no content for HEAD, 1xx, 204 and 304, whatever the upstream sends.
    let bodiless = req.method() == Method::HEAD
        || status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED;
    if bodiless {
        if req.method() == Method::HEAD
            && let Some(len) = declared_len
        {
            // A HEAD answer carries the length a GET would have (RFC 9110 §9.3.2); actix
            // writes Content-Length from the body's declared size and never polls a HEAD
            // body, so an empty stream declared at that size does it.
            let empty = futures_util::stream::empty::<Result<Bytes, io::Error>>();
            return builder.body(SizedStream::new(len, empty));
        }
        // No declared length (or not HEAD): send no Content-Length rather than a false `0`.
        return builder.body(actix_web::body::None::new());
    }
    let stream = response.bytes_stream().map_err(|err| {
        tracing::warn!(error = %error_chain(&err), "upstream response body failed mid-stream");
        io::Error::other(err)
    });
    match declared_len {
        Some(len) => builder.body(SizedStream::new(len, stream)),
        None => builder.body(BodyStream::new(stream)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_port_is_dropped() {
        assert_eq!(host_without_port("example.com:8080"), "example.com");
        assert_eq!(host_without_port("example.com"), "example.com");
        assert_eq!(host_without_port("[::1]:8080"), "[::1]");
        assert_eq!(host_without_port("[::1]"), "[::1]");
    }

    #[test]
    fn connect_failures_are_502_even_when_they_are_timeouts() {
        assert_eq!(classify(true, true).0, StatusCode::BAD_GATEWAY);
        assert_eq!(classify(true, false).0, StatusCode::BAD_GATEWAY);
        assert_eq!(classify(false, true).0, StatusCode::GATEWAY_TIMEOUT);
        assert_eq!(classify(false, false).0, StatusCode::BAD_GATEWAY);
    }

    #[test]
    fn connection_tokens_are_hop_by_hop() {
        let named = connection_tokens([&b"keep-alive, X-Secret"[..], b"close"].into_iter());
        assert_eq!(named, ["keep-alive", "x-secret", "close"]);
        assert!(is_hop_by_hop("x-secret", &named));
        assert!(is_hop_by_hop("transfer-encoding", &named));
        assert!(!is_hop_by_hop("set-cookie", &named));
    }
}
