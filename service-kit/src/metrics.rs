//! Prometheus metrics: request count and latency histogram by route, method and status.
//!
//! The route label is the matched route pattern (`/api/v1/status`), never the raw path, so
//! a scanner probing random URLs cannot blow up the series count; unmatched requests share
//! one label value.

use std::{
    cell::RefCell,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use actix_web::http::Method;

use prometheus_client::{
    encoding::{EncodeLabelSet, text::encode},
    metrics::{
        counter::Counter,
        family::Family,
        histogram::{Histogram, exponential_buckets},
    },
    registry::Registry,
};

/// The method label: the registered methods of RFC 9110 §9 and PATCH by name, anything else
/// as `OTHER`. HTTP allows any token as a method, so labelling it verbatim would let a client
/// create series without bound.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::CONNECT => "CONNECT",
        Method::OPTIONS => "OPTIONS",
        Method::TRACE => "TRACE",
        Method::PATCH => "PATCH",
        _ => "OTHER",
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    method: String,
    status: u16,
}

type HistogramFamily = Family<RequestLabels, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // 100 µs .. ~26 s in ×4 steps: covers a cached status reply and a slow proxied upload.
    Histogram::new(exponential_buckets(0.0001, 4.0, 10))
}

/// Shared handle to the process' HTTP metrics (cheap to clone).
#[derive(Debug, Clone)]
pub struct HttpMetrics {
    inner: Arc<Inner>,
    /// Tells this registry's cached handles from another's (see [`HANDLES`]).
    id: u64,
}

/// Handles to one label set's counter and histogram (they share the family's values).
struct Handles {
    registry: u64,
    route: Box<str>,
    method: &'static str,
    status: u16,
    requests: Counter,
    latency: Histogram,
}

/// Label sets a worker thread keeps handles for. A service answers few distinct
/// (route, method, status) combinations, so a short list searched in order beats hashing
/// the labels twice (counter and histogram) and allocating them on every request.
const CACHED_LABEL_SETS: usize = 64;

thread_local! {
    static HANDLES: RefCell<Vec<Handles>> = const { RefCell::new(Vec::new()) };
}

#[derive(Debug)]
struct Inner {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: HistogramFamily,
}

impl HttpMetrics {
    /// Creates the registry with metric names prefixed by `prefix` (e.g. `api`).
    pub fn new(prefix: &str) -> Self {
        let mut registry = Registry::with_prefix(prefix);
        let requests = Family::<RequestLabels, Counter>::default();
        let latency: HistogramFamily = Family::new_with_constructor(latency_histogram);
        registry.register(
            "http_requests",
            "HTTP requests answered, by route pattern, method and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "Time from request head to response head, by route pattern, method and status",
            latency.clone(),
        );
        static NEXT_ID: AtomicU64 = AtomicU64::new(0);
        Self {
            inner: Arc::new(Inner {
                registry,
                requests,
                latency,
            }),
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
        }
    }

    /// Tells this registry from others (each application builds its own).
    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    /// Records one answered request.
    pub fn observe(&self, route: &str, method: &Method, status: u16, elapsed: Duration) {
        let method = method_label(method);
        let seconds = elapsed.as_secs_f64();
        HANDLES.with_borrow_mut(|cache| {
            let hit = cache.iter().find(|h| {
                h.registry == self.id
                    && h.status == status
                    && h.method == method
                    && *h.route == *route
            });
            if let Some(h) = hit {
                h.latency.observe(seconds);
                h.requests.inc();
                return;
            }
            let labels = RequestLabels {
                route: route.to_owned(),
                method: method.to_owned(),
                status,
            };
            let latency = self.inner.latency.get_or_create(&labels).clone();
            let requests = self.inner.requests.get_or_create(&labels).clone();
            latency.observe(seconds);
            requests.inc();
            if cache.len() < CACHED_LABEL_SETS {
                cache.push(Handles {
                    registry: self.id,
                    route: route.into(),
                    method,
                    status,
                    requests,
                    latency,
                });
            }
        });
    }

    /// The OpenMetrics text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.inner.registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_histogram_are_labelled_by_route_and_status() {
        let m = HttpMetrics::new("t");
        m.observe("/a", &Method::GET, 200, Duration::from_millis(2));
        m.observe("/a", &Method::GET, 200, Duration::from_millis(3));
        m.observe("/a", &Method::GET, 500, Duration::from_millis(1));
        let text = m.render();
        assert!(
            text.contains(r#"t_http_requests_total{route="/a",method="GET",status="200"} 2"#),
            "{text}"
        );
        assert!(
            text.contains(
                r#"t_http_request_duration_seconds_count{route="/a",method="GET",status="500"} 1"#
            ),
            "{text}"
        );
    }

    #[test]
    fn registries_on_one_thread_keep_their_counts_apart() {
        let (a, b) = (HttpMetrics::new("a"), HttpMetrics::new("b"));
        for _ in 0..3 {
            a.observe("/x", &Method::GET, 200, Duration::from_millis(1));
        }
        b.observe("/x", &Method::GET, 200, Duration::from_millis(1));
        assert!(
            a.render()
                .contains(r#"a_http_requests_total{route="/x",method="GET",status="200"} 3"#)
        );
        assert!(
            b.render()
                .contains(r#"b_http_requests_total{route="/x",method="GET",status="200"} 1"#)
        );
    }

    #[test]
    fn label_sets_past_the_cache_are_still_counted() {
        let m = HttpMetrics::new("t");
        for i in 0..(CACHED_LABEL_SETS as u16 + 10) {
            m.observe("/r", &Method::GET, 200 + i, Duration::from_millis(1));
            m.observe("/r", &Method::GET, 200 + i, Duration::from_millis(1));
        }
        let text = m.render();
        assert!(
            text.contains(r#"t_http_requests_total{route="/r",method="GET",status="273"} 2"#),
            "{text}"
        );
        assert!(
            text.contains(r#"t_http_requests_total{route="/r",method="GET",status="200"} 2"#),
            "{text}"
        );
    }

    #[test]
    fn unknown_methods_share_one_label() {
        let m = HttpMetrics::new("t");
        for i in 0..100 {
            let method = Method::from_bytes(format!("FOO{i}").as_bytes()).unwrap_or(Method::GET);
            m.observe("unmatched", &method, 404, Duration::from_millis(1));
        }
        let text = m.render();
        assert!(
            text.contains(
                r#"t_http_requests_total{route="unmatched",method="OTHER",status="404"} 100"#
            ),
            "{text}"
        );
        assert_eq!(text.matches("t_http_requests_total{").count(), 1, "{text}");
    }
}
