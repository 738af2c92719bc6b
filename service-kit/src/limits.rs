//! Request-size limits checked before any handler runs.
//!
//! actix-http itself closes a connection whose request head passes 128 KiB (431); these are
//! the tighter, configurable limits a service wants: URI length (414, RFC 9110 §15.5.15),
//! total header bytes (431, RFC 6585 §5) and a declared body length (413, RFC 9110
//! §15.5.14). Bodies without a declared length are limited where they are read.

use actix_web::{
    HttpResponse,
    dev::ServiceRequest,
    http::{StatusCode, header::CONTENT_LENGTH},
};

use crate::errors::json_error;

/// The limits; every field in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_uri_bytes: usize,
    pub max_header_bytes: usize,
    pub max_body_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        // nginx's defaults are the reference: 8 KiB per header line (large_client_header_buffers),
        // 1 MiB of body (client_max_body_size).
        Self {
            max_uri_bytes: 8 * 1024,
            max_header_bytes: 16 * 1024,
            max_body_bytes: 1024 * 1024,
        }
    }
}

impl Limits {
    /// The first limit `req` breaks, as (status, message naming the limit).
    pub fn check(&self, req: &ServiceRequest) -> Option<(StatusCode, String)> {
        let uri_len = req.uri().path_and_query().map_or(0, |pq| pq.as_str().len());
        if uri_len > self.max_uri_bytes {
            return Some((
                StatusCode::URI_TOO_LONG,
                format!(
                    "request URI is {uri_len} bytes; the limit is {}",
                    self.max_uri_bytes
                ),
            ));
        }
        let header_bytes: usize = req
            .headers()
            .iter()
            .map(|(name, value)| name.as_str().len() + value.len() + 4)
            .sum();
        if header_bytes > self.max_header_bytes {
            return Some((
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                format!(
                    "request headers are {header_bytes} bytes; the limit is {}",
                    self.max_header_bytes
                ),
            ));
        }
        if let Some(len) = req.headers().get(CONTENT_LENGTH) {
            match len.to_str().ok().and_then(|s| s.trim().parse::<u64>().ok()) {
                Some(n) if n > self.max_body_bytes => {
                    return Some((
                        StatusCode::PAYLOAD_TOO_LARGE,
                        format!(
                            "Content-Length {n} exceeds the limit of {} bytes",
                            self.max_body_bytes
                        ),
                    ));
                }
                Some(_) => {}
                None => {
                    return Some((
                        StatusCode::BAD_REQUEST,
                        "invalid Content-Length header".to_owned(),
                    ));
                }
            }
        }
        None
    }
}

/// The answer to a request that breaks a limit (JSON error naming the limit); `None` when
/// the request may be served.
pub fn refusal(limits: &Limits, req: &ServiceRequest) -> Option<HttpResponse> {
    limits
        .check(req)
        .map(|(status, message)| json_error(status, &message))
}
