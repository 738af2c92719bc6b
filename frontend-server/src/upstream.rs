//! The proxy's HTTP/1.1 client: one `reqwest::Client` per worker thread, configured once.
//!
//! What the proxy needs from the client, and how reqwest is set up for it:
//!
//! - **Pool per worker.** Each actix worker builds its own client on its first proxied
//!   request (from the settings checked at startup): its idle connections are its own, and
//!   a connection's task runs on the worker whose requests use it, so an exchange never
//!   wakes another thread. Idle connections close after [`POOL_IDLE_TIMEOUT`] (below the
//!   api's 75 s keep-alive, so the pool never sends on a connection the api is closing);
//!   at most [`POOL_MAX_IDLE`] stay open per worker.
//! - **No redirects followed, no proxy from the environment, no retries by reqwest.** Redirects
//!   go back to the client as the upstream sent them; `HTTP_PROXY` and friends are
//!   ignored; reqwest's retry layer may retry nothing (allowed any retry, it copies every
//!   request whose body can be copied, header map included, before sending it; the
//!   default policy allows two). The one retry left is hyper's own: a request
//!   that a pooled connection refused before a byte was written (the upstream had closed
//!   it while idle) is sent on a new connection; a request that reached the upstream is
//!   never sent twice.
//! - `TCP_NODELAY` on every connection; connects bounded by `UPSTREAM_CONNECT_TIMEOUT`
//!   (502), response heads by `UPSTREAM_TIMEOUT` (504, measured by the caller), each wait
//!   between body reads by `UPSTREAM_TIMEOUT` ([`ResponseBody`]; the answer is cut off).
//! - Bodies stream: the client's request body goes upstream as it arrives
//!   ([`request_body`]), the upstream's answer to the client as it arrives.

use std::{
    cell::RefCell,
    fmt, io,
    pin::Pin,
    str::FromStr,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    task::{Context, Poll},
    time::Duration,
};

use actix_web::body::{BodySize, MessageBody};
use bytes::Bytes;
use futures_util::StreamExt as _;
use http_body::{Body as _, Frame, SizeHint};
use service_kit::deadline::WaitDeadline;
use tokio::sync::mpsc;

/// Idle connections are closed after this long: below the api's keep-alive (75 s).
pub const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(50);

/// Idle connections kept per worker thread; more are closed when released.
pub const POOL_MAX_IDLE: usize = 256;

/// Chunks of request body in flight between the client connection and the upstream one.
const REQUEST_BODY_CHUNKS: usize = 4;

/// `API_UPSTREAM`: `http://host[:port]`, nothing else (the request's own path and query
/// are forwarded unchanged, as with nginx's `proxy_pass http://api-service:8080;`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// Host name or address, without brackets around an IPv6 address.
    pub host: String,
    pub port: u16,
}

impl FromStr for Origin {
    type Err = &'static str;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        const EXPECTED: &str = "expected a URL such as http://api-service:8080";
        let raw = raw.trim();
        // `http::Uri` drops a fragment silently; one here is a mistake worth naming.
        if raw.contains('#') {
            return Err("expected http://host[:port] with no user, query or fragment");
        }
        let uri: http::Uri = raw.parse().map_err(|_| EXPECTED)?;
        match uri.scheme_str() {
            Some("http") => {}
            Some(_) => {
                return Err("expected an http:// URL (TLS to the upstream is not supported)");
            }
            None => return Err(EXPECTED),
        }
        let authority = uri.authority().ok_or(EXPECTED)?;
        if authority.as_str().contains('@') || uri.query().is_some() {
            return Err("expected http://host[:port] with no user, query or fragment");
        }
        if !matches!(uri.path(), "" | "/") {
            return Err(
                "expected http://host[:port] without a path (request paths are forwarded unchanged)",
            );
        }
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']');
        if host.is_empty() {
            return Err(EXPECTED);
        }
        Ok(Self {
            host: host.to_ascii_lowercase(),
            port: authority.port_u16().unwrap_or(80),
        })
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "http://[{}]:{}", self.host, self.port)
        } else {
            write!(f, "http://{}:{}", self.host, self.port)
        }
    }
}

/// The upstream, how long to wait for it, and its clients (cheap to clone).
#[derive(Debug, Clone)]
pub struct Upstream {
    target: Arc<Target>,
}

#[derive(Debug)]
struct Target {
    /// Tells this upstream's per-worker clients from another's on the same thread (tests
    /// run several servers in one process).
    id: u64,
    origin: Origin,
    /// `http://host:port/`, whose path and query each request replaces.
    base: reqwest::Url,
    connect_timeout: Duration,
    timeout: Duration,
    max_body_bytes: u64,
    /// Built at startup (so a client that cannot be built stops the server there); used by
    /// a worker whose own client could not be built.
    shared: reqwest::Client,
}

/// The upstream client could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("cannot build the upstream HTTP client: {0}")]
    Client(#[from] reqwest::Error),
    #[error("API_UPSTREAM is not a URL the client accepts: {0}")]
    Origin(String),
}

thread_local! {
    /// This worker thread's clients, one per upstream.
    static CLIENTS: RefCell<Vec<(u64, reqwest::Client)>> = const { RefCell::new(Vec::new()) };
}

impl Upstream {
    pub fn new(
        origin: Origin,
        timeout: Duration,
        connect_timeout: Duration,
        max_body_bytes: u64,
    ) -> Result<Self, UpstreamError> {
        static NEXT_ID: AtomicU64 = AtomicU64::new(0);
        let shared = build_client(connect_timeout)?;
        let base = reqwest::Url::parse(&origin.to_string())
            .map_err(|err| UpstreamError::Origin(err.to_string()))?;
        Ok(Self {
            target: Arc::new(Target {
                id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
                base,
                origin,
                connect_timeout,
                timeout,
                max_body_bytes,
                shared,
            }),
        })
    }

    /// `API_UPSTREAM`.
    pub fn origin(&self) -> &Origin {
        &self.target.origin
    }

    /// `MAX_BODY_SIZE`: the largest request body forwarded.
    pub fn max_body_bytes(&self) -> u64 {
        self.target.max_body_bytes
    }

    /// `UPSTREAM_TIMEOUT`: for the response head, and for each wait between body reads.
    pub fn timeout(&self) -> Duration {
        self.target.timeout
    }

    /// The upstream URL of a request's path and query (unchanged, as nginx's `proxy_pass`
    /// without a URI part sends them). The origin is parsed once, at startup: parsing
    /// `http://host:port/path` for every request spent most of its time on the host.
    pub fn url(&self, path: &str, query: Option<&str>) -> reqwest::Url {
        let mut url = self.target.base.clone();
        url.set_path(path);
        url.set_query(query);
        url
    }

    /// Sends `req` with this worker's client; the response's body is read by the caller.
    pub fn send(
        &self,
        req: reqwest::Request,
    ) -> impl Future<Output = Result<reqwest::Response, reqwest::Error>> + use<> {
        let target = &self.target;
        CLIENTS.with_borrow_mut(|clients| {
            if let Some((_, client)) = clients.iter().find(|(id, _)| *id == target.id) {
                return client.execute(req);
            }
            let client = build_client(target.connect_timeout).unwrap_or_else(|err| {
                tracing::warn!(error = %err, "cannot build this worker's upstream client; using the shared one");
                target.shared.clone()
            });
            let sent = client.execute(req);
            clients.push((target.id, client));
            sent
        })
    }
}

/// The client for one worker, every setting the proxy relies on made explicit.
fn build_client(connect_timeout: Duration) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        // Zero retries: reqwest's retry layer then keeps no copy of each request. hyper's
        // own retry of a request no byte of which was sent stays on.
        .retry(reqwest::retry::never().max_retries_per_request(0))
        .connect_timeout(connect_timeout)
        .pool_idle_timeout(POOL_IDLE_TIMEOUT)
        .pool_max_idle_per_host(POOL_MAX_IDLE)
        .http1_only()
        .tcp_nodelay(true)
        .build()
}

/// Why no response head came back, as the client tells it: the status and message for
/// the client. Any failure to connect (refused, unreachable, or `UPSTREAM_CONNECT_TIMEOUT`,
/// which reqwest reports as both a connect error and a timeout) is 502, as documented;
/// 504 is for an upstream that accepted the request and did not answer in time (the
/// caller's deadline).
pub fn classify(err: &reqwest::Error) -> (actix_web::http::StatusCode, &'static str) {
    use actix_web::http::StatusCode;
    if err.is_connect() {
        (StatusCode::BAD_GATEWAY, "cannot connect to the upstream")
    } else {
        (
            StatusCode::BAD_GATEWAY,
            "the upstream failed before answering",
        )
    }
}

/// An error with its causes, for the log.
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// The client's request body, sent upstream as it arrives and cut off past `limit`
/// (`too_large` is then set, and the answer is 413).
///
/// actix' payload belongs to its worker thread; reqwest takes a body other threads may
/// hold. A task on this worker moves the chunks through a small channel, which bounds the
/// bytes in flight.
pub fn request_body(
    mut payload: actix_web::dev::Payload,
    limit: u64,
    too_large: Arc<AtomicBool>,
) -> reqwest::Body {
    let (tx, rx) = mpsc::channel::<Result<Bytes, io::Error>>(REQUEST_BODY_CHUNKS);
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
    reqwest::Body::wrap(ChannelBody(rx))
}

/// The receiving end of [`request_body`]'s channel as an HTTP body.
struct ChannelBody(mpsc::Receiver<Result<Bytes, io::Error>>);

impl http_body::Body for ChannelBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        self.get_mut()
            .0
            .poll_recv(cx)
            .map(|item| item.map(|chunk| chunk.map(Frame::data)))
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}

/// An upstream response body relayed to the client: data frames as they arrive, each
/// wait bounded by `UPSTREAM_TIMEOUT`. Its connection goes back to the worker's pool
/// once the body has been read to the end; one abandoned halfway is closed.
pub struct ResponseBody {
    incoming: reqwest::Body,
    size: BodySize,
    timeout: Duration,
    /// Each wait for the next frame is bounded by `timeout`.
    stall: WaitDeadline,
}

impl fmt::Debug for ResponseBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseBody")
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

impl ResponseBody {
    /// `declared`: the upstream's `Content-Length`, if any.
    pub fn new(incoming: reqwest::Body, declared: Option<u64>, timeout: Duration) -> Self {
        Self {
            incoming,
            size: declared.map_or(BodySize::Stream, BodySize::Sized),
            timeout,
            stall: WaitDeadline::default(),
        }
    }
}

impl MessageBody for ResponseBody {
    type Error = io::Error;

    fn size(&self) -> BodySize {
        self.size
    }

    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, io::Error>>> {
        let this = self.get_mut();
        loop {
            match Pin::new(&mut this.incoming).poll_frame(cx) {
                Poll::Ready(Some(Ok(frame))) => {
                    this.stall.disarm();
                    // Trailers are not relayed (HTTP/1.1 answers to the client carry none
                    // unless chunked, and the upstream's are hop metadata).
                    if let Ok(data) = frame.into_data()
                        && !data.is_empty()
                    {
                        return Poll::Ready(Some(Ok(data)));
                    }
                }
                Poll::Ready(Some(Err(err))) => {
                    tracing::warn!(error = %error_chain(&err), "upstream response body failed mid-stream");
                    return Poll::Ready(Some(Err(io::Error::other(
                        "upstream response body failed",
                    ))));
                }
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => {
                    if this.stall.poll_expired(this.timeout, cx) {
                        tracing::warn!("upstream response body stalled past UPSTREAM_TIMEOUT");
                        return Poll::Ready(Some(Err(io::Error::new(
                            io::ErrorKind::TimedOut,
                            "upstream response body stalled",
                        ))));
                    }
                    return Poll::Pending;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn paths_and_queries_go_upstream_unchanged() {
        let upstream = |origin: &str| {
            Upstream::new(
                origin.parse().unwrap(),
                Duration::from_secs(1),
                Duration::from_secs(1),
                1024,
            )
            .unwrap()
        };
        let api = upstream("http://api-service:8080");
        for (path, query, url) in [
            (
                "/api/v1/status",
                None,
                "http://api-service:8080/api/v1/status",
            ),
            (
                "/api/echo",
                Some("a=1&b=%20x"),
                "http://api-service:8080/api/echo?a=1&b=%20x",
            ),
            ("/api/x", Some(""), "http://api-service:8080/api/x?"),
            (
                "/api/a%2Fb//c",
                None,
                "http://api-service:8080/api/a%2Fb//c",
            ),
        ] {
            assert_eq!(api.url(path, query).as_str(), url);
        }
        // The same URL twice: nothing of one request stays in the base.
        assert_eq!(
            api.url("/api/v1/status", None).as_str(),
            "http://api-service:8080/api/v1/status"
        );
        assert_eq!(
            upstream("http://[::1]:9000")
                .url("/api/", Some("q"))
                .as_str(),
            "http://[::1]:9000/api/?q"
        );
    }

    #[test]
    fn origins_are_plain_http_host_and_port() {
        let ok = |raw: &str| raw.parse::<Origin>().map(|o| (o.host, o.port));
        assert_eq!(
            ok("http://api-service:8080"),
            Ok(("api-service".into(), 8080))
        );
        assert_eq!(ok("http://API:8080/"), Ok(("api".into(), 8080)));
        assert_eq!(ok("http://127.0.0.1"), Ok(("127.0.0.1".into(), 80)));
        assert_eq!(ok("http://[::1]:9000"), Ok(("::1".into(), 9000)));
        for bad in [
            "not a url",
            "api:8080",
            "https://api:8443",
            "http://api:8080/v1",
            "http://api:8080/?x=1",
            "http://user@api:8080",
            "http://api:8080#x",
        ] {
            assert!(bad.parse::<Origin>().is_err(), "{bad}");
        }
        assert_eq!(
            "http://[::1]:9000".parse::<Origin>().map(|o| o.to_string()),
            Ok("http://[::1]:9000".into())
        );
    }
}
