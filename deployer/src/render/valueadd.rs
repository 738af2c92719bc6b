//! builtin `ValueAddTransformer` (kustomize `filters/valueadd`): puts one value into a field
//! of each selected object, creating the field (and `[name=value]` list elements on the way)
//! when it is missing, optionally as one part of a file path held in the field.

use super::fieldpath::resolve_untagged;
use super::fieldspec::Seg;
use super::resource::Resource;
use crate::yaml::scalar::{self, Scalar, Schema, Style};
use crate::yaml::{Map, Value};

/// The field path kustomize hands to its namespace filter instead of the value filter.
pub const NAMESPACE_PATH: &str = "metadata/namespace";

/// Adds `value` at `field_path` (`/`-separated, `\/` for a slash in a key) of `r`.
/// `file_path_position` > 0 inserts the value into the file path the field holds, at that
/// 1-based position (kyaml `InsertPathPart`).
pub fn add(
    r: &mut Resource,
    value: &str,
    field_path: &str,
    file_path_position: i64,
) -> Result<(), String> {
    let path = split(field_path);
    let mut at = Vec::new();
    let Some(node) = lookup_create(&mut r.obj, &path, &mut at)? else {
        return Ok(());
    };
    let (old, old_text) = match &*node {
        Value::Map(_) | Value::Seq(_) => {
            return Err(format!(
                "wrong node kind at `{field_path}`: expected a scalar, got a {}",
                if matches!(node, Value::Map(_)) {
                    "mapping"
                } else {
                    "sequence"
                }
            ));
        }
        // A field the lookup created: an empty, untagged plain scalar.
        Value::Null(None) => (Old::Plain, String::new()),
        Value::Str(s) => (Old::Str, s.clone()),
        other => (Old::Plain, other.scalar_text().unwrap_or_default()),
    };
    let new = if file_path_position > 0 {
        let pos = usize::try_from(file_path_position - 1).unwrap_or(usize::MAX);
        insert_path_part(&old_text, pos, value)
    } else {
        value.to_string()
    };
    *node = set_scalar(old, &old_text, &new).map_err(|m| format!("field `{field_path}`: {m}"))?;
    Ok(())
}

/// How the scalar being replaced was written, as far as the model knows it.
#[derive(Clone, Copy)]
enum Old {
    /// Plain (a number, boolean, null, date, or a field just created).
    Plain,
    /// A string: plain, quoted or a block scalar.
    Str,
}

/// kyaml `FieldSetter{StringValue}` on an existing scalar: the new node is untagged and keeps
/// the old node's style, so plain text is read again on output (`456` becomes a number)
/// while quoted or block text stays a string.
fn set_scalar(old: Old, old_text: &str, new: &str) -> Result<Value, String> {
    let untagged = resolve_untagged(new);
    if matches!(untagged, Value::Str(_)) {
        return Ok(untagged);
    }
    match old {
        Old::Plain => Ok(untagged),
        // A string whose text is not a string when plain (`"80"`) or spans lines was quoted
        // or a block scalar: the style keeps the new text a string.
        Old::Str if !reads_as_string_plain(old_text) || old_text.contains('\n') => {
            Ok(Value::Str(new.to_string()))
        }
        // The model keeps no style for strings: whether `abc` was written plain (the new
        // `456` becomes a number) or quoted (it stays a string) is not known here.
        Old::Str => Err(format!(
            "cannot tell whether the string `{old_text}` it replaces was quoted, which decides whether `{new}` is written as a string; quote the value in the resource or use a replacement"
        )),
    }
}

fn reads_as_string_plain(text: &str) -> bool {
    matches!(
        scalar::resolve(text, Style::Plain, None, Schema::V3),
        Ok(Scalar::Str(_))
    )
}

/// The valueadd filter's split (at `/`, a `\` before it keeps it in the key), then kyaml's
/// `cleanPath` (parts trimmed, empty ones dropped).
fn split(field_path: &str) -> Vec<String> {
    let mut fields: Vec<String> = Vec::new();
    for f in field_path.split('/') {
        match fields.last_mut() {
            Some(last) if last.ends_with('\\') => {
                last.pop();
                last.push('/');
                last.push_str(f);
            }
            _ => fields.push(f.to_string()),
        }
    }
    fields
        .into_iter()
        .map(|f| f.trim().to_string())
        .filter(|f| !f.is_empty())
        .collect()
}

/// Go `strconv.Atoi`.
fn atoi(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn is_list_index(p: &str) -> bool {
    p.starts_with('[') && p.ends_with(']')
}

/// What kyaml `PathGetter` creates for a missing field: a list when the next part indexes
/// one, a mapping when a field follows, an empty scalar at the end.
fn created_for(next: Option<&String>) -> Value {
    match next {
        None => Value::NULL,
        Some(n) if is_list_index(n) || atoi(n).is_some_and(|i| i >= 0) => Value::Seq(Vec::new()),
        Some(_) => Value::Map(Map::default()),
    }
}

/// kyaml `PathGetter` with `Create: ScalarNode`: field names (created when missing),
/// `[name=value]` / `[=value]` list elements (the first whose text is exactly `value`;
/// appended when none is), and indexes (`-` the last element; never created). `None` where
/// kyaml stops: a null on the way, an index past the end.
fn lookup_create<'v>(
    v: &'v mut Value,
    path: &[String],
    at: &mut Vec<Seg>,
) -> Result<Option<&'v mut Value>, String> {
    let mut cur = v;
    for (i, part) in path.iter().enumerate() {
        let next = path.get(i + 1);
        let wrong = |want: &str, got: &Value| {
            format!(
                "wrong node kind at `{part}`: expected a {want}, got {}",
                kind_name(got)
            )
        };
        cur = if let Some(idx) = atoi(part) {
            if idx < 0 {
                return Err(format!("array index {idx} cannot be negative"));
            }
            match cur {
                Value::Seq(items) => match items.get_mut(idx as usize) {
                    Some(item) => {
                        at.push(Seg::Index(idx as usize));
                        item
                    }
                    None => return Ok(None),
                },
                Value::Null(_) => return Ok(None),
                other => return Err(wrong("sequence", other)),
            }
        } else if part == "-" {
            match cur {
                // kustomize v5.5.0 crashes on `-` in an empty list.
                Value::Seq(items) => match items.len().checked_sub(1) {
                    Some(last) => {
                        at.push(Seg::Index(last));
                        &mut items[last]
                    }
                    None => {
                        return Err(format!("`-` in `{}` selects no element", path.join("/")));
                    }
                },
                Value::Null(_) => {
                    return Err(format!("`-` in `{}` selects no element", path.join("/")));
                }
                other => return Err(wrong("sequence", other)),
            }
        } else if part == "*" {
            return Err("wildcard is not supported in PathGetter".into());
        } else if is_list_index(part) {
            let inner = &part[1..part.len() - 1];
            let Some((name, value)) = inner.split_once('=') else {
                return Err(
                    "list path element must contain fieldName=fieldValue for element to match"
                        .into(),
                );
            };
            let items = match cur {
                Value::Seq(items) => items,
                // kyaml would append the element to the null scalar itself.
                Value::Null(_) => {
                    return Err(format!("`{part}` needs a list where the object has a null"));
                }
                other => return Err(wrong("sequence", other)),
            };
            let text = |v: &Value| match v {
                Value::Map(_) | Value::Seq(_) => String::new(),
                other => other.scalar_text().unwrap_or_default(),
            };
            let found = items.iter().position(|item| {
                if name.is_empty() {
                    text(item) == value
                } else {
                    matches!(item, Value::Map(m) if m.get(name).is_some_and(|f| text(f) == value))
                }
            });
            let at_index = match found {
                Some(i) => i,
                None => {
                    // The element is appended with the value as an untagged plain scalar.
                    let v = resolve_untagged(value);
                    items.push(if name.is_empty() {
                        v
                    } else {
                        let mut m = Map::default();
                        m.insert(name.to_string(), v);
                        Value::Map(m)
                    });
                    items.len() - 1
                }
            };
            at.push(Seg::Index(at_index));
            &mut items[at_index]
        } else {
            match cur {
                Value::Map(m) => {
                    if !m.contains_key(part.as_str()) {
                        m.insert(part.clone(), created_for(next));
                    }
                    at.push(Seg::Key(part.clone()));
                    match m.get_mut(part.as_str()) {
                        Some(field) => field,
                        None => return Ok(None),
                    }
                }
                Value::Null(_) => return Ok(None),
                other => return Err(wrong("mapping", other)),
            }
        };
    }
    Ok(Some(cur))
}

fn kind_name(v: &Value) -> &'static str {
    match v {
        Value::Map(_) => "a mapping",
        Value::Seq(_) => "a sequence",
        _ => "a scalar",
    }
}

/// kyaml `InsertPathPart`: `part` becomes the `pos`-th (0-based) element of `path`, an
/// absolute path stays absolute, and the result is cleaned (Go `filepath.Join`).
pub fn insert_path_part(path: &str, pos: usize, part: &str) -> String {
    if part.is_empty() {
        return path.to_string();
    }
    let mut parts = path_split(path);
    let mut pos = pos.min(parts.len());
    if parts.first().is_some_and(String::is_empty) && pos < parts.len() {
        pos += 1;
    }
    parts.insert(pos, part.to_string());
    path_join(&parts)
}

/// kyaml `PathSplit`: an absolute path starts with an empty element.
fn path_split(path: &str) -> Vec<String> {
    if path.is_empty() {
        return Vec::new();
    }
    let (dir, file) = match path.rfind('/') {
        Some(i) => (&path[..=i], &path[i + 1..]),
        None => ("", path),
    };
    if dir == "/" {
        return if file.is_empty() {
            vec![String::new()]
        } else {
            vec![String::new(), file.to_string()]
        };
    }
    let dir = dir.strip_suffix('/').unwrap_or(dir);
    if dir.is_empty() {
        return vec![file.to_string()];
    }
    let mut out = path_split(dir);
    out.push(file.to_string());
    out
}

/// kyaml `PathJoin`.
fn path_join(parts: &[String]) -> String {
    match parts.split_first() {
        None => String::new(),
        Some((first, rest)) if first.is_empty() => format!("/{}", go_join(rest)),
        Some(_) => go_join(parts),
    }
}

/// Go `filepath.Join`: the non-empty elements joined by `/` and cleaned; empty if none.
fn go_join(parts: &[String]) -> String {
    let joined: Vec<&str> = parts
        .iter()
        .map(String::as_str)
        .filter(|p| !p.is_empty())
        .collect();
    if joined.is_empty() {
        return String::new();
    }
    go_clean(&joined.join("/"))
}

/// Go `path.Clean`.
fn go_clean(p: &str) -> String {
    let rooted = p.starts_with('/');
    let mut out: Vec<&str> = Vec::new();
    for seg in p.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                if out.last().is_some_and(|l| *l != "..") {
                    out.pop();
                } else if !rooted {
                    out.push("..");
                }
            }
            s => out.push(s),
        }
    }
    let body = out.join("/");
    match (rooted, body.is_empty()) {
        (true, _) => format!("/{body}"),
        (false, true) => ".".into(),
        (false, false) => body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows from kustomize's own `InsertPathPart` documentation and tests.
    #[test]
    fn insert_path_part_table() {
        let rows: &[(&str, usize, &str)] = &[
            ("", 0, "PEACH"),
            ("/", 0, "/PEACH"),
            ("pie", 0, "PEACH/pie"),
            ("/pie", 0, "/PEACH/pie"),
            ("raw", 1, "raw/PEACH"),
            ("/raw", 1, "/raw/PEACH"),
            ("a/nice/warm/pie", 3, "a/nice/warm/PEACH/pie"),
            ("/a/nice/warm/pie", 3, "/a/nice/warm/PEACH/pie"),
            ("a/b", 9999, "a/b/PEACH"),
            ("a//b/./c", 1, "a/PEACH/b/c"),
            ("a/b/", 2, "a/b/PEACH"),
        ];
        for (path, pos, want) in rows {
            assert_eq!(
                insert_path_part(path, *pos, "PEACH"),
                *want,
                "{path} at {pos}"
            );
        }
        assert_eq!(insert_path_part("a/b", 0, ""), "a/b");
    }

    #[test]
    fn split_keeps_escaped_slashes_and_drops_empty_parts() {
        assert_eq!(
            split("/metadata/annotations/a.io\\/b/ "),
            vec!["metadata", "annotations", "a.io/b"]
        );
    }

    #[test]
    fn go_clean_table() {
        for (p, want) in [
            ("a/../..", ".."),
            ("/../a", "/a"),
            ("a/./b//c/", "a/b/c"),
            ("..", ".."),
        ] {
            assert_eq!(go_clean(p), want, "{p}");
        }
    }
}
