//! `<binary> healthcheck`: a self-probe for images without a shell or curl (a `scratch`
//! image's `HEALTHCHECK` can only run the binary itself). Sends `GET /healthz` to
//! 127.0.0.1:`port` over plain HTTP/1.1 and succeeds only on a `200` status line.

use std::{
    io::{Read as _, Write as _},
    net::{Ipv4Addr, SocketAddr, TcpStream},
    time::Duration,
};

/// Why the probe failed; the message names the address.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("no answer from {addr}: {source}")]
    Io {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("http://{addr}/healthz answered {status_line:?}")]
    Unhealthy {
        addr: SocketAddr,
        status_line: String,
    },
}

/// Probes `http://127.0.0.1:<port>/healthz`, every step bounded by `timeout`.
pub fn probe(port: u16, timeout: Duration, user_agent: &str) -> Result<(), ProbeError> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut stream = TcpStream::connect_timeout(&addr, timeout)
        .map_err(|source| ProbeError::Connect { addr, source })?;
    let io_err = |source| ProbeError::Io { addr, source };
    stream.set_read_timeout(Some(timeout)).map_err(io_err)?;
    stream.set_write_timeout(Some(timeout)).map_err(io_err)?;
    let request = format!(
        "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: {user_agent}\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).map_err(io_err)?;
    // Only the status line matters.
    let mut head = Vec::with_capacity(128);
    let mut buf = [0u8; 128];
    while !head.contains(&b'\n') && head.len() < 4096 {
        let n = stream.read(&mut buf).map_err(io_err)?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&head);
    let status_line = text.lines().next().unwrap_or("").trim().to_owned();
    let mut parts = status_line.split(' ');
    match (parts.next(), parts.next()) {
        (Some(version), Some("200")) if version.starts_with("HTTP/1.") => Ok(()),
        _ => Err(ProbeError::Unhealthy { addr, status_line }),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::net::TcpListener;

    fn serve_once(answer: &'static [u8]) -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf);
            s.write_all(answer).unwrap();
        });
        port
    }

    #[test]
    fn a_200_is_healthy_anything_else_names_the_answer() {
        let port = serve_once(b"HTTP/1.1 200 OK\r\ncontent-length: 7\r\n\r\nhealthy");
        probe(port, Duration::from_secs(2), "test").unwrap();
        let port = serve_once(b"HTTP/1.1 503 Service Unavailable\r\n\r\n");
        let err = probe(port, Duration::from_secs(2), "test").unwrap_err();
        assert!(err.to_string().contains("503 Service Unavailable"), "{err}");
    }

    #[test]
    fn nothing_listening_is_a_connect_error() {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let err = probe(port, Duration::from_secs(1), "test").unwrap_err();
        assert!(matches!(err, ProbeError::Connect { .. }), "{err}");
    }
}
