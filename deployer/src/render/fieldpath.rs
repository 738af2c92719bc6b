//! Field paths as kyaml reads them: splitting (`PathSplitter`, `SmarterPathSplitter`), the
//! exact lookup of a source field (`PathGetter`, used by replacement sources and vars) and the
//! matcher that finds (and creates) target fields (`PathMatcher`, used by replacement
//! targets, whose `[key=value]` segments are unanchored regular expressions).

use super::fieldspec::Seg;
use crate::yaml::scalar::{self, Scalar, Schema, Style};
use crate::yaml::{Map, Value};

/// kyaml `PathSplitter`: splits at `delim` unless escaped with `\`; a leading delimiter is
/// ignored.
pub fn split(path: &str, delim: char) -> Vec<String> {
    let mut parts: Vec<&str> = path.split(delim).collect();
    if parts.len() > 1 && parts[0].is_empty() {
        parts.remove(0);
    }
    let mut out: Vec<String> = vec![parts[0].to_string()];
    for p in &parts[1..] {
        let last = out.len() - 1;
        if let Some(stripped) = out[last].strip_suffix('\\') {
            out[last] = format!("{stripped}{delim}{p}");
        } else {
            out.push((*p).to_string());
        }
    }
    out
}

/// kyaml `SmarterPathSplitter`: like [`split`], but `[a.b=c.d]` stays one segment.
pub fn smarter_split(path: &str, delim: char) -> Vec<String> {
    let parts = split(path, delim);
    let mut out = Vec::with_capacity(parts.len());
    let mut i = 0;
    while i < parts.len() {
        let elem = &parts[i];
        if elem.starts_with('[') && !elem.ends_with(']') {
            let mut bracketed = vec![elem.clone()];
            while i < parts.len() - 1 {
                i += 1;
                bracketed.push(parts[i].clone());
                if parts[i].ends_with(']') {
                    break;
                }
            }
            let joined = bracketed.join(&delim.to_string());
            if joined.contains('=') {
                out.push(joined);
            } else {
                out.push(joined.trim_matches(|c| c == '[' || c == ']').to_string());
            }
        } else {
            out.push(elem.clone());
        }
        i += 1;
    }
    out
}

/// kyaml `convertSliceIndex` (vars): `ports[0]` becomes `ports`, `0`.
pub fn convert_slice_index(fields: Vec<String>) -> Vec<String> {
    let mut out = Vec::with_capacity(fields.len());
    for s in fields {
        if let Some(body) = s.strip_suffix(']')
            && let Some(open) = body.rfind('[')
            && !body[open + 1..].is_empty()
            && body[open + 1..].bytes().all(|b| b.is_ascii_digit())
        {
            if open > 0 {
                out.push(body[..open].to_string());
            }
            out.push(body[open + 1..].to_string());
            continue;
        }
        out.push(s);
    }
    out
}

/// kyaml `PathGetter` without create: field names, indexes (`-` is the last element) and
/// `[key=value]` elements matched exactly on the field's text.
pub fn lookup<'v>(v: &'v Value, path: &[String]) -> Result<Option<&'v Value>, String> {
    let mut cur = v;
    for seg in path {
        if seg == "*" {
            return Err("wildcard is not supported in PathGetter".into());
        }
        let next = if let Some(inner) = seg.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
            let Some((k, want)) = inner.split_once('=') else {
                return Err(
                    "list path element must contain fieldName=fieldValue for element to match"
                        .into(),
                );
            };
            let Some(items) = cur.as_seq() else {
                return Err(format!("wrong node kind: expected a list at {seg}"));
            };
            items.iter().find(|i| {
                let field = if k.is_empty() { Some(*i) } else { i.get(k) };
                field.and_then(Value::scalar_text).as_deref() == Some(want)
            })
        } else if seg == "-" || seg.parse::<i64>().is_ok() {
            let Some(items) = cur.as_seq() else {
                return Ok(None);
            };
            if seg == "-" {
                items.last()
            } else {
                let i: i64 = seg.parse().unwrap_or(-1);
                if i < 0 {
                    return Err(format!("array index {i} cannot be negative"));
                }
                items.get(i as usize)
            }
        } else {
            match cur {
                Value::Map(m) => m.get(seg.as_str()),
                Value::Null(_) => None,
                _ => return Err(format!("wrong node kind: expected a mapping at {seg}")),
            }
        };
        match next {
            Some(n) => cur = n,
            None => return Ok(None),
        }
    }
    Ok(Some(cur))
}

/// The kind of node to create at the end of a path (kyaml `Create`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreateKind {
    Scalar,
    Seq,
    Map,
}

/// A field found (or created) by [`visit_matches`].
pub struct Target<'v, 'p> {
    pub node: &'v mut Value,
    /// Created by the matcher: an untagged scalar, typed by the text later put in it.
    pub created: bool,
    /// Where the field is.
    pub path: &'p [Seg],
}

/// kyaml `PathMatcher`: visits every field `path` matches, creating missing fields of kind
/// `create` on the way. `[key=value]` matches elements whose `key` field's text matches the
/// regular expression `value` anywhere (kyaml compiles it unanchored).
pub fn visit_matches(
    v: &mut Value,
    path: &[String],
    create: Option<CreateKind>,
    f: &mut dyn FnMut(Target<'_, '_>) -> Result<(), String>,
) -> Result<usize, String> {
    visit(v, path, create, false, &mut Vec::new(), f)
}

fn part_kind(next: Option<&String>, create: CreateKind) -> CreateKind {
    match next {
        Some(n) if n.starts_with('[') && n.ends_with(']') => CreateKind::Seq,
        Some(n) if n.parse::<i64>().is_ok_and(|i| i >= 0) => CreateKind::Seq,
        None => create,
        Some(_) => CreateKind::Map,
    }
}

fn empty(kind: CreateKind) -> Value {
    match kind {
        CreateKind::Scalar => Value::Null(None),
        CreateKind::Seq => Value::Seq(Vec::new()),
        CreateKind::Map => Value::Map(Map::new()),
    }
}

fn visit(
    v: &mut Value,
    path: &[String],
    create: Option<CreateKind>,
    created: bool,
    at: &mut Vec<Seg>,
    f: &mut dyn FnMut(Target<'_, '_>) -> Result<(), String>,
) -> Result<usize, String> {
    let Some((seg, rest)) = path.split_first() else {
        f(Target {
            node: v,
            created,
            path: at,
        })?;
        return Ok(1);
    };
    if let Ok(idx) = seg.parse::<i64>()
        && idx >= 0
    {
        let idx = idx as usize;
        let Value::Seq(items) = v else {
            return Err(format!("wrong node kind: expected a list at {seg}"));
        };
        let mut made = false;
        if items.len() == idx
            && let Some(c) = create
        {
            items.push(empty(part_kind(rest.first(), c)));
            made = true;
        }
        let len = items.len();
        let Some(item) = items.get_mut(idx) else {
            return Err(format!(
                "index {idx} specified but only {len} elements found"
            ));
        };
        at.push(Seg::Index(idx));
        let r = visit(item, rest, create, made, at, f);
        at.pop();
        return r;
    }
    if seg.starts_with('[') && seg.ends_with(']') {
        let inner = &seg[1..seg.len() - 1];
        let Some((k, pattern)) = inner.split_once('=') else {
            return Err(
                "list path element must contain fieldName=fieldValue for element to match".into(),
            );
        };
        let re = regex::Regex::new(pattern).map_err(|e| e.to_string())?;
        let Value::Seq(items) = v else {
            return Err(format!("wrong node kind: expected a list at {seg}"));
        };
        let hit = |i: &Value| -> bool {
            let field = if k.is_empty() { Some(i) } else { i.get(k) };
            field
                .and_then(node_text)
                .is_some_and(|t| re.is_match(t.trim()))
        };
        if !items.iter().any(hit) {
            let Some(_) = create else {
                return Ok(0);
            };
            // kyaml appends an element holding the pattern text, untagged.
            let value = resolve_untagged(pattern);
            items.push(if k.is_empty() {
                value
            } else {
                let mut m = Map::new();
                m.insert(k.to_string(), value);
                Value::Map(m)
            });
        }
        let mut n = 0;
        for (i, item) in items.iter_mut().enumerate() {
            if hit(item) {
                at.push(Seg::Index(i));
                let r = visit(item, rest, create, false, at, f);
                at.pop();
                n += r?;
            }
        }
        return Ok(n);
    }
    if seg == "*" {
        let Value::Seq(items) = v else {
            return Err(format!("wrong node kind: expected a list at {seg}"));
        };
        let mut n = 0;
        for (i, item) in items.iter_mut().enumerate() {
            at.push(Seg::Index(i));
            let r = visit(item, rest, create, false, at, f);
            at.pop();
            n += r?;
        }
        return Ok(n);
    }
    let Value::Map(m) = v else {
        if v.is_null() {
            return Ok(0);
        }
        return Err(format!("wrong node kind: expected a mapping at {seg}"));
    };
    let mut made = false;
    if !m.contains_key(seg.as_str()) {
        let Some(c) = create else {
            return Ok(0);
        };
        m.insert(seg.clone(), empty(part_kind(rest.first(), c)));
        made = true;
    }
    match m.get_mut(seg.as_str()) {
        Some(child) => {
            at.push(Seg::Key(seg.clone()));
            let r = visit(child, rest, create, made, at, f);
            at.pop();
            r
        }
        None => Ok(0),
    }
}

/// The text kyaml's encoder gives a scalar node (trimmed): its written text.
fn node_text(v: &Value) -> Option<String> {
    v.scalar_text()
}

/// A scalar written without a tag: typed by go-yaml v3's resolution of its text.
pub fn resolve_untagged(text: &str) -> Value {
    match scalar::resolve(text, Style::Plain, None, Schema::V3) {
        Ok(Scalar::Null) => Value::Null(Some(text.into())),
        Ok(Scalar::Bool(b)) => Value::Bool(b, Some(text.into())),
        Ok(Scalar::Int(i)) => Value::Int(i, Some(text.into())),
        Ok(Scalar::Float(f)) => Value::Float(f, Some(text.into())),
        Ok(Scalar::Timestamp(t, ts)) => Value::Time {
            json: ts.rfc3339_nano(),
            written: t.into(),
        },
        _ => Value::Str(text.to_string()),
    }
}

/// An untagged scalar written through kyaml's `FieldSetter` (`SetName`, `SetNamespace`,
/// `SetKind`, `SetScalar`, ...): a text go-yaml v1.1 reads as something other than a string
/// (`123`, `true`, `1.5`, `yes`) is given double quotes and stays a string; any other text
/// is read again on output (a date becomes a time).
pub fn set_untagged(text: &str) -> Value {
    if crate::yaml::scalar::plain_reads_as_string_v2(text) || is_v2_timestamp(text) {
        resolve_untagged(text)
    } else {
        Value::Str(text.to_string())
    }
}

/// go-yaml v2 hands a timestamp to `interface{}` as a string.
fn is_v2_timestamp(text: &str) -> bool {
    crate::yaml::scalar::parse_timestamp(text).is_some()
}

/// kyaml replaces a scalar's text and keeps its tag: the new text must fit the old type
/// (`cannot decode !!str `x` as a !!int` otherwise); a string stays a string.
pub fn retyped(target: &Value, text: &str) -> Result<Value, String> {
    let resolved = resolve_untagged(text);
    let (want, ok) = match target {
        Value::Str(_) => return Ok(Value::Str(text.to_string())),
        Value::Null(_) => ("null", resolved.is_null()),
        Value::Bool(..) => ("bool", matches!(resolved, Value::Bool(..))),
        Value::Int(..) => ("int", matches!(resolved, Value::Int(..))),
        Value::Float(..) => (
            "float",
            matches!(resolved, Value::Float(..) | Value::Int(..)),
        ),
        _ => return Ok(resolved),
    };
    if !ok {
        let got = match resolved {
            Value::Null(_) => "null",
            Value::Bool(..) => "bool",
            Value::Int(..) => "int",
            Value::Float(..) => "float",
            _ => "str",
        };
        return Err(format!("cannot decode !!{got} `{text}` as a !!{want}"));
    }
    Ok(match (target, resolved) {
        (Value::Float(..), Value::Int(i, t)) => Value::Float(i as f64, t),
        (_, r) => r,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::yaml::{Limits, parse_one};

    fn v(text: &str) -> Value {
        parse_one(text, &Limits::default()).unwrap()
    }
    fn s(parts: &[&str]) -> Vec<String> {
        parts.iter().map(|p| p.to_string()).collect()
    }

    #[test]
    fn splitting_table() {
        assert_eq!(split("a/b\\/c/d", '/'), s(&["a", "b/c", "d"]));
        assert_eq!(split("/a/b", '/'), s(&["a", "b"]));
        assert_eq!(
            smarter_split("spec.containers.[name=a.b].image", '.'),
            s(&["spec", "containers", "[name=a.b]", "image"])
        );
        assert_eq!(smarter_split("a.[b.c].d", '.'), s(&["a", "b.c", "d"]));
        assert_eq!(
            convert_slice_index(s(&["spec", "ports[0]", "port", "[1]"])),
            s(&["spec", "ports", "0", "port", "1"])
        );
    }

    #[test]
    fn lookup_is_exact_and_matcher_is_a_regex() {
        let doc = v("c:\n- name: app\n  image: a\n- name: app-sidecar\n  image: b\n");
        let got = lookup(&doc, &s(&["c", "[name=app]", "image"])).unwrap();
        assert_eq!(got.and_then(Value::as_str), Some("a"));
        let mut doc = doc;
        let mut seen = Vec::new();
        visit_matches(
            &mut doc,
            &s(&["c", "[name=app]", "image"]),
            None,
            &mut |t| {
                seen.push(t.node.as_str().unwrap_or("").to_string());
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(seen, vec!["a", "b"]);
        assert!(lookup(&doc, &s(&["c", "*"])).is_err());
    }

    #[test]
    fn matcher_creates_missing_fields() {
        let mut doc = v("spec: {}\n");
        let n = visit_matches(
            &mut doc,
            &s(&["spec", "ports", "[name=http]", "port"]),
            Some(CreateKind::Scalar),
            &mut |t| {
                assert!(t.created);
                *t.node = resolve_untagged("80");
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(n, 1);
        assert_eq!(
            doc.path(&["spec", "ports"]).unwrap(),
            &v("- {name: http, port: 80}\n")
        );
    }

    #[test]
    fn scalars_keep_their_type() {
        assert_eq!(
            retyped(&Value::Str("x".into()), "80").unwrap(),
            Value::Str("80".into())
        );
        assert_eq!(retyped(&Value::int(1), "3").unwrap(), Value::int(3));
        assert!(retyped(&Value::int(1), "abc").is_err());
        assert!(retyped(&Value::NULL, "abc").is_err());
        assert_eq!(
            retyped(&Value::Float(1.5, None), "3").unwrap(),
            Value::Float(3.0, None)
        );
    }
}
