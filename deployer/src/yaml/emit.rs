//! YAML output exactly as kustomize prints a resource: `sigs.k8s.io/yaml.JSONToYAML`, i.e.
//! go-yaml v2 marshalling a generic map. This is a port of the parts of libyaml's emitter
//! (as go-yaml v2 carries it) that such a document reaches: block mappings with keys in
//! go-yaml v2's "natural" order, indentless sequences inside mappings, empty collections as
//! `{}`/`[]`, complex keys (`? `) for keys longer than 128 bytes or spanning lines, the
//! scalar style choice (`stringv` + `select_scalar_style`) and the four scalar writers with
//! folding at column 80.
//!
//! Input values must have been through [`super::value::normalise_output`] (the JSON step):
//! strings hold only what go-yaml can print, floats are finite.

use super::scalar::{kustomize_float, plain_reads_as_string_v2};
use super::value::Value;
use std::cmp::Ordering;

const BEST_WIDTH: usize = 80;
const BEST_INDENT: isize = 2;

/// One level of a tree the printer can walk: the resolved model or its JSON form.
#[derive(Debug)]
pub enum View<'a, T> {
    Null,
    Bool(bool),
    /// An integer's decimal text.
    Int(String),
    Float(f64),
    Str(&'a str),
    Seq(&'a [T]),
    Map(Vec<(&'a str, &'a T)>),
}

/// A tree the printer can walk.
pub trait Printable: Sized {
    fn view(&self) -> View<'_, Self>;
}

impl Printable for Value {
    fn view(&self) -> View<'_, Self> {
        match self {
            Value::Null(_) => View::Null,
            Value::Bool(b, _) => View::Bool(*b),
            Value::Int(i, _) => View::Int(i.to_string()),
            Value::Float(f, _) => View::Float(*f),
            Value::Str(s) => View::Str(s),
            Value::Time { json, .. } => View::Str(json),
            Value::Seq(items) => View::Seq(items),
            Value::Map(m) => View::Map(m.iter().map(|(k, v)| (k.as_str(), v)).collect()),
        }
    }
}

impl Printable for serde_json::Value {
    fn view(&self) -> View<'_, Self> {
        use serde_json::Value as J;
        match self {
            J::Null => View::Null,
            J::Bool(b) => View::Bool(*b),
            J::Number(n) => match (n.as_i64(), n.as_u64()) {
                (Some(i), _) => View::Int(i.to_string()),
                (_, Some(u)) => View::Int(u.to_string()),
                _ => View::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            J::String(s) => View::Str(s),
            J::Array(items) => View::Seq(items),
            J::Object(m) => View::Map(m.iter().map(|(k, v)| (k.as_str(), v)).collect()),
        }
    }
}

/// Prints one document (no `---`); always ends with a newline.
pub fn to_yaml<T: Printable>(v: &T) -> String {
    let mut e = Emitter {
        out: String::with_capacity(1024),
        column: 0,
        indent: -1,
        indents: Vec::new(),
        whitespace: true,
        indention: true,
        flow_level: 0,
    };
    e.node(v, Context::Root);
    // Document end (implicit): `write_indent`.
    e.write_indent();
    e.out
}

/// Where a node sits (libyaml's root/sequence/mapping/simple-key contexts).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Context {
    Root,
    Sequence,
    Mapping,
    SimpleKey,
}

struct Emitter {
    out: String,
    /// Column in characters, as libyaml counts it.
    column: usize,
    indent: isize,
    indents: Vec<isize>,
    /// The last character written was whitespace (or nothing yet on the line).
    whitespace: bool,
    /// Only indentation (or an indicator allowed there) was written on this line.
    indention: bool,
    flow_level: usize,
}

impl Emitter {
    fn put(&mut self, c: char) {
        self.out.push(c);
        self.column += 1;
    }
    fn put_break(&mut self) {
        self.out.push('\n');
        self.column = 0;
    }
    fn write_break(&mut self, c: char) {
        if c == '\n' {
            self.put_break();
        } else {
            self.out.push(c);
            self.column = 0;
        }
    }
    fn increase_indent(&mut self, flow: bool, indentless: bool) {
        self.indents.push(self.indent);
        if self.indent < 0 {
            self.indent = if flow { BEST_INDENT } else { 0 };
        } else if !indentless {
            self.indent += BEST_INDENT;
        }
    }
    fn pop_indent(&mut self) {
        self.indent = self.indents.pop().unwrap_or(-1);
    }
    fn indent_width(&self) -> usize {
        usize::try_from(self.indent).unwrap_or(0)
    }
    fn write_indent(&mut self) {
        let indent = self.indent_width();
        if !self.indention || self.column > indent || (self.column == indent && !self.whitespace) {
            self.put_break();
        }
        while self.column < indent {
            self.put(' ');
        }
        self.whitespace = true;
        self.indention = true;
    }
    fn write_indicator(&mut self, s: &str, need_ws: bool, is_ws: bool, is_indention: bool) {
        if need_ws && !self.whitespace {
            self.put(' ');
        }
        for c in s.chars() {
            self.put(c);
        }
        self.whitespace = is_ws;
        self.indention = self.indention && is_indention;
    }

    fn node<T: Printable>(&mut self, v: &T, ctx: Context) {
        match v.view() {
            View::Map(m) if !m.is_empty() => self.block_mapping(m),
            View::Seq(s) if !s.is_empty() => self.block_sequence(s, ctx),
            View::Map(_) => self.empty_flow('{', '}'),
            View::Seq(_) => self.empty_flow('[', ']'),
            View::Null => self.scalar("null", Requested::Plain, ctx),
            View::Bool(b) => self.scalar(if b { "true" } else { "false" }, Requested::Plain, ctx),
            View::Int(i) => self.scalar(&i, Requested::Plain, ctx),
            View::Float(f) => self.scalar(&kustomize_float(f), Requested::Plain, ctx),
            View::Str(s) => {
                // go-yaml v2 `stringv`.
                let style = if s.contains('\n') {
                    Requested::Literal
                } else if plain_reads_as_string_v2(s) {
                    Requested::Plain
                } else {
                    Requested::Double
                };
                self.scalar(s, style, ctx)
            }
        }
    }

    fn empty_flow(&mut self, open: char, close: char) {
        self.write_indicator(&open.to_string(), true, true, false);
        self.increase_indent(true, false);
        self.flow_level += 1;
        self.flow_level -= 1;
        self.pop_indent();
        self.write_indicator(&close.to_string(), false, false, false);
    }

    fn block_sequence<T: Printable>(&mut self, items: &[T], ctx: Context) {
        let indentless = ctx == Context::Mapping && !self.indention;
        self.increase_indent(false, indentless);
        for item in items {
            self.write_indent();
            self.write_indicator("-", true, false, true);
            self.node(item, Context::Sequence);
        }
        self.pop_indent();
    }

    fn block_mapping<T: Printable>(&mut self, mut entries: Vec<(&str, &T)>) {
        self.increase_indent(false, false);
        entries.sort_by(|a, b| key_order(a.0, b.0));
        for (k, v) in entries {
            self.write_indent();
            let analysis = analyze(k);
            // libyaml `check_simple_key`: at most 128 bytes and on one line.
            let simple = !analysis.multiline && k.len() <= 128;
            let style = if plain_reads_as_string_v2(k) {
                Requested::Plain
            } else {
                Requested::Double
            };
            let style = if k.contains('\n') {
                Requested::Literal
            } else {
                style
            };
            if simple {
                self.scalar(k, style, Context::SimpleKey);
                self.write_indicator(":", false, false, false);
            } else {
                self.write_indicator("?", true, false, true);
                self.scalar(k, style, Context::Mapping);
                self.write_indent();
                self.write_indicator(":", true, false, true);
            }
            self.node(v, Context::Mapping);
        }
        self.pop_indent();
    }

    fn scalar(&mut self, s: &str, requested: Requested, ctx: Context) {
        let a = analyze(s);
        let simple_key = ctx == Context::SimpleKey;
        // libyaml `select_scalar_style` (block context: flow_level is 0 here).
        let mut style = requested;
        if simple_key && a.multiline {
            style = Requested::Double;
        }
        if style == Requested::Plain {
            if !a.block_plain_allowed {
                style = Requested::Single;
            }
            if s.is_empty() && simple_key {
                style = Requested::Single;
            }
        }
        if style == Requested::Single && !a.single_quoted_allowed {
            style = Requested::Double;
        }
        if style == Requested::Literal && (!a.block_allowed || simple_key) {
            style = Requested::Double;
        }
        self.increase_indent(true, false);
        let breaks_allowed = !simple_key;
        match style {
            Requested::Plain => self.plain(s, breaks_allowed),
            Requested::Single => self.single(s, breaks_allowed),
            Requested::Double => self.double(s, breaks_allowed),
            Requested::Literal => self.literal(s),
        }
        self.pop_indent();
    }

    fn plain(&mut self, s: &str, allow_breaks: bool) {
        if !self.whitespace {
            self.put(' ');
        }
        let (mut spaces, mut breaks) = (false, false);
        let mut it = s.chars().peekable();
        while let Some(c) = it.next() {
            if c == ' ' {
                if allow_breaks && !spaces && self.column > BEST_WIDTH && it.peek() != Some(&' ') {
                    self.write_indent();
                } else {
                    self.put(c);
                }
                spaces = true;
            } else if is_break(c) {
                if !breaks && c == '\n' {
                    self.put_break();
                }
                self.write_break(c);
                self.indention = true;
                breaks = true;
            } else {
                if breaks {
                    self.write_indent();
                }
                self.put(c);
                self.indention = false;
                spaces = false;
                breaks = false;
            }
        }
        self.whitespace = false;
        self.indention = false;
    }

    fn single(&mut self, s: &str, allow_breaks: bool) {
        self.write_indicator("'", true, false, false);
        let (mut spaces, mut breaks) = (false, false);
        let mut it = s.chars().enumerate().peekable();
        while let Some((i, c)) = it.next() {
            let next = it.peek().map(|(_, n)| *n);
            if c == ' ' {
                if allow_breaks
                    && !spaces
                    && self.column > BEST_WIDTH
                    && i > 0
                    && next.is_some()
                    && next != Some(' ')
                {
                    self.write_indent();
                } else {
                    self.put(c);
                }
                spaces = true;
            } else if is_break(c) {
                if !breaks && c == '\n' {
                    self.put_break();
                }
                self.write_break(c);
                self.indention = true;
                breaks = true;
            } else {
                if breaks {
                    self.write_indent();
                }
                if c == '\'' {
                    self.put('\'');
                }
                self.put(c);
                self.indention = false;
                spaces = false;
                breaks = false;
            }
        }
        self.write_indicator("'", false, false, false);
        self.whitespace = false;
        self.indention = false;
    }

    fn double(&mut self, s: &str, allow_breaks: bool) {
        self.write_indicator("\"", true, false, false);
        // go-yaml v2's `is_bom(value, i)` looks at the start of the value, not at `i`: a
        // value that begins with a byte-order mark has every character escaped.
        let bom_start = s.starts_with('\u{FEFF}');
        let mut spaces = false;
        let mut it = s.chars().enumerate().peekable();
        while let Some((i, c)) = it.next() {
            let next = it.peek().map(|(_, n)| *n);
            if !is_printable(c) || bom_start || is_break(c) || c == '"' || c == '\\' {
                self.put('\\');
                match c {
                    '\0' => self.put('0'),
                    '\u{07}' => self.put('a'),
                    '\u{08}' => self.put('b'),
                    '\t' => self.put('t'),
                    '\n' => self.put('n'),
                    '\u{0B}' => self.put('v'),
                    '\u{0C}' => self.put('f'),
                    '\r' => self.put('r'),
                    '\u{1B}' => self.put('e'),
                    '"' => self.put('"'),
                    '\\' => self.put('\\'),
                    '\u{85}' => self.put('N'),
                    '\u{A0}' => self.put('_'),
                    '\u{2028}' => self.put('L'),
                    '\u{2029}' => self.put('P'),
                    _ => {
                        let v = c as u32;
                        let (marker, width) = if v <= 0xFF {
                            ('x', 2)
                        } else if v <= 0xFFFF {
                            ('u', 4)
                        } else {
                            ('U', 8)
                        };
                        self.put(marker);
                        for ch in format!("{v:0width$X}").chars() {
                            self.put(ch);
                        }
                    }
                }
                spaces = false;
            } else if c == ' ' {
                if allow_breaks && !spaces && self.column > BEST_WIDTH && i > 0 && next.is_some() {
                    self.write_indent();
                    if next == Some(' ') {
                        self.put('\\');
                    }
                } else {
                    self.put(c);
                }
                spaces = true;
            } else {
                self.put(c);
                spaces = false;
            }
        }
        self.write_indicator("\"", false, false, false);
        self.whitespace = false;
        self.indention = false;
    }

    fn literal(&mut self, s: &str) {
        self.write_indicator("|", true, false, false);
        // Block scalar hints.
        let first = s.chars().next();
        if first == Some(' ') || first.is_some_and(is_break) {
            let hint = char::from_digit(BEST_INDENT as u32, 10).unwrap_or('2');
            self.write_indicator(&hint.to_string(), false, false, false);
        }
        let mut rev = s.chars().rev();
        let last = rev.next();
        let before_last = rev.next();
        if !last.is_some_and(is_break) {
            self.write_indicator("-", false, false, false);
        } else if before_last.is_none() || before_last.is_some_and(is_break) {
            self.write_indicator("+", false, false, false);
        }
        self.put_break();
        self.indention = true;
        self.whitespace = true;
        let mut breaks = true;
        for c in s.chars() {
            if is_break(c) {
                self.write_break(c);
                self.indention = true;
                breaks = true;
            } else {
                if breaks {
                    self.write_indent();
                }
                self.put(c);
                self.indention = false;
                breaks = false;
            }
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Requested {
    Plain,
    Single,
    Double,
    Literal,
}

/// libyaml's scalar analysis (`yaml_emitter_analyze_scalar`).
#[derive(Debug, Clone, Copy)]
struct Analysis {
    multiline: bool,
    flow_plain_allowed: bool,
    block_plain_allowed: bool,
    single_quoted_allowed: bool,
    block_allowed: bool,
}

pub(crate) fn is_break(c: char) -> bool {
    matches!(c, '\r' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
}
fn is_blankz(c: Option<char>) -> bool {
    match c {
        None => true,
        Some(c) => c == ' ' || c == '\t' || is_break(c) || c == '\0',
    }
}
/// go-yaml v2's `is_printable`: no C1 controls (so no NEL either), no characters outside
/// the Basic Multilingual Plane (those are escaped as `\U0001F600`), no BOM, no U+FFFE/FFFF.
pub(crate) fn is_printable(c: char) -> bool {
    let v = c as u32;
    v == 0x0A
        || (0x20..=0x7E).contains(&v)
        || (0xA0..=0xD7FF).contains(&v)
        || ((0xE000..=0xFFFD).contains(&v) && v != 0xFEFF)
}

fn analyze(s: &str) -> Analysis {
    if s.is_empty() {
        return Analysis {
            multiline: false,
            flow_plain_allowed: false,
            block_plain_allowed: true,
            single_quoted_allowed: true,
            block_allowed: false,
        };
    }
    let mut block_indicators = false;
    let mut flow_indicators = false;
    if s.starts_with("---") || s.starts_with("...") {
        block_indicators = true;
        flow_indicators = true;
    }
    let (mut line_breaks, mut special) = (false, false);
    let (mut leading_space, mut leading_break, mut trailing_space, mut trailing_break) =
        (false, false, false, false);
    let (mut break_space, mut space_break, mut previous_space, mut previous_break) =
        (false, false, false, false);
    let mut preceded_by_ws = true;
    let mut it = s.chars().enumerate().peekable();
    while let Some((i, c)) = it.next() {
        let next = it.peek().map(|(_, n)| *n);
        let last = next.is_none();
        let followed_by_ws = next.is_none_or(|n| matches!(n, ' ' | '\t'));
        if i == 0 {
            match c {
                '#' | ',' | '[' | ']' | '{' | '}' | '&' | '*' | '!' | '|' | '>' | '\'' | '"'
                | '%' | '@' | '`' => {
                    flow_indicators = true;
                    block_indicators = true;
                }
                '?' | ':' => {
                    flow_indicators = true;
                    if followed_by_ws {
                        block_indicators = true;
                    }
                }
                '-' if followed_by_ws => {
                    flow_indicators = true;
                    block_indicators = true;
                }
                _ => {}
            }
        } else {
            match c {
                ',' | '?' | '[' | ']' | '{' | '}' => flow_indicators = true,
                ':' => {
                    flow_indicators = true;
                    if followed_by_ws {
                        block_indicators = true;
                    }
                }
                '#' if preceded_by_ws => {
                    flow_indicators = true;
                    block_indicators = true;
                }
                _ => {}
            }
        }
        if !is_printable(c) {
            special = true;
        }
        if c == ' ' {
            if i == 0 {
                leading_space = true;
            }
            if last {
                trailing_space = true;
            }
            if previous_break {
                break_space = true;
            }
            previous_space = true;
            previous_break = false;
        } else if is_break(c) {
            line_breaks = true;
            if i == 0 {
                leading_break = true;
            }
            if last {
                trailing_break = true;
            }
            if previous_space {
                space_break = true;
            }
            previous_space = false;
            previous_break = true;
        } else {
            previous_space = false;
            previous_break = false;
        }
        preceded_by_ws = is_blankz(Some(c));
    }
    let mut a = Analysis {
        multiline: line_breaks,
        flow_plain_allowed: true,
        block_plain_allowed: true,
        single_quoted_allowed: true,
        block_allowed: true,
    };
    if leading_space || leading_break || trailing_space || trailing_break {
        a.flow_plain_allowed = false;
        a.block_plain_allowed = false;
    }
    if trailing_space {
        a.block_allowed = false;
    }
    if break_space {
        a.flow_plain_allowed = false;
        a.block_plain_allowed = false;
        a.single_quoted_allowed = false;
    }
    if space_break || special {
        a.flow_plain_allowed = false;
        a.block_plain_allowed = false;
        a.single_quoted_allowed = false;
        a.block_allowed = false;
    }
    if line_breaks {
        a.flow_plain_allowed = false;
        a.block_plain_allowed = false;
    }
    if flow_indicators {
        a.flow_plain_allowed = false;
    }
    if block_indicators {
        a.block_plain_allowed = false;
    }
    a
}

/// Whether libyaml would write `s` as a plain scalar in block context (or, with `flow`,
/// inside a flow collection as well).
pub fn plain_allowed(s: &str, flow: bool) -> bool {
    let a = analyze(s);
    !s.is_empty() && a.block_plain_allowed && (!flow || a.flow_plain_allowed)
}

/// go-yaml v2's map key order (`keyList.Less`): runs of digits compare as numbers,
/// letters sort after non-letters, otherwise by code point.
pub fn key_order(a: &str, b: &str) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    let ar: Vec<char> = a.chars().collect();
    let br: Vec<char> = b.chars().collect();
    for i in 0..ar.len().min(br.len()) {
        if ar[i] == br[i] {
            continue;
        }
        let al = ar[i].is_alphabetic();
        let bl = br[i].is_alphabetic();
        if al && bl {
            return ar[i].cmp(&br[i]);
        }
        if al || bl {
            return if bl {
                Ordering::Less
            } else {
                Ordering::Greater
            };
        }
        let (mut an, mut bn): (i64, i64) = (0, 0);
        if ar[i] == '0' || br[i] == '0' {
            let mut j = i;
            while j > 0 && ar[j - 1].is_ascii_digit() {
                j -= 1;
                if ar[j] != '0' {
                    an = 1;
                    bn = 1;
                    break;
                }
            }
        }
        let mut ai = i;
        while ai < ar.len() && ar[ai].is_ascii_digit() {
            an = an
                .wrapping_mul(10)
                .wrapping_add(i64::from(ar[ai] as u8 - b'0'));
            ai += 1;
        }
        let mut bi = i;
        while bi < br.len() && br[bi].is_ascii_digit() {
            bn = bn
                .wrapping_mul(10)
                .wrapping_add(i64::from(br[bi] as u8 - b'0'));
            bi += 1;
        }
        if an != bn {
            return an.cmp(&bn);
        }
        if ai != bi {
            return ai.cmp(&bi);
        }
        return ar[i].cmp(&br[i]);
    }
    ar.len().cmp(&br.len())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::super::value::Map;
    use super::*;

    fn map(entries: &[(&str, Value)]) -> Value {
        Value::Map(
            entries
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        )
    }
    fn s(x: &str) -> Value {
        Value::Str(x.into())
    }

    #[test]
    fn key_order_is_go_yaml_v2_natural_order() {
        let mut keys = vec!["b", "a10", "a9", "A", "_x", "a", "1"];
        keys.sort_by(|a, b| key_order(a, b));
        // Non-letters compare by their digit runs (none here = 0), so `_x` precedes `1`.
        assert_eq!(keys, vec!["_x", "1", "A", "a", "a9", "a10", "b"]);
    }

    /// Layouts, each checked against `kubectl kustomize` (v5.5.0) output.
    #[test]
    fn layout_table() {
        let long_key = "k".repeat(130);
        let rows: Vec<(Value, &str)> = vec![
            (
                map(&[
                    ("b", Value::Seq(vec![s("x"), map(&[("y", Value::int(1))])])),
                    ("a", s("true")),
                    ("c", s(": t")),
                    ("d", s("x\ny\n")),
                    ("e", Value::Map(Map::new())),
                    ("f", Value::Seq(vec![])),
                    ("g", s("")),
                ]),
                "a: \"true\"\nb:\n- x\n- \"y\": 1\nc: ': t'\nd: |\n  x\n  y\ne: {}\nf: []\ng: \"\"\n",
            ),
            (
                map(&[(
                    "value",
                    s(
                        "Lorem ipsum dolor sit amet, consectetur adipiscing elit. Maecenas suscipit ex non molestie varius.",
                    ),
                )]),
                "value: Lorem ipsum dolor sit amet, consectetur adipiscing elit. Maecenas suscipit\n  ex non molestie varius.\n",
            ),
            (
                map(&[("a\nb", s("w")), (long_key.as_str(), s("v"))]),
                // Multi-line and long keys are complex keys.
                Box::leak(format!("? |-\n  a\n  b\n: w\n? {long_key}\n: v\n").into_boxed_str()),
            ),
            (
                map(&[(
                    "c\u{2028}d",
                    Value::Seq(vec![Value::int(1), map(&[("x\ny", Value::int(2))])]),
                )]),
                "? 'c\u{2028}  d'\n: - 1\n  - ? |-\n      x\n      y\n    : 2\n",
            ),
            (map(&[("e", s("\u{1F600} x"))]), "e: \"\\U0001F600 x\"\n"),
            (map(&[("z", s("a\n\n"))]), "z: |+\n  a\n\n"),
            (map(&[("z", Value::Seq(vec![s("\n")]))]), "z:\n- |2+\n\n"),
            (
                map(&[("f", Value::Float(123456789.123, None))]),
                "f: 1.23456789123e+08\n",
            ),
            (map(&[("b", s("\u{FEFF}a"))]), "b: \"\\uFEFF\\x61\"\n"),
            (map(&[("t", s("a\u{0B}b"))]), "t: \"a\\vb\"\n"),
        ];
        for (v, want) in rows {
            assert_eq!(to_yaml(&v), want);
        }
    }

    #[test]
    fn plain_allowed_in_block_and_flow() {
        assert!(plain_allowed("a,b", false));
        assert!(!plain_allowed("a,b", true));
        assert!(!plain_allowed("- a", false));
        assert!(!plain_allowed("a #b", false));
        assert!(plain_allowed("a#b", true));
    }
}
