//! RFC 6902 JSON patches (add, remove, replace, move, copy, test) with RFC 6901
//! pointers, applied the way kustomize does (evanphx/json-patch semantics: `add` needs
//! an existing parent, `-` appends, `replace`/`remove` need an existing target).

use crate::yaml::decode::{self, Rules};
use crate::yaml::{Documents, Limits, Value};
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
pub struct Op {
    pub op: String,
    pub path: String,
    #[serde(default)]
    pub from: Option<String>,
    #[serde(default, deserialize_with = "crate::yaml::decode::present")]
    pub value: Option<Value>,
}

/// Decodes a patch document: a JSON array, or the same as YAML (kustomize converts it with
/// `sigs.k8s.io/yaml.YAMLToJSON`, so its scalars follow go-yaml v2: `yes` is `true`, a date
/// stays a string).
pub fn parse_ops(text: &str, limits: &Limits) -> Result<Vec<Op>, String> {
    let tree = crate::yaml::parse(text, Documents::First, limits).map_err(|e| e.to_string())?;
    let Some(root) = tree.first() else {
        return Err("empty json patch operations".into());
    };
    if !root.resolved().is_seq() {
        return Err("a JSON 6902 patch must be a list of operations".into());
    }
    decode::from_node(root, tree.node_count(), limits, Rules::Strict).map_err(|e| e.to_string())
}

fn unescape(token: &str) -> String {
    token.replace("~1", "/").replace("~0", "~")
}

fn tokens(path: &str) -> Result<Vec<String>, String> {
    if path.is_empty() {
        return Ok(Vec::new());
    }
    let Some(rest) = path.strip_prefix('/') else {
        return Err(format!("invalid JSON pointer '{path}'"));
    };
    Ok(rest.split('/').map(unescape).collect())
}

fn parent_and_last<'v>(doc: &'v mut Value, path: &str) -> Result<(&'v mut Value, String), String> {
    let mut toks = tokens(path)?;
    let last = toks
        .pop()
        .ok_or_else(|| format!("cannot operate on the document root '{path}'"))?;
    let mut cur = doc;
    for t in &toks {
        cur = match cur {
            Value::Map(m) => m.get_mut(t.as_str()),
            Value::Seq(items) => t.parse::<usize>().ok().and_then(|i| items.get_mut(i)),
            _ => None,
        }
        .ok_or_else(|| format!("doc is missing path: {path}"))?;
    }
    Ok((cur, last))
}

fn get<'v>(doc: &'v Value, path: &str) -> Result<&'v Value, String> {
    let mut cur = doc;
    for t in tokens(path)? {
        cur = match cur {
            Value::Map(m) => m.get(t.as_str()),
            Value::Seq(items) => t.parse::<usize>().ok().and_then(|i| items.get(i)),
            _ => None,
        }
        .ok_or_else(|| format!("doc is missing path: {path}"))?;
    }
    Ok(cur)
}

fn add(doc: &mut Value, path: &str, value: Value) -> Result<(), String> {
    if path.is_empty() {
        *doc = value;
        return Ok(());
    }
    let (parent, last) = parent_and_last(doc, path)?;
    match parent {
        Value::Map(m) => {
            m.insert(last, value);
            Ok(())
        }
        Value::Seq(items) => {
            if last == "-" {
                items.push(value);
                return Ok(());
            }
            let i: usize = last
                .parse()
                .map_err(|_| format!("invalid array index in '{path}'"))?;
            if i > items.len() {
                return Err(format!(
                    "add operation does not apply: index out of bounds: {path}"
                ));
            }
            items.insert(i, value);
            Ok(())
        }
        _ => Err(format!(
            "add operation does not apply: doc is missing path: {path}"
        )),
    }
}

fn remove(doc: &mut Value, path: &str) -> Result<Value, String> {
    let (parent, last) = parent_and_last(doc, path)?;
    match parent {
        Value::Map(m) => m
            .shift_remove(last.as_str())
            .ok_or_else(|| format!("remove operation does not apply: doc is missing path: {path}")),
        Value::Seq(items) => {
            let i: usize = last
                .parse()
                .map_err(|_| format!("invalid array index in '{path}'"))?;
            if i >= items.len() {
                return Err(format!(
                    "remove operation does not apply: doc is missing path: {path}"
                ));
            }
            Ok(items.remove(i))
        }
        _ => Err(format!(
            "remove operation does not apply: doc is missing path: {path}"
        )),
    }
}

pub fn apply(doc: &mut Value, ops: &[Op]) -> Result<(), String> {
    for op in ops {
        let value = || {
            op.value
                .clone()
                .ok_or_else(|| format!("{} operation needs a value", op.op))
        };
        match op.op.as_str() {
            "add" => add(doc, &op.path, value()?)?,
            "remove" => {
                remove(doc, &op.path)?;
            }
            "replace" => {
                get(doc, &op.path).map_err(|_| {
                    format!(
                        "replace operation does not apply: doc is missing key: {}",
                        op.path
                    )
                })?;
                if op.path.is_empty() {
                    *doc = value()?;
                } else {
                    let (parent, last) = parent_and_last(doc, &op.path)?;
                    match parent {
                        Value::Map(m) => {
                            m.insert(last, value()?);
                        }
                        Value::Seq(items) => {
                            let i: usize = last
                                .parse()
                                .map_err(|_| "invalid array index".to_string())?;
                            items[i] = value()?;
                        }
                        _ => return Err(format!("replace operation does not apply: {}", op.path)),
                    }
                }
            }
            "move" => {
                let from = op.from.as_deref().ok_or("move operation needs `from`")?;
                let v = remove(doc, from)?;
                add(doc, &op.path, v)?;
            }
            "copy" => {
                let from = op.from.as_deref().ok_or("copy operation needs `from`")?;
                let v = get(doc, from)?.clone();
                add(doc, &op.path, v)?;
            }
            "test" => {
                let v = get(doc, &op.path)?;
                if Some(v) != op.value.as_ref() {
                    return Err(format!("testing value {} failed", op.path));
                }
            }
            other => return Err(format!("unexpected operation '{other}'")),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::yaml::parse_one;

    #[test]
    fn ops_follow_rfc6902() {
        let mut doc = parse_one("a:\n  b: [1, 2]\n  c~d: x\n", &Limits::default()).unwrap();
        let limits = Limits::default();
        let ops = parse_ops(
            "- op: add\n  path: /a/b/-\n  value: 3\n- op: add\n  path: /a/b/0\n  value: 0\n- op: replace\n  path: /a/c~0d\n  value: z\n- op: move\n  from: /a/c~0d\n  path: /e\n",
            &limits,
        )
        .unwrap();
        apply(&mut doc, &ops).unwrap();
        assert_eq!(
            doc.path(&["a", "b"]).unwrap(),
            &Value::Seq(vec![
                Value::int(0),
                Value::int(1),
                Value::int(2),
                Value::int(3)
            ])
        );
        assert_eq!(doc.str_at(&["e"]), Some("z"));
        let bad = parse_ops("- op: replace\n  path: /nope\n  value: 1\n", &limits).unwrap();
        assert!(apply(&mut doc, &bad).is_err());
    }
}
