//! One JSON log line in the shape Go's `log/slog` JSON handler writes, which is what the
//! seed's Gin service logged (`slog.New(slog.NewJSONHandler(os.Stdout, nil))`):
//!
//! ```text
//! {"time":"2026-11-30T09:22:13.196287941Z","level":"INFO","msg":"request processed","statusCode":200,...}
//! ```
//!
//! `time` is RFC 3339 with nanoseconds, trailing zeros trimmed (Go's `time.RFC3339Nano`), in
//! UTC; `level` is `DEBUG`/`INFO`/`WARN`/`ERROR`; strings are escaped as slog escapes them
//! (`"`, `\`, control characters, U+2028/U+2029; `<`, `>`, `&` are left alone).
//!
//! Lines are built in a caller's byte buffer with no formatting machinery: the access log
//! writes one per request, and this is its whole cost.

use std::{
    cell::Cell,
    time::{SystemTime, UNIX_EPOCH},
};

use crate::word_scan;

/// A line under construction in `buf` (which is cleared first).
#[derive(Debug)]
pub struct LineWriter<'a> {
    buf: &'a mut Vec<u8>,
}

impl<'a> LineWriter<'a> {
    /// Starts a line: `{"time":…,"level":…,"msg":…`.
    pub fn start(buf: &'a mut Vec<u8>, time: SystemTime, level: &str, msg: &str) -> Self {
        buf.clear();
        buf.extend_from_slice(b"{\"time\":\"");
        push_rfc3339_nano(buf, time);
        buf.extend_from_slice(b"\",\"level\":\"");
        buf.extend_from_slice(level.as_bytes());
        buf.extend_from_slice(b"\",\"msg\":");
        push_json_str(buf, msg);
        Self { buf }
    }

    /// `,"key":"value"`; `key` must need no escaping (it is a literal of ours).
    pub fn str(&mut self, key: &str, value: &str) -> &mut Self {
        self.key(key);
        push_json_str(self.buf, value);
        self
    }

    /// `,"key":123`.
    pub fn uint(&mut self, key: &str, value: u64) -> &mut Self {
        self.key(key);
        push_u64(self.buf, value);
        self
    }

    /// `,"key":` followed by text the caller has already encoded as JSON.
    pub fn raw(&mut self, key: &str, json: &[u8]) -> &mut Self {
        self.key(key);
        self.buf.extend_from_slice(json);
        self
    }

    /// Fields the caller has already encoded as `,"k":v,…`.
    pub fn raw_fields(&mut self, fields: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(fields);
        self
    }

    /// Ends the line with `}` and a newline.
    pub fn finish(self) {
        self.buf.extend_from_slice(b"}\n");
    }

    fn key(&mut self, key: &str) {
        self.buf.extend_from_slice(b",\"");
        self.buf.extend_from_slice(key.as_bytes());
        self.buf.extend_from_slice(b"\":");
    }
}

/// Bytes that end a run of plain text in [`push_json_str`]: control characters, `"`, `\\`,
/// and 0xE2, the first byte of U+2028/U+2029 (checked in full when met).
const SPECIAL: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = true;
        b += 1;
    }
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table[0xe2] = true;
    table
};

/// Appends `s` as a JSON string (with quotes), escaped as slog's JSON handler does.
pub fn push_json_str(buf: &mut Vec<u8>, s: &str) {
    buf.push(b'"');
    push_json_escaped(buf, s);
    buf.push(b'"');
}

/// Appends the inside of a JSON string for `s` (no quotes), escaped as slog's JSON handler
/// does: for a value written in pieces, such as a path and its query.
pub fn push_json_escaped(buf: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = s.as_bytes();
    // Plain text is copied in runs; eight bytes at a time are checked for a special one.
    let mut start = 0;
    let mut i = plain_prefix(bytes);
    while i < bytes.len() {
        let b = bytes[i];
        if !SPECIAL[usize::from(b)] {
            i += 1;
            continue;
        }
        let escaped: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            // U+2028 and U+2029 (E2 80 A8/A9) break JavaScript parsers of JSON; slog escapes them.
            0xe2 if bytes.get(i + 1) == Some(&0x80) && bytes.get(i + 2) == Some(&0xa8) => {
                b"\\u2028"
            }
            0xe2 if bytes.get(i + 1) == Some(&0x80) && bytes.get(i + 2) == Some(&0xa9) => {
                b"\\u2029"
            }
            0xe2 => {
                i += 1;
                continue;
            }
            _ => &[],
        };
        buf.extend_from_slice(&bytes[start..i]);
        if escaped.is_empty() {
            buf.extend_from_slice(b"\\u00");
            buf.push(HEX[usize::from(b >> 4)]);
            buf.push(HEX[usize::from(b & 0xf)]);
            i += 1;
        } else {
            buf.extend_from_slice(escaped);
            i += if b == 0xe2 { 3 } else { 1 };
        }
        start = i;
    }
    buf.extend_from_slice(&bytes[start..]);
}

/// How many leading bytes of `bytes` hold no [`SPECIAL`] byte, counted in whole words of
/// eight (the rest is left to the byte loop).
fn plain_prefix(bytes: &[u8]) -> usize {
    word_scan::clear_words(bytes, |w| {
        word_scan::has_byte_below(w, 0x20)
            || word_scan::has_byte(w, b'"')
            || word_scan::has_byte(w, b'\\')
            || word_scan::has_byte(w, 0xe2)
    })
}

/// Two decimal digits of every number below 100, for [`push_u64`].
const DIGIT_PAIRS: &[u8; 200] = b"\
    0001020304050607080910111213141516171819\
    2021222324252627282930313233343536373839\
    4041424344454647484950515253545556575859\
    6061626364656667686970717273747576777879\
    8081828384858687888990919293949596979899";

/// Appends a decimal integer without the formatting machinery, two digits per division.
pub fn push_u64(buf: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    while n >= 100 {
        let pair = usize::try_from(n % 100).unwrap_or_default() * 2;
        n /= 100;
        at -= 2;
        digits[at..at + 2].copy_from_slice(&DIGIT_PAIRS[pair..pair + 2]);
    }
    if n >= 10 {
        let pair = usize::try_from(n).unwrap_or_default() * 2;
        at -= 2;
        digits[at..at + 2].copy_from_slice(&DIGIT_PAIRS[pair..pair + 2]);
    } else {
        at -= 1;
        digits[at] = b'0' + n as u8;
    }
    buf.extend_from_slice(&digits[at..]);
}

/// Appends `time` as Go's `time.RFC3339Nano` in UTC: `2006-01-02T15:04:05.999999999Z`, the
/// fraction without trailing zeros and left out when zero. Times before 1970 print as 1970.
pub fn push_rfc3339_nano(buf: &mut Vec<u8>, time: SystemTime) {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    // Date and time of day change once a second: each thread keeps the last second's text.
    SECOND.with(|cached| {
        let (at, text) = cached.get();
        if at == secs && text[0] != 0 {
            buf.extend_from_slice(&text);
        } else {
            let mut text = [0u8; 19];
            format_second(&mut text, secs);
            cached.set((secs, text));
            buf.extend_from_slice(&text);
        }
    });
    let mut nanos = since.subsec_nanos();
    if nanos > 0 {
        let mut width = 9;
        while nanos.is_multiple_of(10) {
            nanos /= 10;
            width -= 1;
        }
        buf.push(b'.');
        push_padded(buf, u64::from(nanos), width);
    }
    buf.push(b'Z');
}

thread_local! {
    /// The last second formatted on this thread: (seconds since the epoch, its text).
    static SECOND: Cell<(u64, [u8; 19])> = const { Cell::new((0, [0; 19])) };
}

/// `YYYY-MM-DDTHH:MM:SS` of `secs` since the epoch.
fn format_second(out: &mut [u8; 19], secs: u64) {
    let (year, month, day) = civil_from_days(secs / 86_400);
    let rem = secs % 86_400;
    let mut put = |at: usize, n: u64, width: usize| {
        let mut n = n;
        for i in (0..width).rev() {
            out[at + i] = b'0' + (n % 10) as u8;
            n /= 10;
        }
    };
    put(0, year, 4);
    put(5, month, 2);
    put(8, day, 2);
    put(11, rem / 3600, 2);
    put(14, rem / 60 % 60, 2);
    put(17, rem % 60, 2);
    out[4] = b'-';
    out[7] = b'-';
    out[10] = b'T';
    out[13] = b':';
    out[16] = b':';
}

fn push_padded(buf: &mut Vec<u8>, n: u64, width: usize) {
    let mut digits = [b'0'; 20];
    let mut n = n;
    let mut at = digits.len();
    while n > 0 {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
    }
    buf.extend_from_slice(&digits[(digits.len() - width).min(at)..]);
}

/// Days since 1970-01-01 → (year, month, day) in the proleptic Gregorian calendar
/// (Howard Hinnant's `civil_from_days`, for days ≥ 0).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn text(f: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut buf = Vec::new();
        f(&mut buf);
        String::from_utf8(buf).unwrap_or_default()
    }

    #[test]
    fn times_print_as_go_rfc3339_nano() {
        let at = |secs: u64, nanos: u32| {
            text(|b| push_rfc3339_nano(b, UNIX_EPOCH + Duration::new(secs, nanos)))
        };
        // Rows: (seconds since the epoch, nanoseconds, what Go's time.RFC3339Nano prints).
        let rows = [
            (0, 0, "1970-01-01T00:00:00Z"),
            (1_796_030_533, 196_287_941, "2026-11-30T09:22:13.196287941Z"),
            (1_796_030_533, 196_000_000, "2026-11-30T09:22:13.196Z"),
            (1_796_030_533, 1, "2026-11-30T09:22:13.000000001Z"),
            (951_782_400, 500_000_000, "2000-02-29T00:00:00.5Z"),
            (4_107_542_399, 0, "2100-02-28T23:59:59Z"),
        ];
        for (secs, nanos, want) in rows {
            assert_eq!(at(secs, nanos), want, "{secs}.{nanos}");
        }
    }

    #[test]
    fn strings_are_escaped_as_slog_escapes_them() {
        let rows = [
            ("plain", r#""plain""#),
            ("a\"b\\c", r#""a\"b\\c""#),
            ("tab\tnl\ncr\r", r#""tab\tnl\ncr\r""#),
            ("\u{1}\u{1f}", r#""\u0001\u001f""#),
            ("<a&b>", r#""<a&b>""#),
            ("µs é 😀 €‚", "\"µs é 😀 €‚\""),
            ("x\u{2028}y\u{2029}", r#""x\u2028y\u2029""#),
        ];
        for (input, want) in rows {
            assert_eq!(text(|b| push_json_str(b, input)), want, "{input:?}");
            let back: String = serde_json::from_str(want).unwrap_or_default();
            assert_eq!(back, input);
        }
    }

    #[test]
    fn a_line_is_one_json_object_in_field_order() {
        let line = text(|b| {
            let mut w = LineWriter::start(b, UNIX_EPOCH, "INFO", "request processed");
            w.uint("statusCode", 200)
                .uint("latency", 12_345)
                .str("path", "/x?q=\"1\"")
                .raw("n", b"null");
            w.finish();
        });
        assert_eq!(
            line,
            "{\"time\":\"1970-01-01T00:00:00Z\",\"level\":\"INFO\",\"msg\":\"request processed\",\"statusCode\":200,\"latency\":12345,\"path\":\"/x?q=\\\"1\\\"\",\"n\":null}\n"
        );
        let v: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
        assert_eq!(v["path"], "/x?q=\"1\"");
    }

    #[test]
    fn integers_print_in_full() {
        for n in [
            0,
            7,
            9,
            10,
            99,
            100,
            101,
            999,
            1000,
            99_999,
            1_000_000,
            u64::MAX,
        ] {
            assert_eq!(text(|b| push_u64(b, n)), n.to_string());
        }
        for shift in 0..64 {
            let n = (1u64 << shift) | (shift * 7);
            assert_eq!(text(|b| push_u64(b, n)), n.to_string());
        }
    }

    /// slog's escaping, one character at a time: the reference the word-at-a-time scan of
    /// [`push_json_escaped`] is checked against.
    fn escaped_by_chars(s: &str) -> String {
        let mut out = String::new();
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                '\u{2028}' => out.push_str("\\u2028"),
                '\u{2029}' => out.push_str("\\u2029"),
                c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
                c => out.push(c),
            }
        }
        out
    }

    #[test]
    fn the_word_scan_escapes_what_the_character_loop_escapes() {
        // Every special character at every position of strings 1..=24 characters long, in
        // plain ASCII and multi-byte text: a word test that missed a byte would copy it raw.
        let specials = [
            '"', '\\', '\n', '\r', '\t', '\u{0}', '\u{1f}', '\u{2028}', '\u{2029}', '\u{2027}', '€',
        ];
        for fill in ['a', 'é', '\u{7f}', ' '] {
            for len in 1..=24 {
                for at in 0..len {
                    for special in specials {
                        let s: String = (0..len)
                            .map(|i| if i == at { special } else { fill })
                            .collect();
                        assert_eq!(
                            text(|b| push_json_escaped(b, &s)),
                            escaped_by_chars(&s),
                            "{s:?}"
                        );
                    }
                }
            }
        }
        // Generated text over an alphabet dense in bytes next to the special ones.
        let alphabet = [
            'a', 'Z', '!', '#', '[', ']', '\u{1f}', ' ', '"', '\\', '\u{e1}', '\u{2028}',
            '\u{2000}', '\u{8080}', '😀',
        ];
        let mut rng = fastrand::Rng::with_seed(11);
        for _ in 0..5_000 {
            let len = rng.usize(0..40);
            let s: String = (0..len)
                .map(|_| alphabet[rng.usize(0..alphabet.len())])
                .collect();
            assert_eq!(
                text(|b| push_json_escaped(b, &s)),
                escaped_by_chars(&s),
                "{s:?}"
            );
        }
    }
}
