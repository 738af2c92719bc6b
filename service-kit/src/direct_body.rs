//! Response bodies the connection writes itself, straight after the response head, instead
//! of through actix-http's write buffer.
//!
//! actix-http copies every body chunk into its per-connection write buffer before writing
//! it to the socket. For a large body that copy is most of what the answer costs in user
//! space (a 300 KB bundle: ~16 % of the server's CPU time under load, `perf`), and the
//! write from user memory is another copy in the kernel (~30 %); nginx avoids both with
//! `sendfile(2)`. A [`DirectBody`] hands its bytes — a file region, sent with `sendfile`, or
//! bytes already in memory, written as they are — to the connection wrapper
//! ([`crate::connection::GuardedIo`]), which writes them after everything actix has written
//! so far, that is right after this answer's head.
//!
//! Why the order is right: actix polls a body only after it has encoded that answer's
//! head, and a `DirectBody` registers its bytes at that first poll and ends at once. While
//! they are registered the wrapper holds back the client's next request (as it does until
//! a head is encoded), so nothing of a later answer can be written before them; the wrapper
//! writes them when actix flushes (or before it shuts the connection down). The head
//! carries the body's `Content-Length` itself (actix is told the body is a stream that is
//! not chunked, and then writes the header it is given).

use std::{
    fs::File,
    io,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll, ready},
};

use actix_web::{
    HttpRequest, HttpResponse,
    body::{BodySize, MessageBody},
    http::header::{CONTENT_LENGTH, HeaderValue},
};
use bytes::{Buf as _, Bytes};
use tokio::io::{AsyncWrite, Interest};

use crate::connection::ConnHandle;

/// The bytes of a body the connection writes itself.
pub enum Tail {
    /// Bytes in memory, written without a copy into actix' buffer.
    Memory(Bytes),
    /// `len` bytes of `file` from `offset`, sent with `sendfile(2)` (which reads at the
    /// offset given, never the descriptor's own: a file may be shared by many answers).
    File {
        file: Arc<File>,
        offset: u64,
        len: u64,
    },
}

impl Tail {
    /// Bytes still to send.
    pub fn len(&self) -> u64 {
        match self {
            Self::Memory(bytes) => bytes.len() as u64,
            Self::File { len, .. } => *len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl std::fmt::Debug for Tail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Memory(bytes) => write!(f, "Tail::Memory({} bytes)", bytes.len()),
            Self::File { offset, len, .. } => write!(f, "Tail::File({len} bytes at {offset})"),
        }
    }
}

/// The body of an answer whose bytes the connection writes (see the module documentation).
#[derive(Debug)]
pub struct DirectBody {
    tail: Option<Tail>,
    conn: ConnHandle,
}

/// Whether `req` arrived through [`crate::connection::GuardedIo`], which can write a
/// [`DirectBody`].
pub fn available(req: &HttpRequest) -> bool {
    req.conn_data::<ConnHandle>().is_some()
}

/// Gives `res` (status and headers set) the body `tail`, written by the connection. When
/// the request did not arrive through [`crate::connection::GuardedIo`] (actix' test
/// harness, another server), `res` and `tail` come back: send the body the usual way.
/// Never for answers to HEAD requests, nor for statuses without a body.
#[allow(clippy::result_large_err)]
pub fn attach(
    req: &HttpRequest,
    mut res: HttpResponse<()>,
    tail: Tail,
) -> Result<HttpResponse<DirectBody>, (HttpResponse<()>, Tail)> {
    let Some(conn) = req.conn_data::<ConnHandle>().cloned() else {
        return Err((res, tail));
    };
    res.headers_mut()
        .insert(CONTENT_LENGTH, HeaderValue::from(tail.len()));
    // A stream that is not chunked: actix frames nothing and writes our Content-Length.
    res.head_mut().no_chunking(true);
    Ok(res.set_body(DirectBody {
        tail: Some(tail),
        conn,
    }))
}

impl MessageBody for DirectBody {
    type Error = io::Error;

    fn size(&self) -> BodySize {
        BodySize::Stream
    }

    fn poll_next(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, io::Error>>> {
        let this = self.get_mut();
        // First poll: the head is encoded; the connection takes over the bytes.
        if let Some(tail) = this.tail.take() {
            this.conn.set_tail(tail);
        }
        Poll::Ready(None)
    }
}

/// A socket the connection wrapper can send a [`Tail`] to.
pub trait SendTail: AsyncWrite + Unpin {
    /// Writes bytes that a tail will follow at once (the answer's head): the kernel may hold
    /// them back to fill one segment with the tail's first bytes (`MSG_MORE`), instead of
    /// sending a short segment of its own.
    fn poll_write_more(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>>;

    /// Sends `*remaining` bytes of `file` from `*offset`, advancing both.
    fn poll_send_file(
        &mut self,
        cx: &mut Context<'_>,
        file: &File,
        offset: &mut u64,
        remaining: &mut u64,
    ) -> Poll<io::Result<()>>;
}

impl SendTail for tokio::net::TcpStream {
    fn poll_write_more(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        loop {
            ready!(self.poll_write_ready(cx))?;
            let flags = rustix::net::SendFlags::MORE | rustix::net::SendFlags::NOSIGNAL;
            match self.try_io(Interest::WRITABLE, || {
                rustix::net::send(&*self, buf, flags).map_err(io::Error::from)
            }) {
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => {}
                written => return Poll::Ready(written),
            }
        }
    }

    fn poll_send_file(
        &mut self,
        cx: &mut Context<'_>,
        file: &File,
        offset: &mut u64,
        remaining: &mut u64,
    ) -> Poll<io::Result<()>> {
        while *remaining > 0 {
            ready!(self.poll_write_ready(cx))?;
            let count = usize::try_from(*remaining)
                .unwrap_or(usize::MAX)
                .min(1 << 30);
            let mut at = *offset;
            match self.try_io(Interest::WRITABLE, || {
                rustix::fs::sendfile(&*self, file, Some(&mut at), count).map_err(io::Error::from)
            }) {
                // The file is shorter than the length the head announced: the answer cannot
                // be completed (the connection is closed, as nginx does).
                Ok(0) => {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "file shorter than its Content-Length",
                    )));
                }
                Ok(sent) => {
                    *offset = at;
                    *remaining -= sent as u64;
                }
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => {}
                Err(err) => return Poll::Ready(Err(err)),
            }
        }
        Poll::Ready(Ok(()))
    }
}

/// Writes what is left of `tail` to `io`.
pub(crate) fn poll_write_tail<T: SendTail>(
    io: &mut T,
    tail: &mut Tail,
    cx: &mut Context<'_>,
) -> Poll<io::Result<()>> {
    match tail {
        Tail::Memory(bytes) => {
            while !bytes.is_empty() {
                let n = ready!(Pin::new(&mut *io).poll_write(cx, bytes))?;
                if n == 0 {
                    return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
                }
                bytes.advance(n);
            }
            Poll::Ready(Ok(()))
        }
        Tail::File { file, offset, len } => io.poll_send_file(cx, file, offset, len),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use tokio::io::AsyncReadExt as _;

    async fn pair() -> (tokio::net::TcpStream, tokio::net::TcpStream) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (client, accepted) =
            tokio::join!(tokio::net::TcpStream::connect(addr), listener.accept());
        (client.unwrap(), accepted.unwrap().0)
    }

    async fn send(server: &mut tokio::net::TcpStream, mut tail: Tail) -> io::Result<()> {
        std::future::poll_fn(|cx| poll_write_tail(server, &mut tail, cx)).await
    }

    #[tokio::test]
    async fn file_and_memory_tails_arrive_whole() {
        let (mut client, mut server) = pair().await;
        let mut file = tempfile::tempfile().unwrap();
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 253) as u8).collect();
        std::io::Write::write_all(&mut file, &data).unwrap();
        let reader = tokio::spawn(async move {
            let mut got = vec![0; 100_000 + 6];
            client.read_exact(&mut got).await.unwrap();
            got
        });
        send(
            &mut server,
            Tail::File {
                file: Arc::new(file),
                offset: 50_000,
                len: 100_000,
            },
        )
        .await
        .unwrap();
        send(&mut server, Tail::Memory(Bytes::from_static(b"-tail-")))
            .await
            .unwrap();
        let got = reader.await.unwrap();
        assert!(got[..100_000] == data[50_000..150_000]);
        assert_eq!(&got[100_000..], b"-tail-");
    }

    /// A file shorter than the length its head announced cannot complete the answer.
    #[tokio::test]
    async fn a_file_shorter_than_announced_is_an_error() {
        let (_client, mut server) = pair().await;
        let mut file = tempfile::tempfile().unwrap();
        std::io::Write::write_all(&mut file, b"0123456789").unwrap();
        let err = send(
            &mut server,
            Tail::File {
                file: Arc::new(file),
                offset: 0,
                len: 20,
            },
        )
        .await
        .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    }
}
