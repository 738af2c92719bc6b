//! Where each HTTP/1.1 request on a connection begins and ends, read from the bytes the
//! client sends (RFC 9112 §6: a head, then a body framed by `Transfer-Encoding: chunked`
//! or `Content-Length`, else none). [`crate::connection`] uses it to time each request head
//! and to hold a pipelined request back until the one before it is answered.
//!
//! A plain `GET` or `HEAD` head (no framing headers) read in one piece is measured in one
//! pass over its bytes; every other head is parsed by httparse, as actix parses it.
//!
//! It follows actix-http's own decoder where that decoder decides: chunked wins over
//! `Content-Length`, `Upgrade: websocket` and `CONNECT` turn the rest of the connection into
//! a stream. Anything it is not sure about — a head httparse refuses, a header actix would
//! refuse, a chunk line that is not strict `size[;ext]CRLF` — makes it step aside for the
//! rest of the connection ([`Framer::is_passthrough`]): actix answers such requests with an
//! error and closes the connection, and a framer that stepped aside never holds bytes back,
//! so a disagreement can never stall a request.

use std::mem::MaybeUninit;

use crate::word_scan;

/// actix-http's limit on request heads (`h1::decoder::MAX_BUFFER_SIZE`); a longer head is
/// answered 431 by actix.
pub const MAX_HEAD_BYTES: usize = 131_072;

/// actix-http's limit on the number of headers.
const MAX_HEADERS: usize = 96;

/// Longest chunk-size line (with extensions) or trailer line accepted.
const MAX_LINE_BYTES: usize = 4096;

/// What one call to [`Framer::feed`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fed {
    /// Bytes consumed from the input.
    pub consumed: usize,
    /// Whether a request head was completed by these bytes.
    pub head_completed: bool,
    /// Whether a whole request (head and body) ended with the last consumed byte; `feed`
    /// stops there, so the caller can decide whether the next request may follow.
    pub request_ended: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    /// Between requests: nothing of the next head seen yet.
    Idle,
    /// Inside a head; the bytes so far (only kept when a head spans several reads).
    Head,
    /// Inside a body of known length: bytes still to come.
    Body(u64),
    Chunked(Chunk),
    /// Not framing any more (see the module documentation).
    Passthrough,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Chunk {
    /// Reading a chunk-size line.
    Size,
    /// Inside chunk data: bytes still to come, then CRLF.
    Data(u64),
    /// The CRLF after chunk data: how many of its two bytes are still to come.
    DataEnd(u8),
    /// After the last chunk: trailer lines, then an empty line. `usize` is the length of
    /// the current line so far (0 at a line start).
    Trailer(usize),
}

/// The framing state of one connection's inbound bytes.
#[derive(Debug)]
pub struct Framer {
    state: State,
    /// A head or chunk-size line that spans reads.
    partial: Vec<u8>,
}

impl Default for Framer {
    fn default() -> Self {
        Self::new()
    }
}

impl Framer {
    pub fn new() -> Self {
        Self {
            state: State::Idle,
            partial: Vec::new(),
        }
    }

    /// Between two requests (the next byte starts a new head).
    pub fn at_boundary(&self) -> bool {
        self.state == State::Idle
    }

    /// Inside a request head (its first byte seen, not its end).
    pub fn in_head(&self) -> bool {
        self.state == State::Head
    }

    /// Stepped aside for the rest of the connection.
    pub fn is_passthrough(&self) -> bool {
        self.state == State::Passthrough
    }

    /// Consumes a prefix of `input`, stopping right after a request's last byte.
    pub fn feed(&mut self, input: &[u8]) -> Fed {
        let mut fed = Fed {
            consumed: 0,
            head_completed: false,
            request_ended: false,
        };
        while fed.consumed < input.len() && !fed.request_ended {
            let rest = &input[fed.consumed..];
            match self.state {
                State::Passthrough => fed.consumed = input.len(),
                State::Idle | State::Head => {
                    let (n, done) = self.head(rest);
                    fed.consumed += n;
                    if done {
                        fed.head_completed = true;
                        fed.request_ended = self.state == State::Idle;
                    }
                }
                State::Body(remaining) => {
                    let n = usize::try_from(remaining).map_or(rest.len(), |r| r.min(rest.len()));
                    let left = remaining - n as u64;
                    fed.consumed += n;
                    if left == 0 {
                        self.state = State::Idle;
                        fed.request_ended = true;
                    } else {
                        self.state = State::Body(left);
                    }
                }
                State::Chunked(_) => {
                    let (n, ended) = self.chunked(rest);
                    fed.consumed += n;
                    fed.request_ended = ended;
                }
            }
        }
        fed
    }

    /// Feeds head bytes; returns (consumed, whether the head is complete).
    fn head(&mut self, input: &[u8]) -> (usize, bool) {
        // Most heads are a GET or HEAD without a body, read in one piece.
        if self.partial.is_empty()
            && let Some(len) = plain_head_len(input)
        {
            self.state = State::Idle;
            return (len, true);
        }
        self.head_parsed(input)
    }

    /// [`Self::head`] by httparse, for every head.
    fn head_parsed(&mut self, input: &[u8]) -> (usize, bool) {
        self.state = State::Head;
        // Most heads arrive in one read: parse in place, copy only when they span reads.
        let spans = !self.partial.is_empty();
        if spans {
            self.partial.extend_from_slice(input);
        }
        let bytes: &[u8] = if spans { &self.partial } else { input };
        // Uninitialised slots: httparse writes only the headers it finds (an initialised
        // array of 96 would cost a 3 KiB memset per request).
        let mut headers = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
        let mut req = httparse::Request::new(&mut []);
        let parsed = req.parse_with_uninit_headers(bytes, &mut headers);
        let (head_len, next) = match parsed {
            Ok(httparse::Status::Complete(len)) => (len, Self::body_after(&req)),
            Ok(httparse::Status::Partial) if bytes.len() < MAX_HEAD_BYTES => {
                if !spans {
                    self.partial.extend_from_slice(input);
                }
                return (input.len(), false);
            }
            // Too long, or refused: actix answers 431/400 and closes.
            _ => {
                self.partial.clear();
                self.state = State::Passthrough;
                return (input.len(), false);
            }
        };
        // The bytes of `input` that belonged to the head.
        let earlier = if spans {
            self.partial.len() - input.len()
        } else {
            0
        };
        self.partial.clear();
        self.state = next;
        (head_len - earlier, true)
    }

    /// The body framing of a parsed head, as actix-http decides it.
    fn body_after(req: &httparse::Request<'_, '_>) -> State {
        let http11 = req.version == Some(1);
        let mut chunked = false;
        let mut seen_te = false;
        let mut length: Option<u64> = None;
        let mut websocket = false;
        // A header's value is decoded only when its name matters here.
        fn value<'v>(h: &httparse::Header<'v>) -> Result<&'v str, std::str::Utf8Error> {
            std::str::from_utf8(h.value).map(str::trim)
        }
        for h in req.headers.iter() {
            if h.name.eq_ignore_ascii_case("content-length") {
                let value = value(h);
                match value.ok().filter(|v| !v.starts_with('+')).map(str::parse) {
                    Some(Ok(n)) if length.is_none() => length = Some(n),
                    _ => return State::Passthrough,
                }
            } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
                if !http11 || seen_te {
                    return State::Passthrough;
                }
                seen_te = true;
                match value(h) {
                    Ok(v) if v.eq_ignore_ascii_case("chunked") => chunked = true,
                    Ok(v) if v.eq_ignore_ascii_case("identity") => {}
                    _ => return State::Passthrough,
                }
            } else if h.name.eq_ignore_ascii_case("upgrade") {
                websocket |= value(h).is_ok_and(|v| v.eq_ignore_ascii_case("websocket"));
            }
        }
        if chunked {
            State::Chunked(Chunk::Size)
        } else if websocket || req.method == Some("CONNECT") {
            State::Passthrough
        } else {
            match length {
                Some(n) if n > 0 => State::Body(n),
                // HTTP/1.0 POST without a length: actix refuses it.
                None if !http11 && req.method == Some("POST") => State::Passthrough,
                _ => State::Idle,
            }
        }
    }

    /// Feeds chunked-body bytes; returns (consumed, whether the body ended).
    fn chunked(&mut self, input: &[u8]) -> (usize, bool) {
        let mut i = 0;
        while i < input.len() {
            let State::Chunked(chunk) = &mut self.state else {
                break;
            };
            match chunk {
                Chunk::Size => {
                    let Some(nl) = input[i..].iter().position(|&b| b == b'\n') else {
                        self.partial.extend_from_slice(&input[i..]);
                        if self.partial.len() > MAX_LINE_BYTES {
                            self.state = State::Passthrough;
                        }
                        return (input.len(), false);
                    };
                    self.partial.extend_from_slice(&input[i..=i + nl]);
                    i += nl + 1;
                    let size = match httparse::parse_chunk_size(&self.partial) {
                        Ok(httparse::Status::Complete((len, size)))
                            if len == self.partial.len() && self.partial.ends_with(b"\r\n") =>
                        {
                            size
                        }
                        _ => {
                            self.state = State::Passthrough;
                            return (input.len(), false);
                        }
                    };
                    self.partial.clear();
                    *chunk = if size == 0 {
                        Chunk::Trailer(0)
                    } else {
                        Chunk::Data(size)
                    };
                }
                Chunk::Data(remaining) => {
                    let n = usize::try_from(*remaining)
                        .map_or(input.len() - i, |r| r.min(input.len() - i));
                    *remaining -= n as u64;
                    i += n;
                    if *remaining == 0 {
                        *chunk = Chunk::DataEnd(2);
                    }
                }
                Chunk::DataEnd(left) => {
                    let want = if *left == 2 { b'\r' } else { b'\n' };
                    if input[i] != want {
                        self.state = State::Passthrough;
                        return (input.len(), false);
                    }
                    i += 1;
                    *left -= 1;
                    if *left == 0 {
                        *chunk = Chunk::Size;
                    }
                }
                Chunk::Trailer(line) => {
                    let b = input[i];
                    i += 1;
                    match b {
                        b'\n' if *line == 0 => {
                            self.state = State::Idle;
                            return (i, true);
                        }
                        b'\n' => *line = 0,
                        // A CR is not line content (CRLF ends a line); strict CRLF is not
                        // checked in trailers, which actix reads the same way.
                        b'\r' => {}
                        _ => {
                            *line += 1;
                            if *line > MAX_LINE_BYTES {
                                self.state = State::Passthrough;
                                return (input.len(), false);
                            }
                        }
                    }
                }
            }
        }
        (i, false)
    }
}

/// The length of the complete head at the start of `input` when it is a `GET` or `HEAD`
/// request httparse accepts and that has no body (none of `Content-Length`,
/// `Transfer-Encoding`, `Upgrade`); `None` for any other input, which httparse then frames.
///
/// One pass over the bytes with the RFC 9112 character classes: a tenth of what httparse's
/// general parse costs on a short head, which a request pays twice (here, then in actix).
/// Wherever it answers, it answers as [`Framer::head_parsed`] would (a generated-input test
/// checks this).
fn plain_head_len(input: &[u8]) -> Option<usize> {
    let target_at = if input.starts_with(b"GET ") {
        4
    } else if input.starts_with(b"HEAD ") {
        5
    } else {
        return None;
    };
    // request-target: visible ASCII, then one space and the version.
    let target_len = run_of(&input[target_at..], b'!', &URI_BYTE)?;
    let after = target_at + target_len;
    if target_len == 0 || !input[after..].starts_with(b" HTTP/1.") {
        return None;
    }
    let mut at = after + b" HTTP/1.".len();
    if !matches!(input.get(at..at + 3), Some(b"1\r\n" | b"0\r\n")) {
        return None;
    }
    at += 3;
    // Header lines `name:value CRLF`, until an empty line.
    let mut headers = 0;
    loop {
        let rest = &input[at..];
        if rest.starts_with(b"\r\n") {
            let len = at + 2;
            return (len <= MAX_HEAD_BYTES).then_some(len);
        }
        headers += 1;
        let name_len = rest.iter().position(|&b| !TCHAR[usize::from(b)])?;
        if name_len == 0 || rest.get(name_len) != Some(&b':') || headers > MAX_HEADERS {
            return None;
        }
        let name = &rest[..name_len];
        if ["content-length", "transfer-encoding", "upgrade"]
            .iter()
            .any(|framing| name.eq_ignore_ascii_case(framing.as_bytes()))
        {
            return None;
        }
        let value_at = name_len + 1;
        let value_len = run_of(&rest[value_at..], b' ', &FIELD_VALUE_BYTE)?;
        let end = value_at + value_len;
        if !rest[end..].starts_with(b"\r\n") {
            return None;
        }
        at += end + 2;
    }
}

/// The length of the run of `class` bytes at the start of `bytes`, `None` if it runs to the
/// end. Whole words of eight bytes in `low..=0x7E` (all in `class`) are skipped at once.
fn run_of(bytes: &[u8], low: u8, class: &[bool; 256]) -> Option<usize> {
    let at = word_scan::clear_words(bytes, |w| {
        word_scan::has_byte_below(w, low) || word_scan::has_byte_above(w, 0x7e)
    });
    bytes[at..]
        .iter()
        .position(|&b| !class[usize::from(b)])
        .map(|n| at + n)
}

/// A byte table of the bytes `b` for which `$member` holds, built at compile time.
macro_rules! byte_class {
    (|$b:ident| $member:expr) => {{
        let mut table = [false; 256];
        let mut i = 0;
        while i < 256 {
            let $b = i as u8;
            table[i] = $member;
            i += 1;
        }
        table
    }};
}

/// `tchar` (RFC 9110 §5.6.2): a header name's bytes.
const TCHAR: [bool; 256] = byte_class!(|b| {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'!' | b'#'
                | b'$'
                | b'%'
                | b'&'
                | b'\''
                | b'*'
                | b'+'
                | b'-'
                | b'.'
                | b'^'
                | b'_'
                | b'`'
                | b'|'
                | b'~'
        )
});

/// A request-target's bytes: visible ASCII. (httparse's table also has the bytes from
/// 0x80, but its vectored scan refuses them; the generated-input test found this. A target
/// with raw non-ASCII bytes is left to httparse.)
const URI_BYTE: [bool; 256] = byte_class!(|b| b'!' <= b && b <= b'~');

/// `field-value` bytes (RFC 9110 §5.5): HTAB, SP, visible ASCII, obs-text.
const FIELD_VALUE_BYTE: [bool; 256] =
    byte_class!(|b| b == b'\t' || (b' ' <= b && b <= b'~') || b >= 0x80);

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `input` in pieces of `step` bytes and returns the byte offsets where requests
    /// ended, and whether the framer stepped aside.
    fn ends(input: &[u8], step: usize) -> (Vec<usize>, bool) {
        let mut f = Framer::new();
        let mut out = Vec::new();
        let mut at = 0;
        for piece in input.chunks(step) {
            let mut off = 0;
            while off < piece.len() {
                let fed = f.feed(&piece[off..]);
                off += fed.consumed;
                if fed.request_ended {
                    out.push(at + off);
                }
            }
            at += piece.len();
        }
        (out, f.is_passthrough())
    }

    /// Every row: a byte stream and where its requests end; checked whole and byte by byte.
    #[test]
    fn request_ends_are_found_however_the_bytes_arrive() {
        let get = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
        let head = "HEAD /x HTTP/1.1\r\nHost: a\r\n\r\n";
        let post = "POST /api/x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello";
        let chunked = "POST /api/x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n0\r\nX-T: 1\r\n\r\n";
        let both = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
        let zero = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n";
        let leading_crlf = "\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n";
        let rows: Vec<(String, Vec<usize>)> = vec![
            (get.into(), vec![get.len()]),
            (
                format!("{head}{get}"),
                vec![head.len(), head.len() + get.len()],
            ),
            (
                format!("{post}{head}"),
                vec![post.len(), post.len() + head.len()],
            ),
            (
                format!("{chunked}{get}"),
                vec![chunked.len(), chunked.len() + get.len()],
            ),
            // Chunked wins over Content-Length, as in actix.
            (both.into(), vec![both.len()]),
            (zero.into(), vec![zero.len()]),
            (leading_crlf.into(), vec![leading_crlf.len()]),
            // Incomplete: no end yet.
            ("GET / HTTP/1.1\r\nHost: a\r\n".into(), vec![]),
            (post[..post.len() - 1].into(), vec![]),
        ];
        for (input, want) in rows {
            for step in [input.len().max(1), 7, 1] {
                let (got, passthrough) = ends(input.as_bytes(), step);
                assert_eq!(got, want, "{input:?} in pieces of {step}");
                assert!(!passthrough, "{input:?}");
            }
        }
    }

    /// What actix refuses or streams is not framed: the framer steps aside.
    #[test]
    fn unframeable_requests_make_the_framer_step_aside() {
        for input in [
            "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n",
            "CONNECT a:443 HTTP/1.1\r\nHost: a\r\n\r\n",
            "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            "POST / HTTP/1.1\r\nContent-Length: +5\r\n\r\n",
            "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
            "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
            "POST / HTTP/1.0\r\n\r\n",
            "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n",
            "GET /\0 HTTP/1.1\r\n\r\n",
        ] {
            let (_, passthrough) = ends(input.as_bytes(), input.len());
            assert!(passthrough, "{input:?}");
        }
        let huge = format!("GET / HTTP/1.1\r\nX: {}", "a".repeat(MAX_HEAD_BYTES));
        assert!(ends(huge.as_bytes(), 4096).1);
    }

    /// A request head from a grammar of valid pieces and near-misses (case, whitespace,
    /// line endings, control and non-ASCII bytes, framing headers), sometimes followed by
    /// the next request.
    fn generated_head(rng: &mut fastrand::Rng) -> Vec<u8> {
        fn pick<'a>(rng: &mut fastrand::Rng, from: &[&'a str]) -> &'a str {
            from[rng.usize(0..from.len())]
        }
        let eol = |rng: &mut fastrand::Rng| {
            if rng.u8(..) < 230 {
                "\r\n"
            } else {
                pick(rng, &["\n", "\r", "\r\r\n", " \r\n"])
            }
        };
        let mut out = Vec::new();
        let method = pick(
            rng,
            &[
                "GET ", "HEAD ", "GET ", "HEAD ", "POST ", "CONNECT ", "get ", "GET  ", "GETX ",
            ],
        );
        out.extend_from_slice(method.as_bytes());
        let target_bytes: &[u8] = b"/aZ09%?=&.-~\"<>\\^`{|} \t\x7f\x80\xff\0";
        let target_len = rng.usize(0..12);
        out.push(b'/');
        for _ in 0..target_len {
            let b = if rng.u8(..) < 220 {
                b'a'
            } else {
                target_bytes[rng.usize(0..target_bytes.len())]
            };
            out.push(b);
        }
        let version = pick(
            rng,
            &[
                " HTTP/1.1",
                " HTTP/1.1",
                " HTTP/1.0",
                " HTTP/2.0",
                " http/1.1",
                " HTTP/1.1 ",
                "HTTP/1.1",
            ],
        );
        out.extend_from_slice(version.as_bytes());
        out.extend_from_slice(eol(rng).as_bytes());
        for _ in 0..rng.usize(0..6) {
            let name = pick(
                rng,
                &[
                    "Host",
                    "host",
                    "User-Agent",
                    "X-A",
                    "Accept",
                    "Content-Length",
                    "content-length",
                    "CONTENT-LENGTH",
                    "Transfer-Encoding",
                    "Upgrade",
                    "Content-Lengthx",
                    "Bad Name",
                    "",
                    "Content-Length ",
                    "X\x7f",
                    "\u{80}",
                    " Host",
                ],
            );
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(pick(rng, &[":", ": ", ":\t", " :", ""]).as_bytes());
            let value_bytes: &[u8] = b"az09 ,;=\t\r\0\x7f\x80\xff\"";
            for _ in 0..rng.usize(0..10) {
                let b = if rng.u8(..) < 220 {
                    b'v'
                } else {
                    value_bytes[rng.usize(0..value_bytes.len())]
                };
                out.push(b);
            }
            out.extend_from_slice(eol(rng).as_bytes());
        }
        if rng.u8(..) < 240 {
            out.extend_from_slice(eol(rng).as_bytes());
        }
        if rng.bool() {
            out.extend_from_slice(b"GET /next HTTP/1.1\r\n\r\n");
        }
        out
    }

    /// The fast path for plain heads answers only where httparse's parse answers the same.
    #[test]
    fn plain_heads_are_measured_as_httparse_measures_them() {
        let mut rng = fastrand::Rng::with_seed(9112);
        let mut fast = 0;
        for _ in 0..200_000 {
            let input = generated_head(&mut rng);
            let Some(len) = plain_head_len(&input) else {
                continue;
            };
            fast += 1;
            let mut parsed = Framer::new();
            assert_eq!(
                parsed.head_parsed(&input),
                (len, true),
                "{:?}",
                String::from_utf8_lossy(&input)
            );
            assert_eq!(
                parsed.state,
                State::Idle,
                "{:?}",
                String::from_utf8_lossy(&input)
            );
        }
        // Enough inputs took the fast path for the comparison to mean something.
        assert!(fast > 5_000, "only {fast} fast-path heads");
    }

    #[test]
    fn the_head_state_is_visible_while_a_head_trickles_in() {
        let mut f = Framer::new();
        assert!(f.at_boundary() && !f.in_head());
        let fed = f.feed(b"GET / HT");
        assert_eq!(fed.consumed, 8);
        assert!(f.in_head() && !fed.head_completed);
        let fed = f.feed(b"TP/1.1\r\nHost: a\r\n\r\nGET");
        assert!(fed.head_completed && fed.request_ended);
        assert_eq!(fed.consumed, 19);
        assert!(f.at_boundary());
    }
}
