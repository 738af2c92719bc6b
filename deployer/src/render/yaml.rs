//! YAML input: a stream of documents parsed into [`Value`]s with go-yaml v3's tag
//! resolution (what kyaml uses), plus go-yaml v2's resolution rules that the printer
//! needs to decide when a string must be quoted.

use super::value::{Map, Value};
use std::collections::HashMap;
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// Parses every document of `text`; empty documents are dropped (as kyaml's reader does).
pub fn parse_documents(text: &str) -> Result<Vec<Value>, String> {
    parse_with(text, true)
}

/// Parses a kustomization file: kustomize reads those with go-yaml v2 via JSON, where a
/// repeated key silently replaces the earlier one.
pub fn parse_lenient(text: &str) -> Result<Value, String> {
    let mut docs = parse_with(text, false)?;
    Ok(if docs.is_empty() {
        Value::Null
    } else {
        docs.remove(0)
    })
}

fn parse_with(text: &str, strict: bool) -> Result<Vec<Value>, String> {
    // A byte-order mark is not content; yaml-rust2 mis-scans one followed by a comment.
    let text = text.strip_prefix('\u{FEFF}').unwrap_or(text);
    let mut builder = Builder {
        strict,
        ..Default::default()
    };
    let mut parser = Parser::new_from_str(text);
    parser.load(&mut builder, true).map_err(|e| e.to_string())?;
    if let Some(err) = builder.error {
        return Err(err);
    }
    Ok(builder.docs.into_iter().filter(|d| !d.is_null()).collect())
}

/// Parses exactly one document (kustomization files, patches); empty input is `Null`.
pub fn parse_one(text: &str) -> Result<Value, String> {
    let mut docs = parse_documents(text)?;
    match docs.len() {
        0 => Ok(Value::Null),
        1 => Ok(docs.remove(0)),
        n => Err(format!("expected one YAML document, found {n}")),
    }
}

enum Frame {
    Seq(Vec<Value>, usize),
    /// Entries, the key waiting for its value, anchor id, keys that came from `<<`.
    Map(Map, Option<String>, usize, Vec<String>),
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    docs: Vec<Value>,
    anchors: HashMap<usize, Value>,
    error: Option<String>,
    strict: bool,
}

impl Builder {
    fn push_value(&mut self, v: Value, anchor: usize) {
        if anchor > 0 {
            self.anchors.insert(anchor, v.clone());
        }
        match self.stack.last_mut() {
            None => self.docs.push(v),
            Some(Frame::Seq(items, _)) => items.push(v),
            Some(Frame::Map(map, pending, _, merged)) => match pending.take() {
                None => {
                    let key = match v {
                        Value::Str(s) => s,
                        other => match other.scalar_text() {
                            Some(t) => t,
                            None => {
                                self.error = Some("a mapping key is not a scalar".into());
                                String::new()
                            }
                        },
                    };
                    *pending = Some(key);
                }
                Some(key) => {
                    // YAML merge keys (`<<: *anchor`), as go-yaml v3 decodes them.
                    if key == "<<"
                        && let Value::Map(src) = v
                    {
                        for (k, val) in src {
                            if !map.contains_key(&k) {
                                merged.push(k.clone());
                                map.insert(k, val);
                            }
                        }
                        return;
                    }
                    // Keys merged in by `<<` may be overridden by explicit ones.
                    if let Some(pos) = merged.iter().position(|m| *m == key) {
                        merged.remove(pos);
                        map.insert(key, v);
                        return;
                    }
                    if self.strict && map.contains_key(&key) {
                        // go-yaml v3 (kyaml) rejects duplicate keys.
                        self.error = Some(format!("mapping key \"{key}\" already defined"));
                        return;
                    }
                    map.insert(key, v);
                }
            },
        }
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, _mark: Marker) {
        match ev {
            Event::Scalar(text, style, anchor, tag) => {
                let v = resolve_v3(text, style, tag.as_ref());
                self.push_value(v, anchor);
            }
            Event::SequenceStart(anchor, _) => self.stack.push(Frame::Seq(Vec::new(), anchor)),
            Event::MappingStart(anchor, _) => {
                self.stack
                    .push(Frame::Map(Map::new(), None, anchor, Vec::new()))
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (v, anchor) = match self.stack.pop() {
                    Some(Frame::Seq(items, a)) => (Value::Seq(items), a),
                    Some(Frame::Map(map, _, a, _)) => (Value::Map(map), a),
                    None => return,
                };
                self.push_value(v, anchor);
            }
            Event::Alias(id) => {
                let v = self.anchors.get(&id).cloned().unwrap_or(Value::Null);
                self.push_value(v, 0);
            }
            Event::DocumentEnd => {
                // A document with no content at all yields nothing; keep counts aligned.
            }
            _ => {}
        }
    }
}

/// go-yaml v3 `resolve`: the value a scalar decodes to, given its style and tag.
fn resolve_v3(text: String, style: TScalarStyle, tag: Option<&Tag>) -> Value {
    if let Some(tag) = tag {
        let suffix = tag.suffix.as_str();
        if tag.handle == "!!" || tag.handle == "tag:yaml.org,2002:" {
            match suffix {
                "str" | "binary" => return Value::Str(text),
                "int" | "float" | "bool" | "null" => {
                    return plain_v3(&text).unwrap_or(Value::Str(text));
                }
                _ => {}
            }
        }
    }
    if style != TScalarStyle::Plain {
        return Value::Str(text);
    }
    plain_v3(&text).unwrap_or(Value::Str(text))
}

/// Resolution of a plain scalar under go-yaml v3 (YAML 1.2 core schema plus its
/// compatibility extras: `0777` octals, `0b` binaries, underscores in numbers).
/// Plain timestamps become `time.Time`, so they come out in RFC 3339 form.
fn plain_v3(s: &str) -> Option<Value> {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Some(Value::Null),
        "true" | "True" | "TRUE" => return Some(Value::Bool(true)),
        "false" | "False" | "FALSE" => return Some(Value::Bool(false)),
        _ => {}
    }
    let first = s.as_bytes()[0];
    if first == b'.' {
        return s
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .map(Value::Float);
    }
    if !(first.is_ascii_digit() || first == b'+' || first == b'-') {
        return None;
    }
    if let Some(ts) = parse_timestamp(s) {
        // Decoded as a time.Time and printed back by encoding/json.
        return Some(Value::Str(ts.rfc3339_nano()));
    }
    let plain = s.replace('_', "");
    if let Some(i) = go_parse_int(&plain) {
        return Some(Value::Int(i));
    }
    if is_yaml_float(&plain) {
        return plain.parse::<f64>().ok().map(Value::Float);
    }
    None
}

/// Go's `strconv.ParseInt(s, 0, 64)`: sign, then `0x`/`0o`/`0b` prefixes or a leading `0`
/// for octal.
fn go_parse_int(s: &str) -> Option<i64> {
    let (neg, body) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if body.is_empty() {
        return None;
    }
    let lower = body.to_ascii_lowercase();
    let (radix, digits) = if let Some(d) = lower.strip_prefix("0x") {
        (16, d)
    } else if let Some(d) = lower.strip_prefix("0o") {
        (8, d)
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, &lower[1..])
    } else {
        (10, lower.as_str())
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let mag = i128::from_str_radix(digits, radix).ok()?;
    let v = if neg { -mag } else { mag };
    i64::try_from(v).ok()
}

/// go-yaml's `yamlStyleFloat`: `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`.
fn is_yaml_float(s: &str) -> bool {
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

/// A timestamp as go-yaml's `parseTimestamp` accepts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timestamp {
    year: u32,
    month: u32,
    day: u32,
    hour: u32,
    min: u32,
    sec: u32,
    /// Nanoseconds.
    nanos: u32,
    /// Offset east of UTC in minutes.
    offset: i32,
}

impl Timestamp {
    /// Go's `time.RFC3339Nano`, which is how the value comes out of kustomize (a
    /// `time.Time` marshalled to JSON).
    pub fn rfc3339_nano(&self) -> String {
        let mut out = format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            self.year, self.month, self.day, self.hour, self.min, self.sec
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

/// go-yaml's `parseTimestamp`: `YYYY-M-D`, optionally followed by `T`/`t`/space and a
/// time `H:M:S[.frac]`, and for the `T` forms an optional `Z` or `±hh:mm` zone.
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
    let expect = |i: &mut usize, c: u8| -> Option<()> {
        if *i < b.len() && b[*i] == c {
            *i += 1;
            Some(())
        } else {
            None
        }
    };
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
        hour: 0,
        min: 0,
        sec: 0,
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
    ts.hour = num(&mut i, 1, 2).filter(|h| *h <= 23)?;
    expect(&mut i, b':')?;
    ts.min = num(&mut i, 1, 2).filter(|m| *m <= 59)?;
    expect(&mut i, b':')?;
    ts.sec = num(&mut i, 1, 2).filter(|s| *s <= 59)?;
    if i < b.len() && b[i] == b'.' {
        i += 1;
        let start = i;
        num(&mut i, 1, 9)?;
        let digits = &s[start..i];
        ts.nanos = format!("{digits:0<9}").parse().ok()?;
    }
    if i == b.len() {
        return Some(ts);
    }
    if sep == b' ' {
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
        if i != b.len() {
            return None;
        }
        let off = (h * 60 + m) as i32;
        ts.offset = if neg { -off } else { off };
        return Some(ts);
    }
    None
}

pub fn is_timestamp(s: &str) -> bool {
    parse_timestamp(s).is_some()
}

/// Whether go-yaml v2 would read `s`, written plain, back as a string (and not as a
/// bool, null, number or timestamp): if not, the printer must quote it. YAML 1.1 rules,
/// so `yes`, `on`, `n`, `0777`, `1_000` and `1:20` (sexagesimal) all need quotes.
pub fn plain_is_str_v2(s: &str) -> bool {
    if s.is_empty() {
        return false;
    }
    match s {
        "y" | "Y" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" | "n" | "N" | "no" | "No" | "NO"
        | "off" | "Off" | "OFF" | "true" | "True" | "TRUE" | "false" | "False" | "FALSE" | "~"
        | "null" | "Null" | "NULL" | ".nan" | ".NaN" | ".NAN" | ".inf" | ".Inf" | ".INF"
        | "+.inf" | "+.Inf" | "+.INF" | "-.inf" | "-.Inf" | "-.INF" | "<<" => return false,
        _ => {}
    }
    let first = s.as_bytes()[0];
    if first == b'.' {
        return s.parse::<f64>().is_err();
    }
    if first.is_ascii_digit() || first == b'+' || first == b'-' {
        if is_timestamp(s) {
            return false;
        }
        let plain = s.replace('_', "");
        if go_parse_int(&plain).is_some() || go_parse_uint(&plain) {
            return false;
        }
        if is_yaml_float(&plain) {
            return false;
        }
        if let Some(bits) = plain
            .strip_prefix("0b")
            .or_else(|| plain.strip_prefix("-0b"))
            && !bits.is_empty()
            && bits.chars().all(|c| c == '0' || c == '1')
        {
            return false;
        }
    }
    !is_base60_float(s)
}

fn go_parse_uint(s: &str) -> bool {
    let body = s.strip_prefix('+').unwrap_or(s);
    !body.is_empty() && body.chars().all(|c| c.is_ascii_digit()) && body.parse::<u64>().is_ok()
}

/// go-yaml v2 `isBase60Float`: `^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$`.
fn is_base60_float(s: &str) -> bool {
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
        while i < b.len() && b[i].is_ascii_digit() && i - start < 2 {
            i += 1;
        }
        let n = i - start;
        if n == 0 || (n == 2 && b[start] > b'5') {
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn v3_resolution_keeps_quoted_strings_and_yaml11_words() {
        let v = parse_one("a: 1\nb: '1'\nc: yes\nd: true\ne: 1.5\nf: 0777\ng: 2020-01-01\nh:\n")
            .unwrap();
        assert_eq!(v.get("a"), Some(&Value::Int(1)));
        assert_eq!(v.get("b"), Some(&Value::Str("1".into())));
        assert_eq!(v.get("c"), Some(&Value::Str("yes".into())));
        assert_eq!(v.get("d"), Some(&Value::Bool(true)));
        assert_eq!(v.get("e"), Some(&Value::Float(1.5)));
        assert_eq!(v.get("f"), Some(&Value::Int(511)));
        assert_eq!(v.get("g"), Some(&Value::Str("2020-01-01T00:00:00Z".into())));
        assert_eq!(v.get("h"), Some(&Value::Null));
    }

    #[test]
    fn v2_plain_string_detection() {
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
        ] {
            assert!(!plain_is_str_v2(s), "{s} must be quoted");
        }
        for s in ["hello", "1.2.3", "v1", "a:b", "12-abc", "-", "1:60"] {
            assert!(plain_is_str_v2(s), "{s} stays plain");
        }
    }

    #[test]
    fn anchors_and_empty_documents() {
        let docs = parse_documents("---\na: &x {b: 1}\nc: *x\n---\n---\nd: 2\n").unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0].path(&["c", "b"]), Some(&Value::Int(1)));
    }
}
