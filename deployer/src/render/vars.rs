//! `vars:` (deprecated in kustomize but still honoured): after back-references are
//! fixed, `$(NAME)` in the varReference fields is replaced by a field of the object the
//! var names (its final, prefixed/hashed form). A string that is exactly `$(NAME)` takes
//! the field's type (kustomize `refvar.DoReplacements`).

use super::fieldpath;
use super::fieldspec::{Create, FieldSpec, Seg, walk_at};
use super::kustomization::Var;
use super::resource::{Gvk, ResId, Resource};
use crate::yaml::Value;
use std::collections::HashMap;

/// A var's value as kustomize's `GetFieldValue` reads it (by the node's tag: an int through
/// Go's `Atoi`, a float through `ParseFloat`, a boolean through `ParseBool`, anything else
/// as its text), with the text it takes inside a longer string (`%v`).
struct VarValue {
    whole: Value,
    embedded: String,
}

fn var_value(v: &Value, untagged: bool) -> Result<VarValue, String> {
    let text = || v.scalar_text().unwrap_or_default();
    let string = |s: String| VarValue {
        whole: Value::Str(s.clone()),
        embedded: s,
    };
    if untagged {
        return Ok(string(text()));
    }
    Ok(match v {
        Value::Int(..) => {
            let t = text();
            let i =
                atoi(&t).ok_or_else(|| format!("strconv.Atoi: parsing {t:?}: invalid syntax"))?;
            VarValue {
                whole: Value::int(i),
                embedded: i.to_string(),
            }
        }
        Value::Float(..) => {
            let t = text();
            let f = crate::yaml::scalar::go_parse_float(&t)
                .ok_or_else(|| format!("strconv.ParseFloat: parsing {t:?}: invalid syntax"))?;
            // `updateNodeValue` writes `'f'` text; `%v` in a string is `'g'`.
            VarValue {
                whole: Value::Float(f, Some(format!("{f}").into())),
                embedded: crate::yaml::scalar::format_g(f),
            }
        }
        Value::Bool(b, _) => VarValue {
            whole: Value::bool(*b),
            embedded: b.to_string(),
        },
        Value::Map(_) | Value::Seq(_) => {
            return Err(
                "a var naming a mapping or a list is not supported by deployer render".into(),
            );
        }
        _ => string(text()),
    })
}

/// Go `strconv.Atoi`.
fn atoi(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn expand(input: &str, vars: &HashMap<String, VarValue>, used: &mut Vec<String>) -> Value {
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
                                return v.whole.clone();
                            }
                            out.push_str(&v.embedded);
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

/// The text of a scalar kyaml's var filter treats as a string (`IsYNodeString`): a string,
/// or any untagged node (one kyaml created, which has no tag).
fn string_text(v: &Value, untagged: bool) -> Option<String> {
    match v {
        Value::Str(s) => Some(s.clone()),
        Value::Map(_) | Value::Seq(_) => None,
        other if untagged => other.scalar_text(),
        _ => None,
    }
}

/// kustomize's var filter (`refvar.Filter.set`) on one field: every string in it (the
/// scalar, a mapping's values, a list's items) is expanded in place. Returns the fields it
/// wrote, by their paths.
fn replace_in(
    v: &mut Value,
    at: &[Seg],
    untagged: &[Vec<Seg>],
    vars: &HashMap<String, VarValue>,
    used: &mut Vec<String>,
) -> Result<Vec<(Vec<Seg>, Value)>, String> {
    let is_untagged = |p: &[Seg]| untagged.iter().any(|u| u == p);
    let mut wrote = Vec::new();
    let mut set = |slot: &mut Value, path: Vec<Seg>, text: String, used: &mut Vec<String>| {
        *slot = expand(&text, vars, used);
        wrote.push((path, slot.clone()));
    };
    match v {
        Value::Null(_) => {}
        Value::Map(m) => {
            for (k, x) in m.iter_mut() {
                let mut path = at.to_vec();
                path.push(Seg::Key(k.clone()));
                if let Some(text) = string_text(x, is_untagged(&path)) {
                    set(x, path, text, used);
                }
            }
        }
        Value::Seq(items) => {
            for (i, x) in items.iter_mut().enumerate() {
                let mut path = at.to_vec();
                path.push(Seg::Index(i));
                match string_text(x, is_untagged(&path)) {
                    Some(text) => set(x, path, text, used),
                    None => return Err("invalid value type expect a string".into()),
                }
            }
        }
        scalar => {
            if let Some(text) = string_text(scalar, is_untagged(at)) {
                set(scalar, at.to_vec(), text, used);
            }
        }
    }
    Ok(wrote)
}

/// Whether a var's `objref` names `r` by its current or a previous id: kustomize
/// `MergeVars` compares group, version, kind and name exactly, and the namespace too when
/// the objref gives one (or the kind is cluster-scoped).
pub fn objref_matches(var: &Var, r: &Resource) -> bool {
    let o = &var.objref;
    let (group, version) = match o.api_version.split_once('/') {
        _ if o.api_version.is_empty() => (o.group.as_str(), o.version.as_str()),
        Some((g, v)) => (g, v),
        None => ("", o.api_version.as_str()),
    };
    let want = ResId {
        gvk: Gvk {
            group: group.to_string(),
            version: version.to_string(),
            kind: o.kind.clone(),
        },
        name: o.name.clone(),
        namespace: o.namespace.clone(),
    };
    let with_ns = !o.namespace.is_empty() || want.gvk.is_cluster_scoped();
    std::iter::once(r.cur_id())
        .chain(r.prev_ids.iter().cloned())
        .any(|id| {
            id.gvk == want.gvk
                && id.name == want.name
                && (!with_ns || id.effective_namespace() == want.effective_namespace())
        })
}

pub fn resolve(
    resources: &mut [Resource],
    vars: &[Var],
    specs: &[FieldSpec],
) -> Result<(), String> {
    let mut values: HashMap<String, VarValue> = HashMap::new();
    for var in vars {
        let name = &*var.name;
        let path = if var.fieldref.field_path.is_empty() {
            "metadata.name"
        } else {
            var.fieldref.field_path.as_str()
        };
        let r = resources
            .iter()
            .find(|r| r.ref_var_names.iter().any(|n| n == name))
            .ok_or_else(|| {
                format!("var '{name}' cannot be mapped to a field in the set of known resources")
            })?;
        let not_found =
            || format!("field specified in var '{name}' not found in corresponding resource");
        let fields = fieldpath::convert_slice_index(fieldpath::smarter_split(path, '.'));
        let v = fieldpath::lookup(&r.obj, &fields)
            .ok()
            .flatten()
            .ok_or_else(not_found)?;
        let untagged = r.untagged.iter().any(|u| {
            u.len() == fields.len()
                && u.iter().zip(&fields).all(|(s, f)| match s {
                    Seg::Key(k) => k == f,
                    Seg::Index(i) => i.to_string() == *f,
                })
        });
        let value = var_value(v, untagged).map_err(|e| format!("{}: {e}", not_found()))?;
        values.insert(name.to_string(), value);
    }
    let mut used = Vec::new();
    for ri in 0..resources.len() {
        let r = &mut resources[ri];
        let gvk = r.gvk();
        let untagged = std::mem::take(&mut r.untagged);
        let mut wrote: Vec<(Vec<Seg>, Value)> = Vec::new();
        for fs in specs {
            if !fs.matches(&gvk) {
                continue;
            }
            walk_at(
                &mut r.obj,
                &fs.path,
                false,
                Create::Nothing,
                &mut Vec::new(),
                &mut |v, at| {
                    wrote.extend(replace_in(v, at, &untagged, &values, &mut used)?);
                    Ok(())
                },
            )?;
        }
        // The var filter writes the node in place (`updateNodeValue`): a node other fields
        // share changes in all of them, and what it wrote is tagged now.
        r.untagged = untagged;
        r.untagged.retain(|u| !wrote.iter().any(|(p, _)| p == u));
        let shared: Vec<(u64, Value)> = wrote
            .into_iter()
            .filter_map(|(p, v)| super::transformers::link_at(&resources[ri], &p).map(|g| (g, v)))
            .collect();
        super::transformers::write_shared(resources, &shared);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn expansion_keeps_type_of_whole_reference() {
        let mut vars = HashMap::new();
        vars.insert(
            "PORT".to_string(),
            var_value(&Value::Int(80, Some("80".into())), false).unwrap(),
        );
        let mut used = Vec::new();
        assert_eq!(expand("$(PORT)", &vars, &mut used), Value::int(80));
        // `GetFieldValue` reads an int's text with `Atoi`: decimal only.
        let int = |t: &str| var_value(&Value::Int(0, Some(t.into())), false).map(|v| v.whole);
        assert_eq!(int("0777").unwrap(), Value::int(777));
        assert_eq!(int("+12").unwrap(), Value::int(12));
        assert!(int("0x1F").is_err() && int("1_000").is_err());
        // An untagged node (one kyaml made) is its text.
        let untagged = var_value(&Value::Int(1000, Some("1_000".into())), true).unwrap();
        assert_eq!(untagged.whole, Value::Str("1_000".into()));
        assert_eq!(
            expand("p=$(PORT) $$ $(X)", &vars, &mut used),
            Value::Str("p=80 $ $(X)".into())
        );
    }
}
