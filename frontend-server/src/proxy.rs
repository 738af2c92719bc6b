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
//!   head, `UPSTREAM_TIMEOUT` bounds each wait between body reads (like nginx
//!   `proxy_read_timeout`); a stall then cuts the response off.
//!
//! The HTTP client (reqwest, one per worker) and its pool are [`crate::upstream`].

use std::{
    io,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
};

use actix_web::{
    HttpMessage as _, HttpRequest, HttpResponse,
    body::SizedStream,
    http::{Method, StatusCode, header},
    web,
};
use bytes::Bytes;
use service_kit::{
    access_log::{RequestId, ip_text},
    errors::json_error,
};

use crate::{
    path_safety::{self, PathRejection},
    upstream::{self, ResponseBody, Upstream},
};

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

/// Answers a request under `/api/` from the upstream.
pub async fn forward(req: HttpRequest, payload: web::Payload, upstream: &Upstream) -> HttpResponse {
    // A dot-segment would be resolved by the upstream (and by the URL parser), letting
    // `/api/../healthz` reach the api's `/healthz`: refuse it as the static side does.
    let path = req.uri().path();
    if !path_safety::is_plain(path)
        && let Err(PathRejection::Malformed(reason)) = path_safety::parse(path)
    {
        return json_error(StatusCode::BAD_REQUEST, reason);
    }
    let Ok(method) = reqwest::Method::from_bytes(req.method().as_str().as_bytes()) else {
        return json_error(StatusCode::BAD_REQUEST, "unsupported method");
    };
    let url = upstream.url(path, req.uri().query());
    // Built whole and handed over: `RequestBuilder::headers` would look up and replace
    // each header of an existing map.
    let mut upstream_req = reqwest::Request::new(method, url);
    *upstream_req.headers_mut() = request_headers(&req);
    let too_large = Arc::new(AtomicBool::new(false));
    if has_body(&req) {
        *upstream_req.body_mut() = Some(upstream::request_body(
            payload.into_inner(),
            upstream.max_body_bytes(),
            Arc::clone(&too_large),
        ));
    }

    // The deadline covers the whole exchange up to the response head, the client's body
    // upload included (reqwest gives no hook for "body sent"); README documents this.
    match tokio::time::timeout(upstream.timeout(), upstream.send(upstream_req)).await {
        Ok(Ok(response)) => {
            let (head, incoming) = http::Response::<reqwest::Body>::from(response).into_parts();
            relay_response(&req, head, |declared, bodiless| {
                // A body the client gets none of is dropped: its connection is reused if
                // the upstream sent none either, else closed.
                (!bodiless).then(|| ResponseBody::new(incoming, declared, upstream.timeout()))
            })
        }
        Ok(Err(err)) => upstream_failure(&err, too_large.load(Ordering::Acquire), &req),
        Err(_) => {
            tracing::warn!(path = %req.path(), "upstream timed out before answering");
            json_error(
                StatusCode::GATEWAY_TIMEOUT,
                "the upstream did not answer in time",
            )
        }
    }
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

fn upstream_failure(err: &reqwest::Error, too_large: bool, req: &HttpRequest) -> HttpResponse {
    if too_large {
        return json_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "request body exceeds MAX_BODY_SIZE",
        );
    }
    let (status, message) = upstream::classify(err);
    tracing::warn!(path = %req.path(), status = status.as_u16(), error = %upstream::error_chain(err), "upstream request failed");
    json_error(status, message)
}

/// Whether `name` is one of the comma-separated tokens of the `Connection` values
/// (case-insensitive), without allocating.
fn named_by_connection<'a>(name: &str, mut connection: impl Iterator<Item = &'a [u8]>) -> bool {
    connection.any(|value| {
        value
            .split(|&b| b == b',')
            .any(|token| token.trim_ascii().eq_ignore_ascii_case(name.as_bytes()))
    })
}

fn is_hop_by_hop<'a>(name: &str, connection: impl Iterator<Item = &'a [u8]>) -> bool {
    HOP_BY_HOP.contains(&name) || named_by_connection(name, connection)
}

const X_REAL_IP: http::HeaderName = http::HeaderName::from_static("x-real-ip");
const X_FORWARDED_FOR: http::HeaderName = http::HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: http::HeaderName = http::HeaderName::from_static("x-forwarded-proto");
const X_REQUEST_ID: http::HeaderName = http::HeaderName::from_static("x-request-id");
const IN_X_FORWARDED_FOR: header::HeaderName = header::HeaderName::from_static("x-forwarded-for");
const IN_X_FORWARDED_PROTO: header::HeaderName =
    header::HeaderName::from_static("x-forwarded-proto");

/// A header value made from text the proxy built (no copy of the text).
fn owned_value(text: String) -> Option<http::HeaderValue> {
    http::HeaderValue::from_maybe_shared(Bytes::from(text)).ok()
}

fn request_headers(req: &HttpRequest) -> http::HeaderMap {
    let incoming = req.headers();
    // Most requests name no header in `Connection` (or only `keep-alive`): look it up once.
    let connection: Vec<&[u8]> = incoming
        .get_all(header::CONNECTION)
        .map(|v| v.as_bytes())
        .collect();
    let mut out = http::HeaderMap::with_capacity(incoming.len() + 5);
    for (name, value) in incoming {
        let lower = name.as_str();
        if SET_BY_PROXY.contains(&lower) || is_hop_by_hop(lower, connection.iter().copied()) {
            continue;
        }
        if let (Ok(n), Ok(v)) = (
            http::HeaderName::from_bytes(lower.as_bytes()),
            http::HeaderValue::from_bytes(value.as_bytes()),
        ) {
            out.append(n, v);
        }
    }

    if let Some(v) = owned_value(request_host(req)) {
        out.insert(http::header::HOST, v);
    }
    let peer_ip = req.peer_addr().and_then(|a| owned_value(ip_text(a.ip())));
    // nginx `$proxy_add_x_forwarded_for`: the client's list, then the peer.
    let mut forwarded_for = String::new();
    for value in incoming.get_all(IN_X_FORWARDED_FOR) {
        let Ok(value) = value.to_str() else { continue };
        let value = value.trim();
        if !value.is_empty() {
            if !forwarded_for.is_empty() {
                forwarded_for.push_str(", ");
            }
            forwarded_for.push_str(value);
        }
    }
    let forwarded_for = match (&peer_ip, forwarded_for.is_empty()) {
        // The common case: no list from the client, the peer alone (same bytes as X-Real-IP).
        (Some(ip), true) => Some(ip.clone()),
        (Some(ip), false) => {
            forwarded_for.push_str(", ");
            forwarded_for.push_str(ip.to_str().unwrap_or_default());
            owned_value(forwarded_for)
        }
        (None, false) => owned_value(forwarded_for),
        (None, true) => None,
    };
    if let Some(ip) = peer_ip {
        out.insert(X_REAL_IP, ip);
    }
    if let Some(v) = forwarded_for {
        out.insert(X_FORWARDED_FOR, v);
    }
    out.insert(
        X_FORWARDED_PROTO,
        http::HeaderValue::from_static(forwarded_proto(req)),
    );
    if let Some(id) = req.extensions().get::<RequestId>()
        && let Ok(v) = http::HeaderValue::from_str(id.as_str())
    {
        out.insert(X_REQUEST_ID, v);
    }
    out
}

/// nginx `$host`: the host of the request line (absolute-form target), else the `Host`
/// header, lower-cased, without the port. Never `Forwarded: host=` or `X-Forwarded-Host`
/// (what actix' `connection_info().host()` prefers): those are the client's to invent.
fn request_host(req: &HttpRequest) -> String {
    let raw = match req.uri().authority() {
        Some(authority) => authority.as_str(),
        None => req
            .headers()
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default(),
    };
    // An authority may carry userinfo (`user@host`); the host is what follows it.
    let raw = raw.rsplit_once('@').map_or(raw, |(_, h)| h);
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
        .get(IN_X_FORWARDED_PROTO)
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

/// The client's answer from the upstream's head; `body` makes the body from the declared
/// length, or consumes it when the answer has none (`bodiless`) and returns `None`.
fn relay_response(
    req: &HttpRequest,
    head: http::response::Parts,
    body: impl FnOnce(Option<u64>, bool) -> Option<ResponseBody>,
) -> HttpResponse {
    let status = StatusCode::from_u16(head.status.as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let connection = || {
        head.headers
            .get_all(http::header::CONNECTION)
            .iter()
            .map(|v| v.as_bytes())
    };
    let mut res = HttpResponse::new(status);
    let headers = res.headers_mut();
    let mut declared_len = None;
    for (name, value) in &head.headers {
        let lower = name.as_str();
        if lower == "content-length" {
            // Set by the body below, from the same number.
            declared_len = value.to_str().ok().and_then(|v| v.parse::<u64>().ok());
            continue;
        }
        if is_hop_by_hop(lower, connection()) {
            continue;
        }
        if let (Ok(n), Ok(v)) = (
            header::HeaderName::from_bytes(lower.as_bytes()),
            header::HeaderValue::from_bytes(value.as_bytes()),
        ) {
            headers.append(n, v);
        }
    }
    // RFC 9110 §6.4.1: no content for HEAD, 1xx, 204 and 304, whatever the upstream sends.
    let bodiless = req.method() == Method::HEAD
        || status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED;
    match body(declared_len, bodiless) {
        Some(stream) => res.set_body(stream).map_into_boxed_body(),
        None => {
            if req.method() == Method::HEAD
                && let Some(len) = declared_len
            {
                // A HEAD answer carries the length a GET would have (RFC 9110 §9.3.2);
                // actix writes Content-Length from the body's declared size and never
                // polls a HEAD body, so an empty stream declared at that size does it.
                let empty = futures_util::stream::empty::<Result<Bytes, io::Error>>();
                return res
                    .set_body(SizedStream::new(len, empty))
                    .map_into_boxed_body();
            }
            // No declared length (or not HEAD): send no Content-Length rather than a false
            // `0`.
            res.set_body(actix_web::body::None::new())
                .map_into_boxed_body()
        }
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
    fn connection_tokens_are_hop_by_hop() {
        let values = [&b"keep-alive, X-Secret"[..], b" close "];
        let conn = || values.iter().copied();
        assert!(is_hop_by_hop("x-secret", conn()));
        assert!(is_hop_by_hop("close", conn()));
        assert!(is_hop_by_hop("transfer-encoding", conn()));
        assert!(!is_hop_by_hop("set-cookie", conn()));
        assert!(!is_hop_by_hop("x-secre", conn()));
    }
}
