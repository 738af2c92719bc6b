//! HTTP/1.1 on a raw TCP stream, for what an HTTP client hides: pipelined requests, the
//! bytes (or their absence) after a HEAD answer, a request head sent a byte at a time.

use std::{
    io::{self, Read, Write},
    net::TcpStream,
    time::{Duration, Instant},
};

/// One response as it came off the wire.
#[derive(Debug, Clone)]
pub struct RawResponse {
    pub status: u16,
    /// Header lines, names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A connection with a read buffer, so several responses can be read one after another.
#[derive(Debug)]
pub struct RawConn {
    pub stream: TcpStream,
    buf: Vec<u8>,
}

impl RawConn {
    pub fn connect(addr: &str) -> io::Result<Self> {
        let stream = TcpStream::connect(addr.trim_start_matches("http://"))?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        Ok(Self {
            stream,
            buf: Vec::new(),
        })
    }

    pub fn send(&mut self, bytes: &str) -> io::Result<()> {
        self.stream.write_all(bytes.as_bytes())
    }

    pub fn stream_write(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)
    }

    /// Reads more bytes; `Ok(0)` when the server closed the connection.
    fn fill(&mut self) -> io::Result<usize> {
        let mut chunk = [0u8; 8192];
        let n = self.stream.read(&mut chunk)?;
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(n)
    }

    /// Reads one response. `to_head` says the request was a HEAD (no body follows, whatever
    /// `Content-Length` says); otherwise the body is read by `Content-Length` or chunked.
    pub fn read_response(&mut self, to_head: bool) -> io::Result<RawResponse> {
        let head_end = loop {
            if let Some(i) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            if self.fill()? == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!(
                        "closed before a response head; got {:?}",
                        String::from_utf8_lossy(&self.buf)
                    ),
                ));
            }
        };
        let head = String::from_utf8_lossy(&self.buf[..head_end]).into_owned();
        self.buf.drain(..head_end);
        let mut lines = head.lines();
        let status_line = lines.next().unwrap_or_default();
        let status = status_line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| io::Error::other(format!("bad status line {status_line:?}")))?;
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        let mut res = RawResponse {
            status,
            headers,
            body: Vec::new(),
        };
        let no_body = to_head || status == 204 || status == 304 || (100..200).contains(&status);
        if no_body {
            return Ok(res);
        }
        if res.header("transfer-encoding") == Some("chunked") {
            loop {
                let line_end = self.until(b"\r\n")?;
                let size_line = String::from_utf8_lossy(&self.buf[..line_end]).into_owned();
                self.buf.drain(..line_end + 2);
                let size =
                    usize::from_str_radix(size_line.split(';').next().unwrap_or("").trim(), 16)
                        .map_err(|_| io::Error::other(format!("bad chunk size {size_line:?}")))?;
                self.need(size + 2)?;
                res.body.extend_from_slice(&self.buf[..size]);
                self.buf.drain(..size + 2);
                if size == 0 {
                    break;
                }
            }
        } else if let Some(len) = res.header("content-length") {
            let len: usize = len.parse().map_err(io::Error::other)?;
            self.need(len)?;
            res.body = self.buf.drain(..len).collect();
        } else {
            while self.fill()? > 0 {}
            res.body = std::mem::take(&mut self.buf);
        }
        Ok(res)
    }

    /// Bytes already received after the last response read (e.g. a body sent after a HEAD
    /// answer), waiting at most `wait` for more.
    pub fn leftover(&mut self, wait: Duration) -> Vec<u8> {
        let _ = self.stream.set_read_timeout(Some(wait));
        let _ = self.fill();
        let _ = self.stream.set_read_timeout(Some(Duration::from_secs(10)));
        std::mem::take(&mut self.buf)
    }

    /// Waits until the server closes the connection (a read of 0 or a reset), at most
    /// `within`; returns how long it took, or `None` if it stayed open.
    pub fn wait_closed(&mut self, within: Duration) -> Option<Duration> {
        let started = Instant::now();
        let _ = self
            .stream
            .set_read_timeout(Some(Duration::from_millis(50)));
        while started.elapsed() < within {
            match self.fill() {
                Ok(0) => return Some(started.elapsed()),
                Ok(_) => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) => {}
                Err(_) => return Some(started.elapsed()),
            }
        }
        None
    }

    fn until(&mut self, pat: &[u8]) -> io::Result<usize> {
        loop {
            if let Some(i) = self.buf.windows(pat.len()).position(|w| w == pat) {
                return Ok(i);
            }
            if self.fill()? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        }
    }

    fn need(&mut self, n: usize) -> io::Result<()> {
        while self.buf.len() < n {
            if self.fill()? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        }
        Ok(())
    }
}
