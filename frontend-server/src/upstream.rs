//! The proxy's HTTP/1.1 client: hyper's client connections, pooled per worker thread.
//!
//! reqwest (named for the proxy in the design) is a client for applications: every request
//! goes through its URL type (parsed from a string, turned into a `Uri`, parsed again by
//! its redirect layer), a redirect layer and a retry layer, a copy of the header map and a
//! pool shared by all threads behind a mutex. For a reverse proxy that forwards a path it
//! already has, to one fixed upstream, with redirects passed through, that was about 40,000
//! of the 110,000 instructions a proxied request cost (callgrind; BENCHMARKS.md). This
//! module drives hyper — the HTTP engine reqwest is built on — directly:
//!
//! - **Pool per worker.** Each actix worker keeps its own idle connections (a thread-local
//!   stack): no lock, no wake-up of another thread, and a connection's task runs on the
//!   worker whose requests use it. Most recently used first; an idle connection is dropped
//!   after [`POOL_IDLE_TIMEOUT`] (below the api's 75 s keep-alive, so the pool never sends
//!   on a connection the api is closing) or beyond [`POOL_MAX_IDLE`] per worker.
//! - **Reuse only after a whole exchange.** HTTP/1.1 carries one exchange at a time: a
//!   connection goes back to the pool when its response body has been read to the end;
//!   one whose body is abandoned (the client went away) is closed.
//! - **One retry, only when nothing was sent.** A pooled connection the upstream closed
//!   while it sat idle refuses the request before writing a byte; the request is then sent
//!   on a new connection. A request that reached the upstream is never sent twice.
//! - `TCP_NODELAY` on every connection; connects bounded by `UPSTREAM_CONNECT_TIMEOUT`
//!   (502), response heads by `UPSTREAM_TIMEOUT` (504, measured by the caller), each wait
//!   between body reads by `UPSTREAM_TIMEOUT` (the answer is cut off).

use std::{
    cell::{Cell, RefCell},
    fmt, io,
    pin::Pin,
    rc::Rc,
    str::FromStr,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    task::{Context, Poll, ready},
    time::{Duration, Instant},
};

use actix_web::body::{BodySize, MessageBody};
use bytes::Bytes;
use futures_util::Stream as _;
use http_body::{Body as _, Frame, SizeHint};
use hyper::{body::Incoming, client::conn::http1};
use hyper_util::rt::TokioIo;
use service_kit::deadline::WaitDeadline;
use tokio::net::TcpStream;

/// Idle connections are closed after this long: below the api's keep-alive (75 s).
pub const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(50);

/// Idle connections kept per worker thread; more are closed when released.
pub const POOL_MAX_IDLE: usize = 256;

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

/// The upstream and how long to wait for it (cheap to clone; pools are per worker thread).
#[derive(Debug, Clone)]
pub struct Upstream {
    target: Arc<Target>,
}

#[derive(Debug)]
struct Target {
    /// Tells this upstream's pools from another's on the same thread (tests run several
    /// servers in one process).
    id: u64,
    origin: Origin,
    connect_timeout: Duration,
    timeout: Duration,
    max_body_bytes: u64,
}

/// Why no response head came back.
#[derive(Debug)]
pub enum Failure {
    /// No connection could be made (refused, unreachable, `UPSTREAM_CONNECT_TIMEOUT`).
    Connect(io::Error),
    /// Connected, but the exchange failed before a response head arrived.
    Exchange(hyper::Error),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Connect(err) => write!(f, "connect: {err}"),
            Self::Exchange(err) => {
                write!(f, "{err}")?;
                let mut source = std::error::Error::source(err);
                while let Some(s) = source {
                    write!(f, ": {s}")?;
                    source = s.source();
                }
                Ok(())
            }
        }
    }
}

type Sender = http1::SendRequest<RequestBody>;

struct Idle {
    sender: Sender,
    since: Instant,
}

thread_local! {
    /// Idle connections of this worker thread, per upstream, most recently used last.
    static POOLS: RefCell<Vec<(u64, Vec<Idle>)>> = const { RefCell::new(Vec::new()) };
}

impl Upstream {
    pub fn new(
        origin: Origin,
        timeout: Duration,
        connect_timeout: Duration,
        max_body_bytes: u64,
    ) -> Self {
        static NEXT_ID: AtomicU64 = AtomicU64::new(0);
        Self {
            target: Arc::new(Target {
                id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
                origin,
                connect_timeout,
                timeout,
                max_body_bytes,
            }),
        }
    }

    /// `MAX_BODY_SIZE`: the largest request body forwarded.
    pub fn max_body_bytes(&self) -> u64 {
        self.target.max_body_bytes
    }

    /// `UPSTREAM_TIMEOUT`: for the response head, and for each wait between body reads.
    pub fn timeout(&self) -> Duration {
        self.target.timeout
    }

    /// Sends `req` (origin-form target, `Host` set) and returns the response head with
    /// the connection, which [`ResponseBody`] gives back to the pool once the body has
    /// been read to the end.
    pub async fn send(
        &self,
        mut req: http::Request<RequestBody>,
    ) -> Result<(http::Response<Incoming>, Lease), Failure> {
        loop {
            let (mut sender, pooled) = match self.checkout().await {
                Some(sender) => (sender, true),
                None => (self.connect().await?, false),
            };
            match sender.try_send_request(req).await {
                Ok(res) => {
                    let lease = Lease {
                        sender,
                        upstream: self.target.id,
                    };
                    return Ok((res, lease));
                }
                Err(mut err) => match err.take_message() {
                    // Refused before a byte was written (the upstream closed the idle
                    // connection): safe to send on a new connection.
                    Some(unsent) if pooled => req = unsent,
                    _ => return Err(Failure::Exchange(err.into_error())),
                },
            }
        }
    }

    /// The most recently released connection that is still open, if any.
    async fn checkout(&self) -> Option<Sender> {
        loop {
            let idle = POOLS.with_borrow_mut(|pools| {
                let pool = pools.iter_mut().find(|(id, _)| *id == self.target.id)?;
                pool.1.pop()
            })?;
            let Idle { mut sender, since } = idle;
            if sender.is_closed() || since.elapsed() > POOL_IDLE_TIMEOUT {
                continue;
            }
            // A connection released a moment ago becomes ready once its task has seen the
            // end of the last exchange (at most one scheduler turn).
            if sender.is_ready() || sender.ready().await.is_ok() {
                return Some(sender);
            }
        }
    }

    async fn connect(&self) -> Result<Sender, Failure> {
        let origin = &self.target.origin;
        let connect = TcpStream::connect((origin.host.as_str(), origin.port));
        let tcp = match tokio::time::timeout(self.target.connect_timeout, connect).await {
            Ok(Ok(tcp)) => tcp,
            Ok(Err(err)) => return Err(Failure::Connect(err)),
            Err(_) => {
                return Err(Failure::Connect(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "UPSTREAM_CONNECT_TIMEOUT elapsed",
                )));
            }
        };
        // Requests and answers are written whole; Nagle would only hold back their tails.
        let _ = tcp.set_nodelay(true);
        let (sender, connection) = http1::Builder::new()
            .handshake(TokioIo::new(tcp))
            .await
            .map_err(Failure::Exchange)?;
        // The connection's task runs on this worker (the request body it streams may be
        // actix' own payload, which stays on its thread).
        actix_web::rt::spawn(async move {
            if let Err(err) = connection.await {
                tracing::debug!(error = %err, "upstream connection ended with an error");
            }
        });
        Ok(sender)
    }
}

/// A connection lent to one exchange.
#[derive(Debug)]
pub struct Lease {
    sender: Sender,
    upstream: u64,
}

impl Lease {
    /// Gives the connection back to this worker's pool (the exchange is complete).
    pub fn release(self) {
        if self.sender.is_closed() {
            return;
        }
        POOLS.with_borrow_mut(|pools| {
            let i = match pools.iter().position(|(id, _)| *id == self.upstream) {
                Some(i) => i,
                None => {
                    pools.push((self.upstream, Vec::new()));
                    pools.len() - 1
                }
            };
            let idle = &mut pools[i].1;
            if idle.len() < POOL_MAX_IDLE {
                idle.push(Idle {
                    sender: self.sender,
                    since: Instant::now(),
                });
            }
        });
    }
}

/// What a proxied request sends upstream: nothing, or the client's body as it arrives,
/// cut off past the body limit.
pub enum RequestBody {
    Empty,
    Payload {
        payload: actix_web::dev::Payload,
        seen: u64,
        limit: u64,
        /// Set when the body went past `limit` (the answer is then 413).
        too_large: Rc<Cell<bool>>,
    },
}

impl fmt::Debug for RequestBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("Empty"),
            Self::Payload { seen, limit, .. } => f
                .debug_struct("Payload")
                .field("seen", seen)
                .field("limit", limit)
                .finish_non_exhaustive(),
        }
    }
}

impl http_body::Body for RequestBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        let Self::Payload {
            payload,
            seen,
            limit,
            too_large,
        } = self.get_mut()
        else {
            return Poll::Ready(None);
        };
        Poll::Ready(match ready!(Pin::new(payload).poll_next(cx)) {
            Some(Ok(bytes)) => {
                *seen += bytes.len() as u64;
                if *seen > *limit {
                    too_large.set(true);
                    Some(Err(io::Error::other("request body over the limit")))
                } else {
                    Some(Ok(Frame::data(bytes)))
                }
            }
            Some(Err(err)) => Some(Err(io::Error::other(err.to_string()))),
            None => None,
        })
    }

    fn is_end_stream(&self) -> bool {
        matches!(self, Self::Empty)
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Self::Empty => SizeHint::with_exact(0),
            Self::Payload { .. } => SizeHint::default(),
        }
    }
}

/// An upstream response body relayed to the client: data frames as they arrive, each
/// wait bounded by `UPSTREAM_TIMEOUT`; the connection returns to the pool at the end.
pub struct ResponseBody {
    incoming: Incoming,
    lease: Option<Lease>,
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
    pub fn new(incoming: Incoming, lease: Lease, declared: Option<u64>, timeout: Duration) -> Self {
        Self {
            incoming,
            lease: Some(lease),
            size: declared.map_or(BodySize::Stream, BodySize::Sized),
            timeout,
            stall: WaitDeadline::default(),
        }
    }

    /// For answers that carry no body whatever the upstream sends (HEAD, 204, 304): the
    /// connection is reused when hyper saw no body either, else closed.
    pub fn discard(incoming: Incoming, lease: Lease) {
        if incoming.is_end_stream() {
            lease.release();
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
                    tracing::warn!(error = %Failure::Exchange(err), "upstream response body failed mid-stream");
                    return Poll::Ready(Some(Err(io::Error::other(
                        "upstream response body failed",
                    ))));
                }
                Poll::Ready(None) => {
                    if let Some(lease) = this.lease.take() {
                        lease.release();
                    }
                    return Poll::Ready(None);
                }
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
    use super::*;

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
