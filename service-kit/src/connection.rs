//! A wrapper around each accepted TCP connection, between the socket and actix-http's
//! HTTP/1.1 dispatcher, for three things actix-http 3 does per connection instead of per
//! request, or does at a cost per request:
//!
//! 1. **A deadline on every request head.** actix-http arms its head timer
//!    (`CLIENT_REQUEST_TIMEOUT`) for a connection's first request only; a client that sends
//!    one request and then trickles the next head is never cut off. Here each head, on every
//!    request of a keep-alive connection, must be complete within the timeout counted from
//!    its first byte; otherwise the connection is closed (as nginx's `client_header_timeout`
//!    does; idle time between requests is `KEEP_ALIVE`'s, not this).
//! 2. **No decoding ahead of an answer.** actix-http's codec keeps "answering a HEAD" (and
//!    the keep-alive and version state) per connection and updates it when it *decodes* a
//!    request, so a request pipelined behind a HEAD, or a HEAD pipelined behind a GET, made
//!    it encode the earlier response wrongly (a HEAD answered with a body, a GET without
//!    one). Here the bytes of a pipelined request are held back until the response to the
//!    request before it has been started (its head encoded): pipelining still works,
//!    requests are answered one after the other, as actix answers them anyway.
//!
//! 3. **The keep-alive idle timeout.** actix-http arms its keep-alive timer afresh after
//!    every answer: a new boxed timer registered with tokio's wheel and removed when the
//!    next request comes; replacing it saved ~700 instructions per request (callgrind,
//!    `/healthz`: 19.4k → 18.7k). Here a connection has one timer that ticks every
//!    sixteenth of `KEEP_ALIVE` ([`IdleClock`]):
//!    a tick that finds the connection between requests with nothing having happened
//!    since the last tick (no request head completed, no answer finished) counts as quiet,
//!    and sixteen quiet ticks in a row close the connection, so a connection is closed
//!    between `KEEP_ALIVE` and 17/16 of it after its last answer was sent (nginx:
//!    exactly `keepalive_timeout`). A request costs two counter updates. actix itself runs
//!    with `KeepAlive::Os` (no timer of its own); on the end of input it is given here, it
//!    closes the connection as after its own timer.
//!
//! [`GuardedIo`] frames the inbound bytes ([`crate::request_framing`]) to know where each
//! request begins and ends; [`MarkAnswered`] wraps the application service and counts a
//! request as answered when actix drops its service future — which it does right after
//! encoding the response head (`h1::Dispatcher::send_response`). Both meet in the
//! connection's [`ConnState`], reached from a request through actix' connection data.

use std::{
    cell::{Cell, RefCell},
    future::Future,
    io,
    marker::PhantomData,
    net::SocketAddr,
    pin::Pin,
    rc::Rc,
    task::{Context, Poll, Waker, ready},
    time::Duration,
};

use actix_http::{
    Request, Response,
    body::{BodySize, MessageBody},
};
use actix_service::{Service, ServiceFactory};
use bytes::Bytes;
use futures_util::future::LocalBoxFuture;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::{
    deadline::WaitDeadline,
    direct_body::{self, SendTail, Tail},
    request_framing::Framer,
};

/// What the socket side and the service side of one connection share (one worker thread
/// owns a connection, so plain cells suffice).
#[derive(Default)]
pub struct ConnState {
    /// Request heads handed to actix.
    delivered: Cell<u64>,
    /// Requests whose response head actix has encoded.
    answered: Cell<u64>,
    /// Requests whose answer actix has taken in full (the body dropped: all of it is in
    /// actix' write buffer, or the answer failed).
    finished: Cell<u64>,
    /// The dispatcher waiting for held-back bytes.
    waker: Cell<Option<Waker>>,
    /// A body this wrapper writes itself after the last head ([`crate::direct_body`]).
    tail: RefCell<Option<Tail>>,
}

impl std::fmt::Debug for ConnState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnState")
            .field("delivered", &self.delivered.get())
            .field("answered", &self.answered.get())
            .finish_non_exhaustive()
    }
}

impl ConnState {
    /// A request was handed to actix whose response has not started yet, or whose body
    /// this wrapper has still to write.
    fn unanswered(&self) -> bool {
        self.delivered.get() > self.answered.get() || self.tail.borrow().is_some()
    }

    /// An answer is still being sent: the connection is not idle.
    fn sending(&self) -> bool {
        self.delivered.get() > self.finished.get() || self.tail.borrow().is_some()
    }

    fn mark_finished(&self) {
        self.finished.set(self.finished.get() + 1);
    }

    /// Grows with every request head read and every answer sent.
    fn activity(&self) -> u64 {
        self.delivered.get() + self.finished.get()
    }

    fn mark_answered(&self) {
        self.answered.set(self.answered.get() + 1);
        self.wake_reader();
    }

    fn wake_reader(&self) {
        if let Some(waker) = self.waker.take() {
            waker.wake();
        }
    }
}

/// The connection's shared state as stored in actix' connection data.
#[derive(Debug, Clone)]
pub struct ConnHandle(Rc<ConnState>);

impl ConnHandle {
    /// Registers the body of the answer whose head actix has just encoded.
    pub(crate) fn set_tail(&self, tail: Tail) {
        *self.0.tail.borrow_mut() = Some(tail);
    }
}

/// The inbound side of a connection, framed; see the module documentation.
#[derive(Debug)]
pub struct GuardedIo<T> {
    io: T,
    framer: Framer,
    /// Bytes read from the socket and not handed to actix yet (a held-back request).
    pending: Vec<u8>,
    pending_at: usize,
    conn: Rc<ConnState>,
    head_timeout: Duration,
    /// Armed while a head is incomplete and the socket has nothing more.
    head_deadline: WaitDeadline,
    /// `None` when keep-alive is off (actix closes the connection after each answer).
    idle: Option<IdleClock>,
    timed_out: bool,
    peer: Option<SocketAddr>,
}

impl<T> GuardedIo<T> {
    /// `io` with a deadline of `head_timeout` on each request head, and (unless `None`) a
    /// keep-alive idle timeout.
    pub fn new(
        io: T,
        head_timeout: Duration,
        idle_timeout: Option<Duration>,
        peer: Option<SocketAddr>,
    ) -> Self {
        Self {
            io,
            framer: Framer::new(),
            pending: Vec::new(),
            pending_at: 0,
            conn: Rc::default(),
            head_timeout,
            head_deadline: WaitDeadline::default(),
            idle: idle_timeout.map(IdleClock::new),
            timed_out: false,
            peer,
        }
    }

    /// For actix' connection data (see [`MarkAnswered`]).
    pub fn handle(&self) -> ConnHandle {
        ConnHandle(Rc::clone(&self.conn))
    }

    /// Feeds `bytes` to the framer and returns how many of them may go to actix now: all,
    /// or up to the end of a request when the next one has to wait for its answer.
    fn admit(framer: &mut Framer, conn: &ConnState, bytes: &[u8]) -> usize {
        let mut i = 0;
        while i < bytes.len() {
            if framer.at_boundary() && conn.unanswered() {
                break;
            }
            let fed = framer.feed(&bytes[i..]);
            i += fed.consumed;
            if fed.head_completed {
                conn.delivered.set(conn.delivered.get() + 1);
            }
        }
        i
    }

    /// After bytes were admitted: a head that is complete needs no deadline any more.
    fn after_admit(&mut self) {
        if !self.framer.in_head() {
            self.head_deadline.disarm();
        }
    }

    /// Whether the next byte must wait for the previous request's answer.
    fn held_back(&self) -> bool {
        self.framer.at_boundary() && self.conn.unanswered()
    }

    /// Polls the head deadline of an incomplete head; `true` once it has passed.
    fn head_deadline_passed(&mut self, cx: &mut Context<'_>) -> bool {
        self.framer.in_head() && self.head_deadline.poll_expired(self.head_timeout, cx)
    }

    /// Polls the keep-alive clock; `true` once the connection has been idle for
    /// `KEEP_ALIVE` (see the module documentation).
    fn idle_too_long(&mut self, cx: &mut Context<'_>) -> bool {
        let between_requests = self.framer.at_boundary()
            && self.pending_at == self.pending.len()
            && !self.conn.sending();
        let activity = self.conn.activity();
        self.idle
            .as_mut()
            .is_some_and(|clock| clock.poll_idle_too_long(between_requests, activity, cx))
    }
}

/// The keep-alive timeout of a connection, kept by a timer that ticks every sixteenth of it
/// and is re-armed only on its ticks (see the module documentation).
#[derive(Debug)]
struct IdleClock {
    tick: Duration,
    timer: WaitDeadline,
    /// Activity count at the last tick, and the quiet ticks since.
    seen: u64,
    quiet: u32,
}

impl IdleClock {
    const TICKS: u32 = 16;

    fn new(timeout: Duration) -> Self {
        Self {
            tick: timeout / Self::TICKS,
            timer: WaitDeadline::default(),
            seen: 0,
            quiet: 0,
        }
    }

    /// `true` once [`Self::TICKS`] ticks in a row found the connection idle.
    fn poll_idle_too_long(
        &mut self,
        between_requests: bool,
        activity: u64,
        cx: &mut Context<'_>,
    ) -> bool {
        if !self.timer.poll_expired(self.tick, cx) {
            return false;
        }
        if between_requests && activity == self.seen {
            self.quiet += 1;
            if self.quiet >= Self::TICKS {
                return true;
            }
        } else {
            self.seen = activity;
            self.quiet = 0;
        }
        // The next tick; its waker is registered now, and a tick too short to wait for is
        // taken at the next poll.
        self.timer.disarm();
        if self.timer.poll_expired(self.tick, cx) {
            cx.waker().wake_by_ref();
        }
        false
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for GuardedIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.timed_out || buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        loop {
            if this.pending_at < this.pending.len() {
                if this.held_back() {
                    this.conn.waker.set(Some(cx.waker().clone()));
                    return Poll::Pending;
                }
                let available = (this.pending.len() - this.pending_at).min(buf.remaining());
                let chunk = &this.pending[this.pending_at..this.pending_at + available];
                let n = Self::admit(&mut this.framer, &this.conn, chunk);
                buf.put_slice(&chunk[..n]);
                this.after_admit();
                this.pending_at += n;
                if this.pending_at == this.pending.len() {
                    this.pending.clear();
                    this.pending_at = 0;
                }
                if n > 0 {
                    return Poll::Ready(Ok(()));
                }
                continue;
            }
            // Nothing held back: read the socket even while the last request is unanswered,
            // so that in the usual case (no next request yet) the socket's own readiness
            // wakes the dispatcher and an answer costs no extra wake-up.
            let before = buf.filled().len();
            match Pin::new(&mut this.io).poll_read(cx, buf) {
                Poll::Ready(Ok(())) => {
                    let read = buf.filled().len() - before;
                    if read == 0 {
                        return Poll::Ready(Ok(()));
                    }
                    let n = Self::admit(&mut this.framer, &this.conn, &buf.filled()[before..]);
                    this.after_admit();
                    if n < read {
                        this.pending
                            .extend_from_slice(&buf.filled()[before + n..before + read]);
                        buf.set_filled(before + n);
                    }
                    if n > 0 {
                        return Poll::Ready(Ok(()));
                    }
                    // All of it belongs to a request that must wait for the answer before it.
                    this.conn.waker.set(Some(cx.waker().clone()));
                    return Poll::Pending;
                }
                Poll::Pending => {
                    if this.head_deadline_passed(cx) {
                        this.timed_out = true;
                        tracing::debug!(
                            peer = ?this.peer,
                            timeout = %humantime::format_duration(this.head_timeout),
                            "request head not complete in time: closing the connection"
                        );
                        // End of input for actix: it finishes what it is writing and closes.
                        return Poll::Ready(Ok(()));
                    }
                    if this.idle_too_long(cx) {
                        this.timed_out = true;
                        tracing::debug!(
                            peer = ?this.peer,
                            "keep-alive connection idle for KEEP_ALIVE: closing it"
                        );
                        return Poll::Ready(Ok(()));
                    }
                    return Poll::Pending;
                }
                Poll::Ready(Err(err)) => return Poll::Ready(Err(err)),
            }
        }
    }
}

impl<T: SendTail> GuardedIo<T> {
    /// Writes the registered tail, if any; then the held-back request may go.
    fn poll_tail(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut slot = self.conn.tail.borrow_mut();
        let Some(tail) = slot.as_mut() else {
            return Poll::Ready(Ok(()));
        };
        let written = ready!(direct_body::poll_write_tail(&mut self.io, tail, cx));
        *slot = None;
        drop(slot);
        self.conn.wake_reader();
        Poll::Ready(written)
    }
}

// While a tail is registered, every byte actix writes belongs to the answer before it (its
// head): actix polls a body only after encoding its head, and the next request is held
// back until the tail is written. So writes pass through, and the tail follows them at the
// next flush, or before the connection is shut down.
impl<T: SendTail> AsyncWrite for GuardedIo<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        // The head of an answer whose tail follows: one segment for both where they fit.
        if this.conn.tail.borrow().is_some() {
            return this.io.poll_write_more(cx, buf);
        }
        Pin::new(&mut this.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_tail(cx))?;
        Pin::new(&mut this.io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_tail(cx))?;
        Pin::new(&mut this.io).poll_shutdown(cx)
    }
}

/// Wraps the application's service factory: each request's service future carries a mark
/// that counts the request as answered when actix drops the future, and its answer's body
/// one that counts the answer as sent when actix drops the body.
pub struct MarkAnswered<F, B> {
    factory: F,
    body: PhantomData<fn() -> B>,
}

impl<F, B> MarkAnswered<F, B> {
    /// The application's factory `factory`, whose answers have bodies of type `B`.
    pub fn new(factory: F) -> Self {
        Self {
            factory,
            body: PhantomData,
        }
    }
}

impl<F: std::fmt::Debug, B> std::fmt::Debug for MarkAnswered<F, B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MarkAnswered")
            .field("factory", &self.factory)
            .finish()
    }
}

impl<F: Clone, B> Clone for MarkAnswered<F, B> {
    fn clone(&self) -> Self {
        Self::new(self.factory.clone())
    }
}

impl<F, B> ServiceFactory<Request> for MarkAnswered<F, B>
where
    F: ServiceFactory<Request, Config = ()>,
    F::Future: 'static,
    F::Response: Into<Response<B>>,
    B: MessageBody,
{
    type Response = Response<Finished<B>>;
    type Error = F::Error;
    type Config = ();
    type Service = MarkAnsweredService<F::Service, B>;
    type InitError = F::InitError;
    type Future = LocalBoxFuture<'static, Result<Self::Service, Self::InitError>>;

    fn new_service(&self, cfg: ()) -> Self::Future {
        let inner = self.factory.new_service(cfg);
        Box::pin(async move {
            inner.await.map(|inner| MarkAnsweredService {
                inner,
                body: PhantomData,
            })
        })
    }
}

/// The service of [`MarkAnswered`].
pub struct MarkAnsweredService<S, B> {
    inner: S,
    body: PhantomData<fn() -> B>,
}

impl<S: std::fmt::Debug, B> std::fmt::Debug for MarkAnsweredService<S, B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MarkAnsweredService")
            .field("inner", &self.inner)
            .finish()
    }
}

impl<S, B> Service<Request> for MarkAnsweredService<S, B>
where
    S: Service<Request>,
    S::Response: Into<Response<B>>,
    B: MessageBody,
{
    type Response = Response<Finished<B>>;
    type Error = S::Error;
    type Future = Answered<S::Future, B>;

    actix_service::forward_ready!(inner);

    fn call(&self, req: Request) -> Self::Future {
        let conn = req.conn_data::<ConnHandle>().map(|h| Rc::clone(&h.0));
        Answered {
            fut: self.inner.call(req),
            _mark: conn.clone().map(AnswerMark),
            finish: conn.map(FinishMark),
            body: PhantomData,
        }
    }
}

/// Counts its request as answered when dropped.
#[derive(Debug)]
struct AnswerMark(Rc<ConnState>);

impl Drop for AnswerMark {
    fn drop(&mut self) {
        self.0.mark_answered();
    }
}

/// Counts its request's answer as sent when dropped.
#[derive(Debug)]
pub struct FinishMark(Rc<ConnState>);

impl Drop for FinishMark {
    fn drop(&mut self) {
        self.0.mark_finished();
    }
}

pin_project_lite::pin_project! {
    /// A request's service future with its [`AnswerMark`]: actix drops it after encoding
    /// the response head, so the mark is dropped then, not when the future completes. The
    /// answer's body gets the [`FinishMark`]; an error (answered by actix from the error)
    /// counts as sent at once.
    pub struct Answered<F, B> {
        #[pin]
        fut: F,
        _mark: Option<AnswerMark>,
        finish: Option<FinishMark>,
        body: PhantomData<fn() -> B>,
    }
}

impl<F, R, E, B> Future for Answered<F, B>
where
    F: Future<Output = Result<R, E>>,
    R: Into<Response<B>>,
{
    type Output = Result<Response<Finished<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let answer = ready!(this.fut.poll(cx));
        let mark = this.finish.take();
        Poll::Ready(answer.map(|res| {
            res.into()
                .map_body(|_, body| Finished { body, _mark: mark })
        }))
    }
}

pin_project_lite::pin_project! {
    /// An answer's body with its [`FinishMark`]: actix drops a body once it has taken the
    /// last of it (or at once, for an answer sent without one).
    pub struct Finished<B> {
        #[pin]
        body: B,
        _mark: Option<FinishMark>,
    }
}

impl<B: MessageBody> MessageBody for Finished<B> {
    type Error = B::Error;

    fn size(&self) -> BodySize {
        self.body.size()
    }

    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        self.project().body.poll_next(cx)
    }

    fn try_into_bytes(self) -> Result<Bytes, Self> {
        let Self { body, _mark } = self;
        body.try_into_bytes().map_err(|body| Self { body, _mark })
    }
}

#[cfg(test)]
mod tests {
    use tokio::time::Instant;

    use super::*;

    /// Polls `clock` once, as the reader does when the socket has nothing more.
    async fn poll_clock(clock: &mut IdleClock, between_requests: bool, activity: u64) -> bool {
        std::future::poll_fn(|cx| {
            Poll::Ready(clock.poll_idle_too_long(between_requests, activity, cx))
        })
        .await
    }

    /// Advances paused time tick by tick until the clock says "too long"; the time it took.
    async fn idle_until_closed(clock: &mut IdleClock, activity: u64) -> Duration {
        let started = Instant::now();
        while !poll_clock(clock, true, activity).await {
            tokio::time::advance(Duration::from_millis(5)).await;
            assert!(started.elapsed() < Duration::from_secs(10), "never closed");
        }
        started.elapsed()
    }

    #[tokio::test(start_paused = true)]
    async fn an_idle_connection_is_closed_between_the_timeout_and_a_sixteenth_more() {
        let timeout = Duration::from_millis(1600);
        let mut clock = IdleClock::new(timeout);
        let took = idle_until_closed(&mut clock, 0).await;
        assert!(took >= timeout && took <= timeout * 17 / 16, "{took:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn activity_or_an_answer_in_progress_restarts_the_count() {
        let timeout = Duration::from_millis(1600);
        let mut clock = IdleClock::new(timeout);
        // Busy (an answer being sent) for three timeouts: never closed.
        for _ in 0..(3 * 16 * 20) {
            assert!(!poll_clock(&mut clock, false, 1).await);
            tokio::time::advance(Duration::from_millis(5)).await;
        }
        // Requests keep coming (activity grows) every half timeout: never closed.
        let mut last_activity = Instant::now();
        for activity in 2..20 {
            last_activity = Instant::now();
            for _ in 0..160 {
                assert!(!poll_clock(&mut clock, true, activity).await);
                tokio::time::advance(Duration::from_millis(5)).await;
            }
        }
        // Then quiet: closed a full timeout after the last activity, not earlier.
        idle_until_closed(&mut clock, 19).await;
        let idle = last_activity.elapsed();
        assert!(idle >= timeout, "closed {idle:?} after the last activity");
        assert!(
            idle <= timeout * 17 / 16 + Duration::from_millis(5),
            "{idle:?}"
        );
    }
}
