//! Retries of transient API failures, below the kube client, for every request it sends:
//! 5xx, 429 (waiting what `Retry-After` asks, within a cap) and transport errors (timeouts,
//! refused connections), with exponential backoff and full jitter, bounded in attempts.
//!
//! Retrying is safe because every write the deployer sends is idempotent: server-side apply
//! (PATCH) converges on the same object, and a repeated DELETE answers 404, which prune reads
//! as "already gone". A 409 is never retried here: it is a field-manager conflict to report.

use std::sync::Arc;
use std::time::Duration;

use http::{Request, Response, StatusCode};
use kube::client::Body;
use tower::BoxError;
use tower::retry::Policy;

use super::client::RequestStats;

/// Bounds of the retry loop.
#[derive(Debug, Clone)]
pub struct RetryConfig {
    /// Attempts after the first.
    pub max_retries: u32,
    /// First backoff step; doubles per attempt.
    pub base: Duration,
    /// Cap of one backoff step, and of a server's Retry-After.
    pub max_delay: Duration,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            max_retries: 6,
            base: Duration::from_millis(200),
            max_delay: Duration::from_secs(10),
        }
    }
}

impl RetryConfig {
    /// Full jitter (AWS architecture blog, "Exponential Backoff And Jitter"): a uniform delay in
    /// [0, min(cap, base·2^attempt)], so many clients retrying together spread out.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let ceiling = self
            .base
            .saturating_mul(1u32.checked_shl(attempt.min(20)).unwrap_or(u32::MAX))
            .min(self.max_delay);
        let millis = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(fastrand::u64(0..=millis))
    }
}

/// Which responses are worth another attempt.
pub fn retryable_status(status: StatusCode) -> bool {
    status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error()
}

/// `Retry-After` in seconds (RFC 9110 §10.2.3; the API server sends delta-seconds).
pub fn retry_after(headers: &http::HeaderMap) -> Option<Duration> {
    let secs = headers.get(http::header::RETRY_AFTER)?.to_str().ok()?;
    secs.trim().parse::<u64>().ok().map(Duration::from_secs)
}

#[derive(Clone)]
pub(crate) struct RetryPolicy {
    pub config: Arc<RetryConfig>,
    pub attempt: u32,
    pub stats: Arc<RequestStats>,
}

impl std::fmt::Debug for RetryPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RetryPolicy")
            .field("attempt", &self.attempt)
            .finish()
    }
}

impl<B> Policy<Request<Body>, Response<B>, BoxError> for RetryPolicy {
    type Future = tokio::time::Sleep;

    fn retry(
        &mut self,
        _req: &mut Request<Body>,
        result: &mut Result<Response<B>, BoxError>,
    ) -> Option<Self::Future> {
        if self.attempt >= self.config.max_retries {
            return None;
        }
        let delay = match result {
            Ok(resp) if retryable_status(resp.status()) => {
                let backoff = self.config.backoff(self.attempt);
                match retry_after(resp.headers()) {
                    Some(asked) => asked.min(self.config.max_delay).max(backoff),
                    None => backoff,
                }
            }
            Ok(_) => return None,
            Err(_) => self.config.backoff(self.attempt),
        };
        self.attempt += 1;
        self.stats.note_retry();
        Some(tokio::time::sleep(delay))
    }

    fn clone_request(&mut self, req: &Request<Body>) -> Option<Request<Body>> {
        // Streaming bodies cannot be replayed; every request the deployer sends has a
        // buffered body.
        let body = req.body().try_clone()?;
        let mut builder = Request::builder()
            .method(req.method().clone())
            .uri(req.uri().clone())
            .version(req.version());
        if let Some(headers) = builder.headers_mut() {
            headers.extend(req.headers().clone());
        }
        builder.body(body).ok().map(|mut r| {
            *r.extensions_mut() = req.extensions().clone();
            r
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn backoff_is_jittered_below_an_exponential_ceiling() {
        let c = RetryConfig {
            max_retries: 5,
            base: Duration::from_millis(100),
            max_delay: Duration::from_millis(1000),
        };
        for attempt in 0..8 {
            let ceiling = Duration::from_millis((100u64 << attempt).min(1000));
            for _ in 0..50 {
                assert!(c.backoff(attempt) <= ceiling);
            }
        }
        // Jitter: not always the same value.
        let samples: std::collections::BTreeSet<_> = (0..50).map(|_| c.backoff(4)).collect();
        assert!(samples.len() > 1);
    }

    #[test]
    fn which_statuses_are_retried() {
        for code in [429u16, 500, 502, 503, 504] {
            assert!(
                retryable_status(StatusCode::from_u16(code).unwrap_or_default()),
                "{code}"
            );
        }
        for code in [200u16, 201, 400, 403, 404, 409, 410, 422] {
            assert!(
                !retryable_status(StatusCode::from_u16(code).unwrap_or_default()),
                "{code}"
            );
        }
    }

    #[test]
    fn retry_after_is_read_as_delta_seconds() {
        let mut h = http::HeaderMap::new();
        h.insert(
            http::header::RETRY_AFTER,
            http::HeaderValue::from_static("3"),
        );
        assert_eq!(retry_after(&h), Some(Duration::from_secs(3)));
        h.insert(
            http::header::RETRY_AFTER,
            http::HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(retry_after(&h), None);
    }
}
