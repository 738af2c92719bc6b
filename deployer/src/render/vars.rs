//! `vars:` (deprecated in kustomize but still honoured): after back-references are
//! fixed, `$(NAME)` in the varReference fields is replaced by a field of the object the
//! var names (its final, prefixed/hashed form). A string that is exactly `$(NAME)` takes
//! the field's type (kustomize `refvar.DoReplacements`).

use super::fieldpath;
use super::fieldspec::{Create, FieldSpec, walk};
use super::kustomization::Var;
use super::resource::{Gvk, ResId, Resource};
use crate::yaml::Value;
use std::collections::HashMap;

/// Reads a var's field: kyaml `GetFieldValue` (`ports[0]` indexes a list).
pub fn get_field<'v>(obj: &'v Value, path: &str) -> Option<&'v Value> {
    let fields = fieldpath::convert_slice_index(fieldpath::smarter_split(path, '.'));
    fieldpath::lookup(obj, &fields).ok().flatten()
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
        Value::Null(_) => Ok(()),
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
    let mut values: HashMap<String, Value> = HashMap::new();
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
        vars.insert("PORT".to_string(), Value::int(80));
        let mut used = Vec::new();
        assert_eq!(expand("$(PORT)", &vars, &mut used), Value::int(80));
        assert_eq!(
            expand("p=$(PORT) $$ $(X)", &vars, &mut used),
            Value::Str("p=80 $ $(X)".into())
        );
    }
}
