//! YAML output exactly as kustomize prints a resource: `json.Marshal` of the tree, then
//! `sigs.k8s.io/yaml.JSONToYAML`, i.e. go-yaml v2 marshalling a generic map. From that:
//! keys sorted by go-yaml v2's "natural" key order, sequences in a mapping not indented,
//! 2-space indent, empty collections as `{}`/`[]`, strings quoted only when they would
//! otherwise read back as another type or be invalid YAML, multi-line strings in literal
//! style, and long scalars folded at spaces past column 80 (libyaml's `best_width`).

use super::value::{Map, Value};
use super::yaml::plain_is_str_v2;
use std::cmp::Ordering;

const BEST_WIDTH: usize = 80;

/// Prints one document (no `---`); always ends with a newline.
pub fn to_yaml(v: &Value) -> String {
    let mut e = Emitter::default();
    match v {
        Value::Map(m) if !m.is_empty() => e.block_map(m, 0),
        Value::Seq(s) if !s.is_empty() => e.block_seq(s, 0),
        other => {
            e.scalar_or_flow(other, 0, false);
            e.out.push('\n');
        }
    }
    e.out
}

#[derive(Default)]
struct Emitter {
    out: String,
    /// Current column in characters, as libyaml counts it.
    column: usize,
}

impl Emitter {
    fn put(&mut self, s: &str) {
        self.out.push_str(s);
        self.column += s.chars().count();
    }
    fn put_char(&mut self, c: char) {
        self.out.push(c);
        self.column += 1;
    }
    fn newline_indent(&mut self, indent: usize) {
        self.out.push('\n');
        for _ in 0..indent {
            self.out.push(' ');
        }
        self.column = indent;
    }
    /// Starts a new line at `indent` unless the cursor already sits there after `- `.
    fn line_at(&mut self, indent: usize, first_in_seq_item: bool) {
        if first_in_seq_item {
            return;
        }
        if !self.out.is_empty() && !self.out.ends_with('\n') {
            self.out.push('\n');
        }
        for _ in 0..indent {
            self.out.push(' ');
        }
        self.column = indent;
    }

    fn block_map(&mut self, m: &Map, indent: usize) {
        self.block_map_inner(m, indent, false);
    }

    fn block_map_inner(&mut self, m: &Map, indent: usize, in_seq_item: bool) {
        let mut keys: Vec<&String> = m.keys().collect();
        keys.sort_by(|a, b| key_order(a, b));
        for (i, k) in keys.into_iter().enumerate() {
            self.line_at(indent, in_seq_item && i == 0);
            self.key(k);
            self.put_char(':');
            let v = &m[k.as_str()];
            match v {
                Value::Map(child) if !child.is_empty() => {
                    self.out.push('\n');
                    self.column = 0;
                    self.block_map(child, indent + 2);
                }
                Value::Seq(items) if !items.is_empty() => {
                    // go-yaml v2 writes a sequence inside a mapping "indentless".
                    self.out.push('\n');
                    self.column = 0;
                    self.block_seq(items, indent);
                }
                _ => {
                    self.put_char(' ');
                    self.scalar_or_flow(v, indent + 2, false);
                }
            }
        }
        if !self.out.ends_with('\n') {
            self.out.push('\n');
            self.column = 0;
        }
    }

    fn block_seq(&mut self, items: &[Value], indent: usize) {
        self.block_seq_inner(items, indent, false);
    }

    fn block_seq_inner(&mut self, items: &[Value], indent: usize, in_seq_item: bool) {
        for (i, item) in items.iter().enumerate() {
            self.line_at(indent, in_seq_item && i == 0);
            self.put("- ");
            match item {
                Value::Map(m) if !m.is_empty() => self.block_map_inner(m, indent + 2, true),
                Value::Seq(s) if !s.is_empty() => self.block_seq_inner(s, indent + 2, true),
                _ => self.scalar_or_flow(item, indent + 2, false),
            }
        }
        if !self.out.ends_with('\n') {
            self.out.push('\n');
            self.column = 0;
        }
    }

    fn key(&mut self, k: &str) {
        // Keys are "simple keys": never folded, multi-line ones double-quoted.
        self.string(k, 0, true);
    }

    /// A scalar or empty collection; `indent` is where continuation lines start.
    fn scalar_or_flow(&mut self, v: &Value, indent: usize, simple_key: bool) {
        match v {
            Value::Null => self.put("null"),
            Value::Bool(b) => self.put(if *b { "true" } else { "false" }),
            Value::Int(i) => self.put(&i.to_string()),
            Value::Float(f) => self.put(&format_float(*f)),
            Value::Str(s) => self.string(s, indent, simple_key),
            Value::Map(_) => self.put("{}"),
            Value::Seq(_) => self.put("[]"),
        }
    }

    fn string(&mut self, s: &str, indent: usize, simple_key: bool) {
        let a = analyze(s);
        // go-yaml v2 `stringv`: literal for multi-line, plain when it reads back as a
        // string, otherwise double-quoted; libyaml then downgrades what it cannot write.
        let mut style = if s.contains('\n') {
            Style::Literal
        } else if plain_is_str_v2(s) {
            Style::Plain
        } else {
            Style::Double
        };
        if simple_key && a.multiline {
            style = Style::Double;
        }
        if style == Style::Plain && (!a.block_plain_allowed || (s.is_empty() && simple_key)) {
            style = Style::Single;
        }
        if style == Style::Single && !a.single_quoted_allowed {
            style = Style::Double;
        }
        if style == Style::Literal && (!a.block_allowed || simple_key) {
            style = Style::Double;
        }
        let breaks = !simple_key;
        match style {
            Style::Plain => self.plain(s, indent, breaks),
            Style::Single => self.single(s, indent, breaks),
            Style::Double => self.double(s, indent, breaks),
            Style::Literal => self.literal(s, indent),
        }
    }

    fn plain(&mut self, s: &str, indent: usize, allow_breaks: bool) {
        let chars: Vec<char> = s.chars().collect();
        let mut spaces = false;
        for (i, &c) in chars.iter().enumerate() {
            if c == ' ' {
                let next_space = chars.get(i + 1) == Some(&' ');
                if allow_breaks && !spaces && self.column > BEST_WIDTH && !next_space {
                    self.newline_indent(indent);
                } else {
                    self.put_char(c);
                }
                spaces = true;
            } else {
                self.put_char(c);
                spaces = false;
            }
        }
    }

    fn single(&mut self, s: &str, indent: usize, allow_breaks: bool) {
        let chars: Vec<char> = s.chars().collect();
        self.put_char('\'');
        let mut spaces = false;
        let mut breaks = false;
        for (i, &c) in chars.iter().enumerate() {
            if c == ' ' {
                let next_space = chars.get(i + 1) == Some(&' ');
                if allow_breaks
                    && !spaces
                    && self.column > BEST_WIDTH
                    && i > 0
                    && i + 1 < chars.len()
                    && !next_space
                {
                    self.newline_indent(indent);
                } else {
                    self.put_char(c);
                }
                spaces = true;
            } else if is_break(c) {
                if !breaks && c == '\n' {
                    self.out.push('\n');
                }
                self.out.push('\n');
                self.column = 0;
                breaks = true;
            } else {
                if breaks {
                    self.out.truncate(self.out.trim_end_matches(' ').len());
                    for _ in 0..indent {
                        self.out.push(' ');
                    }
                    self.column = indent;
                }
                if c == '\'' {
                    self.put_char('\'');
                }
                self.put_char(c);
                spaces = false;
                breaks = false;
            }
        }
        self.put_char('\'');
    }

    fn double(&mut self, s: &str, indent: usize, allow_breaks: bool) {
        let chars: Vec<char> = s.chars().collect();
        self.put_char('"');
        let mut spaces = false;
        for (i, &c) in chars.iter().enumerate() {
            if !is_printable(c) || c == '\u{FEFF}' || is_break(c) || c == '"' || c == '\\' {
                self.put_char('\\');
                match c {
                    '\0' => self.put_char('0'),
                    '\u{07}' => self.put_char('a'),
                    '\u{08}' => self.put_char('b'),
                    '\t' => self.put_char('t'),
                    '\n' => self.put_char('n'),
                    '\u{0B}' => self.put_char('v'),
                    '\u{0C}' => self.put_char('f'),
                    '\r' => self.put_char('r'),
                    '\u{1B}' => self.put_char('e'),
                    '"' => self.put_char('"'),
                    '\\' => self.put_char('\\'),
                    '\u{85}' => self.put_char('N'),
                    '\u{A0}' => self.put_char('_'),
                    '\u{2028}' => self.put_char('L'),
                    '\u{2029}' => self.put_char('P'),
                    _ => {
                        let v = c as u32;
                        let text = if v <= 0xFF {
                            format!("x{v:02X}")
                        } else if v <= 0xFFFF {
                            format!("u{v:04X}")
                        } else {
                            format!("U{v:08X}")
                        };
                        self.put(&text);
                    }
                }
                spaces = false;
            } else if c == ' ' {
                if allow_breaks
                    && !spaces
                    && self.column > BEST_WIDTH
                    && i > 0
                    && i + 1 < chars.len()
                {
                    self.newline_indent(indent);
                    if chars.get(i + 1) == Some(&' ') {
                        self.put_char('\\');
                    }
                } else {
                    self.put_char(c);
                }
                spaces = true;
            } else {
                self.put_char(c);
                spaces = false;
            }
        }
        self.put_char('"');
    }

    fn literal(&mut self, s: &str, indent: usize) {
        self.put_char('|');
        let first = s.chars().next();
        if first == Some(' ') || first.is_some_and(is_break) {
            self.put_char('2');
        }
        let mut rev = s.chars().rev();
        let last = rev.next();
        let before_last = rev.next();
        if !last.is_some_and(is_break) {
            self.put_char('-');
        } else if before_last.is_none() || before_last.is_some_and(is_break) {
            self.put_char('+');
        }
        self.out.push('\n');
        self.column = 0;
        let mut at_line_start = true;
        for c in s.chars() {
            if is_break(c) {
                self.out.push('\n');
                self.column = 0;
                at_line_start = true;
            } else {
                if at_line_start {
                    for _ in 0..indent {
                        self.out.push(' ');
                    }
                    self.column = indent;
                    at_line_start = false;
                }
                self.put_char(c);
            }
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Style {
    Plain,
    Single,
    Double,
    Literal,
}

struct Analysis {
    multiline: bool,
    block_plain_allowed: bool,
    single_quoted_allowed: bool,
    block_allowed: bool,
}

fn is_break(c: char) -> bool {
    matches!(c, '\r' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
}
fn is_blank_or_end(c: Option<char>) -> bool {
    match c {
        None => true,
        Some(c) => c == ' ' || c == '\t' || is_break(c) || c == '\0',
    }
}
fn is_printable(c: char) -> bool {
    let v = c as u32;
    v == 0x0A
        || (0x20..=0x7E).contains(&v)
        || v == 0x85
        || (0xA0..=0xD7FF).contains(&v)
        || ((0xE000..=0xFFFD).contains(&v) && v != 0xFEFF)
        || (0x10000..=0x10FFFF).contains(&v)
}

/// libyaml `yaml_emitter_analyze_scalar` (block context; flow rules are not needed since
/// go-yaml v2 never writes non-empty flow collections for generic maps).
fn analyze(s: &str) -> Analysis {
    if s.is_empty() {
        return Analysis {
            multiline: false,
            block_plain_allowed: true,
            single_quoted_allowed: true,
            block_allowed: false,
        };
    }
    let chars: Vec<char> = s.chars().collect();
    let mut block_indicators = s.starts_with("---") || s.starts_with("...");
    let (mut leading_space, mut leading_break, mut trailing_space, mut trailing_break) =
        (false, false, false, false);
    let (mut break_space, mut space_break, mut previous_space, mut previous_break) =
        (false, false, false, false);
    let (mut line_breaks, mut special) = (false, false);
    let mut preceded_by_ws = true;
    let n = chars.len();
    for i in 0..n {
        let c = chars[i];
        let followed_by_ws = is_blank_or_end(chars.get(i + 1).copied());
        if i == 0 {
            match c {
                '#' | ',' | '[' | ']' | '{' | '}' | '&' | '*' | '!' | '|' | '>' | '\'' | '"'
                | '%' | '@' | '`' => block_indicators = true,
                '?' | ':' | '-' if followed_by_ws => block_indicators = true,
                _ => {}
            }
        } else {
            match c {
                ':' if followed_by_ws => block_indicators = true,
                '#' if preceded_by_ws => block_indicators = true,
                _ => {}
            }
        }
        if !is_printable(c) {
            special = true;
        }
        if is_break(c) {
            line_breaks = true;
        }
        if c == ' ' {
            if i == 0 {
                leading_space = true;
            }
            if i == n - 1 {
                trailing_space = true;
            }
            if previous_break {
                break_space = true;
            }
            previous_space = true;
            previous_break = false;
        } else if is_break(c) {
            if i == 0 {
                leading_break = true;
            }
            if i == n - 1 {
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
        preceded_by_ws = is_blank_or_end(Some(c));
    }
    let mut a = Analysis {
        multiline: line_breaks,
        block_plain_allowed: true,
        single_quoted_allowed: true,
        block_allowed: true,
    };
    if leading_space || leading_break || trailing_space || trailing_break {
        a.block_plain_allowed = false;
    }
    if trailing_space {
        a.block_allowed = false;
    }
    if break_space {
        a.block_plain_allowed = false;
        a.single_quoted_allowed = false;
    }
    if space_break || special {
        a.block_plain_allowed = false;
        a.single_quoted_allowed = false;
        a.block_allowed = false;
    }
    if line_breaks || block_indicators {
        a.block_plain_allowed = false;
    }
    a
}

/// go-yaml v2's map key order (`keyList.Less`): runs of digits compare as numbers,
/// letters sort after non-letters, otherwise by code point.
pub fn key_order(a: &str, b: &str) -> Ordering {
    let ar: Vec<char> = a.chars().collect();
    let br: Vec<char> = b.chars().collect();
    let mut i = 0;
    while i < ar.len() && i < br.len() {
        if ar[i] == br[i] {
            i += 1;
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

/// A float as it comes out of kustomize: `json.Marshal` (which drops `.0`), read back by
/// go-yaml v2 (integral values become ints) and printed with `FormatFloat(f, 'g', -1)`.
pub fn format_float(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e21 {
        if f.abs() < 9.2e18 {
            return format!("{}", f as i64);
        }
        return go_g_format(f);
    }
    go_g_format(f)
}

/// Go's `strconv.FormatFloat(f, 'g', -1, 64)`.
fn go_g_format(f: f64) -> String {
    if f.is_nan() {
        return ".nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 {
            ".inf".into()
        } else {
            "-.inf".into()
        };
    }
    // Shortest round-trip digits via Rust's `{:e}` (also shortest round-trip).
    let e = format!("{f:e}");
    let (mant, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits = mant.replace(['.', '-'], "").len() as i32;
    let eprec = if digits > 21 { digits } else { 21 };
    if exp < -4 || exp >= eprec {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mant}e{sign}{:02}", exp.abs())
    } else {
        format!("{f}")
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::render::yaml::parse_one;

    #[test]
    fn key_order_is_go_yaml_v2_natural_order() {
        let mut keys = vec!["b", "a10", "a9", "A", "_x", "a", "1"];
        keys.sort_by(|a, b| key_order(a, b));
        // Non-letters compare by their digit runs (none here = 0), so `_x` precedes `1`.
        assert_eq!(keys, vec!["_x", "1", "A", "a", "a9", "a10", "b"]);
    }

    #[test]
    fn quoting_and_layout() {
        let v = parse_one(
            "b: [x, {y: 1}]\na: 'true'\nc: ': t'\nd: \"x\\ny\\n\"\ne: {}\nf: []\ng: \"\"\n",
        )
        .unwrap();
        assert_eq!(
            to_yaml(&v),
            "a: \"true\"\nb:\n- x\n- \"y\": 1\nc: ': t'\nd: |\n  x\n  y\ne: {}\nf: []\ng: \"\"\n"
        );
    }

    #[test]
    fn long_plain_strings_fold_past_column_80() {
        let long = "Lorem ipsum dolor sit amet, consectetur adipiscing elit. Maecenas suscipit ex non molestie varius.";
        let mut m = Map::new();
        m.insert("value".into(), Value::Str(long.into()));
        let out = to_yaml(&Value::Map(m));
        assert_eq!(
            out,
            "value: Lorem ipsum dolor sit amet, consectetur adipiscing elit. Maecenas suscipit\n  ex non molestie varius.\n"
        );
    }
}
