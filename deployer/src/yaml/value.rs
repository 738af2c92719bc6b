//! The document model: what kustomize's tree holds once scalars are resolved (the JSON-visible
//! data; comments, anchors and styles are gone). Map keys keep input order (transformers that
//! add fields append them); the printer sorts them.
//!
//! [`from_node`] decodes a resource with kyaml's (go-yaml v3) rules under the alias budget;
//! [`normalise_output`] applies kustomize's JSON round trip before printing.

use super::scalar::{self, Scalar, Schema, Style};
use super::tree::{Limits, Node, NodeKind};
use indexmap::IndexMap;

pub type Map = IndexMap<String, Value>;

/// A resolved node. Non-string scalars keep the text they were written as (`1.50`, `0x10`,
/// `~`), which kustomize uses wherever it reads a node's `Value` rather than its meaning
/// (annotations, selectors, merge keys, replacements); `None` for values the build made.
#[derive(Debug, Clone)]
pub enum Value {
    Null(Text),
    Bool(bool, Text),
    /// Within `i64::MIN..=u64::MAX`, as go-yaml produces them.
    Int(i128, Text),
    Float(f64, Text),
    Str(String),
    /// An unquoted date (`2024-01-01`): kyaml decodes it to a `time.Time`, so its JSON form
    /// is the RFC 3339 time (`2024-01-01T00:00:00Z`) while its text stays as written.
    Time {
        json: String,
        written: Box<str>,
    },
    Seq(Vec<Value>),
    Map(Map),
}

/// The text a scalar was written as, when it came from a file.
pub type Text = Option<Box<str>>;

/// Equality of meaning (JSON equality): the written text does not count.
impl PartialEq for Value {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Value::Null(_), Value::Null(_)) => true,
            (Value::Bool(a, _), Value::Bool(b, _)) => a == b,
            (Value::Int(a, _), Value::Int(b, _)) => a == b,
            (Value::Float(a, _), Value::Float(b, _)) => a == b,
            (Value::Int(a, _), Value::Float(b, _)) | (Value::Float(b, _), Value::Int(a, _)) => {
                *a as f64 == *b
            }
            (Value::Str(a), Value::Str(b)) => a == b,
            (Value::Time { json: a, .. }, Value::Time { json: b, .. }) => a == b,
            (Value::Seq(a), Value::Seq(b)) => a == b,
            (Value::Map(a), Value::Map(b)) => a == b,
            _ => false,
        }
    }
}

impl Value {
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }
    pub fn as_map(&self) -> Option<&Map> {
        match self {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }
    pub fn as_map_mut(&mut self) -> Option<&mut Map> {
        match self {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }
    pub fn as_seq(&self) -> Option<&Vec<Value>> {
        match self {
            Value::Seq(s) => Some(s),
            _ => None,
        }
    }
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null(_))
    }
    pub const NULL: Value = Value::Null(None);
    pub fn int(i: impl Into<i128>) -> Value {
        Value::Int(i.into(), None)
    }
    pub fn bool(b: bool) -> Value {
        Value::Bool(b, None)
    }
    /// The text of a scalar node as kyaml's getters read it (`GetName`, `GetNamespace`): a
    /// string's value, or the text any other scalar was written as.
    pub fn text(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            other => other.written(),
        }
    }
    /// The text the scalar was written as, if it came from a file.
    pub fn written(&self) -> Option<&str> {
        match self {
            Value::Null(t) | Value::Bool(_, t) | Value::Int(_, t) | Value::Float(_, t) => {
                t.as_deref()
            }
            Value::Time { written, .. } => Some(written),
            _ => None,
        }
    }

    /// Looks a field up in a mapping; `None` for other kinds.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.as_map().and_then(|m| m.get(key))
    }
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Value> {
        self.as_map_mut().and_then(|m| m.get_mut(key))
    }
    /// Follows a path of mapping keys.
    pub fn path(&self, keys: &[&str]) -> Option<&Value> {
        keys.iter().try_fold(self, |v, k| v.get(k))
    }
    pub fn str_at(&self, keys: &[&str]) -> Option<&str> {
        self.path(keys).and_then(Value::as_str)
    }
    /// The text at a path (see [`Value::text`]).
    pub fn text_at(&self, keys: &[&str]) -> Option<&str> {
        self.path(keys).and_then(Value::text)
    }

    /// The mapping at `key`, created (or replacing a null) when absent.
    pub fn map_entry(&mut self, key: &str) -> Option<&mut Map> {
        let m = self.as_map_mut()?;
        let slot = m.entry(key.to_string()).or_insert(Value::NULL);
        if slot.is_null() {
            *slot = Value::Map(Map::new());
        }
        slot.as_map_mut()
    }

    /// The scalar as kustomize's `yaml.RNode.YNode().Value` would show it (used where
    /// kustomize compares or substitutes scalar text, e.g. replacements and vars).
    pub fn scalar_text(&self) -> Option<String> {
        if let Some(t) = self.written() {
            return Some(t.to_string());
        }
        match self {
            Value::Null(_) => Some(String::new()),
            Value::Bool(b, _) => Some(b.to_string()),
            Value::Int(i, _) => Some(i.to_string()),
            Value::Float(f, _) => Some(scalar::kustomize_float(*f)),
            Value::Str(s) => Some(s.clone()),
            _ => None,
        }
    }

    /// Nesting depth (a scalar is 0).
    pub fn depth(&self) -> usize {
        match self {
            Value::Seq(items) => 1 + items.iter().map(Value::depth).max().unwrap_or(0),
            Value::Map(m) => 1 + m.values().map(Value::depth).max().unwrap_or(0),
            _ => 0,
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Str(s.to_string())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Str(s)
    }
}

/// Why a document could not be decoded; `line` is 1-based (0 when unknown).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    pub line: usize,
    pub message: String,
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.line > 0 {
            write!(f, "line {}: {}", self.line, self.message)
        } else {
            f.write_str(&self.message)
        }
    }
}

/// Counts the nodes alias expansion adds, against [`Limits`].
#[derive(Debug)]
pub struct Budget {
    left: usize,
    max_depth: usize,
}

impl Budget {
    /// The budget for one file of `nodes` parsed nodes.
    pub fn new(limits: &Limits, nodes: usize) -> Budget {
        Budget {
            left: limits
                .max_alias_nodes
                .saturating_add(limits.alias_factor.saturating_mul(nodes)),
            max_depth: limits.max_depth,
        }
    }
    /// Spends one node of alias expansion.
    pub fn spend(&mut self, line: usize) -> Result<(), DecodeError> {
        if self.left == 0 {
            return Err(DecodeError {
                line,
                message: "aliases expand to too many nodes (a \"billion laughs\" document?)".into(),
            });
        }
        self.left -= 1;
        Ok(())
    }
    pub fn check_depth(&self, depth: usize, line: usize) -> Result<(), DecodeError> {
        if depth > self.max_depth {
            return Err(DecodeError {
                line,
                message: format!("collections nested more than {} deep", self.max_depth),
            });
        }
        Ok(())
    }
}

/// Decodes a resource document as kyaml reads it (go-yaml v3 scalars, merge keys, duplicate
/// keys refused), expanding aliases under `budget`.
pub fn from_node(node: Node<'_>, budget: &mut Budget) -> Result<Value, DecodeError> {
    V3 {
        budget,
        flow: false,
    }
    .value(node, 0, false, true)
}

struct V3<'b> {
    budget: &'b mut Budget,
    /// The node being decoded sits in a flow collection (`[...]`, `{...}`).
    flow: bool,
}

impl V3<'_> {
    fn value(
        &mut self,
        node: Node<'_>,
        depth: usize,
        in_alias: bool,
        top: bool,
    ) -> Result<Value, DecodeError> {
        let line = node.line();
        if in_alias {
            self.budget.spend(line)?;
        }
        self.budget.check_depth(depth, line)?;
        let err = |message: String| DecodeError { line, message };
        match node.kind() {
            NodeKind::Alias => self.value(node.resolved(), depth, true, top),
            NodeKind::Scalar { text, style } => {
                let s = scalar::resolve(text, style, node.tag(), Schema::V3).map_err(err)?;
                let raw = || Some(Box::<str>::from(text));
                Ok(match s {
                    Scalar::Null => Value::Null(raw()),
                    Scalar::Bool(b) => Value::Bool(b, raw()),
                    Scalar::Int(i) => Value::Int(i, raw()),
                    Scalar::Float(f) => Value::Float(f, raw()),
                    Scalar::Str(s) => Value::Str(s.into_owned()),
                    // Observed kustomize v5.5.0 behaviour: a date alone comes out as the
                    // RFC 3339 time it decodes to; a date with a time keeps its text.
                    //
                    // The mechanism: kustomize prints the tree with go-yaml v3 and decodes
                    // that text. A date-time inside a flow collection holds a `:`, which
                    // libyaml cannot write plain there, so it is quoted and decodes as the
                    // string it was written as; anywhere else it decodes as a time.
                    Scalar::Timestamp(t, _)
                        if self.flow && !super::emit::plain_allowed(&t, true) =>
                    {
                        Value::Str(t.into_owned())
                    }
                    Scalar::Timestamp(t, ts) => Value::Time {
                        json: ts.rfc3339_nano(),
                        written: t.into(),
                    },
                })
            }
            NodeKind::Seq { flow } => {
                let outer = std::mem::replace(&mut self.flow, flow);
                let mut items = Vec::with_capacity(node.len());
                for item in node.items() {
                    items.push(self.value(item, depth + 1, in_alias, false)?);
                }
                self.flow = outer;
                Ok(Value::Seq(items))
            }
            NodeKind::Map { flow } => {
                let outer = std::mem::replace(&mut self.flow, flow);
                let map = self.map(node, depth, in_alias, top);
                self.flow = outer;
                map
            }
        }
    }

    fn map(
        &mut self,
        node: Node<'_>,
        depth: usize,
        in_alias: bool,
        top: bool,
    ) -> Result<Value, DecodeError> {
        let mut map = Map::with_capacity(node.len());
        // Keys that came from `<<` may be overridden by explicit ones.
        let mut merged: Vec<String> = Vec::new();
        for (k, v) in node.entries() {
            let kr = k.resolved();
            if kr.as_str() == Some("<<") && kr.style() == Some(Style::Plain) && kr.tag().is_none() {
                self.merge(&mut map, &mut merged, v, depth, in_alias)?;
                continue;
            }
            let key = self.key(k, top, in_alias)?;
            let val = self.value(v, depth + 1, in_alias, false)?;
            if let Some(pos) = merged.iter().position(|m| *m == key) {
                merged.remove(pos);
                map.insert(key, val);
                continue;
            }
            if map.contains_key(&key) {
                return Err(DecodeError {
                    line: k.line(),
                    message: format!("mapping key \"{key}\" already defined"),
                });
            }
            map.insert(key, val);
        }
        Ok(Value::Map(map))
    }

    /// A mapping key. At the top of a resource kustomize decodes into
    /// `map[string]interface{}`, where any scalar key becomes its text; deeper, a key that
    /// is not a string makes `encoding/json` fail, so it is refused.
    fn key(&mut self, k: Node<'_>, top: bool, in_alias: bool) -> Result<String, DecodeError> {
        let line = k.line();
        if in_alias {
            self.budget.spend(line)?;
        }
        let k = k.resolved();
        let NodeKind::Scalar { text, style } = k.kind() else {
            return Err(DecodeError {
                line,
                message: "a mapping key must be a string, not a collection".into(),
            });
        };
        let resolved = scalar::resolve(text, style, k.tag(), Schema::V3)
            .map_err(|message| DecodeError { line, message })?;
        match resolved {
            Scalar::Str(s) => Ok(s.into_owned()),
            Scalar::Null if top => Ok(String::new()),
            _ if top => Ok(text.to_string()),
            _ => Err(DecodeError {
                line,
                message: format!("mapping key {text} is not a string (quote it: \"{text}\")"),
            }),
        }
    }

    /// A `<<` merge: a mapping, or a list of mappings where earlier ones win.
    fn merge(
        &mut self,
        map: &mut Map,
        merged: &mut Vec<String>,
        v: Node<'_>,
        depth: usize,
        in_alias: bool,
    ) -> Result<(), DecodeError> {
        let line = v.line();
        let sources: Vec<Node<'_>> = match v.resolved().kind() {
            NodeKind::Map { .. } => vec![v],
            NodeKind::Seq { .. } => v.resolved().items().collect(),
            _ => {
                return Err(DecodeError {
                    line,
                    message: "map merge requires map or sequence of maps as the value".into(),
                });
            }
        };
        for src in sources {
            let Value::Map(m) = self.value(src, depth, in_alias || v.is_alias(), false)? else {
                return Err(DecodeError {
                    line,
                    message: "map merge requires map or sequence of maps as the value".into(),
                });
            };
            for (k, val) in m {
                if !map.contains_key(&k) {
                    merged.push(k.clone());
                    map.insert(k, val);
                }
            }
        }
        Ok(())
    }
}

/// A JSON 6902 patch makes kustomize read the whole object back from JSON through
/// `map[string]interface{}` and go-yaml v3: every number becomes a float64 printed with
/// `'g'` and read again (so an integer above 2^53 loses digits), a date becomes its RFC 3339
/// text, and the written text of scalars is gone.
pub fn json_roundtrip(v: &mut Value) {
    roundtrip(v, true);
}

/// Items of a `List` kind are decoded by go-yaml v3 into `map[string]interface{}` and
/// encoded again: integers keep their value, floats take `'g'` text, dates their RFC 3339
/// text, and the written text of scalars is gone.
pub fn map_roundtrip(v: &mut Value) {
    roundtrip(v, false);
}

fn roundtrip(v: &mut Value, ints_as_floats: bool) {
    let retext = |f: f64| -> Value {
        let text = scalar::format_g(f);
        match scalar::resolve(&text, Style::Plain, None, Schema::V3) {
            Ok(Scalar::Int(i)) => Value::Int(i, Some(text.into())),
            _ => Value::Float(f, Some(text.into())),
        }
    };
    match v {
        // Re-encoded, a null is written `null` (which kustomize reads back as text when it
        // turns annotations into strings).
        Value::Null(t) => *t = Some("null".into()),
        Value::Bool(_, t) => *t = None,
        Value::Int(i, t) => {
            if ints_as_floats {
                *v = retext(*i as f64);
            } else {
                *t = None;
            }
        }
        Value::Float(f, _) => *v = retext(*f),
        Value::Time { json, .. } => *v = Value::Str(std::mem::take(json)),
        Value::Str(_) => {}
        Value::Seq(items) => items.iter_mut().for_each(|i| roundtrip(i, ints_as_floats)),
        Value::Map(m) => m.values_mut().for_each(|i| roundtrip(i, ints_as_floats)),
    }
}

/// kustomize prints each object as `json.Marshal` of its tree, read back by go-yaml v2. This
/// applies that round trip to the tree, so that printing it and handing it to the cluster as
/// JSON give the same data:
/// - a float becomes the number go-yaml v2 reads from its JSON text (an integral value is an
///   int); infinities and NaN have no JSON form, which fails the build as in kustomize;
/// - a string keeps what go-yaml v2 reads from its JSON text: a raw NEL (U+0085, which
///   `encoding/json` leaves unescaped) is a line break inside a double-quoted scalar and is
///   folded; DEL, C1 controls and U+FFFE/U+FFFF are refused by go-yaml's reader.
pub fn normalise_output(v: &mut Value) -> Result<(), String> {
    match v {
        Value::Float(f, _) => {
            if !f.is_finite() {
                let text = if f.is_nan() {
                    "NaN"
                } else if *f > 0.0 {
                    "+Inf"
                } else {
                    "-Inf"
                };
                return Err(format!("json: unsupported value: {text}"));
            }
            let json = scalar::json_float(*f);
            if let Some(i) = scalar::go_parse_int(&json) {
                *v = Value::int(i);
            } else if let Some(u) = scalar::go_parse_uint(&json) {
                *v = Value::int(u);
            } else {
                *v = Value::Float(*f, None);
            }
            Ok(())
        }
        Value::Str(s) => {
            if let Some(folded) = json_string_roundtrip(s)? {
                *s = folded;
            }
            Ok(())
        }
        Value::Null(t) | Value::Bool(_, t) | Value::Int(_, t) => {
            *t = None;
            Ok(())
        }
        Value::Time { json, .. } => {
            *v = Value::Str(std::mem::take(json));
            Ok(())
        }
        Value::Seq(items) => items.iter_mut().try_for_each(normalise_output),
        Value::Map(m) => {
            if m.keys().any(|k| needs_roundtrip(k)) {
                let old = std::mem::take(m);
                for (k, mut val) in old {
                    normalise_output(&mut val)?;
                    let k = json_string_roundtrip(&k)?.unwrap_or(k);
                    m.insert(k, val);
                }
                Ok(())
            } else {
                m.values_mut().try_for_each(normalise_output)
            }
        }
    }
}

fn needs_roundtrip(s: &str) -> bool {
    s.bytes().any(|b| b >= 0x7F) && s.chars().any(|c| c == '\u{85}' || forbidden_raw(c))
}

/// Characters `encoding/json` leaves raw that go-yaml's reader refuses.
fn forbidden_raw(c: char) -> bool {
    let v = c as u32;
    v == 0x7F || ((0x80..=0x9F).contains(&v) && v != 0x85) || v == 0xFFFE || v == 0xFFFF
}

/// The string go-yaml v2 reads from the JSON text of `s` (`None`: unchanged).
fn json_string_roundtrip(s: &str) -> Result<Option<String>, String> {
    if !s.bytes().any(|b| b >= 0x7F) {
        return Ok(None);
    }
    if let Some(c) = s.chars().find(|&c| forbidden_raw(c)) {
        return Err(format!(
            "yaml: control characters are not allowed (U+{:04X} in {s:?})",
            c as u32
        ));
    }
    if !s.contains('\u{85}') {
        return Ok(None);
    }
    Ok(Some(fold_raw_breaks(s)))
}

/// libyaml's double-quoted scalar scanning over text whose only raw line breaks are NELs:
/// blanks before a break are dropped, blanks after it skipped, and a single break becomes a
/// space while further breaks become newlines.
fn fold_raw_breaks(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < chars.len() {
        // Non-blank run.
        while i < chars.len() && !matches!(chars[i], ' ' | '\u{85}') {
            out.push(chars[i]);
            i += 1;
        }
        if i >= chars.len() {
            break;
        }
        let mut whitespace = String::new();
        let mut leading_blanks = false;
        let mut trailing_breaks = String::new();
        while i < chars.len() && matches!(chars[i], ' ' | '\u{85}') {
            if chars[i] == ' ' {
                if !leading_blanks {
                    whitespace.push(' ');
                }
            } else if !leading_blanks {
                whitespace.clear();
                leading_blanks = true;
            } else {
                trailing_breaks.push('\n');
            }
            i += 1;
        }
        if leading_blanks {
            if trailing_breaks.is_empty() {
                out.push(' ');
            } else {
                out.push_str(&trailing_breaks);
            }
        } else {
            out.push_str(&whitespace);
        }
    }
    out
}

/// The JSON `encoding/json` would produce for a tree (after [`normalise_output`], which
/// refuses the values JSON cannot hold).
pub fn to_json(v: Value) -> Result<serde_json::Value, String> {
    Ok(match v {
        Value::Null(_) => serde_json::Value::Null,
        Value::Bool(b, _) => serde_json::Value::Bool(b),
        Value::Int(i, _) => match (i64::try_from(i), u64::try_from(i)) {
            (Ok(i), _) => serde_json::Value::from(i),
            (_, Ok(u)) => serde_json::Value::from(u),
            _ => return Err(format!("integer {i} is out of range")),
        },
        Value::Float(f, _) => serde_json::Number::from_f64(f)
            .map(serde_json::Value::Number)
            .ok_or_else(|| format!("json: unsupported value: {f}"))?,
        Value::Str(s) | Value::Time { json: s, .. } => serde_json::Value::String(s),
        Value::Seq(items) => serde_json::Value::Array(
            items
                .into_iter()
                .map(to_json)
                .collect::<Result<Vec<_>, _>>()?,
        ),
        Value::Map(m) => serde_json::Value::Object(
            m.into_iter()
                .map(|(k, v)| Ok((k, to_json(v)?)))
                .collect::<Result<serde_json::Map<_, _>, String>>()?,
        ),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::super::tree::{Documents, parse};
    use super::*;

    fn decode(text: &str) -> Result<Value, DecodeError> {
        let limits = Limits::default();
        let tree = parse(text, Documents::All, &limits).unwrap();
        let mut budget = Budget::new(&limits, tree.node_count());
        from_node(tree.first().unwrap(), &mut budget)
    }

    #[test]
    fn v3_resolution_keeps_quoted_strings_and_yaml11_words() {
        let v = decode(
            "a: 1\nb: '1'\nc: yes\nd: true\ne: 1.5\nf: 0777\ng: 2020-01-01\nh:\ni: 2020-01-01 1:2:3\n",
        )
        .unwrap();
        assert_eq!(v.get("a"), Some(&Value::int(1)));
        assert_eq!(v.get("f").and_then(Value::written), Some("0777"));
        assert_eq!(v.get("b"), Some(&Value::Str("1".into())));
        assert_eq!(v.get("c"), Some(&Value::Str("yes".into())));
        assert_eq!(v.get("d"), Some(&Value::bool(true)));
        assert_eq!(v.get("e"), Some(&Value::Float(1.5, None)));
        assert_eq!(v.get("f"), Some(&Value::int(511)));
        assert_eq!(
            v.get("g"),
            Some(&Value::Time {
                json: "2020-01-01T00:00:00Z".into(),
                written: "2020-01-01".into()
            })
        );
        assert_eq!(v.get("h"), Some(&Value::NULL));
        // A date-time is a time in block context, its own text in a flow collection.
        assert_eq!(
            v.get("i").and_then(Value::written),
            Some("2020-01-01 1:2:3")
        );
        let v = decode("f: [2020-01-01 1:2:3, 2020-01-01]\n").unwrap();
        let f = v.get("f").and_then(Value::as_seq).unwrap();
        assert_eq!(f[0], Value::Str("2020-01-01 1:2:3".into()));
        assert!(matches!(&f[1], Value::Time { json, .. } if json == "2020-01-01T00:00:00Z"));
    }

    #[test]
    fn merge_keys_and_duplicates() {
        let v = decode("base: &b {x: 1, y: 2}\nm:\n  <<: *b\n  y: 3\n").unwrap();
        assert_eq!(v.path(&["m", "x"]), Some(&Value::int(1)));
        assert_eq!(v.path(&["m", "y"]), Some(&Value::int(3)));
        let e = decode("a: 1\nb: 2\na: 3\n").unwrap_err();
        assert_eq!(e.line, 3);
    }

    #[test]
    fn nested_non_string_keys_are_refused_top_level_ones_keep_their_text() {
        let v = decode("0x10: top\n").unwrap();
        assert_eq!(v.get("0x10"), Some(&Value::Str("top".into())));
        assert!(decode("data: {1: a}\n").is_err());
    }

    #[test]
    fn billion_laughs_stops_at_the_budget() {
        let mut text = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        let mut prev = 'a';
        for c in 'b'..='j' {
            text.push_str(&format!(
                "{c}: &{c} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"
            ));
            prev = c;
        }
        let e = decode(&text).unwrap_err();
        assert!(e.message.contains("too many nodes"), "{e}");
    }

    #[test]
    fn output_normalisation_is_kustomizes_json_round_trip() {
        let rows: &[(&str, &str)] = &[
            ("a\u{85}b", "a b"),
            ("a\u{85}\u{85}b", "a\nb"),
            ("a \u{85} b", "a b"),
            ("\u{85}", " "),
            ("a\u{85}", "a "),
            ("plain", "plain"),
        ];
        for (input, want) in rows {
            let mut v = Value::Str((*input).into());
            normalise_output(&mut v).unwrap();
            assert_eq!(v, Value::Str((*want).into()), "{input:?}");
        }
        for bad in ["a\u{7f}", "\u{9f}", "\u{fffe}"] {
            assert!(
                normalise_output(&mut Value::Str(bad.into())).is_err(),
                "{bad:?}"
            );
        }
        let mut f = Value::Float(3.0, Some("3.0".into()));
        normalise_output(&mut f).unwrap();
        assert_eq!(f, Value::int(3));
        assert_eq!(f.written(), None);
        assert!(normalise_output(&mut Value::Float(f64::INFINITY, None)).is_err());
    }
}
