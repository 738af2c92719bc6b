//! serde decoding with kustomize's rules for its own configuration: a kustomization file (or a
//! builtin plugin config) becomes a typed struct the way `sigs.k8s.io/yaml` + `encoding/json`
//! make one:
//! - scalars resolve with go-yaml **v2** (`yes` is a boolean, a date stays a string);
//! - map keys become strings (`1` → `"1"`), JSON objects are read in sorted key order, so of
//!   two keys naming one field the later in that order wins;
//! - struct fields match exactly, else case-insensitively (Go's `encoding/json`);
//! - an unknown field is an error (`DisallowUnknownFields`), so is a value of the wrong type
//!   (`newTag: 1.10` is a number, not the string "1.10");
//! - `null` leaves a field at its zero value; a field the model declares required (no
//!   `#[serde(default)]`) must be present.
//!
//! Every error names the field's path (`replacements[0].targets[0].fieldPath`) and, for
//! input read from a file, its line.

use super::scalar::{self, Scalar, Schema};
use super::tree::{Limits, Node, NodeKind};
use super::value::{Budget, Value};
use serde::de::{self, DeserializeSeed, IntoDeserializer, Visitor};
use std::borrow::Cow;
use std::cell::RefCell;

/// A decoding failure: where (field path, line) and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// `images[0].newTag`; empty for the document itself.
    pub path: String,
    /// 1-based line; 0 when unknown (input that did not come from a file).
    pub line: usize,
    pub message: String,
    located: bool,
}

impl Error {
    fn new(message: impl Into<String>) -> Error {
        Error {
            path: String::new(),
            line: 0,
            message: message.into(),
            located: false,
        }
    }
    /// Fills in the position of an error raised without one (by serde's derived code).
    fn at(mut self, path: &str, line: usize) -> Error {
        if !self.located {
            self.path = path.to_string();
            self.line = line;
            self.located = true;
        }
        self
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.line, self.path.is_empty()) {
            (0, true) => f.write_str(&self.message),
            (0, false) => write!(f, "field `{}`: {}", self.path, self.message),
            (l, true) => write!(f, "line {l}: {}", self.message),
            (l, false) => write!(f, "line {l}: field `{}`: {}", self.path, self.message),
        }
    }
}

impl std::error::Error for Error {}

impl de::Error for Error {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        Error::new(msg.to_string())
    }
    fn missing_field(field: &'static str) -> Self {
        Error::new(format!("required field `{field}` is missing"))
    }
    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        Error::new(format!(
            "unknown value {variant:?}, expected one of {}",
            expected.join(", ")
        ))
    }
}

/// How scalars are typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rules {
    /// Kustomization files: a number or boolean where a string is expected is an error
    /// (`YAMLToJSON` without a target type, then a strict JSON decode).
    Strict,
    /// Builtin plugin configs: kustomize decodes them with `sigs.k8s.io/yaml.Unmarshal`,
    /// which turns a number or boolean into the string a string field expects.
    NumbersAsStrings,
}

/// Decodes a document of a parsed file (go-yaml v2 scalars; aliases under the budget).
pub fn from_node<T: de::DeserializeOwned>(
    node: Node<'_>,
    nodes_in_file: usize,
    limits: &Limits,
    rules: Rules,
) -> Result<T, Error> {
    let shared = RefCell::new(Budget::new(limits, nodes_in_file));
    let d = Decoder {
        src: Src::Node(node),
        path: String::new(),
        line: node.line(),
        shared: &shared,
        rules,
        in_alias: false,
        depth: 0,
    };
    T::deserialize(d)
}

/// Decodes a tree that is already resolved (a plugin config produced by the build).
pub fn from_value<T: de::DeserializeOwned>(v: &Value, rules: Rules) -> Result<T, Error> {
    let shared = RefCell::new(Budget::new(&Limits::default(), 0));
    let d = Decoder {
        src: Src::Value(v),
        path: String::new(),
        line: 0,
        shared: &shared,
        rules,
        in_alias: false,
        depth: 0,
    };
    T::deserialize(d)
}

#[derive(Clone, Copy)]
enum Src<'a> {
    Node(Node<'a>),
    Value(&'a Value),
}

/// A source resolved one level: scalars typed, mappings as string-keyed entries.
enum View<'a> {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(Cow<'a, str>),
    Seq(Vec<(Src<'a>, usize, bool)>),
    /// Key, key line, value, value reached through an alias.
    Map(Vec<(String, usize, Src<'a>, bool)>),
}

struct Decoder<'a, 's> {
    src: Src<'a>,
    path: String,
    line: usize,
    shared: &'s RefCell<Budget>,
    rules: Rules,
    in_alias: bool,
    depth: usize,
}

fn describe(v: &View<'_>) -> String {
    match v {
        View::Null => "null".into(),
        View::Bool(b) => format!("the boolean {b}"),
        View::Int(i) => format!("the number {i}"),
        View::Float(f) => format!("the number {}", scalar::format_g(*f)),
        View::Str(s) => format!("the string {s:?}"),
        View::Seq(_) => "a list".into(),
        View::Map(_) => "a mapping".into(),
    }
}

impl<'a, 's> Decoder<'a, 's> {
    fn child(&self, src: Src<'a>, path: String, line: usize, in_alias: bool) -> Decoder<'a, 's> {
        Decoder {
            src,
            path,
            line,
            shared: self.shared,
            rules: self.rules,
            in_alias,
            depth: self.depth + 1,
        }
    }

    fn err(&self, message: impl Into<String>) -> Error {
        Error::new(message).at(&self.path, self.line)
    }

    /// The original text of a scalar read from a file (for "quote it" hints).
    fn raw_text(&self) -> Option<&'a str> {
        match self.src {
            Src::Node(n) => n.resolved().as_str(),
            Src::Value(_) => None,
        }
    }

    fn view(&self) -> Result<View<'a>, Error> {
        {
            let budget = self.shared.borrow();
            budget
                .check_depth(self.depth, self.line)
                .map_err(|e| self.err(e.message))?;
        }
        match self.src {
            Src::Value(v) => Ok(match v {
                Value::Null(_) => View::Null,
                Value::Bool(b, _) => View::Bool(*b),
                Value::Int(i, _) => View::Int(*i),
                Value::Float(f, _) => View::Float(*f),
                Value::Str(s) | Value::Time { json: s, .. } => View::Str(Cow::Borrowed(s)),
                Value::Seq(items) => {
                    View::Seq(items.iter().map(|i| (Src::Value(i), 0, false)).collect())
                }
                Value::Map(m) => View::Map(
                    m.iter()
                        .map(|(k, v)| (k.clone(), 0, Src::Value(v), false))
                        .collect(),
                ),
            }),
            Src::Node(n) => self.node_view(n, self.in_alias),
        }
    }

    fn node_view(&self, n: Node<'a>, in_alias: bool) -> Result<View<'a>, Error> {
        let in_alias = in_alias || n.is_alias();
        let n = n.resolved();
        match n.kind() {
            NodeKind::Alias => Err(self.err("an alias refers to another alias")),
            NodeKind::Scalar { text, style } => {
                Ok(
                    match scalar::resolve(text, style, n.tag(), Schema::V2)
                        .map_err(|m| self.err(m))?
                    {
                        Scalar::Null => View::Null,
                        Scalar::Bool(b) => View::Bool(b),
                        Scalar::Int(i) => View::Int(i),
                        Scalar::Float(f) => View::Float(f),
                        Scalar::Str(s) => View::Str(s),
                        // go-yaml v2 gives `interface{}` a timestamp's text, for compatibility.
                        Scalar::Timestamp(t, _) => View::Str(t),
                    },
                )
            }
            NodeKind::Seq { .. } => {
                let mut items = Vec::with_capacity(n.len());
                for item in n.items() {
                    if in_alias || item.is_alias() {
                        self.spend(item.line())?;
                    }
                    items.push((Src::Node(item), item.line(), in_alias || item.is_alias()));
                }
                Ok(View::Seq(items))
            }
            NodeKind::Map { .. } => {
                let mut out: Vec<(String, usize, Src<'a>, bool)> = Vec::with_capacity(n.len());
                for (k, v) in n.entries() {
                    if in_alias || v.is_alias() {
                        self.spend(v.line())?;
                    }
                    let kr = k.resolved();
                    if kr.as_str() == Some("<<")
                        && kr.tag().is_none()
                        && kr.style() == Some(scalar::Style::Plain)
                    {
                        // go-yaml v2 merges in place: later keys (explicit or merged) win;
                        // in a list of maps, earlier maps win.
                        let sources: Vec<Node<'a>> = match v.resolved().kind() {
                            NodeKind::Map { .. } => vec![v],
                            NodeKind::Seq { .. } => v
                                .resolved()
                                .items()
                                .collect::<Vec<_>>()
                                .into_iter()
                                .rev()
                                .collect(),
                            _ => {
                                return Err(Error::new(
                                    "map merge requires map or sequence of maps as the value",
                                )
                                .at(&self.path, v.line()));
                            }
                        };
                        for src in sources {
                            let View::Map(entries) =
                                self.node_view(src, in_alias || v.is_alias())?
                            else {
                                return Err(Error::new(
                                    "map merge requires map or sequence of maps as the value",
                                )
                                .at(&self.path, src.line()));
                            };
                            for e in entries {
                                put(&mut out, e);
                            }
                        }
                        continue;
                    }
                    let key = self.key_text(k)?;
                    put(
                        &mut out,
                        (key, k.line(), Src::Node(v), in_alias || v.is_alias()),
                    );
                }
                Ok(View::Map(out))
            }
        }
    }

    fn spend(&self, line: usize) -> Result<(), Error> {
        self.shared
            .borrow_mut()
            .spend(line)
            .map_err(|e| Error::new(e.message).at(&self.path, line))
    }

    /// A map key as `sigs.k8s.io/yaml` turns it into a JSON object key.
    fn key_text(&self, k: Node<'a>) -> Result<String, Error> {
        let line = k.line();
        let k = k.resolved();
        let NodeKind::Scalar { text, style } = k.kind() else {
            return Err(Error::new("a mapping key must be a scalar").at(&self.path, line));
        };
        let s = scalar::resolve(text, style, k.tag(), Schema::V2)
            .map_err(|m| Error::new(m).at(&self.path, line))?;
        Ok(match s {
            Scalar::Str(s) | Scalar::Timestamp(s, _) => s.into_owned(),
            Scalar::Int(i) => i.to_string(),
            Scalar::Float(f) => scalar::format_g32(f),
            Scalar::Bool(b) => b.to_string(),
            Scalar::Null => {
                return Err(Error::new("a mapping key cannot be null").at(&self.path, line));
            }
        })
    }

    fn type_error(&self, want: &str, got: &View<'_>) -> Error {
        let mut msg = format!("expected {want}, found {}", describe(got));
        if want == "a string"
            && matches!(got, View::Int(_) | View::Float(_) | View::Bool(_))
            && let Some(raw) = self.raw_text()
        {
            msg.push_str(&format!(" (write it in quotes: \"{raw}\")"));
        }
        self.err(msg)
    }

    fn field_path(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    fn integer(&self, want: &str) -> Result<i128, Error> {
        match self.view()? {
            View::Int(i) => Ok(i),
            View::Null => Ok(0),
            // encoding/json reads a float's text; an integral value below 1e21 has no
            // fraction or exponent there, so it fits an integer field.
            View::Float(f) if f.fract() == 0.0 && f.abs() < 1e21 => Ok(f as i128),
            other => Err(self.type_error(want, &other)),
        }
    }
}

/// Adds an entry, replacing an earlier one with the same key (go-yaml v2: later wins).
fn put<'a>(out: &mut Vec<(String, usize, Src<'a>, bool)>, e: (String, usize, Src<'a>, bool)) {
    if let Some(slot) = out.iter_mut().find(|x| x.0 == e.0) {
        *slot = e;
    } else {
        out.push(e);
    }
}

/// Go's `encoding/json` field matching: the exact name, else a case-insensitive match
/// (`bytes.EqualFold`, Unicode simple folding).
fn match_field(key: &str, fields: &'static [&'static str]) -> Option<&'static str> {
    if let Some(f) = fields.iter().find(|f| **f == key) {
        return Some(f);
    }
    fields.iter().copied().find(|f| fold_eq(f, key))
}

fn fold_eq(a: &str, b: &str) -> bool {
    let mut ai = a.chars();
    let mut bi = b.chars();
    loop {
        match (ai.next(), bi.next()) {
            (None, None) => return true,
            (Some(x), Some(y)) => {
                let same = x == y
                    || x.to_lowercase().eq(y.to_lowercase())
                    || x.to_uppercase().eq(y.to_uppercase());
                if !same {
                    return false;
                }
            }
            _ => return false,
        }
    }
}

/// The closest known field, for "did you mean" hints.
fn suggest(key: &str, fields: &[&'static str]) -> Option<&'static str> {
    let lower = key.to_lowercase();
    fields
        .iter()
        .copied()
        .map(|f| (edit_distance(&lower, &f.to_lowercase()), f))
        .filter(|(d, f)| *d <= 2.max(f.len() / 4))
        .min_by_key(|(d, _)| *d)
        .map(|(_, f)| f)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

macro_rules! int_method {
    ($name:ident, $ty:ty, $visit:ident) => {
        fn $name<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
            let i = self.integer("an integer")?;
            let v = <$ty>::try_from(i).map_err(|_| self.err(format!("{i} is out of range")))?;
            visitor
                .$visit(v)
                .map_err(|e: Error| e.at(&self.path, self.line))
        }
    };
}

impl<'de> de::Deserializer<'de> for Decoder<'_, '_> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let r = match self.view()? {
            View::Null => visitor.visit_unit(),
            View::Bool(b) => visitor.visit_bool(b),
            View::Int(i) => match i64::try_from(i) {
                Ok(i) => visitor.visit_i64(i),
                Err(_) => visitor.visit_u64(u64::try_from(i).unwrap_or(u64::MAX)),
            },
            View::Float(f) => visitor.visit_f64(f),
            View::Str(s) => visitor.visit_string(s.into_owned()),
            View::Seq(items) => visitor.visit_seq(SeqAccess {
                parent: &self,
                items: items.into_iter(),
                index: 0,
            }),
            View::Map(entries) => visitor.visit_map(MapAccess {
                parent: &self,
                entries: sorted(entries).into_iter(),
                value: None,
            }),
        };
        r.map_err(|e| e.at(&self.path, self.line))
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.view()? {
            View::Bool(b) => visitor.visit_bool(b),
            View::Null => visitor.visit_bool(false),
            other => Err(self.type_error("true or false", &other)),
        }
    }

    int_method!(deserialize_i8, i8, visit_i8);
    int_method!(deserialize_i16, i16, visit_i16);
    int_method!(deserialize_i32, i32, visit_i32);
    int_method!(deserialize_i64, i64, visit_i64);
    int_method!(deserialize_u8, u8, visit_u8);
    int_method!(deserialize_u16, u16, visit_u16);
    int_method!(deserialize_u32, u32, visit_u32);
    int_method!(deserialize_u64, u64, visit_u64);

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_f64(visitor)
    }
    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.view()? {
            View::Int(i) => visitor.visit_f64(i as f64),
            View::Float(f) => visitor.visit_f64(f),
            View::Null => visitor.visit_f64(0.0),
            other => Err(self.type_error("a number", &other)),
        }
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_string(visitor)
    }
    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_string(visitor)
    }
    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let s = match self.view()? {
            View::Str(s) => s.into_owned(),
            View::Null => String::new(),
            View::Int(i) if self.rules == Rules::NumbersAsStrings => i.to_string(),
            View::Float(f) if self.rules == Rules::NumbersAsStrings => scalar::format_g32(f),
            View::Bool(b) if self.rules == Rules::NumbersAsStrings => b.to_string(),
            other => return Err(self.type_error("a string", &other)),
        };
        visitor
            .visit_string(s)
            .map_err(|e: Error| e.at(&self.path, self.line))
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_string(visitor)
    }
    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_string(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.view()? {
            View::Null => visitor.visit_none(),
            _ => {
                let (path, line) = (self.path.clone(), self.line);
                visitor.visit_some(self).map_err(|e| e.at(&path, line))
            }
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }
    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }
    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        let (path, line) = (self.path.clone(), self.line);
        visitor
            .visit_newtype_struct(self)
            .map_err(|e| e.at(&path, line))
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let items = match self.view()? {
            View::Seq(items) => items,
            View::Null => Vec::new(),
            other => return Err(self.type_error("a list", &other)),
        };
        visitor
            .visit_seq(SeqAccess {
                parent: &self,
                items: items.into_iter(),
                index: 0,
            })
            .map_err(|e| e.at(&self.path, self.line))
    }
    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }
    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let entries = match self.view()? {
            View::Map(entries) => entries,
            View::Null => Vec::new(),
            other => return Err(self.type_error("a mapping", &other)),
        };
        visitor
            .visit_map(MapAccess {
                parent: &self,
                entries: sorted(entries).into_iter(),
                value: None,
            })
            .map_err(|e| e.at(&self.path, self.line))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        let entries = match self.view()? {
            View::Map(entries) => entries,
            View::Null => Vec::new(),
            other => return Err(self.type_error("a mapping", &other)),
        };
        // Unknown keys are reported in document order, with their line.
        let mut named: Vec<(&'static str, String, usize, Src<'_>, bool)> =
            Vec::with_capacity(entries.len());
        for (key, line, src, alias) in entries {
            let Some(field) = match_field(&key, fields) else {
                let mut msg = format!("unknown field `{key}`");
                if let Some(s) = suggest(&key, fields) {
                    msg.push_str(&format!(" (did you mean `{s}`?)"));
                }
                return Err(Error::new(msg).at(&self.field_path(&key), line));
            };
            named.push((field, key, line, src, alias));
        }
        // JSON key order decides which of two spellings of one field wins: the later.
        named.sort_by(|a, b| a.1.cmp(&b.1));
        let mut deduped: Vec<(String, usize, Src<'_>, bool)> = Vec::with_capacity(named.len());
        for (field, _, line, src, alias) in named {
            match deduped.iter_mut().find(|x| x.0 == field) {
                Some(slot) => *slot = (field.to_string(), line, src, alias),
                None => deduped.push((field.to_string(), line, src, alias)),
            }
        }
        visitor
            .visit_map(MapAccess {
                parent: &self,
                entries: deduped.into_iter(),
                value: None,
            })
            .map_err(|e| e.at(&self.path, self.line))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self.view()? {
            View::Str(s) => {
                let d: de::value::StringDeserializer<Error> = s.into_owned().into_deserializer();
                visitor
                    .visit_enum(d)
                    .map_err(|e| e.at(&self.path, self.line))
            }
            other => Err(self.type_error("a string", &other)),
        }
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_string(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }
}

/// Any value, as `encoding/json` would hand it to an `interface{}` (free-form fields such
/// as a JSON patch's `value`).
impl<'de> de::Deserialize<'de> for Value {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Value;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("any value")
            }
            fn visit_unit<E>(self) -> Result<Value, E> {
                Ok(Value::NULL)
            }
            fn visit_none<E>(self) -> Result<Value, E> {
                Ok(Value::NULL)
            }
            fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
                Ok(Value::bool(b))
            }
            fn visit_i64<E>(self, i: i64) -> Result<Value, E> {
                Ok(Value::int(i))
            }
            fn visit_u64<E>(self, u: u64) -> Result<Value, E> {
                Ok(Value::int(u))
            }
            fn visit_f64<E>(self, f: f64) -> Result<Value, E> {
                Ok(Value::Float(f, None))
            }
            fn visit_str<E>(self, s: &str) -> Result<Value, E> {
                Ok(Value::Str(s.to_string()))
            }
            fn visit_string<E>(self, s: String) -> Result<Value, E> {
                Ok(Value::Str(s))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut a: A) -> Result<Value, A::Error> {
                let mut items = Vec::new();
                while let Some(v) = a.next_element::<Value>()? {
                    items.push(v);
                }
                Ok(Value::Seq(items))
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut a: A) -> Result<Value, A::Error> {
                let mut m = super::value::Map::new();
                while let Some((k, v)) = a.next_entry::<String, Value>()? {
                    m.insert(k, v);
                }
                Ok(Value::Map(m))
            }
        }
        d.deserialize_any(V)
    }
}

/// For `#[serde(default, deserialize_with = "present")]`: a field that is present, even as
/// `null`, is `Some` (a JSON patch `value: null` sets null; a missing `value` is an error).
pub fn present<'de, D: de::Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    <Value as de::Deserialize>::deserialize(d).map(Some)
}

/// JSON object order: keys sorted by bytes.
fn sorted<'a>(mut e: Vec<(String, usize, Src<'a>, bool)>) -> Vec<(String, usize, Src<'a>, bool)> {
    e.sort_by(|a, b| a.0.cmp(&b.0));
    e
}

struct SeqAccess<'p, 'a, 's> {
    parent: &'p Decoder<'a, 's>,
    items: std::vec::IntoIter<(Src<'a>, usize, bool)>,
    index: usize,
}

impl<'de> de::SeqAccess<'de> for SeqAccess<'_, '_, '_> {
    type Error = Error;
    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        let Some((src, line, alias)) = self.items.next() else {
            return Ok(None);
        };
        let path = format!("{}[{}]", self.parent.path, self.index);
        self.index += 1;
        let line = if line == 0 { self.parent.line } else { line };
        let d = self.parent.child(src, path.clone(), line, alias);
        seed.deserialize(d).map(Some).map_err(|e| e.at(&path, line))
    }
}

struct MapAccess<'p, 'a, 's> {
    parent: &'p Decoder<'a, 's>,
    entries: std::vec::IntoIter<(String, usize, Src<'a>, bool)>,
    value: Option<(String, usize, Src<'a>, bool)>,
}

impl<'de> de::MapAccess<'de> for MapAccess<'_, '_, '_> {
    type Error = Error;
    fn next_key_seed<K: de::DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        let Some(entry) = self.entries.next() else {
            return Ok(None);
        };
        let key: de::value::StringDeserializer<Error> = entry.0.clone().into_deserializer();
        let path = self.parent.field_path(&entry.0);
        let line = entry.1;
        self.value = Some(entry);
        seed.deserialize(key)
            .map(Some)
            .map_err(|e| e.at(&path, line))
    }
    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        let Some((key, line, src, alias)) = self.value.take() else {
            return Err(Error::new("a value without a key"));
        };
        let path = self.parent.field_path(&key);
        let line = match src {
            Src::Node(n) => n.line(),
            Src::Value(_) if line == 0 => self.parent.line,
            Src::Value(_) => line,
        };
        let d = self.parent.child(src, path.clone(), line, alias);
        seed.deserialize(d).map_err(|e| e.at(&path, line))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::super::tree::{Documents, parse};
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq, Default)]
    #[serde(rename_all = "camelCase", default)]
    struct Image {
        name: String,
        new_tag: Option<String>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "camelCase")]
    struct Replica {
        name: String,
        count: i64,
    }

    #[derive(Debug, Deserialize, PartialEq, Default)]
    #[serde(rename_all = "camelCase", default)]
    struct K {
        name_prefix: String,
        images: Vec<Image>,
        replicas: Vec<Replica>,
        common_labels: std::collections::BTreeMap<String, String>,
        flag: bool,
    }

    fn k(text: &str) -> Result<K, Error> {
        let limits = Limits::default();
        let tree = parse(text, Documents::First, &limits).unwrap();
        from_node(
            tree.first().unwrap(),
            tree.node_count(),
            &limits,
            Rules::Strict,
        )
    }

    #[test]
    fn dates_stay_strings_and_numbers_are_not_strings() {
        let v = k("images: [{name: app, newTag: 2024-01-01}]\n").unwrap();
        assert_eq!(v.images[0].new_tag.as_deref(), Some("2024-01-01"));
        let e = k("images:\n- name: app\n  newTag: 1.10\n").unwrap_err();
        assert_eq!((e.path.as_str(), e.line), ("images[0].newTag", 3));
        assert!(e.message.contains("\"1.10\""), "{e}");
        let e = k("namePrefix: yes\n").unwrap_err();
        assert!(e.message.contains("boolean"), "{e}");
    }

    #[test]
    fn unknown_fields_name_their_path_and_line_and_suggest() {
        let e = k("images:\n- name: a\n  newtagg: v1\n").unwrap_err();
        assert_eq!((e.path.as_str(), e.line), ("images[0].newtagg", 3));
        assert!(e.message.contains("did you mean `newTag`"), "{e}");
    }

    #[test]
    fn fields_match_case_insensitively_and_the_later_json_key_wins() {
        let v = k("NAMEPREFIX: p-\nnameprefix: q-\n").unwrap();
        assert_eq!(v.name_prefix, "q-");
        let v = k("nameprefix: q-\nNAMEPREFIX: p-\n").unwrap();
        assert_eq!(v.name_prefix, "q-");
    }

    #[test]
    fn required_fields_and_zero_values() {
        let e = k("replicas: [{name: x}]\n").unwrap_err();
        assert!(e.message.contains("`count`"), "{e}");
        assert_eq!(e.path, "replicas[0]");
        let v = k("replicas: [{name: x, count: 3.0}]\nflag: ~\nnamePrefix:\n").unwrap();
        assert_eq!(v.replicas[0].count, 3);
        assert!(!v.flag);
        let e = k("replicas: [{name: x, count: 2.5}]\n").unwrap_err();
        assert!(e.message.contains("integer"), "{e}");
    }

    #[test]
    fn map_keys_become_strings_and_values_must_be_strings() {
        let v = k("commonLabels: {1: a, true: b}\n").unwrap();
        assert_eq!(v.common_labels.get("1").map(String::as_str), Some("a"));
        assert_eq!(v.common_labels.get("true").map(String::as_str), Some("b"));
        assert!(k("commonLabels: {a: 1}\n").is_err());
    }

    #[test]
    fn numbers_as_strings_for_plugin_configs() {
        let mut m = crate::yaml::value::Map::new();
        m.insert("name".into(), Value::Str("a".into()));
        m.insert("newTag".into(), Value::Float(1.1, None));
        let img: Image = from_value(&Value::Map(m), Rules::NumbersAsStrings).unwrap();
        assert_eq!(img.new_tag.as_deref(), Some("1.1"));
    }

    #[test]
    fn fold_matching_follows_unicode_simple_folding() {
        assert!(fold_eq("kind", "\u{212A}IND"));
        assert!(fold_eq("status", "\u{17F}tatus"));
        assert!(!fold_eq("kind", "kinds"));
    }
}
