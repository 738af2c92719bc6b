//! The scalar model: what a YAML scalar means to kustomize, and how kustomize prints one.
//!
//! Kustomize reads a file with one of two rule sets and prints with a third step:
//! - kustomization files go through `sigs.k8s.io/yaml.YAMLToJSON`, i.e. go-yaml **v2**
//!   decoding into `interface{}` (YAML 1.1 words: `yes`/`no`/`on`/`off`/`y`/`n` are booleans,
//!   timestamps stay strings) and then `encoding/json`;
//! - resources are read by kyaml, i.e. go-yaml **v3** (`yes` is a string; a plain date becomes
//!   a `time.Time`);
//! - output is `json.Marshal` of the tree read back and printed by go-yaml v2
//!   (`sigs.k8s.io/yaml.JSONToYAML`), so a float takes the path
//!   `encoding/json` text → v2 resolution → `strconv.FormatFloat(f, 'g', -1, 64)`.
//!
//! Every function here is pure and table-tested below; `render` and `edit` both use them.

use std::borrow::Cow;

/// How a scalar was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Plain,
    SingleQuoted,
    DoubleQuoted,
    Literal,
    Folded,
}

impl Style {
    pub fn is_quoted_or_block(self) -> bool {
        self != Style::Plain
    }
}

/// Which go-yaml major version's resolution rules apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schema {
    /// go-yaml v2 (YAML 1.1 booleans), as `sigs.k8s.io/yaml` decodes kustomization files.
    V2,
    /// go-yaml v3 (YAML 1.2 core schema plus compatibility extras), as kyaml reads resources.
    V3,
}

/// The value a scalar resolves to.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar<'a> {
    Null,
    Bool(bool),
    /// Within `i64::MIN..=u64::MAX` (go-yaml returns `int`, `int64` or `uint64`).
    Int(i128),
    Float(f64),
    Str(Cow<'a, str>),
    /// A timestamp: `text` as written and the parsed value.
    Timestamp(Cow<'a, str>, Timestamp),
}

/// A tag as written (`!!int` has handle `!!`, suffix `int`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag {
    pub handle: String,
    pub suffix: String,
}

impl Tag {
    /// go-yaml `shortTag`: `!!int` for both `!!int` and `tag:yaml.org,2002:int`; `None` for
    /// tags outside the YAML namespace.
    pub fn core(&self) -> Option<&str> {
        match self.handle.as_str() {
            "!!" | "tag:yaml.org,2002:" => Some(self.suffix.as_str()),
            _ => None,
        }
    }

    /// For messages.
    pub fn text(&self) -> String {
        format!("{}{}", self.handle, self.suffix)
    }
}

/// go-yaml `resolve(tag, in)` plus the decoder's handling of quoted scalars: what a scalar
/// decodes to in `interface{}`. An explicit core tag that does not fit the text is an error
/// (`cannot decode !!str `x` as a !!int`).
pub fn resolve<'a>(
    text: &'a str,
    style: Style,
    tag: Option<&Tag>,
    schema: Schema,
) -> Result<Scalar<'a>, String> {
    let core = match tag {
        // A tag outside the YAML namespace (`!foo`) is not resolvable: the text is a string.
        Some(t) => match t.core() {
            Some(c) => Some(c),
            None => return Ok(Scalar::Str(Cow::Borrowed(text))),
        },
        None => None,
    };
    match core {
        None if style.is_quoted_or_block() => return Ok(Scalar::Str(Cow::Borrowed(text))),
        Some("str") => return Ok(Scalar::Str(Cow::Borrowed(text))),
        Some("binary") => return Ok(Scalar::Str(Cow::Owned(decode_binary(text)?))),
        Some("bool" | "int" | "float" | "null" | "timestamp") | None => {}
        Some("merge") if text == "<<" => return Ok(Scalar::Str(Cow::Borrowed(text))),
        // Other core tags (`!!seq` on a scalar, `!!set`, ...) are not resolvable either.
        Some(_) => return Ok(Scalar::Str(Cow::Borrowed(text))),
    }
    let resolved = resolve_plain(text, schema, core == Some("timestamp") || core.is_none());
    let Some(want) = core else {
        return Ok(resolved);
    };
    let got = match &resolved {
        Scalar::Null => "null",
        Scalar::Bool(_) => "bool",
        Scalar::Int(_) => "int",
        Scalar::Float(_) => "float",
        Scalar::Str(_) => "str",
        Scalar::Timestamp(..) => "timestamp",
    };
    match (want, resolved) {
        (w, r) if w == got => Ok(r),
        // `!!float 1` is the float 1.
        ("float", Scalar::Int(i)) => Ok(Scalar::Float(i as f64)),
        _ => Err(format!("cannot decode !!{got} `{text}` as a !!{want}")),
    }
}

/// `!!binary`: base64 (whitespace ignored), decoded to text as Go's `string([]byte)` then
/// `encoding/json` would show it (invalid UTF-8 becomes U+FFFD).
fn decode_binary(text: &str) -> Result<String, String> {
    use base64::Engine;
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(compact.as_bytes())
        .map_err(|_| "!!binary value contains invalid base64 data".to_string())?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// go-yaml's resolution of an untagged plain scalar.
fn resolve_plain(s: &str, schema: Schema, try_timestamp: bool) -> Scalar<'_> {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Scalar::Null,
        "true" | "True" | "TRUE" => return Scalar::Bool(true),
        "false" | "False" | "FALSE" => return Scalar::Bool(false),
        ".nan" | ".NaN" | ".NAN" => return Scalar::Float(f64::NAN),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Scalar::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return Scalar::Float(f64::NEG_INFINITY),
        _ => {}
    }
    if schema == Schema::V2 {
        match s {
            "y" | "Y" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" => return Scalar::Bool(true),
            "n" | "N" | "no" | "No" | "NO" | "off" | "Off" | "OFF" => return Scalar::Bool(false),
            _ => {}
        }
    }
    let first = s.as_bytes()[0];
    if first == b'.' {
        return match go_parse_float(s) {
            Some(f) => Scalar::Float(f),
            None => Scalar::Str(Cow::Borrowed(s)),
        };
    }
    if !(first.is_ascii_digit() || first == b'+' || first == b'-') {
        return Scalar::Str(Cow::Borrowed(s));
    }
    if try_timestamp && let Some(ts) = parse_timestamp(s) {
        return Scalar::Timestamp(Cow::Borrowed(s), ts);
    }
    let plain: Cow<'_, str> = if s.contains('_') {
        Cow::Owned(s.replace('_', ""))
    } else {
        Cow::Borrowed(s)
    };
    if let Some(i) = go_parse_int(&plain) {
        return Scalar::Int(i128::from(i));
    }
    if let Some(u) = go_parse_uint(&plain) {
        return Scalar::Int(i128::from(u));
    }
    if is_yaml_float(&plain)
        && let Some(f) = go_parse_float(&plain)
    {
        return Scalar::Float(f);
    }
    // go-yaml's own `0b`/`-0b` branches are reached only after `ParseInt(s, 0, 64)`, which
    // already reads those prefixes: nothing more resolves here.
    Scalar::Str(Cow::Borrowed(s))
}

/// Go's `strconv.ParseInt(s, 0, 64)`: optional sign, then a `0x`/`0o`/`0b` prefix (either
/// case) or a leading `0` for octal.
pub fn go_parse_int(s: &str) -> Option<i64> {
    let (neg, body) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let mag = go_parse_magnitude(body)?;
    let v = if neg {
        -i128::from(mag)
    } else {
        i128::from(mag)
    };
    i64::try_from(v).ok()
}

/// Go's `strconv.ParseUint(s, 0, 64)` (no sign allowed).
pub fn go_parse_uint(s: &str) -> Option<u64> {
    go_parse_magnitude(s)
}

fn go_parse_magnitude(body: &str) -> Option<u64> {
    if body.is_empty() {
        return None;
    }
    let b = body.as_bytes();
    let (radix, digits) = if b.len() > 1 && b[0] == b'0' {
        match b[1] {
            b'x' | b'X' => (16, &body[2..]),
            b'o' | b'O' => (8, &body[2..]),
            b'b' | b'B' => (2, &body[2..]),
            _ => (8, &body[1..]),
        }
    } else {
        (10, body)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    u64::from_str_radix(digits, radix).ok()
}

/// Go's `strconv.ParseFloat(s, 64)` for the decimal forms YAML lets through (a value out of
/// range is an error in Go, so `1e400` stays a string).
fn go_parse_float(s: &str) -> Option<f64> {
    let valid = s
        .bytes()
        .all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b))
        && s.bytes().any(|b| b.is_ascii_digit());
    if !valid {
        return None;
    }
    s.parse::<f64>().ok().filter(|f| f.is_finite())
}

/// go-yaml's `yamlStyleFloat`: `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`.
pub fn is_yaml_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        i += 1;
    }
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start
    };
    if i < b.len() && b[i] == b'.' {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    } else {
        if digits(&mut i) == 0 {
            return false;
        }
        if i < b.len() && b[i] == b'.' {
            i += 1;
            digits(&mut i);
        }
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// go-yaml v2 `isBase60Float`: `^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$`. v2 does
/// not resolve these, but its encoder quotes them for YAML 1.1 readers.
pub fn is_base60_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        i += 1;
    }
    if i >= b.len() || !b[i].is_ascii_digit() {
        return false;
    }
    i += 1;
    while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'_') {
        i += 1;
    }
    let mut groups = 0;
    while i < b.len() && b[i] == b':' {
        i += 1;
        let start = i;
        // `[0-5]?[0-9]`: one digit, or two with the first at most 5 (greedy, as the regex).
        if i < b.len() && b[i].is_ascii_digit() {
            i += 1;
            if i < b.len() && b[i].is_ascii_digit() && b[start] <= b'5' {
                i += 1;
            }
        }
        if i == start {
            return false;
        }
        groups += 1;
    }
    if groups == 0 {
        return false;
    }
    if i < b.len() && b[i] == b'.' {
        i += 1;
        while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'_') {
            i += 1;
        }
    }
    i == b.len()
}

/// A timestamp as go-yaml's `parseTimestamp` (Go's `time.Parse` with its four layouts)
/// accepts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timestamp {
    pub year: u32,
    pub month: u32,
    pub day: u32,
    /// `None` for a date without a time.
    pub time: Option<(u32, u32, u32)>,
    pub nanos: u32,
    /// Offset east of UTC in minutes.
    pub offset: i32,
}

impl Timestamp {
    /// Go's `time.RFC3339Nano`: how `encoding/json` prints a `time.Time`.
    pub fn rfc3339_nano(&self) -> String {
        let (h, m, s) = self.time.unwrap_or((0, 0, 0));
        let mut out = format!(
            "{:04}-{:02}-{:02}T{h:02}:{m:02}:{s:02}",
            self.year, self.month, self.day
        );
        if self.nanos > 0 {
            let frac = format!("{:09}", self.nanos);
            out.push('.');
            out.push_str(frac.trim_end_matches('0'));
        }
        if self.offset == 0 {
            out.push('Z');
        } else {
            let sign = if self.offset < 0 { '-' } else { '+' };
            let o = self.offset.abs();
            out.push_str(&format!("{sign}{:02}:{:02}", o / 60, o % 60));
        }
        out
    }
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400) => {
            29
        }
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// go-yaml `parseTimestamp`: Go `time.Parse` with the layouts
/// `2006-1-2T15:4:5.999999999Z07:00`, the same with `t`, `2006-1-2 15:4:5.999999999` and
/// `2006-1-2`. The `T` forms need a zone (`Z` or `±hh:mm`); the space form takes none.
pub fn parse_timestamp(s: &str) -> Option<Timestamp> {
    let b = s.as_bytes();
    let num = |i: &mut usize, min: usize, max: usize| -> Option<u32> {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() && *i - start < max {
            *i += 1;
        }
        if *i - start < min {
            return None;
        }
        s[start..*i].parse().ok()
    };
    let expect =
        |i: &mut usize, c: u8| -> Option<()> { (*i < b.len() && b[*i] == c).then(|| *i += 1) };
    let mut i = 0;
    let year = num(&mut i, 4, 4)?;
    expect(&mut i, b'-')?;
    let month = num(&mut i, 1, 2)?;
    expect(&mut i, b'-')?;
    let day = num(&mut i, 1, 2)?;
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    let mut ts = Timestamp {
        year,
        month,
        day,
        time: None,
        nanos: 0,
        offset: 0,
    };
    if i == b.len() {
        return Some(ts);
    }
    let sep = b[i];
    if sep != b'T' && sep != b't' && sep != b' ' {
        return None;
    }
    i += 1;
    let hour = num(&mut i, 1, 2).filter(|h| *h <= 23)?;
    expect(&mut i, b':')?;
    let min = num(&mut i, 1, 2).filter(|m| *m <= 59)?;
    expect(&mut i, b':')?;
    let sec = num(&mut i, 1, 2).filter(|s| *s <= 59)?;
    ts.time = Some((hour, min, sec));
    if i < b.len() && b[i] == b'.' {
        // Go reads every digit of a fraction and keeps nanoseconds (truncating).
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return None;
        }
        let digits: String = s[start..i].chars().take(9).collect();
        ts.nanos = format!("{digits:0<9}").parse().ok()?;
    }
    if sep == b' ' {
        return (i == b.len()).then_some(ts);
    }
    if i == b.len() {
        return None;
    }
    if b[i] == b'Z' {
        return (i + 1 == b.len()).then_some(ts);
    }
    if b[i] == b'+' || b[i] == b'-' {
        let neg = b[i] == b'-';
        i += 1;
        let h = num(&mut i, 2, 2)?;
        expect(&mut i, b':')?;
        let m = num(&mut i, 2, 2)?;
        if i != b.len() || h > 23 || m > 59 {
            return None;
        }
        let off = (h * 60 + m) as i32;
        ts.offset = if neg { -off } else { off };
        return Some(ts);
    }
    None
}

/// What the printer must know about a string: go-yaml v2's `stringv` prints it plain only
/// when v2 would read the plain text back as the same string (and it is no YAML 1.1 base-60
/// number).
pub fn plain_reads_as_string_v2(s: &str) -> bool {
    matches!(resolve_plain(s, Schema::V2, true), Scalar::Str(_)) && s != "<<" && !is_base60_float(s)
}

/// Whether a value written plain in a kustomization file stays the same string for every
/// reader that matters (go-yaml v2 as kustomize decodes the file, go-yaml v3 as kyaml-based
/// tools do, YAML 1.1 base-60 readers) and is valid as a plain scalar even inside a flow
/// collection. `set-image` and `promote` quote any other value.
pub fn plain_is_safe(s: &str) -> bool {
    plain_reads_as_string_v2(s)
        && matches!(resolve_plain(s, Schema::V3, true), Scalar::Str(_))
        && super::emit::plain_allowed(s, false)
        && !s.contains([',', '[', ']', '{', '}'])
}

/// Go's `encoding/json` text of a float64 (`'f'` format between 1e-6 and 1e21, else `'e'`
/// with a trimmed exponent), the form kustomize's JSON step gives it.
pub fn json_float(f: f64) -> String {
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let (mant, exp) = shortest_digits(f);
        let mut out = e_format(&mant, exp, f < 0.0);
        // Go cleans `e-09` to `e-9`.
        if let Some(pos) = out.rfind("e-0") {
            out.remove(pos + 2);
        }
        return out;
    }
    // Rust's `{}` prints the shortest round-trip digits without an exponent, like `'f', -1`.
    format!("{f}")
}

/// How kustomize prints a float that came from a resource: its JSON text read back by go-yaml
/// v2 (an integral value becomes an int) and printed with `strconv.FormatFloat(f, 'g', -1, 64)`.
pub fn kustomize_float(f: f64) -> String {
    let json = json_float(f);
    if let Some(i) = go_parse_int(&json) {
        return i.to_string();
    }
    if let Some(u) = go_parse_uint(&json) {
        return u.to_string();
    }
    format_g(json.parse::<f64>().unwrap_or(f))
}

/// Go's `strconv.FormatFloat(f, 'g', -1, 64)` with go-yaml's names for the non-finite values.
pub fn format_g(f: f64) -> String {
    if f.is_nan() {
        return ".nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { ".inf" } else { "-.inf" }.into();
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0" } else { "0" }.into();
    }
    let (digits, exp) = shortest_digits(f);
    // Shortest formatting decides with precision 6 ("%e is used if the exponent from the
    // conversion is less than -4 or greater than or equal to the precision").
    if !(-4..6).contains(&exp) {
        return e_format(&digits, exp, f < 0.0);
    }
    format!("{f}")
}

/// Go's `strconv.FormatFloat(f, 'g', -1, 32)` (sigs.k8s.io/yaml's text for float map keys).
pub fn format_g32(f: f64) -> String {
    let f32v = f as f32;
    if f32v.is_nan() {
        return ".nan".into();
    }
    if f32v.is_infinite() {
        return if f32v > 0.0 { ".inf" } else { "-.inf" }.into();
    }
    if f32v == 0.0 {
        return if f32v.is_sign_negative() { "-0" } else { "0" }.into();
    }
    let e = format!("{f32v:e}");
    let (mant, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits = mant.replace(['.', '-'], "");
    if !(-4..6).contains(&exp) {
        return e_format(&digits, exp, f32v < 0.0);
    }
    format!("{f32v}")
}

/// Shortest round-trip decimal digits of `f` and its decimal exponent (`d.ddd × 10^exp`).
fn shortest_digits(f: f64) -> (String, i32) {
    let e = format!("{f:e}");
    let (mant, exp) = e.split_once('e').unwrap_or((&e, "0"));
    (mant.replace(['.', '-'], ""), exp.parse().unwrap_or(0))
}

/// `d.ddde±XX` with at least two exponent digits, as Go's `%e`.
fn e_format(digits: &str, exp: i32, neg: bool) -> String {
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    out.push_str(&digits[..1]);
    if digits.len() > 1 {
        out.push('.');
        out.push_str(&digits[1..]);
    }
    out.push('e');
    out.push(if exp < 0 { '-' } else { '+' });
    out.push_str(&format!("{:02}", exp.abs()));
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn v3(s: &str) -> Scalar<'_> {
        resolve(s, Style::Plain, None, Schema::V3).unwrap()
    }
    fn v2(s: &str) -> Scalar<'_> {
        resolve(s, Style::Plain, None, Schema::V2).unwrap()
    }
    fn str_(s: &str) -> Scalar<'_> {
        Scalar::Str(Cow::Borrowed(s))
    }

    /// Plain-scalar resolution, each row checked against `kubectl kustomize` (v5.5.0) output.
    #[test]
    fn plain_resolution_table() {
        let rows: &[(&str, Scalar<'static>, Scalar<'static>)] = &[
            // text, go-yaml v3 (resources), go-yaml v2 (kustomization files)
            ("", Scalar::Null, Scalar::Null),
            ("~", Scalar::Null, Scalar::Null),
            ("NULL", Scalar::Null, Scalar::Null),
            ("yes", str_("yes"), Scalar::Bool(true)),
            ("off", str_("off"), Scalar::Bool(false)),
            ("y", str_("y"), Scalar::Bool(true)),
            ("True", Scalar::Bool(true), Scalar::Bool(true)),
            ("0x1F", Scalar::Int(31), Scalar::Int(31)),
            ("0o17", Scalar::Int(15), Scalar::Int(15)),
            ("0777", Scalar::Int(511), Scalar::Int(511)),
            ("089", Scalar::Float(89.0), Scalar::Float(89.0)),
            ("0b101", Scalar::Int(5), Scalar::Int(5)),
            ("-0b101", Scalar::Int(-5), Scalar::Int(-5)),
            ("+12", Scalar::Int(12), Scalar::Int(12)),
            ("1_000", Scalar::Int(1000), Scalar::Int(1000)),
            ("1:20", str_("1:20"), str_("1:20")),
            ("1e3", Scalar::Float(1000.0), Scalar::Float(1000.0)),
            ("1.", Scalar::Float(1.0), Scalar::Float(1.0)),
            (".5", Scalar::Float(0.5), Scalar::Float(0.5)),
            ("1e400", str_("1e400"), str_("1e400")),
            ("1.2.3", str_("1.2.3"), str_("1.2.3")),
            ("-", str_("-"), str_("-")),
            (
                "9223372036854775808",
                Scalar::Int(9_223_372_036_854_775_808),
                Scalar::Int(9_223_372_036_854_775_808),
            ),
            (
                "-9223372036854775809",
                Scalar::Float(-9.223_372_036_854_776e18),
                Scalar::Float(-9.223_372_036_854_776e18),
            ),
            (
                "+18446744073709551615",
                Scalar::Float(1.844_674_407_370_955_2e19),
                Scalar::Float(1.844_674_407_370_955_2e19),
            ),
        ];
        for (text, want3, want2) in rows {
            assert_eq!(&v3(text), want3, "v3 {text}");
            assert_eq!(&v2(text), want2, "v2 {text}");
        }
    }

    #[test]
    fn timestamps_follow_go_time_parse() {
        let ok = [
            "2001-12-14",
            "2001-1-2",
            "2000-02-29",
            "2001-12-14t21:59:43.10-05:00",
            "2001-12-14 21:59:43.10",
            "2001-12-14T1:2:3Z",
            "2001-12-14T21:59:43.1234567891Z",
        ];
        for s in ok {
            assert!(parse_timestamp(s).is_some(), "{s}");
        }
        let not = [
            "2001-12-14T21:59:43",
            "2001-12-14 21:59:43.10 -5",
            "2001-02-29",
            "2001-12-14T21:59:43+0100",
            "2001-12-14T24:00:00Z",
            "2001-12-14T21:59:60Z",
            "12001-12-14",
            "2001-12-14T21:59Z",
        ];
        for s in not {
            assert!(parse_timestamp(s).is_none(), "{s}");
        }
        assert_eq!(
            parse_timestamp("2001-1-2").unwrap().rfc3339_nano(),
            "2001-01-02T00:00:00Z"
        );
        assert_eq!(
            parse_timestamp("2001-12-14t21:59:43.10-05:00")
                .unwrap()
                .rfc3339_nano(),
            "2001-12-14T21:59:43.1-05:00"
        );
    }

    #[test]
    fn tags_and_styles() {
        let t = |h: &str, s: &str| Tag {
            handle: h.into(),
            suffix: s.into(),
        };
        assert_eq!(
            resolve("12", Style::DoubleQuoted, None, Schema::V3).unwrap(),
            str_("12")
        );
        assert_eq!(
            resolve("12", Style::Plain, Some(&t("!!", "str")), Schema::V3).unwrap(),
            str_("12")
        );
        assert_eq!(
            resolve("12", Style::DoubleQuoted, Some(&t("!!", "int")), Schema::V3).unwrap(),
            Scalar::Int(12)
        );
        assert_eq!(
            resolve("1", Style::Plain, Some(&t("!!", "float")), Schema::V3).unwrap(),
            Scalar::Float(1.0)
        );
        assert!(resolve("x", Style::Plain, Some(&t("!!", "int")), Schema::V3).is_err());
        assert_eq!(
            resolve("12", Style::Plain, Some(&t("!", "custom")), Schema::V3).unwrap(),
            str_("12")
        );
        assert_eq!(
            resolve("aGk=", Style::Plain, Some(&t("!!", "binary")), Schema::V3).unwrap(),
            Scalar::Str(Cow::Owned("hi".into()))
        );
    }

    /// Floats as kustomize prints them (right column: `kubectl kustomize` output).
    #[test]
    fn float_output_table() {
        let rows: &[(f64, &str)] = &[
            (123_456_789.123, "1.23456789123e+08"),
            (1.2345678901234568e29, "1.2345678901234568e+29"),
            (1e20, "1e+20"),
            (1e19, "10000000000000000000"),
            (1e-7, "1e-07"),
            (0.000001, "1e-06"),
            (0.0001, "0.0001"),
            (1.0, "1"),
            (-0.0, "0"),
            (0.5, "0.5"),
            (-500.0, "-500"),
            (123456.5, "123456.5"),
            (1234567.5, "1.2345675e+06"),
            // `encoding/json` writes -9223372036854776000, which overflows an int64.
            (-9.223372036854776e18, "-9.223372036854776e+18"),
        ];
        for (f, want) in rows {
            assert_eq!(kustomize_float(*f), *want, "{f}");
        }
    }

    #[test]
    fn json_float_is_go_encoding_json() {
        assert_eq!(json_float(1e21), "1e+21");
        assert_eq!(json_float(1e-7), "1e-7");
        assert_eq!(json_float(123456789.123), "123456789.123");
        assert_eq!(json_float(1e20), "100000000000000000000");
    }

    #[test]
    fn float32_key_text() {
        assert_eq!(format_g32(1.5), "1.5");
        assert_eq!(format_g32(0.1), "0.1");
        assert_eq!(format_g32(1e7), "1e+07");
    }

    #[test]
    fn printer_quotes_what_v2_would_not_read_as_a_string() {
        for s in [
            "yes",
            "on",
            "N",
            "123",
            "1.5",
            "1e3",
            "0x1F",
            "1:20",
            "2001-12-14",
            "",
            "~",
            "<<",
        ] {
            assert!(!plain_reads_as_string_v2(s), "{s} must be quoted");
        }
        for s in [
            "hello", "1.2.3", "v1", "a:b", "12-abc", "-", "1:60", "1e400",
        ] {
            assert!(plain_reads_as_string_v2(s), "{s} stays plain");
        }
    }

    #[test]
    fn edits_quote_anything_a_reader_could_take_for_another_type() {
        for s in [
            "2024-01-01",
            "1.10",
            "1234567",
            "true",
            "no",
            "0x1F",
            "12:30",
            "null",
            "a, b",
            "#x",
            "a: b",
            " lead",
            "0o17",
        ] {
            assert!(!plain_is_safe(s), "{s} must be quoted");
        }
        for s in [
            "v1.2.3",
            "abc1234",
            "sha256:aa",
            "acr.io/api-service",
            "1.2.3-rc1",
        ] {
            assert!(plain_is_safe(s), "{s} may stay plain");
        }
    }
}
