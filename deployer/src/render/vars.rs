//! `vars:` (deprecated in kustomize but still honoured): after back-references are
//! fixed, `$(NAME)` in the varReference fields is replaced by a field of the object the
//! var names (its final, prefixed/hashed form). A string that is exactly `$(NAME)` takes
//! the field's type (kustomize `refvar.DoReplacements`).

use super::fieldspec::{Create, FieldSpec, walk};
use super::resource::Resource;
use super::value::Value;
use std::collections::HashMap;

/// Splits a field path like `spec.containers[0].ports[name=http].port` at dots outside
/// brackets, then separates `[...]` selectors into their own segments.
pub fn split_field_path(p: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut depth = 0;
    for c in p.chars() {
        match c {
            '[' => {
                if depth == 0 && !cur.is_empty() {
                    parts.push(std::mem::take(&mut cur));
                }
                depth += 1;
                cur.push(c);
            }
            ']' => {
                depth -= 1;
                cur.push(c);
                if depth == 0 {
                    parts.push(std::mem::take(&mut cur));
                }
            }
            '.' if depth == 0 => {
                if !cur.is_empty() {
                    parts.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        parts.push(cur);
    }
    parts
}

/// Reads a field by a dotted path with `[index]` and `[key=value]` selectors.
pub fn get_field<'v>(obj: &'v Value, path: &str) -> Option<&'v Value> {
    let mut cur = obj;
    for seg in split_field_path(path) {
        cur = if let Some(inner) = seg.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
            let items = cur.as_seq()?;
            if let Some((k, v)) = inner.split_once('=') {
                items
                    .iter()
                    .find(|i| i.get(k).and_then(Value::scalar_text).as_deref() == Some(v))?
            } else {
                items.get(inner.parse::<usize>().ok()?)?
            }
        } else {
            cur.get(&seg)?
        };
    }
    Some(cur)
}

fn expand(input: &str, vars: &HashMap<String, Value>, used: &mut Vec<String>) -> Value {
    let b = input.as_bytes();
    let mut out = String::new();
    let mut i = 0;
    let mut checkpoint = 0;
    while i < b.len() {
        if b[i] == b'$' && i + 1 < b.len() {
            out.push_str(&input[checkpoint..i]);
            let rest = &input[i + 1..];
            if let Some(body) = rest.strip_prefix('(') {
                if let Some(end) = body.find(')') {
                    let name = &body[..end];
                    let advance = end + 2;
                    match vars.get(name) {
                        Some(v) => {
                            used.push(name.to_string());
                            if input.len() == name.len() + 3 && input.starts_with("$(") {
                                return v.clone();
                            }
                            out.push_str(&v.scalar_text().unwrap_or_default());
                        }
                        None => out.push_str(&format!("$({name})")),
                    }
                    i += 1 + advance;
                    checkpoint = i;
                    continue;
                }
                out.push('$');
                i += 1;
                checkpoint = i;
                continue;
            }
            if rest.starts_with('$') {
                out.push('$');
                i += 2;
                checkpoint = i;
                continue;
            }
            out.push('$');
            i += 1;
            checkpoint = i;
            continue;
        }
        i += 1;
    }
    out.push_str(&input[checkpoint..]);
    Value::Str(out)
}

fn replace_in(
    v: &mut Value,
    vars: &HashMap<String, Value>,
    used: &mut Vec<String>,
) -> Result<(), String> {
    match v {
        Value::Null => Ok(()),
        Value::Str(s) => {
            *v = expand(s, vars, used);
            Ok(())
        }
        Value::Map(m) => {
            for (_, x) in m.iter_mut() {
                if let Value::Str(s) = x {
                    *x = expand(s, vars, used);
                }
            }
            Ok(())
        }
        Value::Seq(items) => {
            for x in items.iter_mut() {
                match x {
                    Value::Str(s) => *x = expand(s, vars, used),
                    _ => return Err("invalid value type expect a string".into()),
                }
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Whether a var's `objref` names `r` (by current or previous id; group/version are
/// compared only when the objref gives them).
pub fn objref_matches(var: &Value, r: &Resource) -> bool {
    let kind = var.str_at(&["objref", "kind"]).unwrap_or("");
    let obj_name = var.str_at(&["objref", "name"]).unwrap_or("");
    let api = var.str_at(&["objref", "apiVersion"]).unwrap_or("");
    let ns = var.str_at(&["objref", "namespace"]).unwrap_or("");
    std::iter::once(r.cur_id())
        .chain(r.prev_ids.iter().cloned())
        .any(|id| {
            id.name == obj_name
                && id.gvk.kind == kind
                && (api.is_empty() || id.gvk.api_version() == api)
                && (ns.is_empty() || id.effective_namespace() == ns)
        })
}

pub fn resolve(
    resources: &mut [Resource],
    vars: &[Value],
    specs: &[FieldSpec],
) -> Result<(), String> {
    let mut values: HashMap<String, Value> = HashMap::new();
    for var in vars {
        let name = var.str_at(&["name"]).ok_or("a var has no name")?;
        let path = var
            .str_at(&["fieldref", "fieldpath"])
            .unwrap_or("metadata.name");
        let r = resources
            .iter()
            .find(|r| r.ref_var_names.iter().any(|n| n == name))
            .ok_or_else(|| {
                format!("var '{name}' cannot be mapped to a field in the set of known resources")
            })?;
        let v = get_field(&r.obj, path).ok_or_else(|| {
            format!("field specified in var '{name}' not found in corresponding resource")
        })?;
        values.insert(name.to_string(), v.clone());
    }
    let mut used = Vec::new();
    for r in resources.iter_mut() {
        let gvk = r.gvk();
        for fs in specs {
            if !fs.matches(&gvk) {
                continue;
            }
            walk(&mut r.obj, &fs.path, false, Create::Nothing, &mut |v| {
                replace_in(v, &values, &mut used)
            })?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expansion_keeps_type_of_whole_reference() {
        let mut vars = HashMap::new();
        vars.insert("PORT".to_string(), Value::Int(80));
        let mut used = Vec::new();
        assert_eq!(expand("$(PORT)", &vars, &mut used), Value::Int(80));
        assert_eq!(
            expand("p=$(PORT) $$ $(X)", &vars, &mut used),
            Value::Str("p=80 $ $(X)".into())
        );
    }

    #[test]
    fn field_paths_with_indexes() {
        assert_eq!(
            split_field_path("a.b[0].c[name=x].d"),
            vec!["a", "b", "[0]", "c", "[name=x]", "d"]
        );
    }
}
